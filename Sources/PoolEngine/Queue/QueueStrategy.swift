/// How a pool orders its waiting jobs and hands them to workers.
///
/// A strategy is a plain `Sendable` value that the pool keeps under its lock: it is never called concurrently, and
/// it must not block or suspend. Implementations must give every job they were handed back exactly once,
/// through ``dequeue(for:)``, ``evict()`` or ``removeAll()``; the pool's accounting relies on it.
/// See docs/ARCHITECTURE.md for how to add one.
public protocol QueueStrategy: Sendable {
    /// The number of jobs waiting.
    var count: Int { get }
    /// Takes in a job and says which worker should be woken for it. `consuming`, so the pool hands the job
    /// over without a copy (an implementation may still take it as a plain parameter).
    mutating func enqueue(_ job: consuming QueuedJob) -> DispatchTarget
    /// The next job for `worker`, or `nil` if it has nothing to do now.
    mutating func dequeue(for worker: WorkerID) -> QueuedJob?
    /// Removes the job to sacrifice when the queue overflows under ``OverflowPolicy/dropOldest``: the one
    /// that has waited longest, or for a priority queue the least urgent.
    mutating func evict() -> QueuedJob?
    /// Removes and returns every waiting job (for shutdown).
    mutating func removeAll() -> [QueuedJob]
    /// Tells the strategy the current set of workers after the pool grew or shrank.
    mutating func workersChanged(to workers: [WorkerID])
    /// Tells the strategy that `worker` finished `job` (whatever its outcome); returns a worker to wake if
    /// that made a waiting job runnable.
    mutating func jobFinished(_ job: QueuedJob, by worker: WorkerID) -> DispatchTarget?
    /// Which `count` of `workers` should leave when the pool shrinks, or `nil` to let the scaler choose
    /// (idle longest first). The keyed strategy retires its newest workers, so that consistent hashing
    /// moves only the keys it must.
    func workersToRetire(count: Int, from workers: [WorkerID]) -> [WorkerID]?
    /// The waiting jobs, by queue.
    func depths() -> QueueDepths
    /// Whether a worker may take several jobs at once when jobs are short (see
    /// ``PoolConfiguration/takeAhead``). Only for strategies where a worker's taking order is its running
    /// order and no job taken ahead waits on a job queued behind it: the shared FIFO and LIFO queues,
    /// per-worker queues with stealing, and the keyed strategy.
    var allowsTakingAhead: Bool { get }
    /// Takes back jobs a worker took ahead but could not start (it crashed), as if they had never left.
    /// `jobs` are in the order they were taken.
    mutating func putBack(_ jobs: [QueuedJob]) -> [DispatchTarget]
    /// The next job `worker` takes ahead, to run after the one it has (see ``allowsTakingAhead``), or `nil`
    /// to take no more. By default ``dequeue(for:)``; per-worker queues take only from the worker's own.
    mutating func takeAhead(for worker: WorkerID) -> QueuedJob?
    /// Whether an idle worker may run a job another worker took ahead (from the back of its run buffer), so
    /// no job taken ahead waits behind a long one while a worker is free. The keyed strategy says no: a
    /// key's jobs run on its worker, in order.
    var allowsMovingTakenJobs: Bool { get }
}

extension QueueStrategy {
    public mutating func workersChanged(to workers: [WorkerID]) {}
    public mutating func jobFinished(_ job: QueuedJob, by worker: WorkerID) -> DispatchTarget? { nil }
    public func workersToRetire(count: Int, from workers: [WorkerID]) -> [WorkerID]? { nil }
    public var allowsTakingAhead: Bool { false }
    public mutating func putBack(_ jobs: [QueuedJob]) -> [DispatchTarget] { jobs.map { enqueue($0) } }
    public mutating func takeAhead(for worker: WorkerID) -> QueuedJob? { dequeue(for: worker) }
    public var allowsMovingTakenJobs: Bool { true }
}

