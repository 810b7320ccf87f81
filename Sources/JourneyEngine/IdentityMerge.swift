import JourneyCore

/// Which ids an input merges, and where an id's events go (docs/IDENTITY.md).
///
/// A merged id keeps a row of its own holding only ``UserState/mergedInto``: the alias map is those rows,
/// so it is checkpointed, restored and read on demand exactly like users, and one partition holds a
/// person's ids as long as they are routed together (the embedded daemon has one partition).
public enum IdentityMerge {
    /// How many merged ids a chain may pass through (alias of an alias…) before the event stops at the
    /// last one: chains only grow by merges, so this bounds a pathological stream, not a real one.
    public static let maxHops = 16

    /// The id an input merges into its `userId`: `previousId` of an `alias` (explicit: merges whatever
    /// that id is), or the `anonymousId` of an `identify` that also has a `userId` (implicit).
    public static func source(of event: Event) -> (id: String, explicit: Bool)? {
        switch event.kind {
        case .alias:
            guard let previous = event.previousId, !previous.isEmpty, previous != event.userId else { return nil }
            return (previous, true)
        case .identify:
            guard let anonymous = event.anonymousId, !anonymous.isEmpty, anonymous != event.userId else { return nil }
            return (anonymous, false)
        default:
            return nil
        }
    }

    /// The id that owns `id`'s events now: `id` itself unless it was merged.
    static func resolve<S: StateStore>(_ id: String, in store: S) -> String {
        var current = id
        for _ in 0..<maxHops {
            guard let next = store.user(current)?.mergedInto else { return current }
            current = next
        }
        return current
    }

    /// Applies the store side of a merge for `event`: the absorbed id becomes a pointer to the owner, and
    /// its state before that is returned for ``Run/absorb(_:into:)``. Nil when nothing merges: no source,
    /// both ids already one person (a repeated alias is a no-op), or an `identify` whose `anonymousId`
    /// already belongs to someone else (an implicit merge never joins two known people; `alias` does).
    static func prepare<S: StateStore>(_ event: Event, store: inout S, run: inout Run) -> UserState? {
        guard let merge = Self.source(of: event) else { return nil }
        let (source, explicit) = (merge.id, merge.explicit)
        let owner = resolve(event.userId, in: store)
        let absorbed = store.user(source)
        if !explicit, let taken = absorbed?.mergedInto {
            let root = resolve(taken, in: store)
            if root != owner, run.trace != nil {
                run.note(.identity, "", "not merged", "anonymousId \(source) already belongs to \(root); an identify does not merge two known users (alias does)")
            }
            if root == owner, run.trace != nil { run.note(.identity, "", "already merged", "\(source) is already \(owner)") }
            return nil
        }
        let from = explicit ? resolve(source, in: store) : source
        guard from != owner else {
            if run.trace != nil { run.note(.identity, "", "already merged", "\(source) is already \(owner)") }
            return nil
        }
        let state = from == source ? absorbed : store.user(from)
        store.withUser(from) { pointer in
            let aliases = pointer.aliases
            pointer = UserState(id: from)
            pointer.mergedInto = owner
            pointer.aliases = aliases
        }
        return state ?? UserState(id: from)
    }
}

extension Engine {
    /// Applies `event` to the user who owns its id, merging first when it is an `alias` or an `identify`
    /// with an `anonymousId`.
    func applyResolved<S: StateStore>(_ event: Event, run: inout Run, store: inout S) {
        let absorbed = IdentityMerge.prepare(event, store: &store, run: &run)
        let limit = traceLimit
        var owner = event.userId
        for _ in 0..<IdentityMerge.maxHops {
            let next: String? = store.withUser(owner) { user in
                if let target = user.mergedInto { return target }
                if let absorbed {
                    run.absorb(absorbed, into: &user)
                    if limit > 0, !absorbed.trace.isEmpty {  // the absorbed id's decisions join the owner's, in time order
                        let all = (absorbed.trace + user.trace).enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
                        user.trace = all.suffix(limit).map(\.element)
                    }
                }
                run.apply(event, to: &user)
                if let record = run.trace { user.remember(record, limit: limit) }
                return nil
            }
            guard let next else { return }
            owner = next
        }
    }
}

/// A person's ids, for `forget` and `explain`: the owner (the id nothing was merged into) and every id
/// merged into it, directly or through another merged id.
public enum Identity {
    public static func person<S: StateStore>(_ id: String, in store: S) -> (owner: String, merged: [String]) {
        let owner = IdentityMerge.resolve(id, in: store)
        return (owner, merged(into: owner, in: store))
    }

    /// Every id merged into `id` as `store` holds them, directly or through another merged id.
    public static func merged<S: StateStore>(into id: String, in store: S) -> [String] {
        var merged: [String] = []
        var queue = store.user(id)?.aliases ?? []
        while let next = queue.first, merged.count < 10_000 {
            queue.removeFirst()
            guard next != id, !merged.contains(next) else { continue }
            merged.append(next)
            queue += store.user(next)?.aliases ?? []
        }
        return merged
    }
}
