import Foundation
import JourneyCore
import JourneyEngine
import JourneyRules
import Logging
import ServiceLifecycle
import Synchronization

/// The control socket in cluster mode: `status` answers this instance's name, its rules' content hash,
/// the partitions it owns (with their lease tokens) and the sums of their figures; `reload` reloads this
/// instance (``ClusterReloader``). `explain USER` and `forget USER` go to the user's partition
/// (`StableHash(user) mod P`, as the inputs publish): answered by its processor when this instance owns
/// it, else refused with the instance that does (from the leases in PostgreSQL), to ask instead.
/// `report` merges every partition's figures (``ClusterReport``): any instance answers it.
final class ClusterControlService: Service, Sendable {
    let socket: ControlSocket
    let instance: String
    let partitionCount: Int
    let partitions: InstancePartitions
    let reloader: ClusterReloader
    let metricsExposition: @Sendable () -> [UInt8]
    /// The partition of a user id (the stream's `partition(of:)`).
    let partitionOf: @Sendable (String) -> Int
    /// Every partition's current lease holder and whether the lease is live (PostgreSQL; blocks).
    let owners: @Sendable () throws -> [Int: (owner: String, live: Bool)]
    /// This instance's input archives (spool `done/`, quarantine), which `forget` erases the user from.
    let archives: [String]
    let report: ClusterReport
    /// What of the instance's ownership fails now (`failing` in status).
    let pulse: OwnershipPulse
    let logger: Logger

    init(
        socket: ControlSocket, instance: String, partitionCount: Int, partitions: InstancePartitions, reloader: ClusterReloader,
        metricsExposition: @escaping @Sendable () -> [UInt8], partitionOf: @escaping @Sendable (String) -> Int,
        owners: @escaping @Sendable () throws -> [Int: (owner: String, live: Bool)], checkpointed: @escaping ClusterReport.Checkpointed,
        archives: [String], pulse: OwnershipPulse, logger: Logger
    ) {
        (self.socket, self.instance, self.partitionCount, self.partitions) = (socket, instance, partitionCount, partitions)
        (self.reloader, self.metricsExposition, self.partitionOf, self.owners) = (reloader, metricsExposition, partitionOf, owners)
        (self.archives, self.pulse, self.logger) = (archives, pulse, logger)
        report = ClusterReport(instance: instance, partitionCount: partitionCount, partitions: partitions, checkpointed: checkpointed)
    }

    func run() async throws {
        let stop = Atomic<Bool>(false)
        await withGracefulShutdownHandler {
            await blocking("journeyd control") { [self] in
                while !stop.load(ordering: .relaxed) { socket.waitAndServe(milliseconds: 50) { answer($0) } }
            }
        } onGracefulShutdown: {
            stop.store(true, ordering: .relaxed)
        }
    }

    /// Answers one request line (on the control thread).
    func answer(_ line: String) -> String {
        switch ControlRequest.parse(Array(line.utf8)) {
        case .failure(let error):
            return ControlService.refusal(error.description)
        case .success(.status):
            return status().jsonText
        case .success(.reload):
            let done = DispatchSemaphore(value: 0)
            let result = Mutex<[Diagnostic]>([])
            Task { [reloader] in
                let diagnostics = await reloader.reload()
                result.withLock { $0 = diagnostics }
                done.signal()
            }
            done.wait()
            let errors = result.withLock { $0 }.filter { $0.severity == .error }
            guard errors.isEmpty else {
                return Value.object([.init("ok", false), .init("errors", .array(errors.map { .string($0.description) }))]).jsonText
            }
            let live = partitions.live
            return Value.object([
                .init("ok", true), .init("message", .string("rules reloaded on instance \(instance): \(live.rules.journeys.count) journeys, content hash \(live.version)")),
            ]).jsonText
        case .success(.explain(let user)):
            return routed(user) { partition, p in
                ControlService.ask(partition.processor) { [instance] processor in
                    let answer = processor.explain(user).jsonValue
                    guard case .object(let members) = answer else { return answer }
                    return .object(members + [.init("partition", .number(Double(p))), .init("instance", .string(instance))])
                }
            }
        case .success(.forget(let user)):
            return routed(user) { partition, _ in ControlService.forget(user, processor: partition.processor, archives: archives, logger: logger) }
        case .success(.report):
            return report.answer(generatedAt: WallClock().now)
        case .success:
            return ControlService.refusal("unknown request; use status, reload, report, explain USER or forget USER")
        }
    }

    /// Answers with the user's partition when this instance owns it; else refuses, naming the instance
    /// that owns it (or saying that none does right now, during a takeover).
    func routed(_ user: String, _ answer: (OwnedPartition, Int) -> String) -> String {
        let p = partitionOf(user)
        if let partition = partitions.owned[p] { return answer(partition, p) }
        let whereabouts: String
        do {
            if let lease = try owners()[p], lease.live {
                whereabouts = "owned by instance \(lease.owner): ask its control socket"
            } else {
                whereabouts = "owned by no instance right now (taken over after a failure, or starting): ask again in a few seconds"
            }
        } catch {
            whereabouts = "whose owner could not be read from PostgreSQL: \(error)"
        }
        return ControlService.refusal("user \(user) is in partition \(p), \(whereabouts) (this is instance \(instance))")
    }

    /// This instance's status: who it is, which rules, which partitions, and their figures summed.
    func status() -> Value {
        let owned = partitions.owned.sorted { $0.key < $1.key }
        let live = partitions.live
        let f = partitions.figures
        let sum = f.counters
        let (timers, waiting, inFlight, users) = (f.timers, f.outboxWaiting, f.outboxAttempting, f.usersInMemory)
        func number(_ n: Int) -> Value { .number(Double(n)) }
        return .object([
            .init("ok", true), .init("mode", "cluster"), .init("instance", .string(instance)),
            .init("rules_version", .string(live.version)), .init("journeys", number(live.rules.journeys.count)),
            .init("last_reload", .string(reloader.lastReload.withLock { $0 })),
            .init("partitions", .string("\(owned.count) of \(partitionCount): " + owned.map { "\($0.key)@\($0.value.token.value)" }.joined(separator: " "))),
            .init("events", number(sum.events)), .init("duplicates", number(sum.duplicates)), .init("touches", number(sum.touches)), .init("delivered", number(sum.delivered)),
            .init("dead_letter", number(sum.deadLettered)), .init("in_doubt", number(sum.inDoubt)), .init("timers", number(timers)),
            .init("outbox_waiting", number(waiting)), .init("outbox_in_flight", number(inFlight)), .init("users_in_memory", number(users)),
            .init("replayed", number(sum.replayed)), .init("checkpoints", number(sum.checkpoints)),
            .init("forgotten_refused", number(sum.forgottenRefused)),
            .init("identity_handovers", number(sum.handovers)),
            .init("merges_not_joined", number(sum.mergesNotJoined)),
            .init("ids_handed_over", number(sum.handedOver)),
            .init("events_forwarded", number(sum.forwarded)),
            .init("partition_stalls", number(partitions.stalls)),
            .init("failing", .string(pulse.failures())),
            .init("metrics", MetricsSnapshot(exposition: metricsExposition()).jsonValue),
        ])
    }
}
