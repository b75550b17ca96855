public import Logging

/// Everything that shapes a ``WorkerPool``: its size limits, queue, scaling, retries and execution.
///
/// Build one with the defaults and change what matters, then pass it to ``WorkerPool/init(configuration:clock:)``,
/// which validates it. The scaling fields (``minWorkers``, ``maxWorkers``, ``scaleUpThreshold``) can also be
/// changed while the pool runs with ``WorkerPool/updateScaling(_:)``.
public struct PoolConfiguration: Sendable {
    /// A name for logs, metrics dimensions and the dashboard.
    public var name: String = "pool"
    /// The pool never scales below this many workers.
    public var minWorkers: Int = 1
    /// The pool never scales above this many workers.
    public var maxWorkers: Int = 8
    /// Workers started when the pool starts; `nil` means ``minWorkers``.
    public var initialWorkers: Int? = nil
    /// The most jobs waiting in the queue at once; `nil` means unbounded.
    public var queueCapacity: Int? = 10_000
    /// What happens to a submission when the queue is full.
    public var overflowPolicy: OverflowPolicy = .reject
    /// How the waiting jobs are ordered and handed to workers.
    public var queueStrategy: QueueStrategyKind = .sharedFIFO
    /// Scale up when pending jobs per worker exceed this number.
    public var scaleUpThreshold: Int = 4
    /// How many workers a scale-up adds.
    public var growth: Growth = .double
    /// A worker idle this long is retired, never below ``minWorkers``.
    public var idleTimeout: Duration = .seconds(10)
    /// The least time between two scaling decisions.
    public var cooldown: Duration = .seconds(1)
    /// What the scaler aims for: the queue threshold above, or a target mean wait (``ScalingMode``).
    public var scalingMode: ScalingMode = .queueThreshold
    /// How often the scaler looks at the pool (it also looks at once when the queue crosses the threshold).
    public var scalingInterval: Duration = .milliseconds(100)
    /// How failed attempts are retried before a job is dead-lettered.
    public var retry: RetryPolicy = .none
    /// A timeout for each attempt of jobs that do not set their own; `nil` means none.
    public var defaultTimeout: Duration? = nil
    /// How many dead-lettered jobs are kept for inspection (the oldest are forgotten first).
    public var deadLetterCapacity: Int = 1_000
    /// Where the workers run.
    public var executor: WorkerExecutor = .dedicatedThreads(nil)
    /// On the pool's own threads (``WorkerExecutor/dedicatedThreads(_:)``), whether a worker whose jobs
    /// keep suspending (3 of its last 4 jobs awaited something not ready: I/O, `Task.sleep`) runs its next
    /// jobs on Swift's shared pool, where a resumed job runs on the thread that woke it instead of being
    /// handed to one of the pool's threads; it comes back every 256 jobs to look again. Jobs that compute
    /// or block never suspend, so their workers stay on the pool's threads; jobs with a timeout run as a
    /// child task, whose suspensions the worker cannot see, so they stay too. In BENCHMARKS.md's waiting
    /// workload this saves 15-35% of the CPU per job. Off: every job runs on the pool's threads.
    public var movesAwaitingWorkers: Bool = true
    /// Where the pool logs scaling and shutdown.
    public var logger: Logger = Logger(label: "poolscope.pool")
    /// Starts at most this many jobs per second (at dispatch); `nil` for no limit. Changeable while running.
    public var rateLimit: RateLimit? = nil
    /// Stops starting jobs after repeated failures, and tests recovery; `nil` for none.
    public var circuitBreaker: CircuitBreakerPolicy? = nil
    /// Faults injected from the start (changeable while running).
    public var faults: FaultInjection = .none
    /// Seeds the choices of fault injection and random crashes, so a run can be repeated.
    public var faultSeed: UInt64 = 0x5EED
    /// Whether to measure every attempt's latencies (queue wait, service, end to end). Off saves two clock
    /// readings and three histogram updates per job; counts, events and throughput stay exact.
    public var recordsLatencies: Bool = true
    /// The most jobs a worker takes beyond the one it runs now (shared FIFO or LIFO, per-worker queues with
    /// stealing, keyed), so that a run of short jobs costs one trip through the pool's lock instead of one
    /// per job. A worker takes
    /// ahead only what fits in about 50 µs of its recent service time, never more than its share of the
    /// queue, and never under a rate limit or circuit breaker. Jobs taken ahead still count as waiting; a
    /// crashed worker puts back the ones it had not started. 0 turns it off.
    public var takeAhead: Int = 32
    /// Whether taking ahead follows the jobs' recent service time (see ``takeAhead``); tests turn this
    /// off to take ahead whatever the machine's load.
    var pacesTakeAhead = true
    /// Whether every job's latencies are also recorded as swift-metrics timers (counters and gauges are
    /// always published, once per ``scalingInterval``). Off by default: a per-job timer costs a backend call.
    public var exportsLatencyTimers: Bool = false

