/// Who processes which partition, in cluster mode (DESIGN §6, issue 13): each partition is leased to one
/// instance at a time for a time-to-live, renewed while it works and taken over by another instance once
/// it expires. Each grant carries a ``FencingToken`` that the owner's checkpoints carry, so a store that
/// keeps the leases refuses a stale owner's late write.
///
/// Expiry is decided by the lease keeper's clock (the database's), never by an instance's own: instances'
/// clocks may disagree. An owner therefore counts its lease as valid for `ttl` from the moment it *sent*
/// the request that acquired or renewed it, on its own monotonic clock — shorter than the keeper's view,
/// never longer — and stops processing when that runs out without a renewal.
///
/// Implementations: `PostgresPartitionLeases` (in the same database as the state, so the fencing check
/// and the checkpoint are one transaction).
public protocol PartitionLeases: AnyObject, Sendable {
    /// Leases `partition` to `owner` for `ttl` and returns the grant's token — higher than every token the
    /// partition had before — or nil while another owner's lease is live. An owner that asks again while
    /// it holds the lease (a retry after a lost answer, a restart under the same name) gets a new, higher
    /// token: its earlier grant is fenced off.
    func acquire(partition: Int, owner: String, ttl: Duration) throws(StoreError) -> FencingToken?
    /// Extends the lease by `ttl` from now. False when it is no longer `owner`'s under `token` (taken
    /// over, released, granted again) or has expired: stop processing the partition (and acquire it
    /// again, under a new token, to go on).
    func renew(partition: Int, owner: String, token: FencingToken, ttl: Duration) throws(StoreError) -> Bool
    /// Gives the lease up at once (a clean shutdown), so another instance need not wait for it to expire.
    /// The token stays: the next grant is higher. Releasing a lease no longer held does nothing.
    func release(partition: Int, owner: String, token: FencingToken) throws(StoreError)
}
