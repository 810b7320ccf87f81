import Foundation
import Glibc
public import JourneyCore
import JourneyChannels
import JourneyEngine
import JourneyEvents
public import JourneyRules
import JourneyStore
public import Logging
import Synchronization

/// `journeyd run`: reads events from a spool directory, applies them with the engine, keeps state in the
/// SQLite store, and dispatches touches — committing each batch (state, outbox, input position) in one
/// transaction before the input is acknowledged (a spool file is archived only after the commit that
/// covers its last line).
///
/// Spool protocol: producers write a file elsewhere and `rename(2)` it into `<spool>/incoming/`. Files
/// are taken in name order; a crash resumes each at its committed byte offset; finished files move to
/// `<spool>/done/`. Rejected lines go to `<state>/quarantine/<file>.rejected.jsonl` with their reason.
public final class Daemon {
    public struct Settings: Sendable {
        /// The SQLite database.
        public var statePath: String
        /// The spool directory (with `incoming/` and `done/`).
        public var spoolDirectory: String
        /// `wall`: now is the system clock. `event`: now is the latest event time seen (for tests and
        /// back-fills: timers fire as event time passes them).
        public var clock: Clock
        /// Events per transaction at most.
        public var batchSize: Int
        /// Stop once the spool is empty, after running the clock to this time (event clock only).
        public var exitWhenIdle: Timestamp?
        /// fsync every commit (`synchronous=FULL`, survives power loss); false: WAL without fsync per commit.
        public var fsyncEveryCommit: Bool
        /// Where the rules came from, for reloads (SIGHUP, `journeyd reload`).
        public var rulesDirectory: String?
        /// The control socket (`journeyd reload`, `journeyd status`); nil for none.
        public var controlSocket: String?
        /// A Unix socket for newline-delimited events, each answered after its commit; nil for none.
        public var eventSocket: String?
        /// A TCP address (`host:port`) for the same protocol; nil for none.
        public var eventListen: String?
        /// What happens to a spool file once applied.
        public var spoolDone: DaemonSettings.SpoolDone = .archive
        /// Reload when the rule directory changes, after it stayed quiet this long; nil: only on request.
        public var watchRulesDebounce: TimeSpan?
        /// A JSON-lines file to follow (across rotation and truncation); nil for none.
        public var tailFile: String?

        public enum Clock: String, Sendable { case wall, event }

        public init(
            statePath: String, spoolDirectory: String, clock: Clock = .wall, batchSize: Int = 2048,
            exitWhenIdle: Timestamp? = nil, fsyncEveryCommit: Bool = true, rulesDirectory: String? = nil,
            controlSocket: String? = nil, eventSocket: String? = nil, eventListen: String? = nil, tailFile: String? = nil,
            spoolDone: DaemonSettings.SpoolDone = .archive, watchRulesDebounce: TimeSpan? = nil
        ) {
            self.eventListen = eventListen
            self.spoolDone = spoolDone
            self.watchRulesDebounce = watchRulesDebounce
            self.tailFile = tailFile
            self.eventSocket = eventSocket
            self.rulesDirectory = rulesDirectory
            self.controlSocket = controlSocket
            self.statePath = statePath
            self.spoolDirectory = spoolDirectory
            self.clock = clock
            self.batchSize = batchSize
            self.exitWhenIdle = exitWhenIdle
            self.fsyncEveryCommit = fsyncEveryCommit
        }
    }

    public struct Counters: Sendable, Equatable {
        public var events = 0
        public var rejected = 0
        public var duplicates = 0
        public var touches = 0
        public var delivered = 0
        public var inDoubt = 0
        public var deadLettered = 0
        /// Policy outcomes: touches dropped by a cap, held (quiet hours, deferring caps), not produced
        /// because the user closed the channel, skipped by a late timer.
        public var capped = 0
        public var deferred = 0
        public var suppressed = 0
        public var skippedLate = 0
    }

