public import DequeModule
public import Synchronization

/// A job of a ``TypedPool`` while it waits: its input and when it entered the queue (0 unless the pool
/// records latencies, which is the only reader).
@usableFromInline
struct TypedEntry<Input: Sendable>: Sendable {
    @usableFromInline var input: Input
    @usableFromInline var enqueuedAt: Int64

    @inlinable init(_ input: Input, at enqueuedAt: Int64) {
        self.input = input
        self.enqueuedAt = enqueuedAt
    }
}

/// One worker's queue: its jobs, and the worker itself while it sleeps for lack of them. Keyed jobs are
/// *pinned*: only the owner takes them (so a key's jobs run on one worker, in order); the others may be
/// stolen by idle workers.
@usableFromInline
final class WorkerQueue<Input: Sendable>: Sendable {
    @usableFromInline
    struct State: Sendable {
        @usableFromInline var jobs = Deque<TypedEntry<Input>>()
        @usableFromInline var pinned = Deque<TypedEntry<Input>>()
        @usableFromInline var sleeper: UnsafeContinuation<WorkerWake, Never>?
        /// Set by a shutdown: nothing more is pushed, so nothing can land after the last count.
        @usableFromInline var closed = false
        /// Set while no worker owns this queue (a worker beyond the core ended, or has not started): a push
        /// is refused and goes to another queue.
        @usableFromInline var retired = false
        /// When the sleeping owner began to sleep, and whether a timer watches for its idle timeout.
        @usableFromInline var sleptAt = ContinuousClock.Instant.now
        @usableFromInline var idleTimerArmed = false
        /// The idle timer's task, cancelled by ``close()`` so that it does not keep a thread of the stopped
        /// pool until it ends.
        @usableFromInline var idleTimer: Task<Void, Never>?

        @usableFromInline init() {}

        @inlinable var isEmpty: Bool { jobs.isEmpty && pinned.isEmpty }
    }

    @usableFromInline init(retired: Bool = false) {
        state = Locked(State())
        if retired { state.withLock { $0.retired = true } }
    }

    @usableFromInline let state: Locked<State>
    /// Jobs others may steal, and pinned jobs (read without the lock).
    @usableFromInline let depth = Atomic<Int>(0)
    @usableFromInline let pinnedDepth = Atomic<Int>(0)

    /// Jobs waiting (read without the lock, for snapshots).
    @inlinable
    var count: Int { depth.load(ordering: .relaxed) + pinnedDepth.load(ordering: .relaxed) }

    /// Jobs another worker may steal (read without the lock, for choosing whom to steal from).
    @inlinable
    var stealableCount: Int { depth.load(ordering: .relaxed) }

    /// Whether jobs that others may take wait, read in the same total order as a sleeper's count (see
    /// ``TypedPool``'s wake-up of sleepers): a worker about to sleep sees a job pushed before its count was read.
    @inlinable
    var hasStealableJobs: Bool { depth.load(ordering: .sequentiallyConsistent) > 0 }

    /// Appends what fits under `capacity` (counting both kinds); returns how many did and whether that
    /// woke the sleeping owner. A retired queue takes nothing and says so (`retired`): the jobs go elsewhere.
    @inlinable
    func push(
        _ inputs: some Collection<Input>, at stamp: Int64, capacity: Int, pinned: Bool = false
    ) -> (taken: Int, wokeOwner: Bool, retired: Bool) {
        state.withLock { state -> (taken: Int, wokeOwner: Bool, retired: Bool) in
            if state.retired && !state.closed { return (0, false, true) }
            let room = state.closed ? 0 : max(capacity - state.jobs.count - state.pinned.count, 0)
            let taken = min(room, inputs.count)
            if pinned {
                for input in inputs.prefix(taken) { state.pinned.append(TypedEntry(input, at: stamp)) }
                pinnedDepth.store(state.pinned.count, ordering: .sequentiallyConsistent)
            } else {
                for input in inputs.prefix(taken) { state.jobs.append(TypedEntry(input, at: stamp)) }
                depth.store(state.jobs.count, ordering: .sequentiallyConsistent)
            }
            guard taken > 0 else { return (0, false, false) }
            return (taken, Self.resume(&state.sleeper), false)
        }
    }

