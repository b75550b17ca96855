/// Faults to inject into a running pool, for experiments and teaching.
public struct FaultInjection: Sendable, Equatable, Codable {
    /// The chance (0...1) that an attempt fails with an injected error instead of running.
    public var failureProbability: Double
    /// Extra time added before every attempt, as if a dependency had slowed down.
    public var extraLatency: Duration

    public init(failureProbability: Double = 0, extraLatency: Duration = .zero) {
        self.failureProbability = failureProbability
        self.extraLatency = extraLatency
    }

    /// No faults.
    public static let none = FaultInjection()

    var isActive: Bool { failureProbability > 0 || extraLatency > .zero }

    func validate() throws(ConfigurationError) {
        guard (0...1).contains(failureProbability) else {
            throw ConfigurationError(
                field: "faults.failureProbability", message: "must lie within 0...1, got \(failureProbability)")
        }
        guard extraLatency >= .zero else {
            throw ConfigurationError(field: "faults.extraLatency", message: "must not be negative, got \(extraLatency)")
        }
    }
}

/// What fault injection decided for one attempt when a worker took it.
struct InjectedFault: Sendable {
    /// The extra latency, in nanoseconds (kept compact: every queued job carries this field).
    private var delayNanoseconds: Int64
    var fails: Bool

    init(delay: Duration, fails: Bool) {
        delayNanoseconds = delay.nanoseconds
        self.fails = fails
    }

    var delay: Duration { .nanoseconds(delayNanoseconds) }
}

/// The error an injected failure throws.
public struct InjectedFailure: Error, CustomStringConvertible {
    public var description: String { "injected failure" }
}