    /// A configuration with the defaults: 1 to 8 workers, a queue of 10,000 that rejects when full.
    public init() {}

    /// The most workers a pool may have (each is a task; 100,000 is far beyond any useful pool).
    public static let workerLimit = 100_000
    /// The largest scale-up threshold: jobs per worker times workers must stay a small number.
    public static let thresholdLimit = 1_000_000

    /// Checks every field and throws the first problem, naming the field and the allowed values.
    public func validate() throws(ConfigurationError) {
        func fail(_ field: String, _ message: String) -> ConfigurationError {
            ConfigurationError(field: field, message: message)
        }
        if name.isEmpty { throw fail("name", "must not be empty") }
        if minWorkers < 0 { throw fail("minWorkers", "must be 0 or more, got \(minWorkers)") }
        if maxWorkers < 1 { throw fail("maxWorkers", "must be 1 or more, got \(maxWorkers)") }
        if maxWorkers > Self.workerLimit { throw fail("maxWorkers", "must be at most \(Self.workerLimit), got \(maxWorkers)") }
        if minWorkers > maxWorkers {
            throw fail("minWorkers", "must not exceed maxWorkers (\(minWorkers) > \(maxWorkers))")
        }
        if let initial = initialWorkers, !(minWorkers...maxWorkers).contains(initial) {
            throw fail("initialWorkers", "must lie within minWorkers...maxWorkers (\(minWorkers)...\(maxWorkers)), got \(initial)")
        }
        if let capacity = queueCapacity, capacity < 1 {
            throw fail("queueCapacity", "must be 1 or more, or nil for unbounded, got \(capacity)")
        }
        if !(1...Self.thresholdLimit).contains(scaleUpThreshold) {
            throw fail("scaleUpThreshold", "must lie within 1...\(Self.thresholdLimit) jobs per worker, got \(scaleUpThreshold)")
        }
        if case .add(let n) = growth, n < 1 { throw fail("growth", "must add 1 or more workers, got \(n)") }
        if idleTimeout < .zero { throw fail("idleTimeout", "must not be negative, got \(idleTimeout)") }
        if cooldown < .zero { throw fail("cooldown", "must not be negative, got \(cooldown)") }
        if case .targetWait(let goal) = scalingMode {
            if goal.target <= .zero { throw fail("scalingMode", "target wait must be positive, got \(goal.target)") }
            if goal.window < .milliseconds(10) {
                throw fail("scalingMode", "target wait window must be 10ms or more, got \(goal.window)")
            }
        }
        if scalingInterval <= .zero { throw fail("scalingInterval", "must be positive, got \(scalingInterval)") }
        if let timeout = defaultTimeout, timeout <= .zero {
            throw fail("defaultTimeout", "must be positive, or nil for none, got \(timeout)")
        }
        if deadLetterCapacity < 0 { throw fail("deadLetterCapacity", "must be 0 or more, got \(deadLetterCapacity)") }
        if !(0...4_096).contains(takeAhead) { throw fail("takeAhead", "must lie within 0...4096 jobs, got \(takeAhead)") }
        if case .dedicatedThreads(let count?) = executor, count < 1 {
            throw fail("executor", "needs 1 or more threads, got \(count)")
        }
        try retry.validate()
        try rateLimit?.validate()
        try circuitBreaker?.validate()
        try faults.validate()
        if case .custom(let strategy) = queueStrategy, !strategy.canMakeQueues {
            throw fail("queueStrategy", "custom strategy '\(strategy.name)' was read back from a document and has no queue to make")
        }
        // Under 1 ns it would round to none at all (strict order, not aging).
        if case .priority(let aging?) = queueStrategy, aging < .nanoseconds(1) {
            throw fail("queueStrategy", "priority aging must be at least 1 ns, or none, got \(aging)")
        }
    }

