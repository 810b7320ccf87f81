import Foundation
import Glibc
import JourneyCore
import Testing

@testable import JourneyChannels

/// `exec`, `file` and `log`: real programs, real files, a real log handler.
@Suite struct ExecAdapterTests {
    func script(_ body: String, in dir: String, name: String = "adapter.sh") throws -> String {
        // Written through a close-on-exec descriptor: a program spawned meanwhile by a parallel test must
        // not inherit it, or executing the script fails with ETXTBSY.
        let path = "\(dir)/\(name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw TestFailure("cannot create \(path)") }
        let bytes = Array("#!/bin/sh\n\(body)\n".utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return path
    }

    @Test func theProgramGetsTheMessageOnStdinAndItsFirstLineIsTheProviderID() async throws {
        try await withTemporaryDirectory { dir in
            let program = try script(#"cat > "$OUT"; env > "$OUT.env"; echo "push-7781""#, in: dir)
            let exec = try await buildChannel(type: "exec", options: ["command": [.string(program)], "env": ["OUT": .string(dir + "/in.json")]])
            let result = await exec.adapter.deliver(sampleMessage())
            #expect(result == .sent(providerMessageID: "push-7781"))
            let input = try #require(FileManager.default.contents(atPath: dir + "/in.json"))
            #expect(input.last == 10)
            let json = try #require(try JSONSerialization.jsonObject(with: input) as? [String: Any])
            #expect(json["touch_id"] as? String == "0123456789abcdef")
            #expect(json["text"] as? String == "Hi Ada,\nyour cart is waiting.")
            let environment = try String(contentsOfFile: dir + "/in.json.env", encoding: .utf8)
            #expect(environment.contains("JOURNEYD_CHANNEL=test"))
            #expect(!environment.contains("HOME="), "the program gets a small, explicit environment")
        }
    }

    @Test func exitStatusesAreOutcomes() async throws {
        try await withTemporaryDirectory { dir in
            let program = try script(
                """
                case "$1" in
                  temp) echo "queue full" >&2; exit 75 ;;
                  perm) echo "warming up" >&2; echo "no such template" >&2; echo >&2; exit 3 ;;
                  quiet) exit 9 ;;
                esac
                """, in: dir)
            func run(_ mode: String) async throws -> DeliveryResult {
                let exec = try await buildChannel(type: "exec", options: ["command": [.string(program), .string(mode)]])
                return await exec.adapter.deliver(sampleMessage())
            }
            #expect(try await run("temp") == .retry(after: nil, reason: "exit 75: queue full"))
            #expect(try await run("perm") == .deadLetter(reason: "exit 3: no such template"))
            #expect(try await run("quiet") == .deadLetter(reason: "exit 9"))
        }
    }

    @Test func aProgramThatIgnoresItsInputAndFloodsStderrIsHandled() async throws {
        try await withTemporaryDirectory { dir in
            let program = try script("head -c 300000 /dev/zero | tr '\\0' 'x' >&2; echo >&2; echo 'the last word' >&2; exit 1", in: dir)
            let exec = try await buildChannel(type: "exec", options: ["command": [.string(program)]])
            let big = sampleMessage(text: String(repeating: "y", count: 1_000_000))
            let result = await exec.adapter.deliver(big)
            #expect(result == .deadLetter(reason: "exit 1: the last word"))
        }
    }

    @Test func aProgramPastItsTimeoutIsStoppedAndRetried() async throws {
        try await withTemporaryDirectory { dir in
            let program = try script("sleep 3600 & wait", in: dir)
            let exec = try await buildChannel(type: "exec", options: ["command": [.string(program)], "timeout": "500ms"])
            let start = ContinuousClock.now
            #expect(await exec.adapter.deliver(sampleMessage()) == .retry(after: nil, reason: "\(program) did not finish within 500ms"))
            #expect(ContinuousClock.now - start < .seconds(600))  // generous (tests share two cores); the program would run an hour
        }
    }

    @Test func cancellationStopsTheProgram() async throws {
        try await withTemporaryDirectory { dir in
            let program = try script("echo started > \"$0.started\"; exec sleep 3600", in: dir)
            let exec = try await buildChannel(type: "exec", options: ["command": [.string(program)], "timeout": "30m"])
            let task = Task { await exec.adapter.deliver(sampleMessage()) }
            #expect(try await eventually { FileManager.default.fileExists(atPath: program + ".started") })
            let start = ContinuousClock.now
            task.cancel()
            #expect(await task.value == .retry(after: nil, reason: "cancelled"))
            #expect(ContinuousClock.now - start < .seconds(600))  // generous (tests share two cores); the program would run an hour
        }
    }

    @Test func theCommandIsAListAndMustExist() {
        #expect(problems(type: "exec", options: ["command": "/usr/bin/python3 push.py"]) == [
            #"channels[2].command: give the program and its arguments as a list, e.g. ["/usr/bin/env", "python3", "push.py"]; no shell is used"#
        ])
        #expect(problems(type: "exec", options: [:]) == ["channels[2].command: missing (required): the program and its arguments, as a list"])
    }