/// Which worker a newly queued job should wake.
public enum DispatchTarget: Sendable, Equatable {
    /// Any idle worker may take it.
    case anyWorker
    /// Only this worker may take it (it sits in that worker's own queue).
    case worker(WorkerID)
    /// This worker should take it, but if it is busy an idle worker may steal it.
    case preferring(WorkerID)
}

/// How many jobs wait, in the shared queue and in each worker's own queue.
public struct QueueDepths: Sendable, Equatable, Codable {
    /// Jobs in the queue that every worker takes from.
    public var shared: Int
    /// Jobs in each worker's own queue, for strategies that have them.
    public var perWorker: [WorkerID: Int]
    /// How many keys each worker owns, for the keyed strategy.
    public var ownedKeys: [WorkerID: Int]
    /// Jobs that workers have taken ahead from the queue and will run next (runs of short jobs; see
    /// ``PoolConfiguration/takeAhead``). They still wait, so they count in ``total``.
    public var takenAhead: Int
    /// Keyed strategy: how many known keys changed worker at the last change of workers.
    public var lastKeyMovement: KeyMovement?

    public init(shared: Int, perWorker: [WorkerID: Int] = [:], ownedKeys: [WorkerID: Int] = [:], takenAhead: Int = 0) {
        self.shared = shared
        self.perWorker = perWorker
        self.ownedKeys = ownedKeys
        self.takenAhead = takenAhead
    }

    /// All waiting jobs.
    public var total: Int { perWorker.values.reduce(shared + takenAhead, +) }
}

/// What one change of workers did to a keyed pool's keys: with jump consistent hash, growing from n to
/// n + 1 workers moves about 1/(n + 1) of them.
public struct KeyMovement: Sendable, Equatable, Codable {
    public var fromWorkers: Int
    public var toWorkers: Int
    /// Known keys whose worker changed.
    public var moved: Int
    /// Keys known then (up to ``KeyedQueues/trackedKeyLimit``).
    public var keys: Int

    public init(fromWorkers: Int, toWorkers: Int, moved: Int, keys: Int) {
        self.fromWorkers = fromWorkers
        self.toWorkers = toWorkers
        self.moved = moved
        self.keys = keys
    }

    /// Moved keys as a percentage of the known keys.
    public var movedPercent: Double { keys == 0 ? 0 : Double(moved) * 100 / Double(keys) }
}

/// A job waiting in (or taken from) a queue, with what the pool tracks about it.
public struct QueuedJob: Sendable {
    /// The job's number.
    public let id: JobID
    /// The job as submitted.
    public let job: Job
    /// Which attempt this is, from 1.
    public internal(set) var attempt: Int
    /// When the job was first submitted.
    public let submittedAt: PoolInstant
    /// When this attempt entered the queue.
    public internal(set) var enqueuedAt: PoolInstant
    /// Where the caller waits for the outcome, if it asked to.
    let outcome: OutcomeBox?
    /// Set when fault injection picked this attempt.
    var injectedFault: InjectedFault? = nil
    /// The keyed strategy's slot for this job's key while it waits or runs (-1: none), so that taking and
    /// finishing it hash nothing.
    var keySlot: Int32 = -1
    /// The life of that slot (slots are reused by other keys once idle), checked when the job comes back.
    var keyGeneration: UInt32 = 0
}

/// A worker's number, unique within one pool and never reused.
public struct WorkerID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (lhs: WorkerID, rhs: WorkerID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "w\(rawValue)" }
    /// The hash a `Dictionary` or `Set` uses: the number and the table's seed through SplitMix64's finaliser
    /// instead of SipHash. The pool's tables of workers are looked up several times per job, and SipHash
    /// was 5-6% of a dense waiting workload; the seed still keeps numbers someone else chose (a monitored
    /// pool's document) from piling into one bucket.
    public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: SeededRandom.mix(UInt64(bitPattern: Int64(rawValue)) ^ UInt64(bitPattern: Int64(seed))))
    }
}
