import JourneyCore
import JourneyPostgres
import Logging
import ServiceLifecycle

/// Which partitions this instance processes (docs/CLUSTER.md, "Ownership"). Every `ttl / 3` it records
/// its heartbeat, renews the leases it holds — a lease it could not renew is lost: that partition stops
/// at once — and spreads the partitions over the live instances: it holds at most ceil(P / live
/// instances), acquiring free or expired leases up to that and releasing (after a last checkpoint) what
/// it holds beyond it. A partition that stopped by itself (its checkpoint was fenced, its log failed) is
/// let go. On graceful shutdown every partition stops with a last checkpoint and its lease is released,
/// so the others take over without waiting for the lease to expire.
struct PartitionOwnership: Service {
    let leases: PostgresPartitionLeases
    let context: ClusterContext
    let partitions: Int
    let ttl: Duration

    private var instance: String { context.instance }
    private var logger: Logger { context.logger }

    func run() async throws {
        var owned: [Int: OwnedPartition] = [:]
        let period = ttl / 3
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await turn(&owned)
            } catch {
                logger.error("partition ownership: \(error); trying again in \(period)")
            }
            await nap(period)
        }
        for (p, partition) in owned.sorted(by: { $0.key < $1.key }) {
            await letGo(p, partition, graceful: true)
        }
        let (leases, instance) = (self.leases, self.instance)
        try? await blocking("journeyd leases") { try leases.leave(owner: instance) }
    }

    private func turn(_ owned: inout [Int: OwnedPartition]) async throws {
        let (leases, instance, ttl) = (self.leases, self.instance, self.ttl)
        let live = try await blocking("journeyd leases") { try leases.heartbeat(owner: instance, ttl: ttl) }
        for (p, partition) in owned {
            let token = partition.token
            let renewed = try await blocking("journeyd leases") { try leases.renew(partition: p, owner: instance, token: token, ttl: ttl) }
            if !renewed {
                logger.warning("partition \(p): lease (token \(token.value)) lost; it stops here", metadata: [RecordField.kind: "partition_lost"])
                await partition.stop(graceful: false)
                owned[p] = nil
            } else if partition.hasEnded {
                let reason = await partition.stop(graceful: false)
                logger.warning("partition \(p) stopped: \(reason ?? "its services ended"); releasing its lease", metadata: [RecordField.kind: "partition_lost"])
                owned[p] = nil
                try? await blocking("journeyd leases") { try leases.release(partition: p, owner: instance, token: token) }
            }
        }
        let target = (partitions + max(1, live.count) - 1) / max(1, live.count)
        if owned.count > target {
            for p in owned.keys.sorted().suffix(owned.count - target) {
                await letGo(p, owned[p]!, graceful: true)
                owned[p] = nil
            }
        } else if owned.count < target {
            let current = try await blocking("journeyd leases") { try leases.leases() }
            // Start at an offset of this instance's own, so instances starting together try different partitions first.
            var hash = StableHash()
            hash.combine(instance)
            let offset = Int(hash.value % UInt64(partitions))
            for i in 0..<partitions where owned.count < target {
                let p = (offset + i) % partitions
                guard owned[p] == nil, current[p]?.live != true else { continue }
                guard let token = try await blocking("journeyd leases", { try leases.acquire(partition: p, owner: instance, ttl: ttl) }) else { continue }
                do {
                    owned[p] = try await OwnedPartition.start(partition: p, token: token, context: context)
                } catch {
                    logger.error("partition \(p): could not be started: \(error); releasing its lease")
                    try? await blocking("journeyd leases") { try leases.release(partition: p, owner: instance, token: token) }
                }
            }
        }
    }

    /// Stops a partition (with a last checkpoint when graceful) and releases its lease.
    private func letGo(_ p: Int, _ partition: OwnedPartition, graceful: Bool) async {
        if let reason = await partition.stop(graceful: graceful) {
            logger.warning("partition \(p) stopped: \(reason)")
        }
        let (leases, instance, token) = (self.leases, self.instance, partition.token)
        try? await blocking("journeyd leases") { try leases.release(partition: p, owner: instance, token: token) }
        logger.notice("partition \(p) released (token \(token.value))", metadata: [RecordField.kind: "partition_released"])
    }
}
