import Foundation
import Glibc
import JourneyCore
import JourneyDaemon
import JourneyEvents
import JourneyTesting
import Testing

/// The event socket and the HTTP input when more producers connect than the open files limit
/// (`LimitNOFILE=`) allows: before, the daemon accepted until `accept` failed, and a listener whose
/// `accept` fails stays readable — polling it again at once spun a core at 100 % while serving nobody
/// (the event socket's own loop; for HTTP, NIO's server channel, which keeps its read pending after a
/// failed accept), silently, and the daemon's own files had no descriptor left.
@Suite("Daemon out of file descriptors")
struct DescriptorLimitTests {
    @Test func theEventSocketStopsAtTheLimitTellsWhyAndServesTheBacklogOnceProducersLeave() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let socketPath = fixture.root + "/events.sock"
        let daemon = try startSocketDaemon(fixture, socket: socketPath, nofile: "96:96")
        defer { daemon.signal(SIGKILL) }
        // Ready, so that every descriptor the daemon needs of its own is open (the control socket is
        // bound after the event socket).
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")

        // Idle producers hold one descriptor each, up to the cap the limit leaves room for (96 less a
        // reserve of 48 for the daemon's own files, which are about 25); the rest wait in the listen
        // backlog (128).
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<90 { held.append(try connectUnixSocket(socketPath)) }
        let warned = await eventually(timeout: .seconds(120)) {
            fixture.log.contains("event socket: 48 connections, as many as the open files limit (96) leaves room for")
        }
        #expect(warned, "\(fixture.log.suffix(2000))")
        #expect(fixture.log.contains("kind=input_failure"))

        try await expectWaitsRatherThanSpins(daemon)
        #expect(fixture.log.components(separatedBy: "as many as the open files limit").count == 2, "told once, not once per attempt")
        // With descriptors to spare, its own work goes on: a status request is answered.
        let status = try await offThread { try askDaemon("status", controlSocket: fixture.root + "/state/control.sock") }
        #expect(status.contains(#""ok":true"#), "\(status)")

        // A producer still in the backlog writes its event; once the others hang up, it is accepted,
        // served and answered.
        let waiting = held.removeLast()
        let now = WallClock().now.iso8601
        let line = Array((#"{"type":"track","userId":"u1","event":"app_open","messageId":"fd-1","timestamp":"\#(now)"}"# + "\n").utf8)
        #expect(sendAll(line, to: waiting))
        shutdown(waiting, Int32(SHUT_WR))
        for fd in held { close(fd) }
        held = [waiting]
        let answer = await offThread { () -> String in
            var timeout = timeval(tv_sec: 120, tv_usec: 0)
            setsockopt(waiting, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return String(decoding: readToEnd(waiting), as: UTF8.self)
        }
        #expect(answer == "ok fd-1\n", "\(answer)")
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("event socket: every waiting connection accepted, after") }, "\(fixture.log.suffix(2000))")
        #expect(await daemon.stop() == 0)
    }

    /// The HTTP input under the same limit, on an address it binds or on a socket systemd handed over:
    /// it holds what the limit leaves room for, waits rather than spins, says so, and serves a client from
    /// the backlog once others leave.
    @Test(arguments: [false, true])
    func theHTTPInputStopsAtTheLimitTellsWhyAndServesTheBacklogOnceClientsLeave(handedOver: Bool) async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let port = freePort()
        let daemon = try startHTTPDaemon(fixture, port: port, nofile: 96, handedOver: handedOver)
        defer { daemon.signal(SIGKILL) }
        if !handedOver {
            #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")
        }

