import Foundation
import JourneyCore
import JourneySimulation

/// `--only users`: resident memory per user the daemon holds — 1,000,000 users, each known from one
/// `identify` with five traits and in no journey (issue 9: ≤ 1 KB each). Message ids are kept for one
/// minute (events are one second apart), so the deduplication window does not count as user memory.
extension Stages {
    func usersInMemory(into report: inout Report) throws {
        let count = Int(ProcessInfo.processInfo.environment["JOURNEYD_BENCH_USERS"] ?? "1000000") ?? 1_000_000
        report.line("## daemon: memory per user (\(rate(Double(count))) users with five traits, no journey running)")
        report.line("")
        let rules = work + "/users-rules"
        try FileManager.default.createDirectory(atPath: rules + "/journeys", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: rules + "/templates", withIntermediateDirectories: true)
        try "channels:\n  - { name: email, type: log }\n".write(toFile: rules + "/channels.yaml", atomically: true, encoding: .utf8)
        try settledYAML.write(toFile: rules + "/journeyd.yaml", atomically: true, encoding: .utf8)
        try "Subject: Hello\n\nHello {{ user.first_name }}\n".write(toFile: rules + "/templates/hello.liquid", atomically: true, encoding: .utf8)
        try "journey: hello\ntrigger: { event: never_sent }\nsteps:\n  - send: email\n    template: hello\n"
            .write(toFile: rules + "/journeys/hello.yaml", atomically: true, encoding: .utf8)
        let state = work + "/daemon-users"
        defer { try? FileManager.default.removeItem(atPath: state) }
        try FileManager.default.createDirectory(atPath: state + "/spool/incoming", withIntermediateDirectories: true)
        let start = Timestamp(iso8601: "2025-01-01T00:00:00Z")!
        let plans = ["free", "pro", "team"]
        let cities = ["Shanghai", "Berlin", "Lagos", "Austin", "Osaka"]
        for half in 0..<2 {
            let out = try OutputFile(path: state + "/users-\(half).jsonl")
            for i in (half * count / 2)..<((half + 1) * count / 2) {
                let at = start + .seconds(Int64(i))
                try out.write(
                    "{\"type\":\"identify\",\"userId\":\"user-\(i)\",\"messageId\":\"i-\(i)\",\"timestamp\":\"\(at.iso8601)\",\"traits\":"
                        + "{\"first_name\":\"Name\(i % 997)\",\"email\":\"user-\(i)@example.com\",\"plan\":\"\(plans[i % 3])\","
                        + "\"city\":\"\(cities[i % 5])\",\"signed_up_at\":\"\(at.iso8601)\"}}\n")
            }
            try out.close()
        }
        let process = try launch(["run", "--rules", rules, "--state", state + "/state.sqlite", "--spool", state + "/spool", "--clock", "event"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        usleep(500_000)
        var memory = [memoryKilobytes(process.processIdentifier)]
        for half in 0..<2 {
            let name = "users-\(half).jsonl"
            let before = checkpoints(rules: rules, state: state)
            try FileManager.default.moveItem(atPath: state + "/" + name, toPath: state + "/spool/incoming/" + name)
            while FileManager.default.fileExists(atPath: state + "/spool/incoming/" + name) { usleep(100_000) }
            awaitLastCheckpoint(rules: rules, state: state, after: before)
            memory.append(settledMemory(process.processIdentifier))
        }
        let slope = Double(memory[2].anonymous - memory[1].anonymous) * 1024 / Double(count / 2)
        let overall = Double(memory[2].anonymous - memory[0].anonymous) * 1024 / Double(count)
        report.line(
            "- anonymous RSS \(memory[0].anonymous / 1024) MB → \(memory[1].anonymous / 1024) MB (half) → \(memory[2].anonymous / 1024) MB: "
                + "**\(Int(slope)) bytes per additional user** (second half), \(Int(overall)) bytes averaged over all (target ≤ 1 KB); "
                + "users beyond `state.max_users_in_memory` leave memory once checkpointed")
        report.line("")
    }
}
