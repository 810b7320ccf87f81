import Testing
@testable import JourneyTemplates
@Test func placeholder() {}
