import Foundation
import JourneyCore
import JourneyEvents
import JourneyStore
import JourneyTesting
import Testing

/// `journeyd forget` of a known user also erases the anonymous id merged into them (docs/IDENTITY.md):
/// its alias row, the enrollment and timer that moved over, its event lines in the log and the spool's
/// archive; later events carrying only the anonymous id are refused. On the real binary.
@Suite("Forget a merged person", .serialized)
struct ForgetMergedTests {
    static let anon = "anon-9b2e41"
    static let user = "grace-51d0aa"
    static let email = "grace.hopper.51d0aa@example.com"

    static func line(_ fields: String, _ id: String, _ time: String) -> String {
        #"{"messageId":"\#(id)","timestamp":"\#(time)",\#(fields)}"#
    }

    @Test func forgettingTheKnownUserErasesTheMergedAnonymousIdToo() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        try ForgetTests.install(fixture)
        let control = ["--rules", fixture.rules, "--control", fixture.root + "/state/control.sock"]
        let daemon = try fixture.startLiveDaemon(extra: ["--clock", "event"])
        defer { daemon.signal(SIGKILL) }
        // An anonymous visitor signs up (welcome sent, `later` waits a day), then identifies with both ids.
        try fixture.spoolEvent(
            Self.line(#""type":"track","anonymousId":"\#(Self.anon)","event":"signup""#, "m1", "2025-05-01T10:00:00.000Z") + "\n"
                + Self.line(#""type":"identify","userId":"\#(Self.user)","anonymousId":"\#(Self.anon)","traits":{"email":"\#(Self.email)"}"#,
                    "m2", "2025-05-01T10:02:00.000Z"),
            named: "1.jsonl")
        #expect(
            await eventually {
                let known = (try? await ForgetTests.explain(Self.user, control, expecting: false)) ?? .null
                return known["aliases"] == [.string(Self.anon)] && known["timers"]?.arrayValue?.count == 1
            }, "\(fixture.log)")
        let pointer = try await ForgetTests.explain(Self.anon, control)
        #expect(pointer["merged_into"] == .string(Self.user), "\(pointer.jsonText)")

        let (status, output) = try await ChildProcess.run(journeydBinary, ["forget", Self.user, "--json"] + control)
        #expect(status == 0, "\(output)")
        let answer = try ForgetTests.json(output)
        let erased = try #require(answer["erased"], "\(output)")
        // Timers: the one armed again for her when the enrollment moved, and the anonymous id's original (stale).
        #expect(erased["merged_ids"] == 1 && erased["enrollments"] == 1 && erased["timers"] == 2, "\(answer.jsonText)")
        #expect(erased["archived_lines"] == 2, "\(answer.jsonText)")
        #expect(try await ForgetTests.explain(Self.anon, control)["known"] == false)
        // A later event carrying only the anonymous id is refused and counted.
        try fixture.spoolEvent(Self.line(#""type":"track","anonymousId":"\#(Self.anon)","event":"promo""#, "m3", "2025-05-01T10:05:00.000Z"),
            named: "2.jsonl")
        #expect(
            await eventually {
                let (_, figures) = (try? await ChildProcess.run(journeydBinary, ["status", "--json"] + control)) ?? (1, "")
                return (try? ForgetTests.json(figures))?["forgotten_refused"] == 1
            }, "\(fixture.log)")
        // Two days later nothing of hers goes out (the `later` timer moved to her and was erased with her).
        try fixture.spoolEvent(ForgetTests.signup("cy", "cy@example.com", at: "2025-05-03T12:00:00.000Z"), named: "3.jsonl")
        #expect(await eventually { ((try? fixture.deliveredTouches()) ?? []).contains { $0.contains("\"cy\"") } }, "\(fixture.log)")
        daemon.signal()
        #expect(await daemon.exit() == 0)
        #expect(try fixture.deliveredTouches().filter { $0.contains(Self.anon) || $0.contains(Self.user) }.count == 1, "only the welcome, sent before")

        let store = try SQLiteCheckpointStore(path: fixture.state, readOnly: true)
        #expect(try store.user(Self.user) == nil && store.user(Self.anon) == nil)
        #expect(try store.restore(partition: 0).tombstones == [Tombstone.hash(Self.user), Tombstone.hash(Self.anon)])
        // Byte search: the database, its write-ahead log, the event log, the quarantine, the spool's archive
        // (the channel's output and 2.jsonl, which arrived after the erasure, aside).
        let fm = FileManager.default
        let files = try fm.subpathsOfDirectory(atPath: fixture.root + "/state").map { "state/" + $0 }
            + (try fm.subpathsOfDirectory(atPath: fixture.spool)).map { "spool/" + $0 }
        for file in files where !["state/touches.jsonl", "state/sms.jsonl", "spool/done/2.jsonl"].contains(file) {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: fixture.root + "/" + file, isDirectory: &isDirectory), !isDirectory.boolValue,
                let bytes = fm.contents(atPath: fixture.root + "/" + file)
            else { continue }
            for needle in [Self.anon, Self.user, Self.email] {
                #expect(bytes.range(of: Data(needle.utf8)) == nil, "\(file) still holds \(needle)")
            }
        }
    }
}
