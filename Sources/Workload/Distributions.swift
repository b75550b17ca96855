public import PoolEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long simulated jobs take.
public enum ServiceTime: Sendable, Equatable {
    case constant(Duration)
    case uniform(min: Duration, max: Duration)
    case exponential(mean: Duration)
    /// Log-normal with the given median and shape (σ of the underlying normal).
    case lognormal(median: Duration, sigma: Double)
    /// Mostly `fast`, with probability `slowFraction` `slow`.
    case bimodal(fast: Duration, slow: Duration, slowFraction: Double)
    /// Pareto with minimum `minimum` and tail index `alpha`: a heavy tail.
    case pareto(minimum: Duration, alpha: Double)

    /// One draw.
    public func sample(using random: inout SeededRandom) -> Duration {
        let seconds: Double
        switch self {
        case .constant(let value): seconds = value.seconds
        case .uniform(let low, let high): seconds = low.seconds + (high.seconds - low.seconds) * random.unit()
        case .exponential(let mean): seconds = -mean.seconds * log(random.openUnit())
        case .lognormal(let median, let sigma): seconds = median.seconds * exp(sigma * random.normal())
        case .bimodal(let fast, let slow, let fraction): seconds = random.unit() < fraction ? slow.seconds : fast.seconds
        case .pareto(let minimum, let alpha): seconds = minimum.seconds / pow(random.openUnit(), 1 / alpha)
        }
        return .nanoseconds(Int64(min(seconds, 3_600) * 1e9))
    }

    /// The distribution's mean.
    public var mean: Duration {
        let seconds: Double
        switch self {
        case .constant(let value): seconds = value.seconds
        case .uniform(let low, let high): seconds = (low.seconds + high.seconds) / 2
        case .exponential(let mean): seconds = mean.seconds
        case .lognormal(let median, let sigma): seconds = median.seconds * exp(sigma * sigma / 2)
        case .bimodal(let fast, let slow, let fraction): seconds = fast.seconds * (1 - fraction) + slow.seconds * fraction
        case .pareto(let minimum, let alpha): seconds = alpha > 1 ? minimum.seconds * alpha / (alpha - 1) : .infinity
        }
        return .nanoseconds(Int64(min(seconds, 3_600) * 1e9))
    }
}

/// Which keys simulated jobs carry (for the keyed strategy).
public enum KeyDistribution: Sendable, Equatable {
    /// Keys "key-0" … "key-(count-1)", equally likely.
    case uniform(count: Int)
    /// Keys "key-0" … by Zipf's law with the given exponent: a few hot keys, a long tail.
    case zipf(count: Int, exponent: Double)
}

/// Draws Zipf-distributed ranks by inverting a precomputed cumulative table.
struct ZipfTable: Sendable {
    private let cumulative: [Double]

    init(count: Int, exponent: Double) {
        var running = 0.0
        var table: [Double] = []
        table.reserveCapacity(count)
        for rank in 1...max(count, 1) {
            running += 1 / pow(Double(rank), exponent)
            table.append(running)
        }
        cumulative = table.map { $0 / running }
    }

    func sample(using random: inout SeededRandom) -> Int {
        let target = random.unit()
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// Which priorities simulated jobs carry.
public struct PriorityDistribution: Sendable, Equatable {
    public var levels: [Int]
    public var weights: [Double]

    public init(levels: [Int], weights: [Double]) {
        self.levels = levels
        self.weights = weights
    }

    func sample(using random: inout SeededRandom) -> Int {
        let total = weights.reduce(0, +)
        var target = random.unit() * total
        for (level, weight) in zip(levels, weights) {
            if target < weight { return level }
            target -= weight
        }
        return levels.last ?? 0
    }
}

/// What simulated jobs do while they "work".
public enum JobKind: Sendable, Equatable {
    /// Sleep (I/O-like): cheap, thousands can wait at once.
    case sleep
    /// Spin the CPU for the service time.
    case cpu
    /// Spin for `cpuFraction` of the service time, sleep for the rest.
    case mixed(cpuFraction: Double)
}
