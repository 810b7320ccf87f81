public import JourneyCore

/// When time alone can change a condition (segment triggers re-evaluated through timers, not polling).
///
/// With the profile fixed, a condition's value depends on time only through `days_since` / `hours_since`
/// / `minutes_since`, `count(…, within:)` / `sum(…, within:)` (occurrences leave the window), `now()` in
/// a time comparison, and the clock functions (`hour()`, `weekday()`, `local_time()`…). For each, the
/// instant its value next changes is known: the next whole unit of a `*_since` (solved exactly when it
/// is compared with a number: `days_since(last("purchase")) >= 30` changes once, 30 days after the
/// purchase), the next occurrence leaving a window, the compared instant, the next local hour, minute
/// or midnight. `and`/`or` combine them as bounds: a false `and` cannot become true before each of its
/// false operands has changed. The answer is never later than the real change; re-evaluating at an
/// instant where nothing changed costs one evaluation and yields the next instant.
///
/// Not covered (nil: only a profile change re-evaluates): `now()` outside a time comparison, e.g. in
/// arithmetic.
extension Expression {
    /// The earliest instant after `scope.now` at which the condition's truth could change with no event
    /// arriving, or nil when time alone cannot change it.
    public func nextChange<S: ExpressionScope>(in scope: S) -> Timestamp? {
        node.nextTruthChange(scope)
    }
}

extension Node {
    /// As a condition (truthiness): when its truth could next change.
    func nextTruthChange<S: ExpressionScope>(_ scope: S) -> Timestamp? {
        switch self {
        case .not(let operand):
            return operand.nextTruthChange(scope)
        case .and(let left, let right):
            let (l, r) = (left.test(scope), right.test(scope))
            if l && r { return Self.earliest(left.nextTruthChange(scope), right.nextTruthChange(scope)) }
            // False: each false operand must change before the whole can.
            return Self.latest(l ? nil : left.nextTruthChange(scope), r ? nil : right.nextTruthChange(scope), need: [!l, !r])
        case .or(let left, let right):
            let (l, r) = (left.test(scope), right.test(scope))
            if !l && !r { return Self.earliest(left.nextTruthChange(scope), right.nextTruthChange(scope)) }
            return Self.latest(l ? left.nextTruthChange(scope) : nil, r ? right.nextTruthChange(scope) : nil, need: [l, r])
        case .compareNumber(let comparison, .since(let operand, let unit), let constant):
            return Self.sinceCrossing(comparison, operand, unit: unit, constant, scope)
                ?? operand.nextValueChange(scope)
        case .compareInstants(let comparison, let left, let right):
            if case .now = left, let other = right.instant(scope), right.nextValueChange(scope) == nil {
                return Self.instantCrossing(comparison, other, scope)
            }
            if case .now = right, let other = left.instant(scope), left.nextValueChange(scope) == nil {
                return Self.instantCrossing(comparison, other, scope)
            }
            return Self.earliest(left.nextValueChange(scope), right.nextValueChange(scope))
        default:
            return nextValueChange(scope)
        }
    }

