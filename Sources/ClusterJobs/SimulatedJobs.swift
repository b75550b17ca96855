import PoolEngine

/// The simulated job kind that `poolscope node` runs and `poolscope cluster enqueue` produces, so a cluster
/// can be tried without writing code: sleep or spin for a service time, and fail a fraction of attempts.
public enum SimulatedJob {
    /// The payload: what one simulated job does.
    public struct Payload: Codable, Sendable, Equatable {
        /// Service time in microseconds (0: a no-op job).
        public var serviceMicroseconds: Int
        /// Spin on the CPU instead of sleeping.
        public var spin: Bool
        /// The probability (0...1) that an attempt fails, decided from `seed` and the attempt number.
        public var failRate: Double
        public var seed: UInt64

        public init(serviceMicroseconds: Int, spin: Bool = false, failRate: Double = 0, seed: UInt64 = 0) {
            self.serviceMicroseconds = serviceMicroseconds
            self.spin = spin
            self.failRate = failRate
            self.seed = seed
        }

        enum CodingKeys: String, CodingKey {
            case serviceMicroseconds = "service_us"
            case spin
            case failRate = "fail_rate"
            case seed
        }
    }

    /// The longest service a payload may ask for, in microseconds (a day): a row with more is refused
    /// in words rather than sleeping for years or overflowing the clock.
    public static let longestServiceMicroseconds = 86_400_000_000

    /// Why a payload cannot run, in words.
    public struct InvalidPayload: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
        package init(description: String) { self.description = description }
    }

    /// Checks a payload read from the queue (anyone with the database can write one).
    public static func validate(_ payload: Payload) throws(InvalidPayload) {
        guard (0...longestServiceMicroseconds).contains(payload.serviceMicroseconds) else {
            throw InvalidPayload(
                description: "service_us \(payload.serviceMicroseconds) is not within 0...\(longestServiceMicroseconds) (a day)")
        }
        guard (0...1).contains(payload.failRate) else {
            throw InvalidPayload(description: "fail_rate \(payload.failRate) is not within 0...1")
        }
    }

    /// The kind's name in the queue: `simulated`.
    public static let kind = ClusterJobKind<Payload>("simulated")

    /// The error a simulated failing attempt throws.
    public struct Failure: Error, CustomStringConvertible {
        public let attempt: Int
        public var description: String { "simulated failure (attempt \(attempt))" }
    }

    /// Registers the simulated kind on `handlers`.
    public static func register(on handlers: inout ClusterJobHandlers) {
        handlers.register(kind) { payload, context in
            try validate(payload)
            let service = Duration.microseconds(payload.serviceMicroseconds)
            if payload.serviceMicroseconds > 0 {
                if payload.spin {
                    let end = ContinuousClock.now + service
                    var rounds = 0
                    while ContinuousClock.now < end {
                        rounds &+= 1
                        if rounds % 256 == 0 { try Task.checkCancellation() }
                    }
                } else {
                    try await Task.sleep(for: service)
                }
            }
            if fails(seed: payload.seed, attempt: context.attempt, rate: payload.failRate) {
                throw Failure(attempt: context.attempt)
            }
        }
    }

    /// Whether an attempt fails: a SplitMix64 draw from the seed and the attempt, below `rate`.
    package static func fails(seed: UInt64, attempt: Int, rate: Double) -> Bool {
        guard rate > 0 else { return false }
        var random = SeededRandom(seed: seed &+ UInt64(truncatingIfNeeded: attempt) &* 0x9E37_79B9_7F4A_7C15)
        let draw = random.next()
        return Double(draw >> 11) / Double(1 << 53) < rate
    }
}
