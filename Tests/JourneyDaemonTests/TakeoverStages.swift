import Foundation

/// A takeover's stages, from the survivors' logs: each "partition N taken over under lease token T: …
/// in X ms (restore a, build b, replay c, going live d)" line after a kill says when the partition was
/// leased (the line's time less X) and how its start went. Printed per kill by the kill loop.
enum TakeoverStages {
    struct Start {
        var at: Date
        var instance: String
        var partition: Int
        var total: Int, restore: Int, consumer: Int, replay: Int, live: Int
        var leasedAt: Date { at.addingTimeInterval(-Double(total) / 1000) }
    }

    static func starts(_ fixture: DaemonFixture, instances: [String]) -> [Start] {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return instances.flatMap { name in
            let log = (try? String(contentsOfFile: fixture.root + "/\(name).log", encoding: .utf8)) ?? ""
            return log.split(separator: "\n").compactMap { line -> Start? in
                guard
                    let m = line.firstMatch(
                        of: /^(\S+) .*partition (\d+) taken over under lease token \d+: .* in (\d+) ms \(restore (\d+), consumer (\d+), build \d+, replay (\d+), going live (\d+)\)/),
                    let at = format.date(from: String(m.output.1))
                else { return nil }
                return Start(
                    at: at, instance: name, partition: Int(m.output.2)!, total: Int(m.output.3)!, restore: Int(m.output.4)!, consumer: Int(m.output.5)!,
                    replay: Int(m.output.6)!, live: Int(m.output.7)!)
            }
        }
    }

    /// One line per kill: the takeover, when the first and the last orphaned partition was leased, the
    /// slowest start and its parts.
    static func breakdown(_ fixture: DaemonFixture, instances: [String], kills: [(at: Date, victim: String)], takeovers: [Duration]) -> [String] {
        let all = starts(fixture, instances: instances)
        return kills.enumerated().map { i, kill in
            let end = kill.at.addingTimeInterval(takeovers.indices.contains(i) ? Double(takeovers[i].components.seconds) + 1 : 30)
            let taken = all.filter { $0.instance != kill.victim && $0.at > kill.at && $0.at <= end }
            func ms(_ d: Date) -> Int { Int(d.timeIntervalSince(kill.at) * 1000) }
            guard let slowest = taken.max(by: { $0.total < $1.total }) else { return "kill \(i + 1) (\(kill.victim)): no takeover lines" }
            let leased = taken.map { ms($0.leasedAt) }
            let takeover = takeovers.indices.contains(i) ? "\(takeovers[i])" : "?"
            return "kill \(i + 1) (\(kill.victim)): takeover \(takeover); \(taken.count) partitions started, leased +\(leased.min()!)…+\(leased.max()!) ms after the kill, "
                + "live by +\(ms(taken.map(\.at).max()!)) ms; slowest start \(slowest.total) ms (restore \(slowest.restore), consumer \(slowest.consumer), replay \(slowest.replay), going live \(slowest.live)); "
                + "max restore \(taken.map(\.restore).max()!), max consumer \(taken.map(\.consumer).max()!), max replay \(taken.map(\.replay).max()!), max going live \(taken.map(\.live).max()!) ms"
        }
    }
}
