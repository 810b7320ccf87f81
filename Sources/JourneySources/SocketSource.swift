public import JourneyCore
import Foundation
import Glibc

/// The stream socket (DESIGN §3): producers write newline-delimited Segment JSON on a Unix or TCP
/// connection; each line is answered — `ok <messageId>` or `error <path>: <reason>` — only once it is
/// durable, in the order the lines were sent, so a producer knows exactly what it may forget and can
/// resend what was not answered.
///
/// A thread of its own accepts and reads with `poll(2)`; it stops reading while the lines read and not
/// yet taken reach the bound, so a fast producer waits in its socket buffer (back-pressure), never
/// gets a line accepted and then dropped.
public final class SocketSource: EventSource, @unchecked Sendable {
    public let name = "socket"
    let listeners: [Listener]
    let maxLineBytes: Int
    /// Lines read and not yet handed out, at most.
    let maxPending: Int

    private final class Client {
        let fd: Int32
        var input: [UInt8] = []
        var skipping = false
        var output: [UInt8] = []
        /// Lines read from this client and not yet answered.
        var unanswered = 0
        var readClosed = false
        var broken = false
        /// Its answers could not be written (the producer closed its socket): they are dropped, and its
        /// lines are still read to the end — a producer that sends and hangs up loses nothing.
        var answersUndeliverable = false
        init(fd: Int32) { self.fd = fd }
    }

    private struct Shared {
        var ready: [(client: Client, line: SourceLine)] = []
        var readyHead = 0
        var waiter: CheckedContinuation<Void, Never>?
        var inFlight: [UInt64: [Client]] = [:]
        var nextToken: UInt64 = 0
        var stopped = false
        var finished = false
    }
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var sharedState = Shared()
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var thread: Thread?

    /// Told (from the socket thread) when connections cannot be accepted, and when they can again.
    let report: (@Sendable (InputNotice) -> Void)?

    /// The connections the daemon's listeners may hold together (``AcceptGate``).
    let budget: ConnectionBudget

