import DequeModule

/// When a circuit breaker opens and how it recovers.
public struct CircuitBreakerPolicy: Sendable, Equatable {
    /// Open after this many failed attempts in a row (`nil`: no such rule).
    public var consecutiveFailures: Int?
    /// Open when at least this fraction of the last ``window`` attempts failed (`nil`: no such rule).
    public var failureRatio: Double?
    /// How many recent attempts the ratio looks at; it applies only once the window is full.
    public var window: Int
    /// How long the breaker stays open before letting trial jobs through.
    public var coolOff: Duration
    /// How many trial attempts half-open lets through; all must succeed to close.
    public var halfOpenTrials: Int
    /// What happens to submissions while open.
    public var whenOpen: WhenOpen

    /// What the pool does with jobs while the breaker is open.
    public enum WhenOpen: String, Sendable, CaseIterable {
        /// Refuse submissions with ``RejectionReason/circuitOpen``.
        case reject
        /// Accept them but start none until the breaker lets trials through (they wait in the queue).
        case hold
    }

    public init(
        consecutiveFailures: Int? = 5, failureRatio: Double? = nil, window: Int = 20,
        coolOff: Duration = .seconds(5), halfOpenTrials: Int = 1, whenOpen: WhenOpen = .reject
    ) {
        self.consecutiveFailures = consecutiveFailures
        self.failureRatio = failureRatio
        self.window = window
        self.coolOff = coolOff
        self.halfOpenTrials = halfOpenTrials
        self.whenOpen = whenOpen
    }

    func validate() throws(ConfigurationError) {
        func fail(_ field: String, _ message: String) -> ConfigurationError {
            ConfigurationError(field: "circuitBreaker.\(field)", message: message)
        }
        if consecutiveFailures == nil && failureRatio == nil {
            throw fail("consecutiveFailures", "set consecutiveFailures, failureRatio or both")
        }
        if let n = consecutiveFailures, n < 1 { throw fail("consecutiveFailures", "must be 1 or more, got \(n)") }
        if let r = failureRatio, !(r > 0 && r <= 1) { throw fail("failureRatio", "must lie within (0, 1], got \(r)") }
        if window < 1 { throw fail("window", "must be 1 or more attempts, got \(window)") }
        if coolOff < .zero { throw fail("coolOff", "must not be negative, got \(coolOff)") }
        if halfOpenTrials < 1 { throw fail("halfOpenTrials", "must be 1 or more, got \(halfOpenTrials)") }
    }
}

/// Where a circuit breaker is.
public enum BreakerState: Sendable, Equatable, CustomStringConvertible, Codable {
    /// Jobs flow.
    case closed
    /// Jobs are refused (or held) until the instant given.
    case open(until: PoolInstant)
    /// A few trial jobs are let through to test the dependency.
    case halfOpen

    public var description: String {
        switch self {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half-open"
        }
    }
}

/// The circuit breaker as a state machine over attempt outcomes and time.
public struct CircuitBreaker: Sendable {
    /// A change of state and why.
    public struct Transition: Sendable, Equatable {
        public let to: BreakerState
        public let reason: String
    }

    public let policy: CircuitBreakerPolicy
    public private(set) var state: BreakerState = .closed
    private var consecutive = 0
    private var recent = Deque<Bool>()
    private var recentFailures = 0
    private var trialsStarted = 0
    private var trialsSucceeded = 0

    public init(policy: CircuitBreakerPolicy) {
        self.policy = policy
    }

    /// Moves from open to half-open once the cool-off has passed.
    public mutating func tick(now: PoolInstant) -> Transition? {
        guard case .open(let until) = state, now >= until else { return nil }
        state = .halfOpen
        trialsStarted = 0
        trialsSucceeded = 0
        return Transition(to: .halfOpen, reason: "cool-off of \(formatted(policy.coolOff)) over")
    }

    /// Whether a submission may be admitted now (always, unless open with the reject policy).
    public mutating func admits(now: PoolInstant) -> (Bool, Transition?) {
        let transition = tick(now: now)
        if case .open = state, policy.whenOpen == .reject { return (false, transition) }
        return (true, transition)
    }

    /// Whether a worker may start a job now; in half-open only the trial jobs may start.
    public var mayStart: Bool {
        switch state {
        case .closed: true
        case .open: false
        case .halfOpen: trialsStarted < policy.halfOpenTrials
        }
    }

    /// A job started (after ``mayStart`` allowed it).
    public mutating func started() {
        if case .halfOpen = state { trialsStarted += 1 }
    }

    /// Records an attempt's outcome.
    public mutating func record(success: Bool, now: PoolInstant) -> Transition? {
        switch state {
        case .open:
            return nil
        case .halfOpen:
            if !success {
                return open(now: now, reason: "trial failed in half-open")
            }
            trialsSucceeded += 1
            guard trialsSucceeded >= policy.halfOpenTrials else { return nil }
            state = .closed
            consecutive = 0
            recent.removeAll()
            recentFailures = 0
            return Transition(to: .closed, reason: "\(policy.halfOpenTrials) trial\(policy.halfOpenTrials == 1 ? "" : "s") succeeded")
        case .closed:
            consecutive = success ? 0 : consecutive + 1
            recent.append(!success)
            if !success { recentFailures += 1 }
            if recent.count > policy.window, let dropped = recent.popFirst(), dropped { recentFailures -= 1 }
            if let limit = policy.consecutiveFailures, consecutive >= limit {
                return open(now: now, reason: "\(consecutive) consecutive failures")
            }
            if let ratio = policy.failureRatio, recent.count >= policy.window,
                Double(recentFailures) / Double(recent.count) >= ratio
            {
                return open(now: now, reason: "\(recentFailures) of the last \(recent.count) attempts failed")
            }
            return nil
        }
    }

    private mutating func open(now: PoolInstant, reason: String) -> Transition {
        state = .open(until: now + policy.coolOff)
        consecutive = 0
        recent.removeAll()
        recentFailures = 0
        return Transition(to: state, reason: reason)
    }
}
