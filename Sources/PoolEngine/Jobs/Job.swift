/// A unit of work for a ``WorkerPool``: an async throwing closure with optional routing and limits.
///
/// The closure should check for cancellation when it can (`try Task.checkCancellation()`, or any
/// cancellable `await`): timeouts and immediate shutdown work by cancelling it.
public struct Job: Sendable {
    /// A job's work: `nonisolated(nonsending)`, so it runs on the worker that calls it, with no executor
    /// switch.
    public typealias Work = nonisolated(nonsending) @Sendable () async throws -> Void

    /// Jobs with the same key are related (the keyed strategy runs them on one worker, in order). Keys are
    /// compared by their UTF-8 bytes (two spellings of "é" are two keys), as the hash that places them. Kept in
    /// line: a key of up to 15 UTF-8 bytes is stored in the job itself, so a keyed job allocates nothing
    /// for its key and copying it retains nothing.
    public var key: String?
    /// Higher runs sooner under a priority strategy; other strategies ignore it.
    public var priority: Int {
        get { extras?.priority ?? 0 }
        set { extras = Extras.make(priority: newValue, timeout: timeout, wait: pooledWait) }
    }
    /// The longest one attempt may run before it is cancelled and counted as timed out; `nil` uses the
    /// pool's ``PoolConfiguration/defaultTimeout``.
    public var timeout: Duration? {
        get { extras?.timeout }
        set { extras = Extras.make(priority: priority, timeout: newValue, wait: pooledWait) }
    }
    /// Set for a job made by ``waiting(for:key:priority:timeout:start:then:)``: its wait, which the pool owns.
    var pooledWait: PooledWait? { extras?.wait }
    /// The work itself. Setting it on a job made by ``waiting(for:key:priority:timeout:start:then:)`` makes it a
    /// job like any other, which runs this.
    public var work: Work {
        get { body ?? pooledWait?.work(on: nil) ?? Self.doNothing }
        set {
            body = newValue
            if pooledWait != nil { extras = Extras.make(priority: priority, timeout: timeout, wait: nil) }
        }
    }
    /// `nil` for a job made by ``waiting(for:key:priority:timeout:start:then:)``: its work is made from its
    /// wait only when something asks for it, so a wait the pool owns allocates no closure.
    private var body: Work?
    /// Never a job's work: a job has a body or a wait.
    private static let doNothing: Work = {}
    /// Priority and timeout, kept out of line and absent when both are defaults: a plain job is then five
    /// words, which is what a queue of a million of them costs per job.
    private var extras: Extras?

    public init(
        key: String? = nil,
        priority: Int = 0,
        timeout: Duration? = nil,
        _ work: nonisolated(nonsending) @escaping @Sendable () async throws -> Void
    ) {
        self.body = work
        self.key = key
        self.extras = Extras.make(priority: priority, timeout: timeout, wait: nil)
    }

    /// A job that waits `duration` on the pool's clock and then calls `then` (its error fails the attempt),
    /// as a simulated job or a stand-in for I/O does; `start` is called as each attempt begins.
    ///
    /// The pool owns the wait. On its own threads (``WorkerExecutor/dedicatedThreads(_:)``, the default)
    /// with a clock that can tell how long a wait lasts in real time (``PoolClock/wallDelay(until:)``), a
    /// worker handed such a job while waiting for work keeps waiting: a timer in the pool's threads ends the
    /// job and hands the worker its next one, and no task is resumed for the job at all. Anywhere else it runs
    /// as a closure that sleeps on the pool's clock (its ``work``, called directly, sleeps in real time). Either
    /// way it is counted, retried, timed out (the timeout
    /// ends the wait early), cancelled by a shutdown and measured like any other job. `start` and `then` run
    /// under no lock of the pool's, on whichever thread begins or ends the wait: keep them short.
    public static func waiting(
        for duration: Duration, key: String? = nil, priority: Int = 0, timeout: Duration? = nil,
        start: (@Sendable () -> Void)? = nil, then finish: @escaping @Sendable () throws -> Void
    ) -> Job {
        Job(key: key, wait: PooledWait(duration: duration, start: start, finish: finish), priority: priority, timeout: timeout)
    }

    private init(key: String?, wait: PooledWait, priority: Int, timeout: Duration?) {
        self.body = nil
        self.key = key
        self.extras = Extras.make(priority: priority, timeout: timeout, wait: wait)
    }

    private final class Extras: Sendable {
        let priority: Int
        let timeout: Duration?
        let wait: PooledWait?

        private init(priority: Int, timeout: Duration?, wait: PooledWait?) {
            self.priority = priority
            self.timeout = timeout
            self.wait = wait
        }

        static func make(priority: Int, timeout: Duration?, wait: PooledWait?) -> Extras? {
            priority == 0 && timeout == nil && wait == nil ? nil : Extras(priority: priority, timeout: timeout, wait: wait)
        }
    }
}

/// What a job made by ``Job/waiting(for:key:priority:timeout:start:then:)`` does: wait, then finish.
struct PooledWait: Sendable {
    let duration: Duration
    let start: (@Sendable () -> Void)?
    let finish: @Sendable () throws -> Void

    /// The same job as a closure that sleeps on `clock` (how a worker runs it in its task), or with no clock
    /// in the current pool's timers (``SleepWheel/sleepOnCurrentPool(for:)``, real time; ``Job/work``).
    func work(on clock: (any PoolClock)?) -> Job.Work {
        { [self] in
            start?()
            if let clock {
                try await clock.sleep(for: duration)
            } else {
                try await SleepWheel.sleepOnCurrentPool(for: duration)
            }
            try finish()
        }
    }
}

/// A pool-unique number given to each submitted job, in submission order.
public struct JobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "#\(rawValue)" }
}

/// The pool's immediate answer to a submission.
public enum Admission: Sendable, Equatable {
    /// The job is in the pool and will end in exactly one ``JobOutcome``.
    case accepted(JobID)
    /// The job was refused and will not run.
    case rejected(RejectionReason)

    /// Whether the job was accepted.
    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }
}

/// Why a job was refused, or dropped after being accepted.
public enum RejectionReason: String, Error, Sendable, Equatable, CustomStringConvertible, Codable {
    /// The queue was at capacity.
    case queueFull
    /// The queue was full and this job, the oldest waiting, made room for a newer one.
    case droppedOldest
    /// The pool is shutting down or has shut down.
    case shuttingDown
    /// The circuit breaker is open.
    case circuitOpen

    public var description: String {
        switch self {
        case .queueFull: "queue full"
        case .droppedOldest: "dropped as oldest"
        case .shuttingDown: "pool shutting down"
        case .circuitOpen: "circuit open"
        }
    }
}

/// The one terminal state a job ends in.
public enum JobOutcome: Sendable, Equatable {
    /// An attempt returned normally.
    case completed(attempts: Int)
    /// Every allowed attempt failed; the job was dead-lettered.
    case failed(attempts: Int, lastError: String, timedOut: Bool)
    /// Refused at admission, or dropped from the queue to make room.
    case rejected(RejectionReason)
    /// Cancelled by shutdown before it could finish.
    case cancelled
}
