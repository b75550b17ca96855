/// A token bucket: jobs start at most `perSecond` a second on average, with bursts of up to `burst`.
public struct RateLimit: Sendable, Equatable, Codable {
    public var perSecond: Double
    public var burst: Int

    public init(perSecond: Double, burst: Int = 1) {
        self.perSecond = perSecond
        self.burst = burst
    }

    func validate() throws(ConfigurationError) {
        guard perSecond.isFinite, (0.001...1_000_000_000).contains(perSecond) else {
            throw ConfigurationError(field: "rateLimit.perSecond", message: "must lie within 0.001...1e9 per second, got \(perSecond)")
        }
        guard (1...1_000_000).contains(burst) else {
            throw ConfigurationError(field: "rateLimit.burst", message: "must lie within 1...1000000, got \(burst)")
        }
    }
}

/// The token bucket's state, applied when a worker takes a job (at dispatch, not at admission, so the
/// queue absorbs what the limit holds back).
struct TokenBucket {
    private(set) var limit: RateLimit
    private var tokens: Double
    private var updatedAt: PoolInstant

    init(limit: RateLimit, now: PoolInstant) {
        self.limit = limit
        tokens = Double(limit.burst)
        updatedAt = now
    }

    /// Changes the limit, keeping the tokens already earned (up to the new burst).
    mutating func change(to limit: RateLimit, now: PoolInstant) {
        refill(now: now)
        self.limit = limit
        tokens = min(tokens, Double(limit.burst))
    }

    private mutating func refill(now: PoolInstant) {
        guard now > updatedAt else { return }
        tokens = min(Double(limit.burst), tokens + (now - updatedAt).seconds * limit.perSecond)
        updatedAt = now
    }

    /// `nil` if a token is there now; otherwise when the next one will be.
    mutating func nextToken(now: PoolInstant) -> PoolInstant? {
        refill(now: now)
        if tokens >= 1 { return nil }
        let wait = (1 - tokens) / limit.perSecond
        return now + .nanoseconds(Int64((wait * 1e9).rounded(.up)))
    }

    /// Spends a token that ``nextToken(now:)`` said was there.
    mutating func spend() {
        tokens -= 1
    }
}