    let settings: Settings
    var engine: Engine
    let store: SQLiteStateStore
    let dispatcher: Dispatcher
    /// The delivery pipeline's clock: the wall clock, or event time under `--clock event`.
    let deliveryClock: ManualDeliveryClock?
    let stateDirectory: String
    var control: ControlSocket?
    var socketInput: SocketInput?
    var tailInput: TailInput?
    var ruleWatch: RuleDirectoryWatch?
    let parser = SegmentEventParser()
    var renderer: TouchRenderer
    /// Effects of the engine's last call, and what applying input produced since the last commit.
    var effects: [Effect] = []
    var pendingOutbox: [SQLiteStateStore.OutboxEntry] = []
    var pendingOutcomes: [SQLiteStateStore.DeliveryOutcome] = []
    /// Touches marked `attempting` in ``pendingOutcomes``: handed to the pipeline once that is committed.
    var staged: [PendingDelivery] = []
    var clockNow: Timestamp = .distantPast
    public internal(set) var counters = Counters()
    let stopRequested = Atomic<Bool>(false)
    let reloadRequested = Atomic<Bool>(false)
    let logger: Logger
    let service: any ServiceManager
    var lastReload = "none"
    var lastStatusAt: UInt64 = 0
    var eventsAtLastStatus = 0
    /// Fault injection for tests (`JOURNEYD_FAULT_INJECTION=1`): the control request `stall SECONDS`
    /// blocks the processing loop, as a stuck loop would.
    let faultInjection = ProcessInfo.processInfo.environment["JOURNEYD_FAULT_INJECTION"] == "1"

    public init(rules: RuleSet, settings: Settings, logger: Logger, service: any ServiceManager = NoServiceManager()) throws {
        self.settings = settings
        self.logger = logger
        self.service = service
        stateDirectory = (settings.statePath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        for folder in ["incoming", "done"] {
            try FileManager.default.createDirectory(
                atPath: settings.spoolDirectory + "/" + folder, withIntermediateDirectories: true)
        }
        service.extendTimeout(microseconds: 60_000_000)  // opening a large store loads every pending timer
        store = try SQLiteStateStore(
            path: settings.statePath, durability: settings.fsyncEveryCommit ? .full : .normal, dedupWindow: rules.settings.dedupWindow)
        engine = Engine(rules: rules)
        renderer = try TouchRenderer(rules: rules)
        deliveryClock = settings.clock == .event ? ManualDeliveryClock(.distantPast) : nil
        do throws(ChannelBuildError) {
            dispatcher = try Dispatcher(
                rules: rules,
                context: ChannelContext(stateDirectory: stateDirectory, configurationDirectory: settings.rulesDirectory, logger: logger),
                clock: deliveryClock ?? SystemDeliveryClock(), logger: logger)
        } catch {
            throw DaemonError(
                "channels.yaml: the channels cannot be set up:\n" + error.problems.map { "  \($0)" }.joined(separator: "\n"),
                configuration: true)
        }
        try keepVersions(of: rules)
        // Users pinned to versions that the files no longer hold keep running them.
        let current = Set(rules.journeys.map(\.version))
        var older: [Journey] = []
        for stored in try store.keptJourneyVersions() where !current.contains(stored.version) {
            let (journey, diagnostics) = RuleLoader.compileJourney(
                source: stored.source, file: stored.file, channels: Set(rules.channels.map(\.name)),
                templates: Set(rules.templates.keys))
            if let journey {
                older.append(journey)
            } else {
                logger.warning(
                    "journey \(stored.journey) version \(stored.version) can no longer be compiled; its users exit when they wake: \(diagnostics.first?.description ?? "")",
                    metadata: [RecordField.kind: "\(RecordKind.versionRetired.rawValue)", RecordField.journey: "\(stored.journey)", RecordField.journeyVersion: "\(stored.version)"])
            }
        }
        engine.retain(older)
        if let path = settings.controlSocket { control = try ControlSocket(path: path) }
        var listeners: [Listener] = []
        if let fd = service.takeListeningSocket(named: "events") {
            listeners.append(.activated(fd))  // socket activation: the service manager bound it
        } else if let path = settings.eventSocket {
            listeners.append(try .unix(path))
        }
        if let address = settings.eventListen {
            guard let (host, port) = SocketAddressText.parse(address) else {
                throw DaemonError("inputs.socket.listen: not host:port: \(address)", configuration: true)
            }
            listeners.append(try .tcp(host: host, port: port))
        }
        if !listeners.isEmpty { socketInput = SocketInput(listeners: listeners, maxLineBytes: parser.options.maxEventBytes) }
        if let debounce = settings.watchRulesDebounce, let directory = settings.rulesDirectory {
            ruleWatch = try RuleDirectoryWatch(directory: directory, debounceMilliseconds: debounce.milliseconds)
        }
        if let path = settings.tailFile {
            let key = "tail/\(path)"
            tailInput = TailInput(
                path: path, committedInode: try store.position(of: key + "#inode").map { UInt64($0) },
                committedOffset: try store.position(of: key).map { Int($0) })
        }
        counters.inDoubt = try store.recoverInterruptedDeliveries(
            resendable: dispatcher.resendableChannels)
        if counters.inDoubt > 0 {
            logger.warning(
                "\(counters.inDoubt) touches were being delivered when the daemon stopped: held as in_doubt, not resent",
                metadata: [RecordField.kind: "\(RecordKind.touchInDoubt.rawValue)", RecordField.outcome: "in_doubt"])
        }
    }

    func keepVersions(of rules: RuleSet) throws {
        try store.keepJourneyVersions(
            rules.journeys.map { .init(version: $0.version, journey: $0.id, file: $0.file, source: $0.source) },
            at: Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))
    }