        // 90 idle clients: 48 held (NIO may accept up to 3 more in the read that reaches the cap), the
        // rest in the listen backlog. (Handed over, the first connection starts journeyd.)
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        if handedOver {  // once systemd-socket-activate has bound
            #expect(await eventually(timeout: .seconds(120)) { (try? HTTPExchange.connect(port: port, timeout: 120)).map { held.append($0) } != nil })
        }
        while held.count < 90 { held.append(try HTTPExchange.connect(port: port, timeout: 120)) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")
        let warned = await eventually(timeout: .seconds(120)) {
            fixture.log.contains("http: 48 connections, as many as the open files limit (96) leaves room for")
                || fixture.log.contains("http: 49 connections") || fixture.log.contains("http: 50 connections")
                || fixture.log.contains("http: 51 connections")
        }
        #expect(warned, "\(fixture.log.suffix(2000))")
        #expect(fixture.log.contains("kind=input_failure"))
        #expect(!fixture.log.contains("cannot accept connections"), "the cap keeps accept from failing: \(fixture.log.suffix(2000))")

        try await expectWaitsRatherThanSpins(daemon)
        #expect(fixture.log.components(separatedBy: "as many as the open files limit").count == 2, "told once, not once per attempt")
        // With descriptors to spare, a status request is answered — and shows the input blocked. (Over
        // the control socket from here, not with a `journeyd status` child: Foundation's Process, told of
        // the handed-over daemon's exit too early — systemd-socket-activate closes its descriptors —,
        // waits for that daemon, and a second child's exit would not be heard until it ends.)
        let blocked = try await offThread { try askDaemon("status", controlSocket: fixture.root + "/state/control.sock") }
        #expect(metric(blocked, "journeyd_input_blocked", source: "http") == 1, "\(blocked)")

        // The last client, still in the backlog, sends its event; once the others hang up it is
        // accepted and answered 200, and the journal says the trouble is over.
        let waiting = held.removeLast()
        let now = WallClock().now.iso8601
        let body = Array(#"{"userId":"u1","event":"app_open","messageId":"fd-http-1","timestamp":"\#(now)"}"#.utf8)
        #expect(sendAll(HTTPExchange.request("POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-site")], body: body), to: waiting))
        for fd in held { close(fd) }
        held = [waiting]
        let answer = try await offThread { try HTTPExchange.parse(readToEnd(waiting)) }
        #expect(answer.status == 200, "\(answer)")
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("http: accepting connections again, after") }, "\(fixture.log.suffix(2000))")
        let unblocked = try await offThread { try askDaemon("status", controlSocket: fixture.root + "/state/control.sock") }
        #expect(metric(unblocked, "journeyd_input_blocked", source: "http") == 0, "\(unblocked)")
        // At least once: as the held clients go, the 41 that hung up in the backlog are accepted in a rush,
        // and on a busy machine their closing may lag enough for the cap to be reached once more (counted,
        // and over again, as the gauge says).
        #expect((metric(unblocked, "journeyd_input_problems_total", source: "http") ?? 0) >= 1, "\(unblocked)")
        #expect(await daemon.stop() == 0)
        #expect(fixture.log.contains("journeyd stopped: 1 events"), "\(fixture.log.suffix(1000))")
    }

    /// A limit so small that half of it does not cover the daemon's own files (48: it holds about 25 when
    /// it binds its inputs): the budget leaves them and some headroom, so producers never take the last
    /// descriptors — out of them, libdispatch ends the process (it reads /proc to watch its threads: SIGILL,
    /// "workq: registered worker exited prematurely", seen in the whole suite under load when this test
    /// let `accept` run out). The others wait in the backlog, the control socket answers, and a waiting
    /// client is served once others leave.
    @Test func aTinyLimitLeavesTheDaemonItsOwnFilesAndNeverRunsOut() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let port = freePort()
        let daemon = try startHTTPDaemon(fixture, port: port, nofile: 48, handedOver: false)
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")
        var held: [Int32] = []
        defer { for fd in held { close(fd) } }
        for _ in 0..<40 { held.append(try HTTPExchange.connect(port: port, timeout: 120)) }
        let warned = await eventually(timeout: .seconds(120)) {
            fixture.log.contains("connections, as many as the open files limit (48) leaves room for")
        }
        #expect(warned, "\(fixture.log.suffix(2000))")
        let cap = fixture.log.firstMatch(of: /http: (\d+) connections?, as many as the open files limit \(48\)/).flatMap { Int($0.1) } ?? 0
        #expect(cap >= 1 && cap < 24, "fewer than half the limit (which ran out): the daemon's own files and headroom first: \(cap)")
        try await expectWaitsRatherThanSpins(daemon)
        let status = try await offThread { try askDaemon("status", controlSocket: fixture.root + "/state/control.sock") }
        #expect(metric(status, "journeyd_input_blocked", source: "http") == 1, "\(status)")
        #expect(!fixture.log.contains("cannot accept connections"), "no accept ran out of descriptors: \(fixture.log.suffix(2000))")

        let waiting = held.removeLast()
        let body = Array(#"{"userId":"u1","event":"app_open","messageId":"emfile-1","timestamp":"\#(WallClock().now.iso8601)"}"#.utf8)
        let sent = sendAll(HTTPExchange.request("POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-site")], body: body), to: waiting)
        let sendError = errno
        #expect(sent, "the waiting connection: \(String(cString: strerror(sendError))); the daemon's log: \(fixture.log.suffix(3000))")
        for fd in held { close(fd) }
        held = [waiting]
        let answer = try await offThread { try HTTPExchange.parse(readToEnd(waiting)) }
        #expect(answer.status == 200, "\(answer)")
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("http: accepting connections again, after") }, "\(fixture.log.suffix(2000))")
        #expect(await daemon.stop() == 0)
    }

    /// Started with systemd's default limits' shape — a low soft limit under a high hard one — the daemon
    /// raises its soft limit to the hard one itself (it waits with epoll, not select), up to the ceiling
    /// the NATS C client's select() sets allow, and says so; its producers' budget is made from the raised
    /// limit (more producers are served than the unraised limit left room for). A hard limit it cannot go
    /// past is left as it is.
    /// (The hard limit can only be lowered here: the middle case takes this process's own, which is above
    /// the ceiling on a machine under systemd's defaults and below it in a container that sets 20,000.)
    @Test(arguments: [(soft: 64, hard: 4096), (soft: 1024, hard: DescriptorLimitTests.hardOpenFilesLimit()), (soft: 96, hard: 96)])
    func theDaemonRaisesItsSoftOpenFilesLimitToTheHardOne(limits: (soft: Int, hard: Int)) async throws {
        let raised = min(limits.hard, 32_768)
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let socketPath = fixture.root + "/events.sock"
        let daemon = try startSocketDaemon(fixture, socket: socketPath, nofile: "\(limits.soft):\(limits.hard)")
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")
        let limitsFile = try String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)
        let line = limitsFile.split(separator: "\n").first { $0.hasPrefix("Max open files") }.map(String.init) ?? ""
        let figures = line.split(separator: " ").compactMap { Int($0) }
        #expect(figures == [raised, limits.hard], "\(line)")
        if raised != limits.soft {
            #expect(fixture.log.contains("open files limit raised from \(limits.soft) to \(raised) (hard limit \(limits.hard)"), "\(fixture.log.suffix(2000))")
        } else {
            #expect(!fixture.log.contains("open files limit raised"))
        }
        if limits.soft == 64 {
            // At 64 the budget would have been 32 producers; from the raised limit, 60 are held at once and
            // the last of them is served.
            var held: [Int32] = []
            defer { for fd in held { close(fd) } }
            for _ in 0..<60 { held.append(try connectUnixSocket(socketPath)) }
            let last = held.removeLast()
            let line = Array((#"{"type":"track","userId":"u1","event":"app_open","messageId":"raised-1","timestamp":"\#(WallClock().now.iso8601)"}"# + "\n").utf8)
            #expect(sendAll(line, to: last))
            shutdown(last, Int32(SHUT_WR))
            held.append(last)
            let answer = await offThread { () -> String in
                var timeout = timeval(tv_sec: 120, tv_usec: 0)
                setsockopt(last, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return String(decoding: readToEnd(last), as: UTF8.self)
            }
            #expect(answer == "ok raised-1\n", "\(answer)")
            #expect(!fixture.log.contains("as many as the open files limit"), "\(fixture.log.suffix(2000))")
        }
        #expect(await daemon.stop() == 0)
    }

    /// This process's hard open files limit (a child may be given any limit up to it); unlimited reads as
    /// the kernel's default ceiling, `fs.nr_open`.
    static func hardOpenFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_max == rlim_t.max ? 1_048_576 : Int(clamping: limit.rlim_max)
    }

    /// journeyd under `prlimit --nofile=SOFT:HARD` with the event socket at `socket`. (prlimit sets the
    /// limit and executes journeyd in its place: the pid is the daemon's.)
    func startSocketDaemon(_ fixture: DaemonFixture, socket: String, nofile: String) throws -> ChildProcess {
        try ChildProcess(
            "/usr/bin/prlimit",
            ["--nofile=\(nofile)", "--", journeydBinary, "run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool, "--socket", socket],
            output: fixture.root + "/daemon.log")
    }

    /// journeyd under `prlimit --nofile=N` with the HTTP input on `port` (write key `wk-site`): binding the
    /// address itself, or on a socket `systemd-socket-activate` bound and hands over on the first connection.
    func startHTTPDaemon(_ fixture: DaemonFixture, port: UInt16, nofile: Int, handedOver: Bool, extra: [String] = []) throws -> ChildProcess {
        try fixture.enableHTTPInput()
        let run = [journeydBinary, "run", "--rules", fixture.rules, "--state", fixture.state, "--spool", fixture.spool] + extra
        let command =
            handedOver
            ? ["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(port)", "--fdname=http"] + run
            : run + ["--http", "127.0.0.1:\(port)"]
        // prlimit sets the limit and executes the command in its place: the pid is the daemon's.
        return try ChildProcess("/usr/bin/prlimit", ["--nofile=\(nofile):\(nofile)", "--"] + command, output: fixture.root + "/daemon.log")
    }

    /// The event socket and the HTTP input share one budget: producers on the socket leave HTTP only
    /// the rest, and room made by a socket producer leaving lets a waiting HTTP client in.
    @Test func theEventSocketAndTheHTTPInputShareOneBudget() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let port = freePort()
        let socketPath = fixture.root + "/events.sock"
        let daemon = try startHTTPDaemon(fixture, port: port, nofile: 96, handedOver: false, extra: ["--socket", socketPath])
        defer { daemon.signal(SIGKILL) }
        #expect(await eventually(timeout: .seconds(120)) { fixture.log.contains("kind=ready") }, "\(fixture.log.suffix(2000))")

        // 40 producers on the event socket, each answered (so each is surely held), then 20 HTTP
        // clients: HTTP gets the 8 left of the 48.
        var producers: [Int32] = []
        defer { for fd in producers { close(fd) } }
        for i in 0..<40 {
            let fd = try connectUnixSocket(socketPath)
            producers.append(fd)
            let line = #"{"type":"track","userId":"s\#(i)","event":"app_open","messageId":"sock-\#(i)","timestamp":"\#(WallClock().now.iso8601)"}"#
            #expect(sendAll(Array((line + "\n").utf8), to: fd))
            var timeout = timeval(tv_sec: 120, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var answer = [UInt8](repeating: 0, count: 64)
            #expect(read(fd, &answer, answer.count) > 0)
        }
        var clients: [Int32] = []
        defer { for fd in clients { close(fd) } }
        for _ in 0..<20 { clients.append(try HTTPExchange.connect(port: port, timeout: 120)) }
        let warned = await eventually(timeout: .seconds(120)) { fixture.log.contains("connections, as many as the open files limit (96)") }
        #expect(warned, "\(fixture.log.suffix(2000))")
        #expect(fixture.log.contains(#"http: 48 connections"#) || fixture.log.contains(#"http: 49 connections"#)
                || fixture.log.contains(#"http: 50 connections"#) || fixture.log.contains(#"http: 51 connections"#), "\(fixture.log.suffix(2000))")

        // The last HTTP client waits in the backlog while every connection HTTP holds stays open: only
        // room made by the socket's producers leaving can let it in.
        let waiting = clients.removeLast()
        let body = Array(#"{"userId":"u1","event":"app_open","messageId":"shared-1","timestamp":"\#(WallClock().now.iso8601)"}"#.utf8)
        #expect(sendAll(HTTPExchange.request("POST", "/v1/track", port: port, headers: [HTTPExchange.basic("wk-site")], body: body), to: waiting))
        for fd in producers { close(fd) }
        producers = []
        let answer = try await offThread { try HTTPExchange.parse(readToEnd(waiting)) }
        close(waiting)
        #expect(answer.status == 200, "\(answer)")
        #expect(await daemon.stop() == 0)
        #expect(fixture.log.contains("journeyd stopped: 41 events"), "\(fixture.log.suffix(1000))")
    }

    /// A metric's value in a status answer (its `metrics`: each family, a list of label sets with `value`).
    func metric(_ status: String, _ name: String, source: String) -> Double? {
        guard let answer = try? JSONParser().parse(status), case .array(let samples)? = answer["metrics"]?[name] else { return nil }
        return samples.first { $0["source"]?.stringValue == source }?["value"]?.numberValue
    }

    /// At the limit the daemon waits rather than spins: two seconds cost it little CPU. (Spinning, it used a
    /// core; the check is one-sided — other work on the machine can only make the daemon use less.)
    func expectWaitsRatherThanSpins(_ daemon: ChildProcess, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try cpuSeconds(of: daemon.pid)
        await pause(.seconds(2))
        let spent = try cpuSeconds(of: daemon.pid) - before
        #expect(spent < 0.5, "the daemon used \(spent) s of CPU in 2 s at the limit", sourceLocation: sourceLocation)
    }

    /// User plus system CPU time of process `pid` so far, from /proc.
    func cpuSeconds(of pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command (which is in parentheses and may hold spaces): utime is the 14th
        // field of the line, the 12th after the closing parenthesis.
        let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (Double(fields[11])! + Double(fields[12])!) / ticks
    }
}
