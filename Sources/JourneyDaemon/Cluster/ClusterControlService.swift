import Foundation
import JourneyCore
import JourneyRules
import Logging
import ServiceLifecycle
import Synchronization

/// The control socket in cluster mode: `status` answers this instance's name, its rules' content hash,
/// the partitions it owns (with their lease tokens) and the sums of their figures; `reload` reloads this
/// instance (``ClusterReloader``). `explain`, `report` and `forget` are not served in cluster mode yet:
/// a user's partition may be owned by another instance.
final class ClusterControlService: Service, Sendable {
    let socket: ControlSocket
    let instance: String
    let partitionCount: Int
    let partitions: InstancePartitions
    let reloader: ClusterReloader
    let metricsExposition: @Sendable () -> [UInt8]

    init(
        socket: ControlSocket, instance: String, partitionCount: Int, partitions: InstancePartitions, reloader: ClusterReloader,
        metricsExposition: @escaping @Sendable () -> [UInt8]
    ) {
        (self.socket, self.instance, self.partitionCount, self.partitions) = (socket, instance, partitionCount, partitions)
        (self.reloader, self.metricsExposition) = (reloader, metricsExposition)
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
        case .success:
            return ControlService.refusal("not served in cluster mode (a user's partition may be owned by another instance); use status or reload")
        }
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
            .init("partition_stalls", number(partitions.stalls)),
            .init("metrics", MetricsSnapshot(exposition: metricsExposition()).jsonValue),
        ])
    }
}
