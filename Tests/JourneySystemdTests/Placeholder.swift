import Testing
@testable import JourneySystemd
@Test func placeholder() {}
