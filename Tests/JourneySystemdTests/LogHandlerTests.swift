import Foundation
import Glibc
import JourneyCore
import Logging
import Testing

@testable import JourneySystemd

private func record(
    _ message: String,
    level: Logger.Level = .info,
    metadata: Logger.Metadata = [:],
    userIDs: UserIDPolicy = .plain
) -> LogRecord {
    LogRecord(
        event: LogEvent(
            level: level,
            message: "\(message)",
            metadata: metadata,
            source: nil,
            file: "JourneyDaemon/Daemon.swift",
            function: "dispatch()",
            line: 42
        ),
        handlerMetadata: [:],
        provider: nil,
        userIDs: userIDs
    )
}

@Suite struct JournalFieldsTests {
    @Test func aTouchRecordBecomesNativeFieldsWithItsMessageID() {
        let fields = JournalLogHandler.fields(
            of: record(
                "touch t1 sent",
                level: .info,
                metadata: [
                    "kind": "touch_sent", "journey": "welcome", "journey_version": "abc", "step": "hello",
                    "user_id": "u1", "touch_id": "t1", "channel": "email", "outcome": "sent",
                ]
            ),
            identifier: "journeyd"
        )
        #expect(
            fields == [
                "MESSAGE=touch t1 sent", "PRIORITY=6", "SYSLOG_IDENTIFIER=journeyd",
                "MESSAGE_ID=\(RecordKind.touchSent.messageID)", "CODE_FILE=JourneyDaemon/Daemon.swift", "CODE_LINE=42",
                "CODE_FUNC=dispatch()", "KIND=touch_sent", "JOURNEY=welcome", "JOURNEY_VERSION=abc", "STEP=hello",
                "USER_ID=u1", "TOUCH_ID=t1", "CHANNEL=email", "OUTCOME=sent",
            ]
        )
    }

    @Test func multiLineMessagesStayOneField() {
        let fields = JournalLogHandler.fields(of: record("refused:\n  a.yaml:1:2: bad", level: .error), identifier: "j")
        #expect(fields.first == "MESSAGE=refused:\n  a.yaml:1:2: bad")
        #expect(fields.contains("PRIORITY=3"))
        #expect(!fields.contains { $0.hasPrefix("MESSAGE_ID=") })  // no kind, no id
    }

    @Test func prioritiesFollowSyslog() {
        let levels: [Logger.Level] = [.trace, .debug, .info, .notice, .warning, .error, .critical]
        #expect(levels.map(JournalLogHandler.priority(of:)) == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test func metadataKeysBecomeValidFieldNames() {
        #expect(JournalLogHandler.fieldName("journey") == "JOURNEY")
        #expect(JournalLogHandler.fieldName("touch_id") == "TOUCH_ID")
        #expect(JournalLogHandler.fieldName("rule.id") == "RULE_ID")
        #expect(JournalLogHandler.fieldName("_trusted") == "TRUSTED")
        #expect(JournalLogHandler.fieldName("__") == "F_")
        #expect(JournalLogHandler.fieldName("2fa") == "F_2FA")
        #expect(JournalLogHandler.fieldName("grüße") == "GR_SSE")  // ß upper-cases to SS
        #expect(JournalLogHandler.fieldName(String(repeating: "a", count: 80)).count == 64)
    }

    @Test func metadataNeverOverridesTheRecordsOwnFields() {
        let fields = JournalLogHandler.fields(
            of: record("real", metadata: ["message": "fake", "priority": "0"]),
            identifier: "journeyd"
        )
        #expect(fields.filter { $0.hasPrefix("MESSAGE=") } == ["MESSAGE=real"])
        #expect(fields.contains("META_MESSAGE=fake") && fields.contains("META_PRIORITY=0"))
    }

    @Test func userIDsAreHashedWhenConfigured() {
        let hasher = UserIDHasher(hexKey: "000102030405060708090a0b0c0d0e0f")!
        let fields = JournalLogHandler.fields(
            of: record("x", metadata: ["user_id": "ann@example.com"], userIDs: .hashed(hasher)),
            identifier: "j"
        )
        let hashed = hasher.hash("ann@example.com")
        #expect(fields.contains("USER_ID=\(hashed)"))
        #expect(!fields.joined().contains("ann@example.com"))
        #expect(hashed.count == 16 && hashed == hasher.hash("ann@example.com"))
        #expect(hashed != UserIDHasher(hexKey: "ff0102030405060708090a0b0c0d0e0f")!.hash("ann@example.com"))
    }
}

@Suite struct UserIDHasherTests {
    /// The reference vectors of SipHash-2-4 (key 00…0f, message 00…(n-1)), from the SipHash paper.
    @Test func matchesSipHashReferenceVectors() {
        let key = (0..<16).map { UInt64($0) }
        let k0 = key[0..<8].enumerated().reduce(UInt64(0)) { $0 | $1.element << (8 * UInt64($1.offset)) }
        let k1 = key[8..<16].enumerated().reduce(UInt64(0)) { $0 | $1.element << (8 * UInt64($1.offset)) }
        #expect(UserIDHasher.sipHash24([], k0: k0, k1: k1) == 0x726f_db47_dd0e_0e31)
        #expect(UserIDHasher.sipHash24(Array(0..<8), k0: k0, k1: k1) == 0x93f5_f579_9a93_2462)
        #expect(UserIDHasher.sipHash24(Array(0..<15), k0: k0, k1: k1) == 0xa129_ca61_49be_45e5)
        #expect(UserIDHasher(key: Array(0..<16)).hash("") == "726fdb47dd0e0e31")
    }