    /// When its value could next change: the earliest change of anything it reads.
    func nextValueChange<S: ExpressionScope>(_ scope: S) -> Timestamp? {
        switch self {
        case .constant, .path, .pathSteps, .compareField, .compareFieldNumber, .compareFieldString, .fieldInConstants,
            .fieldInStrings, .fieldInNumbers, .constantInField, .last, .first, .instant:
            return nil
        case .now:
            return nil  // only in time comparisons (above); elsewhere not followed
        case .count(let event, let within), .sum(let event, _, let within):
            guard let within else { return nil }
            return scope.nextExpiry(event: event, within: within)
        case .since(let operand, let unit):
            guard let then = operand.instant(scope) else { return operand.nextValueChange(scope) }
            let elapsed = scope.now.milliseconds &- then.milliseconds
            let whole = elapsed >= 0 ? elapsed / unit : (elapsed - unit + 1) / unit
            return Self.earliest(Timestamp(milliseconds: then.milliseconds &+ (whole + 1) &* unit), operand.nextValueChange(scope))
        case .clock(let field):
            return Self.nextClockChange(field, scope)
        case .not(let a), .negate(let a), .date(let a), .exists(let a), .lower(let a), .upper(let a), .length(let a):
            return a.nextValueChange(scope)
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .compareInstants(_, let a, let b),
            .member(let a, let b, _), .arithmetic(_, let a, let b), .startsWith(let a, let b):
            return Self.earliest(a.nextValueChange(scope), b.nextValueChange(scope))
        case .compareConstant(_, let a, _), .compareNumber(_, let a, _), .memberOfConstants(let a, _, _):
            return a.nextValueChange(scope)
        case .memberOfNodes(let a, let items, _):
            return items.reduce(a.nextValueChange(scope)) { Self.earliest($0, $1.nextValueChange(scope)) }
        case .list(let items), .coalesce(let items):
            return items.reduce(nil) { Self.earliest($0, $1.nextValueChange(scope)) }
        }
    }

    /// `*_since(t) OP n` changes truth only where the whole units cross `n`: at `t + k·unit` for the first
    /// such `k` after now. Nil when it never changes again (or `t` is no instant).
    static func sinceCrossing<S: ExpressionScope>(
        _ comparison: Comparison, _ operand: Node, unit: Int64, _ n: Double, _ scope: S
    ) -> Timestamp? {
        guard let then = operand.instant(scope), n.isFinite, abs(n) < 1e12 else { return nil }
        let elapsed = scope.now.milliseconds &- then.milliseconds
        let current = elapsed >= 0 ? elapsed / unit : (elapsed - unit + 1) / unit
        let holdsNow = comparison.holds(Double(current), n)
        let base = Int64(n.rounded(.down))
        for k in [base, base + 1] where k > current && comparison.holds(Double(k), n) != holdsNow {
            return Timestamp(milliseconds: then.milliseconds &+ k &* unit)
        }
        return nil
    }

    /// `now() OP t`: changes at `t` or one millisecond after it.
    static func instantCrossing<S: ExpressionScope>(_ comparison: Comparison, _ t: Timestamp, _ scope: S) -> Timestamp? {
        let holdsNow = comparison.holds(scope.now.milliseconds, t.milliseconds)
        for candidate in [t, Timestamp(milliseconds: t.milliseconds + 1)] where candidate > scope.now {
            if comparison.holds(candidate.milliseconds, t.milliseconds) != holdsNow { return candidate }
        }
        return nil
    }

    /// The next local minute, hour or midnight in the user's zone (a day boundary is taken an hour
    /// early, which covers a daylight-saving change: too early only costs a re-evaluation).
    static func nextClockChange<S: ExpressionScope>(_ field: Clock, _ scope: S) -> Timestamp {
        let local = scope.localNow
        let intoMinute = Int64(local.millisecondsInMinute)
        let nextMinute = scope.now + .milliseconds(60_000 - intoMinute)
        switch field {
        case .minute, .localTime:
            return nextMinute
        case .hour:
            return nextMinute + .minutes(Int64(59 - local.time.minute))
        case .weekday, .localDate:
            let minutesLeft = Int64(1439 - local.time.minutes)
            return max(nextMinute + .minutes(minutesLeft) - .hours(1), nextMinute)
        }
    }

    static func earliest(_ a: Timestamp?, _ b: Timestamp?) -> Timestamp? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// The latest of the instants that are needed (`need[i]`); nil when a needed one never comes.
    static func latest(_ a: Timestamp?, _ b: Timestamp?, need: [Bool]) -> Timestamp? {
        var result: Timestamp?
        for (value, needed) in zip([a, b], need) where needed {
            guard let value else { return nil }
            result = result.map { max($0, value) } ?? value
        }
        return result
    }
}
