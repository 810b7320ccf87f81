import Testing
@testable import JourneyChannels
@Test func placeholder() {}
