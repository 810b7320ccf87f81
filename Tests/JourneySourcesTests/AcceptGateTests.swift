import Foundation
import Glibc
import JourneyCore
import JourneyTesting
import Synchronization
import Testing

@testable import JourneySources

/// How many connections the event socket holds, and what it says when it holds no more.
@Suite("Event socket at the open files limit")
struct AcceptGateTests {
    @Test func theCapLeavesTheDaemonARoomOfItsOwn() {
        #expect(ConnectionBudget(descriptorLimit: 64, inUse: 0).capacity == 32)  // half of a small limit
        #expect(ConnectionBudget(descriptorLimit: 1024, inUse: 0).capacity == 768)  // 256 of a large one
        #expect(ConnectionBudget(descriptorLimit: 65536, inUse: 0).capacity == 65280)
        #expect(ConnectionBudget(descriptorLimit: 1, inUse: 0).capacity == 1)
    }

    @Test func troubleIsToldOnceWhenItBeginsAndOnceWhenTheBacklogIsEmpty() {
        let budget = ConnectionBudget(descriptorLimit: 64, inUse: 0)
        var gate = AcceptGate(budget: budget)
        for _ in 0..<31 { budget.opened() }
        #expect(gate.isOpen)
        budget.opened()
        #expect(!gate.isOpen)
        #expect(
            gate.full(clients: 12)?.hasPrefix("event socket: 32 connections (12 of them here, the rest HTTP's), as many as the open files limit (64) leaves room for")
                == true)
        #expect(gate.full(clients: 12) == nil, "told once")
        let failed = gate.failed(errno: EMFILE)
        #expect(failed == nil, "the same trouble, already told")
        for _ in 0..<32 { budget.closed() }
        #expect(!gate.isOpen, "after a failed accept the listener rests")
        #expect(gate.pollTimeout(1000) <= 101)
        #expect(gate.drained()?.hasPrefix("event socket: every waiting connection accepted, after") == true)
        #expect(gate.drained() == nil)
    }

    @Test func aFailedAcceptNamesTheErrorAndTheLimit() {
        var gate = AcceptGate(budget: ConnectionBudget(descriptorLimit: 1024, inUse: 0))
        let message = gate.failed(errno: EMFILE)
        #expect(message?.contains("cannot accept connections: Too many open files (this process may open 1024 files") == true, "\(message ?? "")")
        #expect(gate.drained()?.contains("1 attempt(s) failing meanwhile") == true)
    }

    /// A source allowed two connections (an open files limit of 18 less the headroom of 16, in its reckoning): the third
    /// producer waits in the backlog, and is read once one of the first two hangs up.
    @Test func aProducerPastTheCapWaitsInTheBacklogAndIsReadOnceAnotherLeaves() async throws {
        try await withTemporaryDirectory(prefix: "journeyd-socket") { dir in
            let path = dir + "/events.sock"
            let reports = Mutex<[InputNotice]>([])
            let source = SocketSource(listeners: [try .unix(path)], maxLineBytes: 1024, budget: ConnectionBudget(descriptorLimit: 18, inUse: 0)) { notice in
                reports.withLock { $0.append(notice) }
            }
            defer { source.stop() }
            var producers: [Int32] = []
            defer { for fd in producers { close(fd) } }
            for i in 1...3 {
                let fd = try connectUnix(path)
                producers.append(fd)
                let line = Array("line-\(i)\n".utf8)
                #expect(line.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) } == line.count)
            }
            var read: [String] = []
            while read.count < 2, let batch = try await source.next(limit: 10) {
                read += batch.lines.map { String(decoding: $0.bytes, as: UTF8.self) }
                try await source.acknowledge(batch, outcomes: batch.lines.map { _ in .accepted(messageId: "m") })
            }
            #expect(Set(read) == ["line-1", "line-2"])
            #expect(await eventually(timeout: .seconds(120)) { reports.withLock { $0.contains { $0.change == .began && $0.message.hasPrefix("event socket: 2 connections") } } })
            close(producers.removeFirst())  // the first producer leaves: room for the third
            let batch = try await source.next(limit: 10)
            #expect(batch?.lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["line-3"])
            // Back at the cap: the trouble goes on, told once. It ends when the producers leave and an
            // accept finds nobody waiting.
            #expect(reports.withLock { $0.count } == 1)
            for fd in producers { close(fd) }
            producers = []
            #expect(await eventually(timeout: .seconds(120)) { reports.withLock { $0.count == 2 } })
            #expect(reports.withLock { $0.last?.message.hasPrefix("event socket: every waiting connection accepted") } == true)
            #expect(reports.withLock { $0.map(\.change) } == [.began, .ended])
        }
    }

    func connectUnix(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let connected = try withUnixAddress(path, what: "test") { connect(fd, $0, $1) }
        guard connected == 0 else {
            close(fd)
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        return fd
    }
}