    /// Resumes the sleeping owner, if any; whether there was one. Called with the lock held, so the owner's
    /// next take (which locks it too) is ordered after this resume by a lock ThreadSanitizer sees; the
    /// continuation's own handshake is in the uninstrumented runtime (see .ci/tsan-suppressions.txt).
    @inlinable
    static func resume(_ sleeper: inout UnsafeContinuation<WorkerWake, Never>?, with wake: WorkerWake = .work) -> Bool {
        guard let continuation = sleeper else { return false }
        sleeper = nil
        continuation.resume(returning: wake)
        return true
    }

    /// Wakes the owner if it sleeps (to take from a busy worker's queue); whether it did.
    @inlinable
    func wakeIfAsleep() -> Bool {
        state.withLock { Self.resume(&$0.sleeper) }
    }

    /// The owner's take: up to `max` jobs, pinned ones first, oldest first, into `batch`.
    @inlinable
    func take(into batch: inout [TypedEntry<Input>], max: Int) -> Int {
        state.withLock { state in
            let fromPinned = Swift.min(max, state.pinned.count)
            for _ in 0..<fromPinned { batch.append(state.pinned.removeFirst()) }
            let fromJobs = Swift.min(max - fromPinned, state.jobs.count)
            for _ in 0..<fromJobs { batch.append(state.jobs.removeFirst()) }
            if fromPinned > 0 { pinnedDepth.store(state.pinned.count, ordering: .relaxed) }
            depth.store(state.jobs.count, ordering: .relaxed)
            return fromPinned + fromJobs
        }
    }

    /// Another worker's take: up to `max` of the jobs that are not pinned.
    @inlinable
    func steal(into batch: inout [TypedEntry<Input>], max: Int) -> Int {
        state.withLock { state in
            let count = Swift.min(max, state.jobs.count)
            for _ in 0..<count { batch.append(state.jobs.removeFirst()) }
            depth.store(state.jobs.count, ordering: .relaxed)
            return count
        }
    }

