public import JourneyCore
import JourneyRules

/// The ``ExpressionScope`` the engine evaluates conditions in: one user's state, and optionally the
/// event at hand, the enrollment and its journey.
///
/// It borrows the user's state and the enrollment through pointers, valid only inside
/// ``Run/withScope(_:journey:enrollment:withEvent:_:)``: conditions are evaluated millions of times a
/// second, and copying a user's state into every scope would cost a reference-count operation per field.
struct EvaluationScope: ExpressionScope {
    let userPointer: UnsafePointer<UserState>
    let event: Event?
    let enrollmentPointer: UnsafePointer<Enrollment?>
    let journey: Journey?
    let now: Timestamp
    let defaultZone: Zone
    let plan: HistoryPlan

    var user: UserState { _read { yield userPointer.pointee } }
    var enrollment: Enrollment? { _read { yield enrollmentPointer.pointee } }

    var zone: Zone { user.zone(default: defaultZone) }

    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value {
        switch root {
        case .user:
            let user = userPointer
            guard let first = path.first else { return user.pointee.traits }
            if first == "id" && path.count == 1 { return user.pointee.traits["id"] ?? .string(user.pointee.id) }
            return user.pointee.traits.value(at: path) ?? .null
        case .event:
            guard let event else { return .null }
            guard let first = path.first else { return event.jsonValue }
            return Self.lookup(event: event, first: first, path: path)
        case .enrollment:
            guard let enrollment, let first = path.first else { return .null }
            let rest = path.dropFirst()
            switch first {
            case "key": return rest.isEmpty ? .string(enrollment.key) : .null
            case "id": return rest.isEmpty ? .string("\(user.id)#\(enrollment.seq)") : .null
            case "entered_at": return rest.isEmpty ? .string(enrollment.enteredAt.iso8601) : .null
            case "variant": return rest.isEmpty ? (enrollment.variant.map(Value.string) ?? .null) : .null
            case "trigger": return enrollment.trigger.value(at: rest) ?? .null
            default: return .null
            }
        case .journey:
            guard let journey, path.count == 1 else { return .null }
            switch path.first! {
            case "id": return .string(journey.id)
            case "version": return .string(journey.version)
            default: return .null
            }
        }
    }

    static func lookup(event: Event, first: String, path: ArraySlice<String>) -> Value {
        let rest = path.dropFirst()
        switch first {  // `properties` first: most paths are properties, and a switch on strings compares in order
        case "properties": return event.properties.value(at: rest) ?? .null
        case "name", "event": return rest.isEmpty ? .string(event.name) : .null
        case "type": return rest.isEmpty ? .string(event.kind.rawValue) : .null
        case "userId", "user_id": return rest.isEmpty ? .string(event.userId) : .null
        case "messageId", "message_id": return rest.isEmpty ? .string(event.messageId) : .null
        case "timestamp": return rest.isEmpty ? .string(event.timestamp.iso8601) : .null
        case "traits": return event.traits.value(at: rest) ?? .null
        default: return event.extra.value(at: path) ?? .null
        }
    }

    func count(event name: String, within: TimeSpan?) -> Int {
        guard let track = user.history.first(where: { $0.event == name }) else { return 0 }
        guard let within else { return track.count }
        let from = now - within
        var n = 0
        for entry in track.recent.reversed() {
            guard entry.at > from else { break }
            if entry.at <= now { n += 1 }
        }
        return n
    }

    func sum(event name: String, property: String, within: TimeSpan?) -> Double {
        guard let track = user.history.first(where: { $0.event == name }),
            let index = plan.tracks[name]?.properties.firstIndex(of: property)
        else { return 0 }
        guard let within else { return index < track.sums.count ? track.sums[index] : 0 }
        let from = now - within
        var total = 0.0
        for entry in track.recent.reversed() {
            guard entry.at > from else { break }
            if entry.at <= now, index < entry.values.count { total += entry.values[index] }
        }
        return total
    }

    func nextExpiry(event name: String, within: TimeSpan) -> Timestamp? {
        guard let track = user.history.first(where: { $0.event == name }) else { return nil }
        let from = now - within
        // Oldest first: the first occurrence still inside the window is the next to leave it.
        return track.recent.first { $0.at > from && $0.at <= now }.map { $0.at + within }
    }

    func lastTime(event name: String) -> Timestamp? { user.history.first { $0.event == name }?.last }
    func firstTime(event name: String) -> Timestamp? { user.history.first { $0.event == name }?.first }
}

extension UserState {
    /// The user's zone: the `timezone` trait when it names a known IANA zone, else `default`.
    public func zone(default defaultZone: Zone) -> Zone {
        if case .string(let name)? = traits["timezone"], let zone = Zone.named(name) { return zone }
        return defaultZone
    }
}
