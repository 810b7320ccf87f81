import JourneyDaemon
import Testing

@Suite("Open files limit")
struct OpenFilesLimitTests {
    @Test("the soft limit goes up to the hard one, no further than the NATS client's select() sets, and never down")
    func raisedLimit() {
        #expect(OpenFilesLimit.raised(soft: 1024, hard: 524_288) == 32_768, "systemd's defaults: up to the ceiling")
        #expect(OpenFilesLimit.raised(soft: 1024, hard: 4096) == 4096, "a hard limit below the ceiling is reached")
        #expect(OpenFilesLimit.raised(soft: 4096, hard: 4096) == nil, "already at the hard limit")
        #expect(OpenFilesLimit.raised(soft: 65_536, hard: 1_048_576) == nil, "an operator's soft limit above the ceiling stays")
        #expect(OpenFilesLimit.raised(soft: 1024, hard: Int.max) == 32_768, "an unlimited hard limit")
    }
}
