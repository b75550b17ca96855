public import DequeModule
public import Foundation
public import Synchronization

/// A pool with one handler for all its jobs, beside the closure API as ants' `PoolWithFunc` is beside
/// `Submit` in Go: a job is a plain value (`Input`), not a closure, so submitting one allocates nothing.
/// Jobs go to per-worker queues (round-robin, a batch at a time) that workers empty a batch at a time, one
/// trip through a queue's lock per batch; a worker whose queue is empty takes half of the fullest other
/// queue before it sleeps.
///
/// A handler that never waits (CPU work) is best given as a synchronous one (a closure without `await`
/// picks ``init(workers:capacityPerWorker:batchSize:synchronousHandler:)``): jobs are then called in a
/// plain loop, several times cheaper than an async call each on tiny jobs (BENCHMARKS.md).
///
/// ```swift
/// let pool = TypedPool<Int>(workers: 4) { id in try await process(id) }
/// pool.trySubmit(contentsOf: ids)
/// let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
/// ```
///
/// Every job ends in exactly one of completed, failed (the handler threw), rejected (full or shutting
/// down) or cancelled (a shutdown's deadline), as in ``WorkerPool``. A worker's batch is its own: a job
/// that blocks holds the rest of its batch (up to `batchSize - 1` jobs) until it returns, so give jobs that
/// may block for long `batchSize: 1`. This first form has a fixed number of workers and no retries,
/// timeouts or latency histograms: the closure pool has those.
public final class TypedPool<Input: Sendable>: Sendable {
    /// What every job runs.
    /// `nonisolated(nonsending)`, like a closure job's work: it runs on the worker's thread, with no executor
    /// switch per job.
    public typealias Handler = nonisolated(nonsending) @Sendable (Input) async throws -> Void
    /// What every job runs, when it never waits (CPU work): called in a plain loop, with none of an async
    /// call's costs (a frame from the task's allocator, and a check of the executor on return that takes the
    /// task's status lock), which on no-op jobs are most of the pool's cost.
    public typealias SynchronousHandler = @Sendable (Input) throws -> Void

    @usableFromInline
    enum Body: Sendable {
        case asynchronous(Handler)
        case synchronous(SynchronousHandler)
    }

    @usableFromInline let queues: [WorkerQueue<Input>]
    @usableFromInline let body: Body
    @usableFromInline let capacityPerWorker: Int
    @usableFromInline let batchSize: Int
    @usableFromInline let executor: DedicatedThreadExecutor
    // Locked (a pthread mutex), not Mutex: ThreadSanitizer does not see Mutex's futex calls (see Locked).
    @usableFromInline let tasks = Locked<[Task<Void, Never>]>([])
    @usableFromInline let nextQueue = Atomic<Int>(0)
    /// 0 running, 1 draining (no new jobs), 2 cancelling (what waits is cancelled, running jobs are told).
    @usableFromInline let phase = Atomic<Int>(0)
    @usableFromInline let shutdownStarted = Atomic<Bool>(false)
    /// Workers about to sleep or asleep: a submitter that fills a busy worker's queue wakes one of them to
    /// take half of it.
    @usableFromInline let sleepers = Atomic<Int>(0)
    /// Calls of `trySubmit` between their first count and their last: a shutdown waits for them, so its
    /// report counts every offer it includes to its end.
    @usableFromInline let submitting = Atomic<Int>(0)
    @usableFromInline let submitted = Atomic<Int>(0)
    @usableFromInline let rejected = Atomic<Int>(0)
    @usableFromInline let completed = Atomic<Int>(0)
    @usableFromInline let failed = Atomic<Int>(0)
    @usableFromInline let cancelled = Atomic<Int>(0)

    /// A pool of `workers` workers on threads of its own (one per worker, at most one per core), each with
    /// a queue of up to `capacityPerWorker` waiting jobs, running jobs `batchSize` at a time.
    @inlinable
    public convenience init(workers: Int, capacityPerWorker: Int = 65_536, batchSize: Int = 64, handler: @escaping Handler) {
        self.init(workers: workers, capacityPerWorker: capacityPerWorker, batchSize: batchSize, body: .asynchronous(handler))
    }

    /// A pool whose handler never waits (CPU work): the same pool, with jobs called in a plain loop. A
    /// closure without `await` picks this initialiser.
    @inlinable
    public convenience init(
        workers: Int, capacityPerWorker: Int = 65_536, batchSize: Int = 64, synchronousHandler handler: @escaping SynchronousHandler
    ) {
        self.init(workers: workers, capacityPerWorker: capacityPerWorker, batchSize: batchSize, body: .synchronous(handler))
    }

