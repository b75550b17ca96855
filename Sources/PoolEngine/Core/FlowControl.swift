/// The rate limit and the circuit breaker as the pool applies them: an open breaker refuses submissions
/// (under its reject policy); at dispatch a job needs a token and the breaker's leave (in half-open only
/// the trial jobs start); outcomes move the breaker. A value; time comes in.
struct FlowControl: Sendable {
    private(set) var breaker: CircuitBreaker?
    private(set) var bucket: TokenBucket?
    /// The one worker asleep until the rate limiter's next token, if any: one is enough.
    private(set) var throttleSleep = ThrottleSleep.none

    init(rateLimit: RateLimit?, breaker policy: CircuitBreakerPolicy?, now: PoolInstant) {
        breaker = policy.map { CircuitBreaker(policy: $0) }
        bucket = rateLimit.map { TokenBucket(limit: $0, now: now) }
    }

    /// Whether jobs are decided one by one at dispatch (so no worker may take jobs ahead).
    var decidesEachJob: Bool { bucket != nil || breaker != nil }

    /// Whether a submission may enter now, and the breaker's change of state if asking moved it.
    mutating func admits(now: PoolInstant) -> (Bool, CircuitBreaker.Transition?) {
        breaker?.admits(now: now) ?? (true, nil)
    }

    /// What a worker about to take a job from a non-empty queue may do.
    enum Dispatch: Equatable {
        case start
        /// The breaker lets no job start now.
        case held
        /// No token until then.
        case throttled(until: PoolInstant)
    }

    mutating func dispatch(now: PoolInstant) -> Dispatch {
        if let breaker, !breaker.mayStart { return .held }
        if let next = bucket?.nextToken(now: now) { return .throttled(until: next) }
        return .start
    }

    /// A job started after ``dispatch(now:)`` said `.start`.
    mutating func started() {
        bucket?.spend()
        breaker?.started()
    }

    /// An attempt ended (not counted while the pool cancels: cancellations say nothing of the jobs' health).
    mutating func attemptEnded(success: Bool, now: PoolInstant) -> CircuitBreaker.Transition? {
        breaker?.record(success: success, now: now)
    }

    /// The breaker's clock: open to half-open once the cool-off is over.
    mutating func tick(now: PoolInstant) -> CircuitBreaker.Transition? { breaker?.tick(now: now) }

    /// Whether a worker that found no token should sleep until it (true for the first; the others park, and
    /// the sleeper wakes one when it takes its job).
    mutating func beginThrottleSleep() -> Bool {
        guard case .none = throttleSleep else { return false }
        throttleSleep = .starting(interrupted: false)
        return true
    }

    mutating func throttleSleepEnded() { throttleSleep = .none }

    /// Whether a worker sleeps (or is about to) until the next token.
    var hasThrottleSleeper: Bool {
        if case .none = throttleSleep { false } else { true }
    }

    /// The throttled worker's sleep has begun; returns whether it must end at once (the limit changed or the
    /// workers were released since the worker was told to sleep).
    mutating func throttleSleepRegistered(_ task: Task<Void, Never>) -> Bool {
        guard case .starting(let interrupted) = throttleSleep else { return true }
        throttleSleep = .sleeping(task)
        return interrupted
    }

    /// Ends the throttled worker's sleep now: returns its task to cancel, or remembers the request when the
    /// sleep is not registered yet.
    mutating func interruptThrottleSleep() -> Task<Void, Never>? {
        switch throttleSleep {
        case .none: return nil
        case .starting:
            throttleSleep = .starting(interrupted: true)
            return nil
        case .sleeping(let task): return task
        }
    }

    /// Sets, changes (keeping the tokens earned) or removes the rate limit.
    mutating func setRateLimit(_ limit: RateLimit?, now: PoolInstant) {
        guard let limit else {
            bucket = nil
            return
        }
        if bucket == nil { bucket = TokenBucket(limit: limit, now: now) } else { bucket?.change(to: limit, now: now) }
    }
}
