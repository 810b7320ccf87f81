import JourneyCore

/// A channel's circuit breaker, as a pure value driven by the pipeline.
///
/// - **closed**: everything goes; `failureThreshold` consecutive retryable failures open it.
/// - **open** until a time: nothing goes (touches are held, not failed — they keep their attempts).
/// - **half-open** after that: one probe goes; its success closes the breaker, its failure opens it again
///   for twice as long (up to `maxOpenFor`).
///
/// Any answer from the destination other than a retryable failure (sent, a rejected payload, a throttle)
/// proves it is up and counts as a success.
public struct CircuitBreaker: Sendable, Hashable {
    public struct Configuration: Sendable, Hashable {
        public var failureThreshold: Int
        public var openFor: TimeSpan
        public var maxOpenFor: TimeSpan
        public init(failureThreshold: Int = 5, openFor: TimeSpan = .seconds(30), maxOpenFor: TimeSpan = .minutes(10)) {
            precondition(failureThreshold >= 1 && openFor.milliseconds > 0 && maxOpenFor >= openFor)
            self.failureThreshold = failureThreshold
            self.openFor = openFor
            self.maxOpenFor = maxOpenFor
        }
    }

    public enum State: Sendable, Hashable {
        case closed(consecutiveFailures: Int)
        case open(until: Timestamp)
        case halfOpen(probeInFlight: Bool)
    }

    public enum Admission: Sendable, Hashable {
        case allowed
        /// Allowed as the half-open probe: report its outcome like any other.
        case probe
        /// Not now: try again at this time.
        case held(until: Timestamp)
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed(consecutiveFailures: 0)
    /// How long the next opening lasts (doubles after each failed probe).
    public private(set) var currentOpenFor: TimeSpan
    /// How long to hold touches while a probe is out.
    public static let probeWait = TimeSpan.seconds(1)

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.currentOpenFor = configuration.openFor
    }

    public mutating func admit(at now: Timestamp) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open(let until):
            guard now >= until else { return .held(until: until) }
            state = .halfOpen(probeInFlight: true)
            return .probe
        case .halfOpen(let inFlight):
            if inFlight { return .held(until: now + Self.probeWait) }
            state = .halfOpen(probeInFlight: true)
            return .probe
        }
    }

    /// The destination answered (anything but a retryable failure).
    public mutating func recordSuccess() {
        state = .closed(consecutiveFailures: 0)
        currentOpenFor = configuration.openFor
    }

    /// A retryable failure ended at `now`.
    public mutating func recordFailure(at now: Timestamp) {
        switch state {
        case .closed(let failures):
            if failures + 1 >= configuration.failureThreshold {
                state = .open(until: now + currentOpenFor)
            } else {
                state = .closed(consecutiveFailures: failures + 1)
            }
        case .halfOpen:
            currentOpenFor = min(configuration.maxOpenFor, currentOpenFor + currentOpenFor)
            state = .open(until: now + currentOpenFor)
        case .open:
            break  // a delivery admitted before the breaker opened: it is open already
        }
    }

    /// An admitted delivery that ended without telling anything about the destination (cancelled).
    public mutating func recordAbandoned() {
        if case .halfOpen = state { state = .halfOpen(probeInFlight: false) }
    }

    /// The same breaker as it was: `state` and how long its next opening lasts (across a restart).
    public mutating func restore(state: State, currentOpenFor: TimeSpan) {
        // A probe that was out when the process stopped never came back: let the next one go.
        if case .halfOpen = state { self.state = .halfOpen(probeInFlight: false) } else { self.state = state }
        self.currentOpenFor = min(configuration.maxOpenFor, max(configuration.openFor, currentOpenFor))
    }

    public var isClosed: Bool { if case .closed = state { return true } else { return false } }
}