    @inlinable
    init(workers: Int, capacityPerWorker: Int, batchSize: Int, body: Body) {
        let workers = max(workers, 1)
        self.body = body
        self.capacityPerWorker = max(capacityPerWorker, 1)
        self.batchSize = max(batchSize, 1)
        queues = (0..<workers).map { _ in WorkerQueue<Input>() }
        executor = DedicatedThreadExecutor(
            threadCount: min(workers, ProcessInfo.processInfo.activeProcessorCount), name: "poolscope-typed")
        let started = (0..<workers).map { index in
            Task(executorPreference: executor) { [self] in await runWorker(index) }
        }
        tasks.withLock { $0 = started }
    }

    /// The counts so far; balanced once the pool has shut down.
    @inlinable
    public var counters: JobCounters {
        var counters = JobCounters()
        counters.submitted = submitted.load(ordering: .acquiring)
        counters.rejected = rejected.load(ordering: .acquiring)
        counters.completed = completed.load(ordering: .acquiring)
        counters.failed = failed.load(ordering: .acquiring)
        counters.cancelled = cancelled.load(ordering: .acquiring)
        return counters
    }

    /// Jobs waiting in each worker's queue.
    @inlinable
    public var queueDepths: [Int] { queues.map(\.count) }

    /// Offers one job; `false` if it was rejected (the chosen worker's queue is full, or the pool is
    /// shutting down).
    @inlinable @discardableResult
    public func trySubmit(_ input: Input) -> Bool {
        trySubmit(contentsOf: CollectionOfOne(input)) == 1
    }

    /// Offers jobs in order, a batch per worker queue in turn; returns how many were accepted (the rest
    /// were rejected and counted).
    @inlinable @discardableResult
    public func trySubmit<Inputs: Collection>(contentsOf inputs: Inputs) -> Int where Inputs.Element == Input {
        let total = inputs.count
        guard total > 0 else { return 0 }
        // Announced before the phase is read (both in one total order with the shutdown's store and read),
        // so a shutdown either sees this call and waits for it, or this call sees the shutdown.
        submitting.add(1, ordering: .sequentiallyConsistent)
        defer { submitting.subtract(1, ordering: .sequentiallyConsistent) }
        submitted.add(total, ordering: .relaxed)
        guard phase.load(ordering: .sequentiallyConsistent) == 0 else {
            rejected.add(total, ordering: .relaxed)
            return 0
        }
        var accepted = 0
        var start = inputs.startIndex
        while start != inputs.endIndex {
            let end = inputs.index(start, offsetBy: batchSize * 4, limitedBy: inputs.endIndex) ?? inputs.endIndex
            let queue = queues[nextQueue.add(1, ordering: .relaxed).oldValue % queues.count]
            let (taken, wokeOwner) = queue.push(inputs[start..<end], capacity: capacityPerWorker)
            accepted += taken
            start = end
            // Its owner is busy, or has more than a batch to do: a sleeping worker, if any, comes to take
            // half (none sleep under full load, and then this costs one atomic read).
            if taken > 0 && (!wokeOwner || taken > batchSize) { wakeASleeper(besides: queue) }
        }
        if accepted < total { rejected.add(total - accepted, ordering: .relaxed) }
        return accepted
    }

    @inlinable
    func runWorker(_ index: Int) async {
        let own = queues[index]
        var batch: [Input] = []
        batch.reserveCapacity(batchSize)
        while true {
            if own.take(into: &batch, max: batchSize) == 0 && steal(into: &batch, for: index) == 0 {
                // Nothing anywhere: stop once the own queue is closed (a shutdown) and empty, else sleep
                // until a job arrives.
                sleepers.add(1, ordering: .sequentiallyConsistent)
                let more = await own.waitForWork { self.queues.contains { $0 !== own && $0.hasJobs } }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                if more { continue }
                return
            }
            // More than this batch waits here: a sleeping worker comes to share it (and so on, one by one).
            if own.count > 0 { wakeASleeper(besides: own) }
            let (done, threw, stopped) = await run(batch)
            batch.removeAll(keepingCapacity: true)
            if done > 0 { completed.add(done, ordering: .releasing) }
            if threw > 0 { failed.add(threw, ordering: .releasing) }
            if stopped > 0 { cancelled.add(stopped, ordering: .releasing) }
        }
    }

