import Foundation
import JourneyCore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The bridge between PostgresNIO's asynchronous connections and the store's synchronous protocols: one
/// event loop thread owned by the pool, a few connections on it kept for reuse, and callers that block
/// until their statements are answered.
///
/// Threads: any thread that may block — the daemon's checkpointer and processing threads, a command's
/// main thread, `offThread` in tests — may call it, several at a time (each gets a connection of its
/// own). The statements run on the pool's own event loop thread, never on the caller's or on Swift
/// concurrency's cooperative pool, so a caller that blocks cannot starve the work it waits for. A call
/// from any SwiftNIO event loop thread is refused with a ``StoreError`` instead of blocking that loop
/// (on the pool's own loop it would wait for itself forever).
final class PostgresPool: Sendable {
    let configuration: PostgresStoreConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var closed = false
        var nextID = 1
    }
    private let state = Mutex(State())

    init(_ configuration: PostgresStoreConfiguration, logger: Logger = Logger(label: "journeyd.postgres")) {
        self.configuration = configuration
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Closes every connection and stops the event loop thread. Calls after it fail.
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { _ = try? connection.close().wait() }
        try? group.syncShutdownGracefully()
    }

    /// Runs `body` with a connection of its own; a connection that failed is closed, not reused.
    ///
    /// `within`: how long its statements may take together. Past it the caller gets an error and the
    /// connection is closed, not reused (the server ends its side within a second, even a statement
    /// waiting for a lock: ``watchTheClient``): a server that stops answering — a
    /// host gone without a reset, a frozen process — would otherwise hold the caller for as long as TCP
    /// takes to give up, a quarter of an hour. Nil: no bound (a checkpoint takes as long as it takes).
    @discardableResult
    func withConnection<T>(_ operation: String, within: Duration? = nil, _ body: (PostgresSession) throws -> T) throws(StoreError) -> T {
        if MultiThreadedEventLoopGroup.currentEventLoop != nil {
            throw .database(
                path: configuration.address, operation: operation,
                reason: "called on a SwiftNIO event loop thread, which it would block: call it from a thread that may block")
        }
        let connection = try checkOut(operation)
        let session = PostgresSession(connection: connection, logger: logger)
        session.deadline = within.map { (NIODeadline.now() + .milliseconds($0.milliseconds), $0) }
        do {
            let result = try body(session)
            checkIn(connection, healthy: true)
            return result
        } catch {
            checkIn(connection, healthy: !session.broken && !connection.isClosed)
            throw failure(operation, error)
        }
    }

    /// Runs `body` in one transaction (`begin` … `COMMIT`), rolled back when it throws.
    @discardableResult
    func transaction<T>(
        _ operation: String, begin: PostgresQuery = "BEGIN", within: Duration? = nil, _ body: (PostgresSession) throws -> T
    ) throws(StoreError) -> T {
        try withConnection(operation, within: within) { session in
            try session.run(begin)
            do {
                let result = try body(session)
                try session.run("COMMIT")
                return result
            } catch {
                do { try session.run("ROLLBACK") } catch { session.broken = true }
                throw error
            }
        }
    }

    private func checkOut(_ operation: String) throws(StoreError) -> PostgresConnection {
        enum Next { case reuse(PostgresConnection), connect(Int), closed }
        while true {
            let next = state.withLock { state -> Next in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() { return .reuse(connection) }
                state.open += 1
                defer { state.nextID += 1 }
                return .connect(state.nextID)
            }
            switch next {
            case .closed:
                throw .database(path: configuration.address, operation: operation, reason: "the store was closed")
            case .reuse(let connection):
                if !connection.isClosed { return connection }
                state.withLock { $0.open -= 1 }
            case .connect(let id):
                do {
                    return try connect(id: id)
                } catch {
                    state.withLock { $0.open -= 1 }
                    throw failure("connect (for \(operation))", error)
                }
            }
        }
    }

    private func checkIn(_ connection: PostgresConnection, healthy: Bool) {
        let keep = state.withLock { state -> Bool in
            let keep = healthy && !state.closed && state.idle.count < configuration.maxConnections
            if keep { state.idle.append(connection) } else { state.open -= 1 }
            return keep
        }
        // Not waited for: a connection that stopped answering may not close promptly either. (The
        // callback holds the connection until it is closed: PostgresNIO's deinit asserts it was.)
        if !keep { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
    }

    private func connect(id: Int) throws -> PostgresConnection {
        var settings: PostgresConnection.Configuration
        let password = try configuration.password()
        switch configuration.endpoint {
        case .tcp(let host, let port):
            settings = .init(
                host: host, port: port, username: configuration.user, password: password, database: configuration.database,
                tls: try configuration.connectionTLS())
        case .unixSocket(let path):
            settings = .init(unixSocketPath: path, username: configuration.user, password: password, database: configuration.database)
        }
        settings.options.connectTimeout = .milliseconds(configuration.connectTimeout.milliseconds)
        settings.options.additionalStartupParameters = [("application_name", configuration.applicationName)]
        let connection = try PostgresConnection.connect(on: group.next(), configuration: settings, id: id, logger: logger).wait()
        let session = PostgresSession(connection: connection, logger: logger)
        session.deadline = (NIODeadline.now() + .milliseconds(configuration.connectTimeout.milliseconds), configuration.connectTimeout)
        do {
            try session.run(Self.watchTheClient)
        } catch let error as PostgresNoAnswer {
            throw error  // a server that stops answering right after the handshake: as a connect that timed out
        } catch {
            // A server before PostgreSQL 14 has no such setting: it works without (as the bound's doc says).
            logger.debug("PostgreSQL: \(failure("set client_connection_check_interval", error))")
        }
        return connection
    }

    /// Every connection has its server check, once a second while a statement runs, that journeyd is still
    /// at the other end (`client_connection_check_interval`, PostgreSQL 14 and later). A caller that gives up
    /// at its bound closes the connection, but a server process waiting for a lock does not read from the
    /// connection until it has the lock: it waited on — for as long as the lock was held — and then did
    /// what nobody was waiting for any more (a lease taken, a row locked meanwhile). With the check it ends
    /// within a second of the close.
    static let watchTheClient: PostgresQuery = "SET client_connection_check_interval = 1000"

    /// What went wrong, with the server's own message where it sent one (PostgresNIO's descriptions hide it).
    func failure(_ operation: String, _ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? PSQLError else {
            return .database(path: configuration.address, operation: operation, reason: "\(error)")
        }
        var reason: String
        if let message = error.serverInfo?[.message] {
            reason = message
            if let detail = error.serverInfo?[.detail] { reason += " (\(detail))" }
            if let code = error.serverInfo?[.sqlState] { reason += " [SQLSTATE \(code)]" }
        } else if let underlying = error.underlying {
            reason = "\(error.code): \(underlying)"
        } else {
            reason = "\(error.code)"
        }
        return .database(path: configuration.address, operation: operation, reason: reason)
    }
}

