public import JourneyCore

/// The delivery pipeline reads the time from the daemon's one clock type (``JourneyClock``): the wall
/// clock in a running daemon, event time under `--clock event`, a manual clock in tests — so an
/// hour-long outage takes no time at all in a test.
public typealias DeliveryClock = JourneyClock