    /// Asks the loop to stop after the batch in hand (safe to call from a signal handler's queue).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// Asks the loop to reload the rules between batches (SIGHUP). Requests made while one is pending
    /// coalesce into one reload, which reads the files as they are when it runs, so the last edit is
    /// never missed.
    public func requestReload() { reloadRequested.store(true, ordering: .relaxed) }

    /// Builds the new rule set aside and validates it completely; swaps it in only when it has no error.
    /// Unchanged journeys keep their enrollments and timers; changed ones follow their `on_change`.
    /// Returns the diagnostics of a refused reload (empty when the new rules are live).
    @discardableResult
    public func reload() -> [Diagnostic] {
        guard let directory = settings.rulesDirectory else { return [] }
        service.reloading()
        let diagnostics = reloadRules(from: directory)
        lastReload = diagnostics.contains { $0.severity == .error } ? "refused" : "ok"
        service.reloaded(status: statusText())
        return diagnostics
    }

    func reloadRules(from directory: String) -> [Diagnostic] {
        let (rules, diagnostics) = RuleLoader.loadReportingAll(directory: directory)
        let errors = diagnostics.filter { $0.severity == .error }
        guard let rules, errors.isEmpty else {
            refused(errors.isEmpty ? diagnostics : errors)
            return diagnostics
        }
        do {
            let newRenderer = try TouchRenderer(rules: rules)
            do throws(ChannelBuildError) {
                try dispatcher.replace(with: rules)
            } catch {
                let diagnostics = error.problems.map { problem in
                    Diagnostic(
                        file: "channels.yaml", line: Self.line(of: problem, in: rules), column: 1, keyPath: problem.path,
                        message: problem.message)
                }
                refused(diagnostics)
                return diagnostics
            }
            try keepVersions(of: rules)
            let summary = engine.load(rules)
            renderer = newRenderer
            logger.notice(
                "rules reloaded: \(rules.journeys.count) journeys (added \(summary.added.count), changed \(summary.changed.count), removed \(summary.removed.count), unchanged \(summary.unchanged.count))",
                metadata: [RecordField.kind: "\(RecordKind.rulesReloaded.rawValue)", RecordField.outcome: "live"])
            return []
        } catch {
            let diagnostic = Diagnostic(file: "channels.yaml", line: 1, column: 1, keyPath: "channels", message: "\(error)")
            refused([diagnostic])
            return [diagnostic]
        }
    }