/// One connection lent to a caller: statements run one after the other, the caller blocked until each
/// is answered.
final class PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    /// Set when the connection's state is unknown (a failed rollback, a statement past its deadline): it
    /// is closed, not reused.
    var broken = false
    /// When the caller stops waiting for answers, and the bound it asked for (``PostgresPool/withConnection(_:within:_:)``).
    var deadline: (at: NIODeadline, bound: Duration)?

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    @discardableResult
    func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        let answer = connection.query(query, logger: logger)
        guard let deadline else { return try answer.wait() }
        // The caller's own promise, failed at the deadline whatever the connection does; closing the
        // connection then fails the query's own future.
        let bounded = connection.eventLoop.makePromise(of: PostgresQueryResult.self)
        answer.cascade(to: bounded)
        let connection = self.connection
        let timer = connection.eventLoop.scheduleTask(deadline: deadline.at) {
            bounded.fail(PostgresNoAnswer(bound: deadline.bound))
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }
        defer { timer.cancel() }
        do {
            return try bounded.futureResult.wait()
        } catch let error as PostgresNoAnswer {
            broken = true
            throw error
        }
    }
}

/// A statement not answered within the bound its caller set (``PostgresSession/deadline``).
struct PostgresNoAnswer: Error, CustomStringConvertible {
    let bound: Duration
    var description: String { "no answer within \(bound.milliseconds) ms; the connection was closed" }
}

extension Duration {
    /// The whole milliseconds in it (rounded down).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
