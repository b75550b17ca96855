import DequeModule
import PoolEngine

/// One simulated job, fully decided in advance.
public struct JobSpec: Sendable, Equatable {
    /// Position in the stream, from 0.
    public let index: Int
    public let service: Duration
    /// The chance each attempt fails, as it was when the job was made.
    public let failureRate: Double
    /// Seeds the job's own per-attempt failure draws.
    public let failureSeed: UInt64
    public let key: String?
    public let priority: Int

    /// Whether attempt `attempt` (from 1) of this job fails: decided by the seed, so repeatable.
    public func fails(attempt: Int) -> Bool { fails(attempt: attempt, rate: failureRate) }

    /// Whether attempt `attempt` fails when the failure rate in force as it runs is `rate` (a dependency
    /// that is down fails the attempts made while it is down, whenever their jobs arrived).
    public func fails(attempt: Int, rate: Double) -> Bool {
        guard rate > 0 else { return false }
        var random = SeededRandom(seed: failureSeed &+ UInt64(attempt) &* 0x9E37_79B9)
        return random.unit() < rate
    }
}

/// A job to submit at a scenario time.
public struct Submission: Sendable, Equatable {
    public let at: Duration
    public let spec: JobSpec
}

/// The deterministic stream of submissions of a scenario: arrivals, bursts, rate changes and pauses all
/// resolved in scenario time, so the same seed always yields the same stream, however fast the machine.
///
/// Actions can also be applied live (the dashboard's keys) with ``apply(_:at:)``.
public struct SubmissionSchedule: Sendable {
    private let workload: WorkloadSpec
    private let end: Duration
    private var random: SeededRandom
    private var zipf: ZipfTable?
    private var pendingActions: [TimelineEntry]
    private var rateOverride: Double?
    private var failureRate: Double
    private var paused = false
    private var nextArrival: Duration?
    private var nextPeriodicBurst: Duration?
    /// Drawn but not yet taken, in time order: a deque, so taking the first of a burst of N is O(1), not
    /// a shift of the N - 1 behind it (a burst was O(N^2)).
    private var queued = Deque<Submission>()
    private var index = 0

    /// `timeline` must be in time order, as ``Scenario/timeline`` is.
    public init(workload: WorkloadSpec, timeline: [TimelineEntry], duration: Duration, seed: UInt64) {
        self.workload = workload
        end = duration
        random = SeededRandom(seed: seed)
        if case .zipf(let count, let exponent)? = workload.keys { zipf = ZipfTable(count: count, exponent: exponent) }
        pendingActions = timeline.filter { Self.affectsStream($0.action) }
        failureRate = workload.failureRate
        if case .bursts(_, _, let every) = workload.arrivals { nextPeriodicBurst = every }
        nextArrival = arrival(after: .zero)
    }

    public static func affectsStream(_ action: ScenarioAction) -> Bool {
        switch action {
        case .burst, .setRate, .setFailureRate, .pauseArrivals, .resumeArrivals: true
        default: false
        }
    }

    /// The next submission, or `nil` once the scenario's duration is over.
    public mutating func next() -> Submission? {
        guard peek() != nil else { return nil }
        return queued.removeFirst()
    }

    /// The next submission without taking it.
    public mutating func peek() -> Submission? {
        while queued.isEmpty {
            let candidates = [nextArrival, nextPeriodicBurst, pendingActions.first?.at].compactMap { $0 }
            guard let time = candidates.min(), time < end else { return nil }
            if let action = pendingActions.first, action.at == time {
                pendingActions.removeFirst()
                apply(action.action, at: time)
            } else if nextPeriodicBurst == time {
                if case .bursts(_, let size, let every) = workload.arrivals {
                    if !paused { enqueueBurst(size, at: time) }
                    nextPeriodicBurst = time + every
                }
            } else {
                if !paused { queued.append(Submission(at: time, spec: makeSpec())) }
                nextArrival = arrival(after: time)
            }
        }
        return queued.first
    }

    /// Whether arrivals are paused.
    public var isPaused: Bool { paused }

    /// Applies an action that shapes the stream, at scenario time `time`; other actions are ignored here.
    public mutating func apply(_ action: ScenarioAction, at time: Duration) {
        switch action {
        case .burst(let count): enqueueBurst(count, at: time)
        case .setRate(let rate):
            rateOverride = rate
            nextArrival = arrival(after: time)
        case .setFailureRate(let rate): failureRate = rate
        case .pauseArrivals: paused = true
        case .resumeArrivals:
            if paused {
                paused = false
                nextArrival = arrival(after: time)
            }
        default: break
        }
    }

    /// The arrival rate now in force at `time`.
    public func currentRate(at time: Duration) -> Double {
        paused ? 0 : rateOverride ?? workload.arrivals.rate(at: time)
    }

    /// Adds `count` jobs at `time`, ahead of anything already drawn for later.
    private mutating func enqueueBurst(_ count: Int, at time: Duration) {
        let burst = (0..<max(count, 0)).map { _ in Submission(at: time, spec: makeSpec()) }
        let index = queued.firstIndex { $0.at > time } ?? queued.count
        queued.insert(contentsOf: burst, at: index)
    }

    /// The first arrival after `time` (for on/off, skipping the off periods); `nil` if the rate stays zero.
    private mutating func arrival(after time: Duration) -> Duration? {
        var t = time
        for _ in 0..<1_000 {
            let rate = rateOverride ?? workload.arrivals.rate(at: t)
            if rate > 0 {
                let gap: Double
                if case .constant = workload.arrivals {
                    gap = 1 / rate
                } else {
                    gap = -log(random.openUnit()) / rate
                }
                return t + .nanoseconds(Int64(gap * 1e9))
            }
            // Zero rate: jump ahead to when it may change (the next on period, or give up).
            if case .onOff(_, let on, let off) = workload.arrivals, rateOverride == nil {
                let period = on.seconds + off.seconds
                let phase = t.seconds.truncatingRemainder(dividingBy: period)
                t = t + .nanoseconds(Int64((period - phase) * 1e9) + 1)
                if t >= end { return nil }
                continue
            }
            if case .ramp(_, _, let over) = workload.arrivals, rateOverride == nil, t < over {
                t = t + .milliseconds(10)
                continue
            }
            return nil
        }
        return nil
    }

    private mutating func makeSpec() -> JobSpec {
        defer { index += 1 }
        let service = workload.service.sample(using: &random)
        let failureSeed = random.next()
        var key: String?
        switch workload.keys {
        case .uniform(let count)?: key = "key-\(Int(random.next() % UInt64(max(count, 1))))"
        case .zipf?: key = zipf.map { "key-\($0.sample(using: &random))" }
        case nil: key = nil
        }
        let priority = workload.priorities?.sample(using: &random) ?? 0
        return JobSpec(
            index: index, service: service, failureRate: failureRate, failureSeed: failureSeed, key: key,
            priority: priority)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
