import Testing

@testable import PoolEngine

@Suite("Configuration validation")
struct ConfigurationTests {
    @Test("the defaults are valid")
    func defaults() throws {
        try PoolConfiguration().validate()
    }

    /// One way to break a configuration, named by the field it breaks.
    enum Breakage: String, CaseIterable, Sendable {
        case minAboveMax, noMax, negativeMin, initialOutOfRange, zeroCapacity, zeroThreshold, zeroGrowth
        case negativeCooldown, zeroInterval, zeroTimeout, zeroAttempts, wideJitter, noThreads, negativeTakeAhead

        var field: String {
            switch self {
            case .minAboveMax, .negativeMin: "minWorkers"
            case .noMax: "maxWorkers"
            case .initialOutOfRange: "initialWorkers"
            case .zeroCapacity: "queueCapacity"
            case .zeroThreshold: "scaleUpThreshold"
            case .zeroGrowth: "growth"
            case .negativeCooldown: "cooldown"
            case .zeroInterval: "scalingInterval"
            case .zeroTimeout: "defaultTimeout"
            case .zeroAttempts: "retry.maxAttempts"
            case .wideJitter: "retry.jitter"
            case .noThreads: "executor"
            case .negativeTakeAhead: "takeAhead"
            }
        }

        func apply(to c: inout PoolConfiguration) {
            switch self {
            case .minAboveMax:
                c.minWorkers = 5
                c.maxWorkers = 2
            case .noMax: c.maxWorkers = 0
            case .negativeMin: c.minWorkers = -1
            case .initialOutOfRange: c.initialWorkers = 50
            case .zeroCapacity: c.queueCapacity = 0
            case .negativeTakeAhead: c.takeAhead = -1
            case .zeroThreshold: c.scaleUpThreshold = 0
            case .zeroGrowth: c.growth = .add(0)
            case .negativeCooldown: c.cooldown = .seconds(-1)
            case .zeroInterval: c.scalingInterval = .zero
            case .zeroTimeout: c.defaultTimeout = .zero
            case .zeroAttempts: c.retry = RetryPolicy(maxAttempts: 0)
            case .wideJitter: c.retry = RetryPolicy(maxAttempts: 3, jitter: 2)
            case .noThreads: c.executor = .dedicatedThreads(0)
            }
        }
    }

    @Test("each bad field is named, with what is allowed", arguments: Breakage.allCases)
    func invalid(breakage: Breakage) {
        var configuration = PoolConfiguration()
        breakage.apply(to: &configuration)
        do {
            try configuration.validate()
            Issue.record("\(breakage) was accepted")
        } catch {
            #expect(error.field == breakage.field)
            #expect(!error.message.isEmpty)
        }
    }

    @Test("the pool refuses an invalid configuration")
    func poolRefuses() {
        var configuration = PoolConfiguration()
        configuration.minWorkers = 9
        #expect(throws: ConfigurationError(field: "minWorkers", message: "must not exceed maxWorkers (9 > 8)")) {
            _ = try WorkerPool(configuration: configuration)
        }
    }

    @Test("backoff grows by the multiplier up to the cap, and jitter stays within its fraction")
    func backoff() {
        let policy = RetryPolicy(
            maxAttempts: 5, initialBackoff: .milliseconds(10), multiplier: 2, maxBackoff: .milliseconds(50), jitter: 0.5)
        #expect(policy.backoff(afterAttempt: 1, unit: 0.5) == .milliseconds(10))
        #expect(policy.backoff(afterAttempt: 2, unit: 0.5) == .milliseconds(20))
        #expect(policy.backoff(afterAttempt: 4, unit: 0.5) == .milliseconds(50))
        #expect(policy.backoff(afterAttempt: 1, unit: 0) == .milliseconds(5))
        #expect(policy.backoff(afterAttempt: 1, unit: 0.999_999) < .milliseconds(15))
    }
}