    /// Runs a batch; returns how many completed, threw, and were cancelled. A function of its own so that
    /// the handler's frames come after this one's in the task's allocator: called once per batch, it may
    /// take a new slab of the allocator at most once per batch, never once per job.
    @inlinable
    nonisolated(nonsending) func run(_ batch: [Input]) async -> (done: Int, threw: Int, stopped: Int) {
        let handler: Handler
        switch body {
        case .synchronous(let handler): return runSynchronously(batch, handler)
        case .asynchronous(let asynchronous): handler = asynchronous
        }
        var tally = BatchTally()
        for input in batch {
            guard tally.mayStart(phase) else { continue }
            do {
                try await handler(input)
                tally.done += 1
            } catch {
                tally.failedOrStopped(phase)
            }
        }
        return (tally.done, tally.failed, tally.stopped)
    }

    /// ``run(_:)`` for a synchronous handler.
    @inlinable
    func runSynchronously(_ batch: [Input], _ handler: SynchronousHandler) -> (done: Int, threw: Int, stopped: Int) {
        var tally = BatchTally()
        for input in batch {
            guard tally.mayStart(phase) else { continue }
            do {
                try handler(input)
                tally.done += 1
            } catch {
                tally.failedOrStopped(phase)
            }
        }
        return (tally.done, tally.failed, tally.stopped)
    }

    /// Wakes one sleeping worker other than `queue`'s owner, if any sleeps, to take from the busy queues.
    @inlinable
    func wakeASleeper(besides queue: WorkerQueue<Input>) {
        guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
        for other in queues where other !== queue && other.wakeIfAsleep() { return }
    }

    /// Takes up to half of the fullest other queue.
    @inlinable
    func steal(into batch: inout [Input], for index: Int) -> Int {
        guard queues.count > 1 else { return 0 }
        var victim: WorkerQueue<Input>?
        var depth = 0
        for (other, queue) in queues.enumerated() where other != index {
            let count = queue.count
            if count > depth { (victim, depth) = (queue, count) }
        }
        guard let victim else { return 0 }
        return victim.take(into: &batch, max: min(batchSize, max(depth / 2, 1)))
    }

    /// Stops admitting jobs and waits for the workers. A graceful shutdown lets the queued jobs run until
    /// its deadline, then cancels what is left; an immediate one cancels at once. The report's counts
    /// balance: every job submitted ended in exactly one state.
    @inlinable
    public func shutdown(_ mode: ShutdownMode) async -> JobCounters {
        guard !shutdownStarted.exchange(true, ordering: .acquiringAndReleasing) else {
            // An immediate shutdown asked for during a graceful one cancels what is left now.
            if case .immediate = mode { cancelRemaining() }
            await waitForWorkers()
            await waitForSubmitters()
            return counters
        }
        phase.store(1, ordering: .sequentiallyConsistent)
        for queue in queues { queue.close() }
        switch mode {
        case .graceful(let deadline):
            // At the deadline what is left is cancelled; the workers then stop, and the wait below ends.
            let deadlineTimer = Task {
                try await Task.sleep(for: deadline)
                self.cancelRemaining()
            }
            await waitForWorkers()
            deadlineTimer.cancel()
        case .immediate:
            cancelRemaining()
        }
        await waitForWorkers()
        executor.stop()
        // The queues were closed before the workers could stop, and workers stop only with nothing left
        // to take: this finds nothing, but the balance must not depend on that reasoning.
        let left = queues.reduce(0) { $0 + $1.removeAll() }
        if left > 0 { cancelled.add(left, ordering: .releasing) }
        await waitForSubmitters()
        return counters
    }

    /// Waits for calls of `trySubmit` that began before the shutdown (they find the queues closed and
    /// count their jobs as rejected).
    @inlinable
    func waitForSubmitters() async {
        while submitting.load(ordering: .sequentiallyConsistent) > 0 { await Task.yield() }
    }

    @inlinable
    func cancelRemaining() {
        phase.store(2, ordering: .sequentiallyConsistent)
        let left = queues.reduce(0) { $0 + $1.removeAll() }
        if left > 0 { cancelled.add(left, ordering: .releasing) }
        for task in tasks.withLock({ $0 }) { task.cancel() }
        for queue in queues { queue.close() }
    }

    @inlinable
    func waitForWorkers() async {
        for task in tasks.withLock({ $0 }) { await task.value }
    }
}

/// One worker's queue: its jobs, and the worker itself while it sleeps for lack of them.
@usableFromInline
final class WorkerQueue<Input: Sendable>: Sendable {
    @usableFromInline
    struct State: Sendable {
        @usableFromInline var jobs = Deque<Input>()
        @usableFromInline var sleeper: UnsafeContinuation<Bool, Never>?
        /// Set by a shutdown: nothing more is pushed, so nothing can land after the last count.
        @usableFromInline var closed = false