    /// The number of workers the pool starts with.
    public var effectiveInitialWorkers: Int { initialWorkers ?? minWorkers }
}

/// A configuration field that is out of range, with the reason.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// The field at fault, as named in ``PoolConfiguration``.
    public var field: String
    /// What is wrong and what would be allowed.
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// What the pool does with a submission that finds the queue full.
public enum OverflowPolicy: String, Sendable, CaseIterable, Codable {
    /// Refuse the new job with ``RejectionReason/queueFull``.
    case reject
    /// ``WorkerPool/submit(_:)`` waits for space (backpressure); ``WorkerPool/trySubmit(_:)`` still refuses at once.
    case wait
    /// Admit the new job and drop the oldest waiting one, which ends as rejected with
    /// ``RejectionReason/droppedOldest``.
    case dropOldest
    /// ``WorkerPool/submit(_:)`` runs the job in the caller's task, which slows the producer down
    /// (Java's `CallerRunsPolicy`); ``WorkerPool/trySubmit(_:)`` refuses at once.
    case runInCaller
}

/// How many workers one scale-up adds.
public enum Growth: Sendable, Equatable, Codable {
    /// Double the workers (at least one more), capped at the maximum.
    case double
    /// Add this many workers, capped at the maximum.
    case add(Int)

    /// The worker count after one step of growth from `current`, capped at `max`.
    public func next(from current: Int, max: Int) -> Int {
        switch self {
        case .double: return Swift.min(Swift.max(current * 2, current + 1), max)
        case .add(let n): return Swift.min(current.addingReportingOverflow(n).overflow ? max : current + n, max)
        }
    }
}

/// Which queue strategy the pool uses.
public enum QueueStrategyKind: Sendable, Equatable, CustomStringConvertible, Codable {
    /// One first-in first-out queue shared by all workers.
    case sharedFIFO
    /// One last-in first-out stack shared by all workers.
    case lifo
    /// Highest priority first; with `aging`, waiting raises a job's urgency (see ``AgingPriorityQueue``).
    case priority(aging: Duration?)
    /// A queue per worker filled by a dispatcher, optionally with work stealing.
    case perWorker(DispatchRule, stealing: Bool)
    /// One worker per key, by jump consistent hash (see ``KeyedQueues``).
    case keyed
    /// A strategy of your own behind ``QueueStrategy`` (see ``CustomQueueStrategy``).
    case custom(CustomQueueStrategy)

    public var description: String {
        switch self {
        case .sharedFIFO: "fifo"
        case .lifo: "lifo"
        case .priority(let aging?): "priority (aging \(formatted(aging)))"
        case .priority(nil): "priority"
        case .perWorker(let rule, let stealing): "per-worker \(rule.rawValue)\(stealing ? " + stealing" : "")"
        case .keyed: "keyed"
        case .custom(let strategy): strategy.name
        }
    }