    /// Sleeps until a job is pushed, a submitter wakes it to take from a busy queue, or the queue is
    /// closed: `.work` when jobs may wait here or, by `othersHaveWork`, elsewhere (also while draining, so
    /// an idle worker helps with a busy one's queue); `.finished` once it is closed and nothing waits
    /// anywhere. With `idleTimeout`, `.idle` after sleeping that long (see ``watchIdle(_:executor:)``).
    @inlinable
    func waitForWork(
        idleTimeout: Duration? = nil, executor: DedicatedThreadExecutor? = nil, othersHaveWork: () -> Bool
    ) async -> WorkerWake {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<WorkerWake, Never>) in
            let (answer, armTimer) = state.withLock { state -> (WorkerWake?, Bool) in
                if !state.isEmpty || othersHaveWork() { return (.work, false) }
                if state.closed { return (.finished, false) }
                state.sleeper = continuation
                guard idleTimeout != nil else { return (nil, false) }
                state.sleptAt = .now
                defer { state.idleTimerArmed = true }
                return (nil, !state.idleTimerArmed)
            }
            if let answer { continuation.resume(returning: answer) }
            if armTimer, let idleTimeout { watchIdle(idleTimeout, executor: executor) }
        }
    }

    /// The owner's idle timer: wakes it with `.idle` once it has slept `timeout` in one go. One per queue at
    /// a time: it looks again when the owner slept again meanwhile, and ends when the owner is at work (the
    /// owner's next sleep starts another).
    @usableFromInline
    func watchIdle(_ timeout: Duration, executor: DedicatedThreadExecutor?) {
        let timer = Task(executorPreference: executor) { [self] in
            var wait = timeout
            while true {
                do {
                    try await SleepWheel.sleepOnCurrentPool(for: wait)
                } catch {
                    // Cancelled by close(): the owner was woken there and never sleeps again.
                    state.withLock { $0.idleTimerArmed = false }
                    return
                }
                let next = state.withLock { state -> Duration? in
                    guard state.sleeper != nil else {
                        state.idleTimerArmed = false
                        return nil
                    }
                    let slept = ContinuousClock.Instant.now - state.sleptAt
                    if slept < timeout { return timeout - slept }
                    state.idleTimerArmed = false
                    _ = Self.resume(&state.sleeper, with: .idle)
                    return nil
                }
                guard let next else { return }
                wait = next
            }
        }
        // A close() since the timer started found no timer to cancel: cancel it here.
        let closed = state.withLock { state -> Bool in
            if !state.closed { state.idleTimer = timer }
            return state.closed
        }
        if closed { timer.cancel() }
    }

    /// Retires the queue if it is empty (its owner ends): pushes are refused from now on. `false` if a job
    /// arrived meanwhile or a shutdown closed it.
    @usableFromInline
    func retireIfEmpty() -> Bool {
        state.withLock { state in
            guard state.isEmpty && !state.closed else { return false }
            state.retired = true
            return true
        }
    }

    /// Takes pushes again (a new owner starts).
    @usableFromInline
    func reopen() {
        state.withLock { $0.retired = false }
    }

    /// Refuses every later push and wakes the owner if it sleeps (a shutdown began).
    @inlinable
    func close() {
        let timer = state.withLock { state in
            state.closed = true
            _ = Self.resume(&state.sleeper)
            defer { state.idleTimer = nil }
            return state.idleTimer
        }
        timer?.cancel()
    }

    /// Empties the queue; returns how many jobs it held.
    @inlinable
    func removeAll() -> Int {
        state.withLock { state in
            defer {
                state.jobs.removeAll(keepingCapacity: true)
                state.pinned.removeAll(keepingCapacity: true)
                depth.store(0, ordering: .relaxed)
                pinnedDepth.store(0, ordering: .relaxed)
            }
            return state.jobs.count + state.pinned.count
        }
    }
}

/// Why a sleeping worker of a ``TypedPool`` woke.
@usableFromInline
enum WorkerWake: Sendable {
    /// Jobs may wait (here or elsewhere), or a submitter asked it to look.
    case work
    /// The queue is closed and nothing is left anywhere: the worker ends.
    case finished
    /// It slept its idle timeout in one go: a worker beyond the core may end.
    case idle
}

/// How a worker's batch ended, job by job: the rules every batch loop (async, synchronous, and with
/// retries, timeouts or latencies) shares.
@usableFromInline
struct BatchTally {
    @usableFromInline var done = 0
    @usableFromInline var failed = 0
    @usableFromInline var stopped = 0
    /// Attempts that failed and were tried again, and attempts that ran out of time (not terminal states).
    @usableFromInline var retried = 0
    @usableFromInline var timedOut = 0

    @inlinable init() {}

    /// Whether the next job may start: not once the pool is cancelling (phase 2), when it counts as stopped.
    @inlinable
    mutating func mayStart(_ phase: borrowing Atomic<Int>) -> Bool {
        guard phase.load(ordering: .relaxed) == 2 else { return true }
        stopped += 1
        return false
    }

    /// A job threw: a failure, or, when the pool is cancelling, the cancellation it was told of. Whether it
    /// was a failure (to be dead-lettered).
    @inlinable
    mutating func failedOrStopped(_ phase: borrowing Atomic<Int>) -> Bool {
        if phase.load(ordering: .acquiring) == 2 {
            stopped += 1
            return false
        }
        failed += 1
        return true
    }
}