    /// `budget`: shared with the daemon's other listeners (a budget of its own from the process's open
    /// files limit when nil). `report` hears of trouble the source works around by itself (out of file
    /// descriptors).
    public init(
        listeners: [Listener], maxLineBytes: Int, maxPending: Int = 8192, budget: ConnectionBudget? = nil,
        report: (@Sendable (InputNotice) -> Void)? = nil
    ) {
        self.listeners = listeners
        self.budget = budget ?? ConnectionBudget()
        self.maxLineBytes = maxLineBytes
        self.maxPending = maxPending
        self.report = report
        var ends: [Int32] = [0, 0]
        _ = pipe(&ends)
        for fd in ends {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        for listener in listeners {
            _ = fcntl(listener.fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK)
        }
        // Room made by another listener's connection closing: poll the listeners again.
        self.budget.whenRoom { [weak self] in self?.wake() }
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "journeyd socket"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Runs `body` on the shared state with the lock held.
    private func locked<R>(_ body: (inout Shared) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&sharedState)
    }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakeWrite, &one, 1)
    }

    public func stop() {
        locked { $0.stopped = true }
        wake()
    }

    public func next(limit: Int) async throws -> SourceBatch? {
        while true {
            let taken: (lines: [SourceLine], clients: [Client], token: UInt64)? = locked { state in
                guard state.readyHead < state.ready.count else { return nil }
                let end = min(state.ready.count, state.readyHead + limit)
                let slice = state.ready[state.readyHead..<end]
                state.readyHead = end
                if state.readyHead == state.ready.count {
                    state.ready.removeAll(keepingCapacity: true)
                    state.readyHead = 0
                }
                state.nextToken += 1
                let clients = slice.map(\.client)
                state.inFlight[state.nextToken] = clients
                return (slice.map(\.line), clients, state.nextToken)
            }
            if let taken {
                wake()  // room again: the thread may read more
                return SourceBatch(origin: "socket", lines: taken.lines, token: taken.token)
            }
            if locked({ $0.stopped }) { return nil }
            await withCheckedContinuation { continuation in
                let resumeNow = locked { state -> Bool in
                    if state.readyHead < state.ready.count || state.stopped { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    public func acknowledge(_ batch: SourceBatch, outcomes: [LineOutcome]) async throws {
        answer(batch.token) { index in
            switch outcomes[index] {
            case .accepted(let messageId): return "ok \(messageId)"
            case .rejected(let path, let reason): return "error \(path): \(reason)"
            }
        }
    }

    public func refuse(_ batch: SourceBatch, reason: String) async {
        answer(batch.token) { _ in "error refused: \(reason)" }
    }

    private func answer(_ token: UInt64, _ text: (Int) -> String) {
        locked { state in
            guard let clients = state.inFlight.removeValue(forKey: token) else { return }
            for (index, client) in clients.enumerated() {
                client.unanswered -= 1
                if client.answersUndeliverable { continue }
                client.output.append(contentsOf: text(index).utf8)
                client.output.append(10)
            }
        }
        wake()
    }

    // MARK: - The socket thread

    private func serve() {
        var clients: [Client] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var acceptGate = AcceptGate(budget: budget)
        while true {
            let (stopped, pendingCount) = locked { ($0.stopped, $0.ready.count - $0.readyHead) }
            let full = pendingCount >= maxPending
            let listening = !stopped && acceptGate.isOpen
            var polls: [pollfd] = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if listening { polls += listeners.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) } }
            let outputs = locked { _ in clients.map { !$0.output.isEmpty } }
            let firstClient = polls.count
            for (client, hasOutput) in zip(clients, outputs) {
                var events: Int16 = 0
                if !full && !stopped && !client.readClosed { events |= Int16(POLLIN) }
                if hasOutput { events |= Int16(POLLOUT) }
                // poll(2) reports a hang-up whatever was asked: a client polled for nothing (the queue
                // full, its input read to the end) whose producer left would wake it at once, every
                // time — a core spun until the queue drains. Stopped, the hang-up is what it waits for.
                let watched = events != 0 || stopped
                polls.append(pollfd(fd: watched ? client.fd : -1, events: events, revents: 0))
            }
            if stopped {
                // Lines read but never taken were not accepted: drop them (their producers resend what
                // was not answered); answer what is in flight, then close. A producer that left cannot
                // read its answers: it is not waited for.
                let busy = locked { state -> Bool in
                    for (client, _) in state.ready[state.readyHead...] { client.unanswered -= 1 }
                    state.ready.removeAll()
                    state.readyHead = 0
                    return clients.contains { !$0.broken && !$0.answersUndeliverable && ($0.unanswered > 0 || !$0.output.isEmpty) }
                }
                if !busy { break }
            }
            _ = poll(&polls, nfds_t(polls.count), stopped ? 1000 : acceptGate.pollTimeout(1000))
            if stopped {
                locked { _ in
                    for (i, client) in clients.enumerated() where polls[firstClient + i].revents & Int16(POLLHUP | POLLERR) != 0 {
                        client.answersUndeliverable = true
                        client.output.removeAll()
                    }
                }
            }
            var drained = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &drained, drained.count) > 0 {}
            if listening {
                var backlogEmpty = true
                accepting: for listener in listeners {
                    while true {
                        if !acceptGate.isOpen {
                            if let message = acceptGate.full(clients: clients.count) { report?(.init(.began, message)) }
                            backlogEmpty = false
                            break accepting
                        }
                        let fd = accept(listener.fd, nil, nil)
                        guard fd >= 0 else {
                            let error = errno
                            if error == EINTR || error == ECONNABORTED { continue }
                            if error == EAGAIN || error == EWOULDBLOCK { break }
                            // Out of descriptors (or another failure that would fail again at once): the
                            // listener stays readable, so polling it would spin a core. Connections wait in
                            // the listen backlog; try again shortly.
                            if let message = acceptGate.failed(errno: error) { report?(.init(.began, message)) }
                            backlogEmpty = false
                            break accepting
                        }
                        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                        clients.append(Client(fd: fd))
                        budget.opened()
                    }
                }
                if backlogEmpty, let message = acceptGate.drained() { report?(.init(.ended, message)) }
            }
            var lines: [(Client, SourceLine)] = []
            for client in clients {
                if !full && !stopped && !client.readClosed && !client.broken {
                    readAvailable(client, into: &lines, chunk: &chunk)
                }
            }
            locked { state in
                for (client, _) in lines { client.unanswered += 1 }
                state.ready.append(contentsOf: lines.map { (client: $0.0, line: $0.1) })
                if !state.ready.isEmpty || state.stopped, let waiter = state.waiter {
                    state.waiter = nil
                    waiter.resume()
                }
                for client in clients where !client.output.isEmpty && !client.broken {
                    flush(client)
                }
            }
            clients.removeAll { client in
                let done = locked { _ in
                    client.broken || (client.readClosed && client.unanswered == 0 && client.output.isEmpty)
                }
                if done {
                    close(client.fd)
                    budget.closed()
                }
                return done
            }
        }
        for client in clients {
            close(client.fd)
            budget.closed()
        }
        for listener in listeners { listener.close() }
        locked { state in
            state.finished = true
            state.waiter?.resume()
            state.waiter = nil
        }
    }

    /// Reads what a client sent and cuts it into lines (an over-long line becomes one oversized line).
    private func readAvailable(_ client: Client, into lines: inout [(Client, SourceLine)], chunk: inout [UInt8]) {
        while true {
            let n = read(client.fd, &chunk, chunk.count)
            if n > 0 {
                var start = 0
                for i in 0..<n where chunk[i] == 10 {
                    append(chunk[start..<i], to: client, into: &lines, endOfLine: true)
                    start = i + 1
                }
                if start < n { append(chunk[start..<n], to: client, into: &lines, endOfLine: false) }
                if n < chunk.count { return }
            } else if n == 0 {
                client.readClosed = true  // the producer finished sending
                if !client.input.isEmpty && !client.skipping {
                    lines.append((client, SourceLine(bytes: client.input)))
                }
                client.input.removeAll()
                return
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { client.broken = true }
                return
            }
        }
    }

    private func append(_ bytes: ArraySlice<UInt8>, to client: Client, into lines: inout [(Client, SourceLine)], endOfLine: Bool) {
        if !client.skipping {
            client.input.append(contentsOf: bytes)
            if client.input.count > maxLineBytes {
                // Answered (an error) in its turn; the rest of the line is dropped as it arrives.
                lines.append((client, SourceLine(bytes: Array(client.input.prefix(256)), oversized: true)))
                client.input.removeAll()
                client.skipping = true
            }
        }
        if endOfLine {
            if client.skipping {
                client.skipping = false
            } else {
                var line = client.input
                if line.last == 13 { line.removeLast() }
                lines.append((client, SourceLine(bytes: line)))
            }
            client.input.removeAll(keepingCapacity: true)
        }
    }

    /// Writes what a client is owed (called with the shared lock held).
    private func flush(_ client: Client) {
        while !client.output.isEmpty {
            // MSG_NOSIGNAL: a producer that left before reading its answers makes this fail with EPIPE
            // instead of raising SIGPIPE, whose default action ends the process.
            let n = client.output.withUnsafeBytes { send(client.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                client.output.removeFirst(n)
            } else {
                if n < 0 && errno == EINTR { continue }
                if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK {
                    // Nobody reads the answers any more; what it sent is still read and applied.
                    client.answersUndeliverable = true
                    client.output.removeAll()
                }
                return
            }
        }
    }
}
