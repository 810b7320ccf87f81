import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Testing

@testable import JourneySystemd

private let journeyd = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    .appendingPathComponent("journeyd").path
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
private let journald = "/lib/systemd/systemd-journald"

/// The journal handler against a real, standalone `systemd-journald`: the real `journeyd run` believes its
/// standard error is the journal (`$JOURNAL_STREAM` names that file) and sends native records; journald
/// runs in a private mount namespace (its own `/run`) with its journal files in the test's directory.
/// Needs root (for the mount namespace) and systemd's journald; skipped otherwise.
@Suite(.serialized, .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: journald)))
struct JournaldTests {
    @Test func journaldStoresTheRecordsFieldsAndMultiLineMessages() async throws {
        let root = try TemporaryDirectory(prefix: "journeyd-journald").path
        let fm = FileManager.default
        defer { try? fm.removeItem(atPath: root) }
        try fm.createDirectory(atPath: root + "/log", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/spool/incoming", withIntermediateDirectories: true)
        try fm.copyItem(atPath: repositoryRoot + "/rules", toPath: root + "/rules")
        // No quiet hours (the touch goes out now), hashed user ids with a fixed key, email to a file.
        let key = "00112233445566778899aabbccddeeff"
        try ("timezone: UTC\nlogging: { user_id: hash, user_id_key: \"\(key)\", level: debug }\n" + BundledRules.stagesSection())
            .write(toFile: root + "/rules/journeyd.yaml", atomically: true, encoding: .utf8)
        try
            "channels:\n  - { name: email, type: file, path: touches.jsonl }\n  - { name: sms, type: log }\n  - { name: wecom, type: log }\n  - { name: wechat, type: log }\n  - { name: sms_cn, type: log }\n"
            .write(toFile: root + "/rules/channels.yaml", atomically: true, encoding: .utf8)
        let now = ISO8601DateFormatter().string(from: Date())
        try
            #"{"type":"identify","userId":"ann@example.com","messageId":"m1","timestamp":"\#(now)","traits":{"signup_at":"\#(now)"}}"#
            .appending("\n").write(toFile: root + "/spool/incoming/0001.jsonl", atomically: true, encoding: .utf8)
        try
            "journey: broken\ntrigger:\n  event: anything\nsteps:\n  - id: nowhere\n    send: carrier_pigeon\n    template: welcome_hello\n"
            .write(toFile: root + "/broken.yaml", atomically: true, encoding: .utf8)

        let script = """
            set -eu
            mount -t tmpfs tmpfs /run
            mkdir -p /run/systemd/journal /run/log
            mount --bind "$S/log" /run/log
            if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
            \(journald) 2>"$S/journald.err" &
            J=$!
            i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
            : > "$S/stderr"
            JOURNAL_STREAM=$(stat -c '%d:%i' "$S/stderr") "$BIN" run --rules "$S/rules" --state "$S/state/state.sqlite" \\
                --spool "$S/spool" --control "$S/control.sock" 2>>"$S/stderr" &
            D=$!
            i=0; while [ ! -s "$S/state/touches.jsonl" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
            cp "$S/broken.yaml" "$S/rules/journeys/broken.yaml"
            kill -HUP $D
            sleep 1
            kill -TERM $D; wait $D
            kill -TERM $J; wait $J || true
            """
        let (status, output) = try await ChildProcess.run(
            "/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script],
            environment: ["S": root, "BIN": journeyd, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
        try #require(status == 0, "the namespace script failed: \(output)")
        // journeyd wrote nothing to its (pretend) journal stream: every record went to journald natively.
        #expect((try String(contentsOfFile: root + "/stderr", encoding: .utf8)).contains("kind=") == false)

        let records = try await journalRecords(directory: root + "/log/journal")
        let sent = try #require(
            records.first { $0["MESSAGE_ID"] == RecordKind.touchSent.messageID },
            "no touch_sent record"
        )
        #expect(sent["PRIORITY"] == "7")  // debug: a record per touch is for when an operator asks for it
        #expect(sent["SYSLOG_IDENTIFIER"] == "journeyd")
        #expect(sent["KIND"] == "touch_sent" && sent["JOURNEY"] == "welcome" && sent["STEP"] == "hello")
        #expect(sent["CHANNEL"] == "email" && sent["OUTCOME"] == "sent")
        #expect(sent["TOUCH_ID"]?.count == 16 && sent["JOURNEY_VERSION"]?.isEmpty == false)
        #expect(sent["USER_ID"] == UserIDHasher(hexKey: key)!.hash("ann@example.com"))
        #expect(sent["CODE_FILE"]?.hasPrefix("JourneyDaemon/") == true && Int(sent["CODE_LINE"] ?? "") != nil)
        #expect(sent["CODE_FUNC"]?.isEmpty == false)
        #expect(!records.contains { $0.values.contains { $0.contains("ann@example.com") } }, "the plain user id leaked")

        let ready = records.first { $0["MESSAGE_ID"] == RecordKind.ready.messageID }
        #expect(ready?["PRIORITY"] == "5")
        let refused = try #require(records.first { $0["MESSAGE_ID"] == RecordKind.rulesRefused.messageID })
        #expect(refused["PRIORITY"] == "3")
        let message = try #require(refused["MESSAGE"])
        #expect(message.contains("\n") && message.contains("broken.yaml:6:11: "), "\(message)")
    }

    /// Every record in the journal files below `directory`, as field → value (binary values are skipped).
    private func journalRecords(directory: String) async throws -> [[String: String]] {
        let (_, output) = try await ChildProcess.run(
            "/usr/bin/journalctl", ["--directory", directory, "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=journeyd"])
        return output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object.compactMapValues { $0 as? String }
        }
    }
}