    /// A fresh, empty queue of this kind.
    public func makeQueue() -> any QueueStrategy {
        switch self {
        case .sharedFIFO: SharedQueue(order: .fifo)
        case .lifo: SharedQueue(order: .lifo)
        case .priority(let aging): AgingPriorityQueue(agingInterval: aging)
        case .perWorker(let rule, let stealing): PerWorkerQueues(rule: rule, stealing: stealing)
        case .keyed: KeyedQueues()
        case .custom(let strategy): strategy.makeQueue()
        }
    }
}

/// A queue strategy of your own, for ``QueueStrategyKind/custom(_:)``: a name (shown in snapshots, the
/// dashboard and results) and a function making a fresh, empty queue for each pool.
///
/// ```swift
/// var configuration = PoolConfiguration()
/// configuration.queueStrategy = .custom(CustomQueueStrategy(name: "round-robin by tenant") { TenantRoundRobin() })
/// let pool = try WorkerPool(configuration: configuration)
/// ```
///
/// Two custom strategies are equal when their names are. One read back from a document (a snapshot or a
/// recording) has its name only: a pool cannot be made from it (``PoolConfiguration/validate()`` says so).
public struct CustomQueueStrategy: Sendable, Equatable, Codable {
    /// How snapshots, the dashboard and results name the strategy.
    public let name: String
    private let make: (@Sendable () -> any QueueStrategy)?

    /// A strategy named `name` whose queues `make` creates (one per pool, empty).
    public init(name: String, make: @escaping @Sendable () -> any QueueStrategy) {
        self.name = name
        self.make = make
    }

    /// A strategy known by its name only, as a document (a snapshot, a monitor's answer) tells of it.
    public static func readBack(named name: String) -> CustomQueueStrategy { CustomQueueStrategy(name: name, factory: nil) }

    private init(name: String, factory: (@Sendable () -> any QueueStrategy)?) {
        self.name = name
        make = factory
    }

    /// Whether a pool can be made with it: false when it was read back from a document.
    public var canMakeQueues: Bool { make != nil }

    /// A fresh queue; a first-in first-out one for a strategy read back from a document, which
    /// ``PoolConfiguration/validate()`` refuses before any pool gets here.
    func makeQueue() -> any QueueStrategy { make?() ?? SharedQueue(order: .fifo) }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.name == rhs.name }

    public init(from decoder: any Decoder) throws {
        name = try decoder.singleValueContainer().decode(String.self)
        make = nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// Where a pool's workers run.
///
/// The default, the pool's own threads, suits every kind of job: jobs that compute, block or are tiny run
/// there, isolated from the rest of the process and taken ahead; a worker whose jobs mostly `await`
/// (network, files through async APIs, `Task.sleep`) moves itself to Swift's shared pool
/// (``PoolConfiguration/movesAwaitingWorkers``). A job on the pool's threads that awaits is resumed by the
/// runtime on a thread of the shared pool and then handed to one of the pool's threads, one more thread
/// woken per `await`; on the shared pool it resumes where it was woken. In BENCHMARKS.md's waiting workload
/// (200 workers, jobs sleeping Exp(100 ms) with `Task.sleep`) that hand-over cost 15-35% more CPU per job.
/// (A sleep itself is cheaper still in the pool's timers: ``SleepWheel``,
/// ``Job/waiting(for:key:priority:timeout:start:then:)``.)
public enum WorkerExecutor: Sendable {
    /// Threads of the pool's own (`nil`: one per core), so that jobs that block or spin cannot starve the
    /// rest of the process (timers, the scaler, a dashboard), which run on Swift's shared pool. Workers
    /// take jobs ahead here (``PoolConfiguration/takeAhead``), and ``Job/waiting(for:key:priority:timeout:start:then:)``
    /// and ``SleepWheel`` keep their waits in the pool's own timers.
    case dedicatedThreads(Int?)
    /// Swift's shared cooperative pool: the cheapest home for jobs that mostly await, but jobs that block a
    /// thread delay every other task of the process, and workers take one job at a time.
    case globalConcurrent
    /// An executor of the caller's.
    case custom(any TaskExecutor)
}
