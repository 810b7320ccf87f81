import Foundation
import JourneyCore
import Synchronization

/// Where the delivery pipeline reads the time. The daemon uses ``SystemDeliveryClock``; tests use
/// ``ManualDeliveryClock`` and move it by hand, so an hour-long outage takes no time at all.
public protocol DeliveryClock: Sendable {
    var now: Timestamp { get }
}

public struct SystemDeliveryClock: DeliveryClock {
    public init() {}
    public var now: Timestamp { Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }
}

/// A clock that moves only when told to.
public final class ManualDeliveryClock: DeliveryClock {
    private let time: Mutex<Timestamp>

    public init(_ start: Timestamp) { time = Mutex(start) }

    public var now: Timestamp { time.withLock { $0 } }

    public func set(_ t: Timestamp) { time.withLock { $0 = t } }

    public func advance(by span: TimeSpan) { time.withLock { $0 = $0 + span } }
}
