/// How a pool retries a job whose attempt threw or timed out.
///
/// Attempt `n` (counting from 1) that fails is followed, while `n < maxAttempts`, by attempt `n + 1` after
/// `min(initialBackoff × multiplierⁿ⁻¹, maxBackoff)`, spread by ± `jitter` of itself so that jobs that
/// failed together do not retry together. A job whose last attempt fails is dead-lettered.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included; 1 means no retry.
    public var maxAttempts: Int
    /// The wait before the first retry.
    public var initialBackoff: Duration
    /// The factor by which each further wait grows.
    public var multiplier: Double
    /// The longest wait between attempts.
    public var maxBackoff: Duration
    /// The fraction (0...1) by which each wait is randomly lengthened or shortened.
    public var jitter: Double

    public init(
        maxAttempts: Int,
        initialBackoff: Duration = .milliseconds(10),
        multiplier: Double = 2,
        maxBackoff: Duration = .seconds(5),
        jitter: Double = 0.2
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.multiplier = multiplier
        self.maxBackoff = maxBackoff
        self.jitter = jitter
    }

    /// One attempt, no retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before attempt `failedAttempt + 1`, with `unit` in 0..<1 choosing the jitter.
    public func backoff(afterAttempt failedAttempt: Int, unit: Double) -> Duration {
        let exponent = Double(max(failedAttempt - 1, 0))
        let base = min(initialBackoff.seconds * power(multiplier, exponent), maxBackoff.seconds)
        let spread = base * jitter * (2 * unit - 1)
        return .nanoseconds(Int64((max(base + spread, 0) * 1e9).rounded()))
    }

    func validate() throws(ConfigurationError) {
        func fail(_ field: String, _ message: String) -> ConfigurationError {
            ConfigurationError(field: "retry.\(field)", message: message)
        }
        if maxAttempts < 1 { throw fail("maxAttempts", "must be 1 or more, got \(maxAttempts)") }
        if initialBackoff < .zero { throw fail("initialBackoff", "must not be negative, got \(initialBackoff)") }
        if !(multiplier >= 1) { throw fail("multiplier", "must be 1 or more, got \(multiplier)") }
        if maxBackoff < initialBackoff {
            throw fail("maxBackoff", "must be at least initialBackoff (\(initialBackoff)), got \(maxBackoff)")
        }
        if !(0...1).contains(jitter) { throw fail("jitter", "must lie within 0...1, got \(jitter)") }
    }
}

/// `base` raised to a whole `exponent`, stopping early once far past any sensible backoff.
private func power(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 && result < 1e12 {
        result *= base
        remaining -= 1
    }
    return result
}

extension Duration {
    /// This duration in seconds, as a `Double`.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// This duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let parts = components
        let (whole, overflow) = parts.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return parts.seconds < 0 ? .min : .max }
        return whole &+ parts.attoseconds / 1_000_000_000
    }
}