    @Test func aMissingProgramIsABuildProblem() async {
        do {
            _ = try await ChannelRegistry.builtin.build(
                [ChannelSpec(name: "push", type: "exec", options: ["command": ["/nonexistent/push"]], path: "channels[4]")], context: ChannelContext())
            Issue.record("expected a problem")
        } catch {
            #expect(error.problems.map(\.description) == [#"channels[4].command: no executable program "/nonexistent/push""#])
        }
    }
}

@Suite struct FileAdapterTests {
    @Test func appendsReplayTouchLinesOnceEach() async throws {
        try await withTemporaryDirectory { dir in
            let file = try await buildChannel(type: "file", options: ["path": "out/touches.jsonl"], context: ChannelContext(stateDirectory: dir))
            for id in ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"] {
                #expect(await file.adapter.deliver(sampleMessage(id)) == .sent(providerMessageID: nil))
            }
            var expected: [UInt8] = []
            sampleTouch("aaaaaaaaaaaaaaaa").writeJSONLine(into: &expected)
            sampleTouch("bbbbbbbbbbbbbbbb").writeJSONLine(into: &expected)
            #expect(FileManager.default.contents(atPath: dir + "/out/touches.jsonl") == Data(expected))
        }
    }

    @Test func aTornLastLineIsCutAndItsTouchWrittenWholeAgain() async throws {
        try await withTemporaryDirectory { dir in
            var bytes: [UInt8] = []
            sampleTouch("aaaaaaaaaaaaaaaa").writeJSONLine(into: &bytes)
            var torn: [UInt8] = []
            sampleTouch("bbbbbbbbbbbbbbbb").writeJSONLine(into: &torn)
            try Data(bytes + torn.prefix(40)).write(to: URL(fileURLWithPath: dir + "/t.jsonl"))

            let file = try await buildChannel(type: "file", options: ["path": "t.jsonl"], context: ChannelContext(stateDirectory: dir))
            _ = await file.adapter.deliver(sampleMessage("aaaaaaaaaaaaaaaa"))  // already there: not written again
            _ = await file.adapter.deliver(sampleMessage("bbbbbbbbbbbbbbbb"))
            #expect(FileManager.default.contents(atPath: dir + "/t.jsonl") == Data(bytes + torn))
        }
    }

    @Test func channelsNamingOneFileShareItAndTheMessageFormatHasTheContent() async throws {
        try await withTemporaryDirectory { dir in
            let set = try await ChannelRegistry.builtin.build(
                [
                    ChannelSpec(name: "email", type: "file", options: ["path": "all.jsonl"], path: "channels[0]"),
                    ChannelSpec(name: "wecom", type: "file", options: ["path": .string(dir + "/all.jsonl"), "format": "message"], path: "channels[1]"),
                ], context: ChannelContext(stateDirectory: dir))
            #expect(await set["email"]!.adapter.deliver(sampleMessage("1111111111111111")) == .sent(providerMessageID: nil))
            #expect(await set["wecom"]!.adapter.deliver(sampleMessage("2222222222222222")) == .sent(providerMessageID: nil))
            #expect(await set["wecom"]!.adapter.deliver(sampleMessage("1111111111111111")) == .sent(providerMessageID: nil))
            let lines = try String(contentsOfFile: dir + "/all.jsonl", encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            let full = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any]
            #expect(full?["subject"] as? String == "Your cart misses you")
            #expect(FileSink.touchID(in: Array(lines[1].utf8).withUnsafeBufferPointer { $0[...] }) == "2222222222222222")
        }
    }

    @Test func anUnopenableFileIsABuildProblem() async throws {
        try await withTemporaryDirectory { dir in
            try write("not a directory", to: dir + "/blocker")
            do {
                _ = try await buildChannel(type: "file", options: ["path": "blocker/touches.jsonl"], context: ChannelContext(stateDirectory: dir))
                Issue.record("expected a problem")
            } catch let error as ChannelBuildError {
                #expect(error.problems.first?.path == "channels[0].path")
            }
        }
    }
}

@Suite struct LogAdapterTests {
    @Test func eachTouchIsOneLineWithItsIdentityAsMetadata() async throws {
        let logs = LogCapture()
        let log = try await buildChannel(type: "log", name: "dry", options: [:], context: ChannelContext(logger: logs.logger))
        #expect(await log.adapter.deliver(sampleMessage()) == .sent(providerMessageID: nil))
        let line = try #require(logs.all.first)
        #expect(line.hasPrefix("info touch 0123456789abcdef sent through dry (dry run)"))
        for field in ["touch.id=0123456789abcdef", "journey=cart_abandonment", "step=remind", "channel=dry", "user.id=u-42", "template=cart_reminder"] {
            #expect(line.contains(field), "\(field)")
        }
        #expect(!line.contains("Your cart misses you"), "content only when asked for")
    }

    @Test func contentAndHashedUserIDsOnRequest() async throws {
        let logs = LogCapture()
        let log = try await buildChannel(type: "log", options: ["content": true, "user_id": "hash", "level": "notice"], context: ChannelContext(logger: logs.logger))
        _ = await log.adapter.deliver(sampleMessage())
        let line = try #require(logs.all.first)
        #expect(line.hasPrefix("notice "))
        #expect(line.contains("subject=Your cart misses you"))
        #expect(!line.contains("user.id=u-42") && line.contains("user.id=\(StableHash.of("user", "u-42").hex)"))
    }
}
