import JourneyCore
import JourneyPostgres
import JourneyRules
import Logging
import ServiceLifecycle

/// Which partitions this instance processes (docs/CLUSTER.md, "Ownership"). ``HeldLeases`` renews the
/// leases on a loop of its own; a lease that lapses (refused, or not renewed in time) stops its partition
/// at once, without a last checkpoint. Every ttl / 3 this records the instance's heartbeat and spreads
/// the partitions over the live instances: it holds at most ceil(P / live instances), acquiring free or
/// expired leases up to that and letting go — a last checkpoint, then the release, in the background
/// while the lease is still renewed — of what it holds beyond it. A partition that stopped by itself
/// (its checkpoint was fenced, its log failed) is let go too. On graceful shutdown every partition stops
/// with a last checkpoint and its lease is released, so the others need not wait for it to expire.
struct PartitionOwnership: Service {
    let leases: PostgresPartitionLeases
    let context: ClusterContext
    let partitions: Int
    let ttl: Duration
    /// `cluster.stall_after`: how long an owned partition may stay behind its subject's end without
    /// progress before it is reported and let go (``PartitionStallWatch``).
    var stallAfter: Duration = .milliseconds(ClusterSettings.defaultStallAfter.milliseconds)

    private var instance: String { context.instance }
    private var logger: Logger { context.logger }