    @Test func keysAreThirtyTwoHexDigits() {
        #expect(UserIDHasher(hexKey: "00") == nil)
        #expect(UserIDHasher(hexKey: String(repeating: "g", count: 32)) == nil)
        #expect(UserIDHasher(hexKey: "000102030405060708090a0b0c0d0e0f") == UserIDHasher(key: Array(0..<16)))
    }

    @Test func theMachineKeyIsStable() throws {
        guard let first = UserIDHasher.machineKeyed() else { return }  // no /etc/machine-id here
        #expect(first == UserIDHasher.machineKeyed())
    }
}

@Suite struct StandardErrorFormatTests {
    let time = timespec(tv_sec: 1_796_158_800, tv_nsec: 123_456_789)  // 2026-12-01T21:00:00.123Z

    @Test func oneLineWithTimeLevelFieldsAndMessage() {
        let text = StandardErrorLogHandler.format(
            record(
                "touch sent",
                level: .notice,
                metadata: ["touch_id": "t1", "journey": "welcome", "kind": "touch_sent", "zeta": "a b"]
            ),
            at: time
        )
        #expect(
            text
                == "2026-12-01T21:00:00.123Z notice kind=touch_sent journey=welcome touch_id=t1 zeta=\"a b\" touch sent\n"
        )
    }

    @Test func continuationLinesAreIndented() {
        let text = StandardErrorLogHandler.format(
            record("rules reload refused: 2 errors\n  a.yaml:1:2: x\n  b.yaml:3:4: y", level: .error),
            at: time
        )
        #expect(
            text
                == "2026-12-01T21:00:00.123Z error rules reload refused: 2 errors\n      a.yaml:1:2: x\n      b.yaml:3:4: y\n"
        )
    }

    @Test func journalStreamIsOnlyTrustedWhenItMatchesStandardError() {
        var info = stat()
        fstat(2, &info)
        let saved = getenv("JOURNAL_STREAM").map { String(cString: $0) }
        defer { if let saved { setenv("JOURNAL_STREAM", saved, 1) } else { unsetenv("JOURNAL_STREAM") } }
        unsetenv("JOURNAL_STREAM")
        #expect(!JournalLogHandler.isStandardErrorJournal())
        setenv("JOURNAL_STREAM", "\(info.st_dev):\(info.st_ino &+ 1)", 1)
        #expect(!JournalLogHandler.isStandardErrorJournal())
        setenv("JOURNAL_STREAM", "\(info.st_dev):\(info.st_ino)", 1)
        #expect(JournalLogHandler.isStandardErrorJournal())
    }
}

@Suite struct NotifierTests {
    @Test func watchdogPingsAtMostEveryHalfInterval() {
        let notifier = SystemdNotifier(isEnabled: true, watchdogInterval: 1_000_000)
        #expect(notifier.watchdogPingIsDue(now: 10_000_000))
        #expect(!notifier.watchdogPingIsDue(now: 10_100_000))
        #expect(!notifier.watchdogPingIsDue(now: 10_499_999))
        #expect(notifier.watchdogPingIsDue(now: 10_500_000))
        #expect(!SystemdNotifier(isEnabled: true, watchdogInterval: nil).watchdogPingIsDue(now: 1))
    }

    @Test func statusIsOneLine() {
        #expect(SystemdNotifier.singleLine("a\nb\r\nc") == "a b c")
    }

    @Test func withoutASupervisorNothingIsSent() {
        let notifier = SystemdNotifier(isEnabled: false, watchdogInterval: 1_000)
        #expect(!notifier.ready(status: "x") && !notifier.watchdog() && !notifier.stopping())
    }
}

@Suite struct CatalogTests {
    static let catalogPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd/journeyd.catalog").path

    struct Entry {
        var id: String
        var headers: [String: String] = [:]
        var body: [String] = []
    }

    static func entries() throws -> [Entry] {
        var entries: [Entry] = []
        var inHeaders = false
        for line in try String(contentsOfFile: catalogPath, encoding: .utf8).split(
            separator: "\n",
            omittingEmptySubsequences: false
        ) {
            if line.hasPrefix("-- ") {
                entries.append(Entry(id: String(line.dropFirst(3))))
                inHeaders = true
            } else if entries.isEmpty || line.hasPrefix("#") {
                continue
            } else if inHeaders, let colon = line.firstIndex(of: ":"), !line.isEmpty {
                entries[entries.count - 1].headers[String(line[..<colon])] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespaces)
            } else {
                inHeaders = false
                if !line.isEmpty { entries[entries.count - 1].body.append(String(line)) }
            }
        }
        return entries
    }

    @Test func everyRecordKindHasOneCatalogEntryAndViceVersa() throws {
        let entries = try Self.entries()
        let ids = entries.map(\.id)
        #expect(Set(ids).count == ids.count, "duplicate catalog entries")
        #expect(Set(ids) == Set(RecordKind.allCases.map(\.messageID)))
        for kind in RecordKind.allCases {
            #expect(ids.contains(kind.messageID), "no catalog entry for \(kind.rawValue)")
        }
    }

    @Test func entriesHaveASubjectTheirDefinerDocumentationAndText() throws {
        for entry in try Self.entries() {
            #expect(entry.id.count == 32 && entry.id.allSatisfy(\.isHexDigit) && entry.id == entry.id.lowercased())
            #expect(entry.headers["Subject"]?.isEmpty == false, "\(entry.id): no Subject")
            #expect(entry.headers["Defined-By"] == "journeyd", "\(entry.id): Defined-By")
            #expect(entry.headers["Documentation"]?.isEmpty == false, "\(entry.id): no Documentation")
            #expect(entry.body.count >= 3, "\(entry.id): the text should say what happened and what to do")
        }
    }
}
