import ArgumentParser
import JourneyCore
import JourneySimulation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic Segment-spec event stream (JSON lines) for demos, tests and benchmarks.")

    @Option(help: "Number of users.") var users = 10_000
    @Option(help: "Number of events.") var events = 100_000
    @Option(help: "Start time (RFC 3339).") var start = "2025-01-01T00:00:00Z"
    @Option(help: "Time span covered, e.g. 90d.") var span = "90d"
    @Option(help: "Random seed: the same seed gives the same stream, byte for byte.") var seed: UInt64 = 1
    @Option(name: .shortAndLong, help: "Output file, - for standard output.") var output = "-"

    func validate() throws {
        guard users > 0 else { throw ValidationError("--users must be at least 1") }
        guard events >= 0 else { throw ValidationError("--events cannot be negative") }
        guard Timestamp(iso8601: start) != nil else { throw ValidationError("--start must be an RFC 3339 time, not \(start)") }
        guard TimeSpan(parsing: span) != nil else { throw ValidationError("--span must be a duration like 90d, not \(span)") }
    }

    func run() throws {
        let configuration = EventGenerator.Configuration(
            users: users, events: events, start: Timestamp(iso8601: start)!, span: TimeSpan(parsing: span)!, seed: seed)
        let out = try OutputFile(path: output)
        for event in EventGenerator(configuration) {
            try out.write { buffer in
                event.jsonValue.writeJSON(into: &buffer)
                buffer.append(UInt8(ascii: "\n"))
            }
        }
        try out.close()
    }
}