    /// The line of the channel a problem is about (`channels[i]…`), for diagnostics.
    static func line(of problem: ChannelProblem, in rules: RuleSet) -> Int {
        guard let open = problem.path.firstIndex(of: "["), let close = problem.path.firstIndex(of: "]"),
            let index = Int(problem.path[problem.path.index(after: open)..<close]), rules.channels.indices.contains(index)
        else { return 1 }
        return rules.channels[index].line
    }

    /// Logs a refused reload: one record with every error, so `journalctl -u journeyd` shows them together.
    func refused(_ errors: [Diagnostic]) {
        let lines = errors.map { "  " + $0.description }.joined(separator: "\n")
        logger.error(
            "rules reload refused: \(errors.count) error\(errors.count == 1 ? "" : "s"); the previous rules keep running\n\(lines)",
            metadata: [RecordField.kind: "\(RecordKind.rulesRefused.rawValue)", RecordField.outcome: "refused"])
    }

    /// The live figures for `STATUS=` and `journeyd status`.
    func statusText() -> String {
        let nowNanos = DispatchTime.now().uptimeNanoseconds
        let seconds = Double(nowNanos &- lastStatusAt) / 1e9
        let rate = lastStatusAt == 0 || seconds <= 0 ? 0 : Double(counters.events - eventsAtLastStatus) / seconds
        lastStatusAt = nowNanos
        eventsAtLastStatus = counters.events
        return "\(engine.rules.journeys.count) journeys; \(Int(rate.rounded())) events/s; \(counters.events) events; "
            + "\(store.pendingTimerCount) timers waiting; outbox \(counters.touches - counters.delivered); "
            + "last reload: \(lastReload)"
    }

    var now: Timestamp {
        switch settings.clock {
        case .wall: return Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        case .event: return clockNow
        }
    }

    /// Runs until stopped (or, with `exitWhenIdle`, until the spool is empty).
    public func run() throws {
        logger.notice(
            "journeyd running: \(engine.rules.journeys.count) journeys, state \(settings.statePath), spool \(settings.spoolDirectory)",
            metadata: [RecordField.kind: "\(RecordKind.ready.rawValue)"])
        service.ready(status: statusText())
        var statusDue = DispatchTime.now().uptimeNanoseconds
        while !stopRequested.load(ordering: .relaxed) {
            service.alive()
            let clock = DispatchTime.now().uptimeNanoseconds
            if clock >= statusDue {
                service.status(statusText())
                statusDue = clock + 2_000_000_000
            }
            if let ruleWatch, ruleWatch.poll(now: clock) { reloadRequested.store(true, ordering: .relaxed) }
            if reloadRequested.exchange(false, ordering: .relaxed) {
                reload()
                ruleWatch?.rewatch()
            }
            control?.serve(answer)
            var worked = try stageDeliveries()
            for file in try spoolFiles() {
                if stopRequested.load(ordering: .relaxed) { break }
                try process(file)
                worked = true
            }
            if let socketInput { worked = try processSocket(socketInput) || worked }
            if let tailInput { worked = try processTail(tailInput) || worked }
            if settings.clock == .wall { worked = try fireTimers(until: now) || worked }
            // Decisions and staged deliveries that no input batch committed this turn.
            if !pendingOutcomes.isEmpty || !staged.isEmpty || !pendingOutbox.isEmpty { try commit() }
            if !worked {
                if let end = settings.exitWhenIdle {
                    _ = try fireTimers(until: end)
                    try deliverEverythingDue()
                    break
                }
                waitForInput(milliseconds: 50)
            }
        }
        service.stopping()
        // Touches staged but not handed over stay pending; deliveries in flight get a few seconds to
        // finish, and what is still running then is in doubt.
        let unstaged = Set(staged.map(\.message.touch.id))
        pendingOutcomes.removeAll { $0.state == .attempting && unstaged.contains($0.touchID) }
        staged.removeAll()
        record(dispatcher.drain(seconds: 5))
        try commit()
        dispatcher.shutdown()
        logger.notice(
            "journeyd stopped: \(counters.events) events, \(counters.touches) touches, \(counters.delivered) delivered",
            metadata: [RecordField.kind: "\(RecordKind.stopped.rawValue)"])
    }

