import DequeModule
import Synchronization

/// How one attempt of a job ended.
@usableFromInline
enum AttemptResult: Sendable {
    case success
    case failure(error: String, timedOut: Bool)

    /// The error in words (nil on success), and whether the attempt ran out of time.
    @inlinable
    var errorAndTimeout: (error: String?, timedOut: Bool) {
        switch self {
        case .success: (nil, false)
        case .failure(let error, let timedOut): (error, timedOut)
        }
    }

    /// Runs `work` once: success, or its error in words. `nonisolated(nonsending)`: it runs on the caller's
    /// executor (a worker's thread), with no hop.
    nonisolated(nonsending) static func of(_ work: Job.Work) async -> AttemptResult {
        do {
            try await work()
            return .success
        } catch {
            return .failure(error: String(describing: error), timedOut: false)
        }
    }

    /// Runs `work` as a child task raced by a timer child that sleeps `timeout` with `sleep`; the first to
    /// end decides, and the other is cancelled (cancellation is cooperative: the group still waits for a
    /// job that ignores it). The timer prefers the shared pool, so it fires even while every worker thread
    /// is busy. Both pools' timeouts (``WorkerPool``, ``TypedPool``) go through here.
    @usableFromInline
    nonisolated(nonsending) static func racing(
        _ work: @escaping Job.Work, timeout: Duration, sleep: @escaping @Sendable (Duration) async throws -> Void
    ) async -> AttemptResult {
        await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask { await AttemptResult.of(work) }
            group.addTask(executorPreference: globalConcurrentExecutor) {
                do {
                    try await sleep(timeout)
                    return .failure(error: "timed out after \(formatted(timeout))", timedOut: true)
                } catch {
                    return nil
                }
            }
            while let result = await group.next() {
                if let result {
                    group.cancelAll()
                    return result
                }
            }
            return .failure(error: "cancelled", timedOut: false)
        }
    }
}

/// What a worker does next.
enum WorkerStep {
    /// Run this job.
    case run(QueuedJob)
    /// Run the jobs just put in the worker's own buffer (a job, and maybe more taken ahead of it).
    case runTaken
    /// Wait for work.
    case park
    /// Wait for the rate limiter's next token, then look again.
    case sleep(until: PoolInstant)
    /// Stop.
    case exit
}

/// The throttled worker's sleep until the rate limiter's next token, as the core knows it.
///
/// The sleep is the worker's to start (outside the lock), so it is told to the core in two steps; an early
/// end asked for between them is kept and applied when the sleep arrives.
enum ThrottleSleep {
    case none
    /// The core told a worker to sleep; its sleep is not registered yet. `interrupted`: end it at once.
    case starting(interrupted: Bool)
    case sleeping(Task<Void, Never>)
}

/// What a worker found when it looked for a job.
enum TakeResult {
    case job(QueuedJob)
    /// Jobs wait, but the rate limiter has no token until then.
    case throttled(until: PoolInstant)
    case nothing
}

/// The jobs a worker has taken ahead of the one it runs, in running order, and when its current job began.
///
/// The owner pops from the front holding only the buffer's lock; everything else (filling it, other
/// workers taking jobs back, shutdown cancelling what is left) happens under the pool's lock first, so the
/// lock order is always pool, then buffer.
final class RunBuffer: Sendable {
    let jobs = Locked(Deque<QueuedJob>())
    /// While the buffer holds jobs: when the owner last made progress (took the run, or began a job of
    /// it), in machine monotonic nanoseconds; 0 otherwise.
    let currentJobStart = Atomic<Int64>(0)
}

/// A caller of ``WorkerPool/submit(_:)`` waiting for space in a full queue.
struct BlockedSubmitter {
    let job: Job
    let box: OutcomeBox?
    let continuation: CheckedContinuation<Admission, Never>
}

/// Side effects that the pool's state machine asks its owner to carry out once the lock is released.
struct Effects {
    /// The instant of the event being handled.
    let now: PoolInstant
    /// The machine's monotonic clock in nanoseconds, what workers stamp their run progress with (see
    /// ``RunBuffer/currentJobStart``): a clock, not a reading, so the core reads it under the pool's lock
    /// (a reading taken before a long wait for the lock would make a fresh buffer look stalled).
    let machineNanoseconds: @Sendable () -> Int64
    /// Parked workers to resume with a step (the worker is named when the step may be a job: a wait the
    /// pool owns starts without resuming it).
    var resumeWorkers = InlineFirstList<(worker: WorkerID?, continuation: UnsafeContinuation<WorkerStep, Never>, step: WorkerStep)>()
    var resumeSubmitters: [(CheckedContinuation<Admission, Never>, Admission)] = []
    var outcomes: [(OutcomeBox, JobOutcome)] = []
    var events: [PoolEvent.Kind] = []
    var startWorkers: [WorkerID] = []
    var scheduleRetries: [(JobID, Duration)] = []
    var cancelTasks: [Task<Void, Never>] = []
    /// Waits the pool owns to end now as cancelled (a shutdown's deadline, a crash).
    var cancelWaits: [OwnedWait] = []
    var signals: [CheckedContinuation<Void, Never>] = []

    init(now: PoolInstant, machineNanoseconds: @escaping @Sendable () -> Int64 = WorkerRun.monotonicNanoseconds) {
        self.now = now
        self.machineNanoseconds = machineNanoseconds
    }
}

/// A list whose first element is kept in line: the core's effects have one for the workers an event
/// resumes, which is at most one for most events and happens once per job on a pool whose workers wait for
/// work. An array would allocate for that one.
struct InlineFirstList<Element> {
    private var first: Element?
    private var rest: [Element] = []

    var isEmpty: Bool { first == nil }
    var count: Int { first == nil ? 0 : 1 + rest.count }

    mutating func append(_ element: Element) {
        if first == nil { first = element } else { rest.append(element) }
    }

    /// Each element, in the order appended.
    func forEach(_ body: (Element) -> Void) {
        guard let first else { return }
        body(first)
        rest.forEach(body)
    }
}
