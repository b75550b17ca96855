public import PoolEngine

/// An experiment or a lesson: a pool, a workload, and a timeline of actions.
public struct Scenario: Sendable {
    public var name: String
    public var description: String
    public var seed: UInt64
    /// How long arrivals run; the scenario then shuts the pool down (unless the timeline did).
    public var duration: Duration
    /// How long the closing graceful shutdown may take before it cancels what is left.
    public var shutdownDeadline: Duration
    public var pool: PoolConfiguration
    public var workload: WorkloadSpec
    /// Actions in time order.
    public var timeline: [TimelineEntry]
    /// The scenario as YAML after its overrides (`--set`), as read: what a result carries so that
    /// `poolscope run --from RESULT.json` runs it again. `nil` for scenarios built in code.
    public var resolvedYAML: String?
    /// Set when the run was shortened with ``compressed(to:)`` (`--duration`): the duration it ran for.
    public var compressedTo: Duration?

    /// Every claim of the timeline, in time order.
    public var claims: [Claim] { timeline.flatMap(\.claims) }

    public init(
        name: String, description: String = "", seed: UInt64 = 1, duration: Duration,
        shutdownDeadline: Duration = .seconds(10), pool: PoolConfiguration, workload: WorkloadSpec,
        timeline: [TimelineEntry] = []
    ) {
        self.name = name
        self.description = description
        self.seed = seed
        self.duration = duration
        self.shutdownDeadline = shutdownDeadline
        self.pool = pool
        self.workload = workload
        // Stable: entries at the same time keep the order they were written in.
        self.timeline = timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }

    /// The same scenario shortened to `duration`, with its timeline scaled to fit (for quick tests).
    public func compressed(to newDuration: Duration) -> Scenario {
        var copy = self
        let factor = newDuration.seconds / duration.seconds
        copy.duration = newDuration
        copy.compressedTo = newDuration
        copy.timeline = timeline.map { entry in
            var entry = entry
            entry.at = .nanoseconds(Int64(Double(entry.at.nanoseconds) * factor))
            entry.claims = []  // claims are about the scenario as written
            return entry
        }
        return copy
    }
}

/// The jobs a scenario submits.
public struct WorkloadSpec: Sendable, Equatable {
    public var arrivals: ArrivalProcess
    public var kind: JobKind
    public var service: ServiceTime
    /// The chance (0...1) that a job's attempt fails.
    public var failureRate: Double
    public var keys: KeyDistribution?
    public var priorities: PriorityDistribution?

    public init(
        arrivals: ArrivalProcess, kind: JobKind = .sleep, service: ServiceTime, failureRate: Double = 0,
        keys: KeyDistribution? = nil, priorities: PriorityDistribution? = nil
    ) {
        self.arrivals = arrivals
        self.kind = kind
        self.service = service
        self.failureRate = failureRate
        self.keys = keys
        self.priorities = priorities
    }
}

/// When jobs arrive.
public enum ArrivalProcess: Sendable, Equatable {
    /// Evenly spaced, `rate` a second.
    case constant(rate: Double)
    /// Poisson: exponential gaps with mean `1/rate`.
    case poisson(rate: Double)
    /// Poisson at `rate`, plus `size` jobs at once every `every`.
    case bursts(rate: Double, size: Int, every: Duration)
    /// Poisson whose rate moves linearly from `from` to `to` over `over`, then stays.
    case ramp(from: Double, to: Double, over: Duration)
    /// Poisson at `rate` for `on`, then nothing for `off`, repeating.
    case onOff(rate: Double, on: Duration, off: Duration)

    /// The rate at scenario time `t`.
    func rate(at t: Duration) -> Double {
        switch self {
        case .constant(let rate), .poisson(let rate), .bursts(let rate, _, _): return rate
        case .ramp(let from, let to, let over):
            let progress = over > .zero ? min(t.seconds / over.seconds, 1) : 1
            return from + (to - from) * progress
        case .onOff(let rate, let on, let off):
            let period = on.seconds + off.seconds
            let phase = t.seconds.truncatingRemainder(dividingBy: period)
            return phase < on.seconds ? rate : 0
        }
    }

    /// A short description: "poisson 100/s".
    public var summary: String {
        switch self {
        case .constant(let rate): "constant \(Units.format(rate: rate))"
        case .poisson(let rate): "poisson \(Units.format(rate: rate))"
        case .bursts(let rate, let size, let every): "poisson \(Units.format(rate: rate)) + \(size) every \(formatted(every))"
        case .ramp(let from, let to, let over): "ramp \(Units.format(rate: from)) -> \(Units.format(rate: to)) over \(formatted(over))"
        case .onOff(let rate, let on, let off): "on/off \(Units.format(rate: rate)) \(formatted(on)) on, \(formatted(off)) off"
        }
    }
}

/// One step of a scenario's timeline.
public struct TimelineEntry: Sendable, Equatable {
    public var at: Duration
    public var action: ScenarioAction
    /// Where it was written, for messages (0 if built in code).
    public var line: Int
    /// What the run must show, written beside the action (usually a caption); checked at the end of a run.
    public var claims: [Claim]

    public init(at: Duration, action: ScenarioAction, line: Int = 0, claims: [Claim] = []) {
        self.at = at
        self.action = action
        self.line = line
        self.claims = claims
    }
}

/// Something a scenario (or a person at the dashboard) does to a running experiment.
public enum ScenarioAction: Sendable, Equatable, Codable {
    /// Submit this many jobs at once.
    case burst(Int)
    /// Change the arrival rate (jobs per second).
    case setRate(Double)
    case setThreshold(Int)
    case setMinWorkers(Int)
    case setMaxWorkers(Int)
    /// Change the chance that a job fails.
    case setFailureRate(Double)
    /// Add latency to every attempt (a slow dependency).
    case setExtraLatency(Duration)
    case setRateLimit(RateLimit?)
    /// Crash a worker: the given one (by its number) or a random one.
    case crashWorker(Int?)
    case pauseArrivals
    case resumeArrivals
    case shutdown(ShutdownMode)
    /// A sentence for the learner, shown from now on.
    case caption(String)
    /// Relative changes, as keys send them: each press is one step from the value in force when the action is
    /// applied, so presses within one frame all count.
    case changeThreshold(by: Int)
    case changeMinWorkers(by: Int)
    case changeMaxWorkers(by: Int)
    /// Multiply the arrival rate.
    case scaleRate(by: Double)
    /// Add to the failure probability (clamped to 0...1).
    case changeFailureRate(by: Double)
}