        @usableFromInline init() {}
    }

    @usableFromInline init() {}

    @usableFromInline let state = Locked(State())
    @usableFromInline let depth = Atomic<Int>(0)

    /// Jobs waiting (read without the lock: for choosing whom to steal from, and for snapshots).
    @inlinable
    var count: Int { depth.load(ordering: .relaxed) }

    /// Whether jobs wait, read in the same total order as a sleeper's count (see ``TypedPool``'s wake-up
    /// of sleepers): a worker about to sleep sees a job pushed before its count was read.
    @inlinable
    var hasJobs: Bool { depth.load(ordering: .sequentiallyConsistent) > 0 }

    /// Appends what fits under `capacity`; returns how many did and whether that woke the sleeping owner.
    @inlinable
    func push(_ inputs: some Collection<Input>, capacity: Int) -> (taken: Int, wokeOwner: Bool) {
        let (taken, sleeper) = state.withLock { state -> (Int, UnsafeContinuation<Bool, Never>?) in
            let room = state.closed ? 0 : max(capacity - state.jobs.count, 0)
            let taken = min(room, inputs.count)
            state.jobs.append(contentsOf: inputs.prefix(taken))
            depth.store(state.jobs.count, ordering: .sequentiallyConsistent)
            defer { if taken > 0 { state.sleeper = nil } }
            return (taken, taken > 0 ? state.sleeper : nil)
        }
        sleeper?.resume(returning: true)
        return (taken, sleeper != nil)
    }

    /// Wakes the owner if it sleeps (to take from a busy worker's queue); whether it did.
    @inlinable
    func wakeIfAsleep() -> Bool {
        let sleeper = state.withLock { state -> UnsafeContinuation<Bool, Never>? in
            defer { state.sleeper = nil }
            return state.sleeper
        }
        sleeper?.resume(returning: true)
        return sleeper != nil
    }

    /// Moves up to `max` jobs, oldest first, into `batch`.
    @inlinable
    func take(into batch: inout [Input], max: Int) -> Int {
        state.withLock { state in
            let count = Swift.min(max, state.jobs.count)
            for _ in 0..<count { batch.append(state.jobs.removeFirst()) }
            depth.store(state.jobs.count, ordering: .relaxed)
            return count
        }
    }

    /// Sleeps until a job is pushed, a submitter wakes it to take from a busy queue, or the queue is
    /// closed; `true` when jobs may wait here or, by `othersHaveWork`, elsewhere (also while draining, so
    /// an idle worker helps with a busy one's queue); `false` once it is closed and nothing waits anywhere.
    @inlinable
    func waitForWork(othersHaveWork: () -> Bool) async -> Bool {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
            let answer = state.withLock { state -> Bool? in
                if !state.jobs.isEmpty || othersHaveWork() { return true }
                if state.closed { return false }
                state.sleeper = continuation
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    /// Refuses every later push and wakes the owner if it sleeps (a shutdown began).
    @inlinable
    func close() {
        state.withLock { state -> UnsafeContinuation<Bool, Never>? in
            state.closed = true
            defer { state.sleeper = nil }
            return state.sleeper
        }?.resume(returning: true)
    }

    /// Empties the queue; returns how many jobs it held.
    @inlinable
    func removeAll() -> Int {
        state.withLock { state in
            defer {
                state.jobs.removeAll(keepingCapacity: true)
                depth.store(0, ordering: .relaxed)
            }
            return state.jobs.count
        }
    }
}

/// How a worker's batch ended, job by job: the rules both batch loops (async and synchronous handler) share.
@usableFromInline
struct BatchTally {
    @usableFromInline var done = 0
    @usableFromInline var failed = 0
    @usableFromInline var stopped = 0

    @inlinable init() {}

    /// Whether the next job may start: not once the pool is cancelling (phase 2), when it counts as stopped.
    @inlinable
    mutating func mayStart(_ phase: borrowing Atomic<Int>) -> Bool {
        guard phase.load(ordering: .relaxed) == 2 else { return true }
        stopped += 1
        return false
    }

    /// A job threw: a failure, or, when the pool is cancelling, the cancellation it was told of.
    @inlinable
    mutating func failedOrStopped(_ phase: borrowing Atomic<Int>) {
        if phase.load(ordering: .acquiring) == 2 { stopped += 1 } else { failed += 1 }
    }
}