    /// Applies the complete lines appended to the tailed file since the last commit, a batch per commit.
    func processTail(_ tail: TailInput) throws -> Bool {
        guard let (fd, start) = tail.next() else { return false }
        lseek(fd, off_t(start), SEEK_SET)
        let stream = SegmentEventStream(fileDescriptor: fd, source: tail.path, startOffset: start)
        var offset = start
        var applied = 0
        for result in stream {
            guard let line = stream.currentLine, line.isTerminated else { break }  // wait for the newline
            offset = line.byteOffset + line.length + 1
            apply(result) { quarantine($0, raw: line, file: (tail.path as NSString).lastPathComponent) }
            applied += 1
            if applied >= settings.batchSize { break }
        }
        guard offset > start else { return false }
        try commit(positions: [tail.offsetKey: Int64(offset), tail.inodeKey: Int64(tail.inode)])
        tail.advance(to: offset)
        return true
    }

    /// Applies one parsed line: due timers first (as the clock has moved), then the event through the
    /// engine; a rejected line goes to `rejected`. Touches produced wait in ``pendingOutbox`` for the commit.
    func apply(_ result: Result<Event, EventRejection>, rejected: (EventRejection) -> Void) {
        switch result {
        case .success(let event):
            if settings.clock == .event { clockNow = max(clockNow, event.timestamp) }
            let at = now
            var state = store  // a class: the engine's `inout` store is this same database
            engine.fireDueTimers(until: at, clock: timerClock, store: &state, effects: &effects)
            collectEffects(event: nil)
            engine.handle(event, at: at, store: &state, effects: &effects)
            collectEffects(event: event)
            counters.events += 1
        case .failure(let rejection):
            counters.rejected += 1
            rejected(rejection)
        }
    }

    var timerClock: Engine.TimerClock { settings.clock == .wall ? .wallClock : .simulated }

    /// Moves the touches in ``effects`` to the outbox, rendered now — while the user's traits and the
    /// event are at hand — so the outbox holds exactly what will be sent.
    func collectEffects(event: Event?) {
        for effect in effects {
            switch effect {
            case .touch(let touch):
                switch renderer.render(touch, user: store.user(touch.user), event: event) {
                case .success(let content):
                    pendingOutbox.append(.init(touch: touch, content: content, expiresAt: renderer.expiry(of: touch)))
                case .failure(let failure):
                    let reason = failure.reason
                    // Queued and dead-lettered in the same commit: visible, counted, never sent half-made.
                    pendingOutbox.append(.init(touch: touch))
                    pendingOutcomes.append(.init(touchID: touch.id, state: .deadLetter, reason: reason))
                    logger.error(
                        "touch \(touch.id) cannot be rendered: \(reason)",
                        metadata: touchMetadata(touch, kind: .touchDeadLettered, outcome: "dead_letter"))
                }
            case .outcome(let outcome):
                logPolicy(outcome)
            }
        }
        effects.removeAll(keepingCapacity: true)
    }

    /// Counts and logs what the policies decided about a touch (DESIGN §5: each outcome recorded,
    /// logged and counted); duplicates are counted.
    func logPolicy(_ outcome: Outcome) {
        let kind: RecordKind
        let label: String
        switch outcome.kind {
        case .duplicate:
            counters.duplicates += 1
            return
        case .capped:
            counters.capped += 1
            (kind, label) = (.touchCapped, "capped")
        case .deferred(let until):
            counters.deferred += 1
            (kind, label) = (.touchDeferred, "deferred until \(until.iso8601)")
        case .suppressed:
            counters.suppressed += 1
            (kind, label) = (.touchSuppressed, "suppressed")
        case .skippedLate:
            counters.skippedLate += 1
            (kind, label) = (.touchSuppressed, "skipped (late)")
        default:
            return
        }
        logger.info(
            "touch of \(outcome.journey)/\(outcome.step) for \(outcome.user) \(label): \(outcome.detail)",
            metadata: [
                RecordField.kind: "\(kind.rawValue)", RecordField.journey: "\(outcome.journey)", RecordField.step: "\(outcome.step)",
                RecordField.userID: "\(outcome.user)", RecordField.outcome: "\(label)", RecordField.reason: "\(outcome.detail)",
            ])
    }