    func run() async throws {
        let held = HeldLeases(leases: leases, instance: instance, ttl: ttl, logger: logger, pulse: context.pulse)
        let renewal = Task { await held.renewForever() }
        var owned: [Int: OwnedPartition] = [:]
        var leaving: [Int: Task<Void, Never>] = [:]
        var lastTurn: UInt64 = 0
        var turn = ttl / 3
        var joined = false
        var watch = PartitionStallWatch(after: stallAfter)
        let starts = PartitionStarts()
        var streak = FailureStreak("partition ownership", attempts: "turns")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await adopt(starts.take(), into: &owned, held)
            for p in held.lapsed() where !OwnershipFault.keepsLapsedPartitions {
                if let partition = owned.removeValue(forKey: p) {
                    logger.warning("partition \(p): lease (token \(partition.token.value)) lapsed; stopping it now", metadata: [RecordField.kind: "partition_lost"])
                    await stopNow(p, partition)
                }
                leaving.removeValue(forKey: p)?.cancel()
                held.forget(p)
            }
            leaving = leaving.filter { held.isHeld($0.key) }  // a partition let go is forgotten once released
            for stall in await watch.stalled(owned) {
                guard let partition = owned.removeValue(forKey: stall.partition) else { continue }
                logger.error(
                    "partition \(stall.partition) stalled: read up to stream sequence \(stall.position), its subject holds records up to \(stall.end), no progress for \(stall.seconds) s; letting it go to start again",
                    metadata: [RecordField.kind: "partition_stalled"])
                context.metrics.partitionStalled()
                context.partitions.noteStall()
                leaving[stall.partition] = letGo(stall.partition, partition, held)
            }
            let now = MonotonicClock.nanoseconds
            if now - lastTurn >= turn.nanoseconds {
                lastTurn = MonotonicClock.nanoseconds
                do {
                    turn = try await spread(&owned, &leaving, held, starts)
                    joined = true
                    context.pulse.working("ownership")
                    streak.succeeded(logger: logger)
                } catch {
                    turn = ttl / 3
                    context.pulse.failing("ownership", "\(error)")
                    streak.failed(error, first: "partition ownership (trying again every \(turn.nanoseconds / 1_000_000) ms)", logger: logger)
                }
            }
            context.partitions.publish(owned)
            context.metrics.partitionsOwned(owned.count)
            context.metrics.clusterFailing(context.pulse.isFailing)
            context.pulse.turned()
            // READY=1 (the first time) once no start is running or finished unadopted: what was published
            // above is then everything the first turns claimed (a start that ended after this pass's adopt
            // is adopted and published by the next pass first).
            if joined && starts.idle { context.pulse.joined.open(bound: true) }
            await nap(.milliseconds(50))
        }
        while !starts.pending.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
        await adopt(starts.take(), into: &owned, held)
        context.partitions.publish([:])
        for (p, partition) in owned.sorted(by: { $0.key < $1.key }) {
            leaving[p] = letGo(p, partition, held)
        }
        for task in leaving.values { await task.value }
        // The renewal in flight ends before the leases are left and the store is closed: it failed on the
        // closed pool otherwise, and said so as an outage after "journeyd stopped" (seen in CI).
        renewal.cancel()
        await renewal.value
        let (leases, instance) = (self.leases, self.instance)
        try? await blocking("journeyd leases") { try leases.leave(owner: instance) }
    }

    /// One turn of spreading; returns when the next one is due: a third of the ttl, 250 ms while the
    /// instance holds less than its share (expired leases are taken as they expire), and just after
    /// another instance's lease that missed its renewals expires (a dead instance's partitions are
    /// claimed right away, not up to a third of the ttl later).
    private func spread(
        _ owned: inout [Int: OwnedPartition], _ leaving: inout [Int: Task<Void, Never>], _ held: HeldLeases, _ starts: PartitionStarts
    ) async throws -> Duration {
        let (leases, instance, ttl) = (self.leases, self.instance, self.ttl)
        for (p, partition) in owned where partition.hasEnded {
            logger.warning("partition \(p) stopped by itself; letting it go", metadata: [RecordField.kind: "partition_lost"])
            owned[p] = nil
            leaving[p] = letGo(p, partition, held)
        }
        let live = try await blocking("journeyd leases") { try leases.heartbeat(owner: instance, ttl: ttl) }
        let target = (partitions + max(1, live.count) - 1) / max(1, live.count)
        let current = try await blocking("journeyd leases") { try leases.leases() }
        let starting = starts.pending
        let holding = owned.count + starting.count
        if owned.count > target {
            for p in owned.keys.sorted().suffix(owned.count - target) {
                leaving[p] = letGo(p, owned[p]!, held)
                owned[p] = nil
            }
        } else if holding < target {
            // From an offset of this instance's own, so instances starting together try different partitions first.
            var hash = StableHash()
            hash.combine(instance)
            let offset = Int(hash.value % UInt64(partitions))
            let free = (0..<partitions).map { (offset + $0) % partitions }.filter { p in
                owned[p] == nil && leaving[p] == nil && !starting.contains(p) && current[p]?.live != true
            }
            let wanted = Array(free.prefix(target - holding))
            let sentAt = MonotonicClock.nanoseconds
            // One statement for all of them: a takeover claims a dead instance's partitions in one round trip.
            let granted = try await blocking("journeyd leases") { try leases.acquire(partitions: wanted, owner: instance, ttl: ttl) }
            for (p, token) in granted { held.hold(p, token: token, sentAt: sentAt) }
            // Restored side by side, in the background: a takeover waits for the slowest partition, not for
            // their sum, and the loop goes on claiming meanwhile.
            for (p, token) in granted { start(p, token, held, starts) }
        }
        var next = owned.count + starts.pending.count >= target ? ttl / 3 : min(ttl / 3, .milliseconds(250))
        // Another instance's live lease expiring within the turn has missed its renewals (a live owner renews
        // every ttl / 4): its owner is likely dead — look again just after it expires.
        let expiring = current.values.filter { $0.owner != instance && $0.live }.map(\.remaining).min()
        if let expiring, expiring < Int((next / .milliseconds(1)).rounded()) { next = .milliseconds(max(10, expiring + 20)) }
        return next
    }

    /// Starts a partition just leased, in the background; one that cannot start is released.
    private func start(_ p: Int, _ token: FencingToken, _ held: HeldLeases, _ starts: PartitionStarts) {
        let (leases, instance, context, logger) = (self.leases, self.instance, self.context, self.logger)
        starts.begin(p)
        Task {
            do {
                starts.finish(p, try await OwnedPartition.start(partition: p, token: token, fence: held.deliveryFence(p, token: token), context: context))
            } catch {
                logger.error("partition \(p): could not be started: \(error); releasing its lease")
                held.forget(p, token: token)
                try? await blocking("journeyd leases") { try leases.release(partition: p, owner: instance, token: token) }
                starts.finish(p, nil)
            }
        }
    }

    /// Takes the partitions whose start finished; one whose lease lapsed meanwhile is stopped at once.
    private func adopt(_ finished: [(Int, OwnedPartition?)], into owned: inout [Int: OwnedPartition], _ held: HeldLeases) async {
        for case let (p, partition?) in finished {
            if held.isHeld(p) {
                owned[p] = partition
            } else {
                logger.warning("partition \(p): lease (token \(partition.token.value)) lapsed while it started; stopping it now", metadata: [RecordField.kind: "partition_lost"])
                await stopNow(p, partition)
            }
        }
    }

    /// How long a statement about leases may wait for PostgreSQL: the ttl (an answer later than that
    /// renews or grants a lease that has lapsed already), but at least 10 s, so that a loaded machine's
    /// late answer is still taken and only a server that stopped answering is given up on.
    static func answerWithin(ttl: TimeSpan) -> Duration { max(.milliseconds(ttl.milliseconds), .seconds(10)) }

    /// How long a partition whose lease lapsed may take to end once cancelled. Its services only have to
    /// notice the cancellation (no drain, no last checkpoint), so this is generous for a loaded machine.
    static let cancelBound: Duration = .seconds(10)

    /// Stops a partition whose lease lapsed, waiting for it at most ``cancelBound``. This loop heartbeats,
    /// claims and lets go for every partition: one partition that does not end must not hold all of that
    /// up (the likeliest reading of a CI failure: PostgreSQL down, the loop silent for minutes, no partition
    /// taken again when it came back; not reproduced since). One left behind past the bound can do no harm: its deliveries are fenced by the
    /// lease, and its checkpoints and log records by the token a new grant raises.
    private func stopNow(_ p: Int, _ partition: OwnedPartition) async {
        guard !(await partition.cancel(within: Self.cancelBound)) else { return }
        logger.critical(
            "partition \(p) did not stop within \(Self.cancelBound.components.seconds) s of its lease lapsing (\(partition.stages.description)); left behind, fenced by its token",
            metadata: [RecordField.kind: "partition_stop_hung"])
        context.metrics.partitionStopHung()
    }

    /// How long a partition's graceful stop may take (deliveries drain for 5 s, then a last checkpoint).
    static let stopBound: Duration = .seconds(20)

    /// Stops a partition with a last checkpoint, in the background (its lease is renewed meanwhile),
    /// then releases its lease.
    private func letGo(_ p: Int, _ partition: OwnedPartition, _ held: HeldLeases) -> Task<Void, Never> {
        let (leases, instance, token, logger, context) = (self.leases, self.instance, partition.token, self.logger, self.context)
        return Task {
            // A graceful stop is bounded: one that hangs (seen under heavy load: the follower gone, the
            // processor never told to stop) would keep the lease renewed and the partition unprocessed.
            // Past the bound the group is cancelled and the lease let go all the same; a late checkpoint
            // of the abandoned group is refused by its token once another instance takes the partition.
            let stopping = Task { await partition.stop(graceful: true) }
            let deadline = ContinuousClock.now + Self.stopBound
            while !partition.hasEnded && ContinuousClock.now < deadline {
                // Cancelled: the lease lapsed meanwhile (``run()`` forgot it). Its last checkpoint would be
                // refused by its token, so the stop is cut short, as a lapsed partition's is (a cancelled nap
                // returns at once: waiting on here would spin a thread of the cooperative pool until the bound).
                if Task.isCancelled {
                    logger.warning(
                        "partition \(p): lease (token \(token.value)) lapsed while it was let go; stopping it now",
                        metadata: [RecordField.kind: "partition_lost"])
                    partition.abandon()  // not awaited: this stop is the one the bound exists for
                    return
                }
                // Not `nap`: it ends at once during a graceful shutdown — when every partition is let go —
                // and this loop then polled without a pause until the partition ended.
                try? await Task.sleep(for: .milliseconds(100))
            }
            if partition.hasEnded {
                if let reason = await stopping.value { logger.warning("partition \(p) stopped: \(reason)") }
            } else {
                // Never expected (the hand-over hang of issue 13 is fixed): say loudly which service it waits on.
                let pending = await partition.pending(within: .seconds(2)) ?? "the processor does not answer"
                logger.critical(
                    "partition \(p) did not stop within \(Self.stopBound) (\(partition.stages.description); processor: \(pending)); cancelled, and its lease let go",
                    metadata: [RecordField.kind: "partition_stop_hung"])
                context.metrics.partitionStopHung()
                partition.abandon()
            }
            held.forget(p, token: token)
            try? await blocking("journeyd leases") { try leases.release(partition: p, owner: instance, token: token) }
            logger.notice(
                "partition \(p) released (token \(token.value)) after \(partition.stages.elapsedMilliseconds ?? 0) ms: \(partition.stages.description)",
                metadata: [RecordField.kind: "partition_released"])
        }
    }
}
