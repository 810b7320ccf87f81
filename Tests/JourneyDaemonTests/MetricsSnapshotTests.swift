import JourneyCore
import JourneyDaemon
import Testing

@Suite("Metrics read back for journeyd status")
struct MetricsSnapshotTests {
    @Test("counters and gauges come back with their labels in order; histograms and comments are left out")
    func readsTheExposition() {
        let text = """
            # HELP journeyd_events_received_total Events taken from an input, by source.
            # TYPE journeyd_events_received_total counter
            journeyd_events_received_total{source="http"} 1200
            journeyd_events_received_total{source="spool"} 3
            # TYPE journeyd_channel_breaker_state gauge
            journeyd_channel_breaker_state{channel="we\\"ird\\\\name\\n"} 2
            # TYPE journeyd_timers_pending gauge
            journeyd_timers_pending 17
            # TYPE journeyd_log_sync_duration_seconds histogram
            journeyd_log_sync_duration_seconds_bucket{le="0.001"} 5
            journeyd_log_sync_duration_seconds_sum 0.0042
            journeyd_log_sync_duration_seconds_count 5
            # TYPE journeyd_rules_loaded_timestamp_seconds gauge
            journeyd_rules_loaded_timestamp_seconds 1.7648928e+09

            """
        let snapshot = MetricsSnapshot(exposition: Array(text.utf8))
        #expect(snapshot.samples.map(\.name) == [
            "journeyd_events_received_total", "journeyd_events_received_total", "journeyd_channel_breaker_state", "journeyd_timers_pending",
            "journeyd_rules_loaded_timestamp_seconds",
        ])
        #expect(snapshot.samples[1].labels.map { "\($0.0)=\($0.1)" } == ["source=spool"])
        #expect(snapshot.samples[2].labels.map(\.1) == ["we\"ird\\name\n"], "escapes undone")
        #expect(snapshot.samples.map(\.value) == [1200, 3, 2, 17, 1_764_892_800])
        let json = snapshot.jsonValue.jsonText
        #expect(json.hasPrefix(#"{"journeyd_events_received_total":[{"source":"http","value":1200},{"source":"spool","value":3}]"#), "\(json)")
    }

    @Test("a malformed line is skipped, not misread")
    func skipsWhatItCannotRead() {
        let text = "# TYPE a counter\na{x=\"unterminated} 3\na{x=\"ok\"} 4\na 5 6\n"
        #expect(MetricsSnapshot(exposition: Array(text.utf8)).samples.map(\.value) == [4, 5])
    }
}