    /// Commits everything applied since the last commit, with the inputs' `positions`.
    func commit(positions: [String: Int64] = [:]) throws {
        service.alive()  // a long spool file is many commits in one loop turn: each is progress
        try store.commit(outbox: pendingOutbox, positions: positions, outcomes: pendingOutcomes)
        counters.touches += pendingOutbox.count
        pendingOutbox.removeAll(keepingCapacity: true)
        pendingOutcomes.removeAll(keepingCapacity: true)
        if !staged.isEmpty {
            dispatcher.submit(staged)  // their `attempting` is durable now
            staged.removeAll(keepingCapacity: true)
        }
    }

    func touchMetadata(_ touch: Touch, kind: RecordKind, outcome: String) -> Logger.Metadata {
        [
            RecordField.kind: "\(kind.rawValue)", RecordField.journey: "\(touch.journey)",
            RecordField.journeyVersion: "\(touch.version)", RecordField.step: "\(touch.step)",
            RecordField.userID: "\(touch.user)", RecordField.touchID: "\(touch.id)",
            RecordField.channel: "\(touch.channel)", RecordField.outcome: "\(outcome)",
        ]
    }

    /// Sleeps until a socket has something to read, or `milliseconds` pass (spool files are polled).
    func waitForInput(milliseconds: Int32) {
        let fds = (socketInput?.descriptors ?? []) + (ruleWatch.map { [$0.fd] } ?? []) + [dispatcher.wakeDescriptor]
        guard !fds.isEmpty else {
            usleep(UInt32(milliseconds) * 1000)
            return
        }
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&polls, nfds_t(polls.count), milliseconds)
    }

    /// Applies the lines producers sent on the event socket, commits them, then answers each one.
    func processSocket(_ input: SocketInput) throws -> Bool {
        let lines = input.read(limit: settings.batchSize)
        guard !lines.isEmpty else {
            input.flushAnswers()
            return false
        }
        for line in lines {
            let result: Result<Event, EventRejection> =
                line.oversized
                ? .failure(EventRejection(line: 0, byteOffset: 0, path: "$", reason: "line exceeds \(parser.options.maxEventBytes) bytes", source: "socket"))
                : line.bytes.withUnsafeBufferPointer { parser.parse($0, lineNumber: 0, byteOffset: 0, source: "socket") }
            var answer = ""
            apply(result) { rejection in
                logRejected(rejection)
                answer = "error \(rejection.path): \(rejection.reason)"
            }
            if case .success(let event) = result { answer = "ok \(event.messageId)" }
            line.client.answers.append(answer)
        }
        try commit()
        input.flushAnswers()  // only now: everything answered "ok" is durable
        return true
    }

    /// Answers a control-socket request.
    func answer(_ request: String) -> String {
        switch request {
        case "reload":
            reloadRequested.store(false, ordering: .relaxed)  // this reload covers any pending SIGHUP
            let diagnostics = reload()
            let errors = diagnostics.filter { $0.severity == .error }
            if errors.isEmpty {
                return Value.object([.init("ok", true), .init("message", .string("rules reloaded: \(engine.rules.journeys.count) journeys"))]).jsonText
            }
            return Value.object([.init("ok", false), .init("errors", .array(diagnostics.map { .string($0.description) }))]).jsonText
        case let request where faultInjection && request.hasPrefix("stall "):
            let seconds = UInt32(request.dropFirst(6)) ?? 0
            logger.warning("fault injection: the processing loop stalls for \(seconds) s")
            sleep(seconds)
            return Value.object([.init("ok", true)]).jsonText
        case "status":
            return Value.object([
                .init("ok", true), .init("journeys", .number(Double(engine.rules.journeys.count))),
                .init("events", .number(Double(counters.events))), .init("rejected", .number(Double(counters.rejected))),
                .init("touches", .number(Double(counters.touches))), .init("delivered", .number(Double(counters.delivered))),
                .init("duplicates", .number(Double(counters.duplicates))), .init("in_doubt", .number(Double(counters.inDoubt))),
                .init("dead_letter", .number(Double(counters.deadLettered))), .init("capped", .number(Double(counters.capped))),
                .init("deferred", .number(Double(counters.deferred))), .init("suppressed", .number(Double(counters.suppressed))),
                .init("skipped_late", .number(Double(counters.skippedLate))),
                .init("timers", .number(Double(store.pendingTimerCount))), .init("last_reload", .string(lastReload)),
            ]).jsonText
        default:
            return Value.object([.init("ok", false), .init("errors", ["unknown request; use reload or status"])]).jsonText
        }
    }

    func spoolFiles() throws -> [String] {
        let incoming = settings.spoolDirectory + "/incoming"
        return try FileManager.default.contentsOfDirectory(atPath: incoming)
            .filter { !$0.hasPrefix(".") }
            .sorted()
    }

    /// Applies one spool file from its committed offset, a batch per transaction, then archives it.
    func process(_ name: String) throws {
        let path = settings.spoolDirectory + "/incoming/" + name
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let source = "spool/\(name)@\(info.st_ino)"
        let start = Int(try store.position(of: source) ?? 0)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DaemonError("cannot open \(path): \(String(cString: strerror(errno)))") }
        if start > 0 { lseek(fd, off_t(start), SEEK_SET) }
        let stream = SegmentEventStream(fileDescriptor: fd, closeWhenDone: true, source: name, startOffset: start)
        var inBatch = 0
        var offset = start
        for result in stream {
            if let line = stream.currentLine { offset = line.byteOffset + line.length + (line.isTerminated ? 1 : 0) }
            apply(result) { quarantine($0, raw: stream.currentLine, file: name) }
            inBatch += 1
            if inBatch >= settings.batchSize {
                try commit(positions: [source: Int64(offset)])
                inBatch = 0
            }
        }
        if let error = stream.readError { throw DaemonError("reading \(path): \(error)") }
        try commit(positions: [source: Int64(offset)])
        // The commit above covers the whole file: only now is it acknowledged (archived or removed).
        switch settings.spoolDone {
        case .archive:
            let done = settings.spoolDirectory + "/done/" + name
            try? FileManager.default.removeItem(atPath: done)
            try FileManager.default.moveItem(atPath: path, toPath: done)
        case .delete:
            try FileManager.default.removeItem(atPath: path)
        }
        try store.forgetPosition(of: source)
    }

    func quarantine(_ rejection: EventRejection, raw: JSONLineReader.Line?, file: String) {
        let directory = (settings.statePath as NSString).deletingLastPathComponent + "/quarantine"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let rawText = raw.map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
        let record: Value = [
            "source": .string(file), "line": .number(Double(rejection.line)), "byte": .number(Double(rejection.byteOffset)),
            "path": .string(rejection.path), "reason": .string(rejection.reason), "raw": .string(rawText),
        ]
        let path = directory + "/" + file + ".rejected.jsonl"
        if let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() {
            handle.seekToEndOfFile()
            handle.write(Data((record.jsonText + "\n").utf8))
            try? handle.close()
        }
        logRejected(rejection)
    }

    func logRejected(_ rejection: EventRejection) {
        logger.warning(
            "event rejected: \(rejection)",
            metadata: [RecordField.kind: "\(RecordKind.eventRejected.rawValue)", RecordField.source: "\(rejection.source)", RecordField.reason: "\(rejection.reason)"])
    }

    /// Fires due timers and commits what they produced. Returns whether any fired.
    func fireTimers(until t: Timestamp) throws -> Bool {
        guard let due = store.nextTimerDue, due <= t else { return false }
        var state = store
        engine.fireDueTimers(until: t, clock: timerClock, store: &state, effects: &effects)
        collectEffects(event: nil)
        try commit()
        return true
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public var description: String
    /// The configuration is wrong (not the machine): restarting will not help (exit status 78, EX_CONFIG).
    public var isConfiguration = false
    init(_ description: String, configuration: Bool = false) {
        self.description = description
        self.isConfiguration = configuration
    }
}
