import Foundation
import Glibc
import JourneyCore
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import JourneyHTTP

/// An accept that fails for want of descriptors takes the listener out of the poll for a while — not a
/// retry loop spinning a core while the process is out of files — and says so once; then it reads again.
/// (The connection budget keeps the daemon from getting there; this is the defence for when something
/// else takes the descriptors.) On a real listening channel on loopback: only a real one stops reading.
@Suite("Accept pause")
struct AcceptPauseTests {
    @Test func aFailedAcceptRestsTheListenerThenItReadsAgain() async throws {
        let notices = Mutex<[InputNotice]>([])
        let connections = ConnectionGuard(
            what: "http", budget: ConnectionBudget(descriptorLimit: 1024, inUse: 0), report: { notice in notices.withLock { $0.append(notice) } })
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AcceptPause(connections)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        func reading() async throws -> Bool { try await server.getOption(ChannelOptions.autoRead).get() }
        #expect(try await reading())

        // Something that is not about descriptors changes nothing.
        server.pipeline.fireErrorCaught(IOError(errnoCode: ECONNABORTED, reason: "accept"))
        #expect(try await reading())
        #expect(notices.withLock { $0.isEmpty })

        let failedAt = ContinuousClock.now
        // The failures and the reading of the option in one task on the channel's loop: the pause's end,
        // scheduled there, cannot come between them however long this test waits to be run.
        let pausedAtOnce = try await server.eventLoop.submit {
            server.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
            server.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
            return try !server.syncOptions!.getOption(ChannelOptions.autoRead)
        }.get()
        #expect(pausedAtOnce, "the listener went on reading")
        // Generous: the pause is 100 ms, a loaded machine may take longer to run the task that ends it.
        while try await !reading(), ContinuousClock.now - failedAt < .seconds(60) {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await reading(), "still not reading 60 s after the pause began")
        #expect(ContinuousClock.now - failedAt >= .milliseconds(ConnectionGuard.retryAfter.nanoseconds / 1_000_000))
        let told = notices.withLock { $0 }
        #expect(told.count == 1, "\(told)")  // once, however many accepts fail
        #expect(told.first?.change == .began)
        #expect(told.first?.message.contains("http: cannot accept connections: Too many open files") == true, "\(told)")
        #expect(told.first?.message.contains("raise LimitNOFILE=") == true)
        try await server.close()
    }
}
