public import Foundation
public import Synchronization

/// A pool with one handler for all its jobs, beside the closure API as ants' `PoolWithFunc` is beside
/// `Submit` in Go: a job is a plain value (`Input`), not a closure, so submitting one allocates nothing.
/// Jobs go to per-worker queues (round-robin, a batch at a time) that workers empty a batch at a time, one
/// trip through a queue's lock per batch; a worker whose queue is empty takes half of the fullest other
/// queue before it sleeps. A job offered with a key goes to the worker its key hashes to (jump consistent
/// hash) and is never taken by another, so a key's jobs run one at a time, in order.
///
/// A handler that never waits (CPU work) is best given as a synchronous one (a closure without `await`
/// picks ``init(workers:capacityPerWorker:batchSize:synchronousHandler:)``): jobs are then called in a
/// plain loop, several times cheaper than an async call each on tiny jobs (BENCHMARKS.md).
///
/// ```swift
/// let pool = TypedPool<Int>(workers: 4) { id in try await process(id) }
/// pool.trySubmit(contentsOf: ids)     // what does not fit is rejected at once
/// await pool.submit(next)             // waits while the queues are full (backpressure)
/// let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
/// ```
///
/// Retries, a per-attempt timeout, latency histograms, dead letters and swift-metrics are in ``TypedPoolConfiguration``
/// (``init(_:handler:)``); with none of them on, jobs run in the plain loop. So is the queue strategy: one
/// queue all workers take from (FIFO, LIFO, or priority with aging) instead of per-worker queues.
///
/// Every job ends in exactly one of completed, failed (its last attempt threw or timed out), rejected (full
/// or shutting down) or cancelled (a shutdown's deadline), as in ``WorkerPool``. A worker's batch is its
/// own: a job that blocks holds the rest of its batch (up to `batchSize - 1` jobs) until it returns, so give
/// jobs that may block for long `batchSize: 1`.
///
/// With `maxWorkers` set (``TypedPoolConfiguration``) the pool grows as ants' pools do: a submission that
/// leaves a backlog in a busy worker's queue while no worker is idle starts one more worker, and a worker
/// beyond the core that finds nothing to do for `idleTimeout` ends. Keyed jobs run on the core workers only,
/// so a key's place never moves.
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

    /// How the pool runs its jobs.
    public let configuration: TypedPoolConfiguration
    @usableFromInline let queues: [WorkerQueue<Input>]
    /// The queue every worker takes from under a shared strategy (FIFO, LIFO, priority); nil per worker.
    @usableFromInline let shared: TypedSharedQueue<Input>?
    @usableFromInline let body: Body
    @usableFromInline let capacityPerWorker: Int
    @usableFromInline let batchSize: Int
    /// Retries, a timeout or latencies are on: batches go through ``runFeatured(_:worker:random:)``.
    @usableFromInline let featured: Bool
    @usableFromInline let recordsLatencies: Bool
    @usableFromInline let executor: DedicatedThreadExecutor
    // Locked (a pthread mutex), not Mutex: ThreadSanitizer does not see Mutex's futex calls (see Locked).
    /// Each worker's task, by queue (nil: never started). Starting and ending a worker beyond the core
    /// happen under this lock, so ``active`` changes only here and a shutdown sees every task started.
    @usableFromInline let tasks: Locked<[Task<Void, Never>?]>
    @usableFromInline let coreWorkers: Int
    @usableFromInline let maxWorkers: Int
    /// Workers running: queues `0..<active` have an owner (the core ones always).
    @usableFromInline let active: Atomic<Int>
    @usableFromInline let deadLetterLog = Locked(DeadLetterLog<Input>())
    /// The swift-metrics reporter, when ``TypedPoolConfiguration/metricsName`` is set.
    @usableFromInline let metricsPublication = Locked<TypedPoolMetricsPublication?>(nil)
    /// One per worker when latencies are recorded, else none.
    @usableFromInline let latencyShards: [Locked<LatencyHistograms>]
    @usableFromInline let placements: KeyPlacements
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
    /// Submitters waiting for room (``submit(_:)``), and the workers' word that some was made.
    @usableFromInline let room = RoomSignal()
    @usableFromInline let submitted = Atomic<Int>(0)
    @usableFromInline let rejected = Atomic<Int>(0)
    @usableFromInline let completed = Atomic<Int>(0)
    @usableFromInline let failed = Atomic<Int>(0)
    @usableFromInline let cancelled = Atomic<Int>(0)
    @usableFromInline let retried = Atomic<Int>(0)
    @usableFromInline let timedOut = Atomic<Int>(0)

    /// A pool of `workers` workers on threads of its own (one per worker, at most one per core), each with
    /// a queue of up to `capacityPerWorker` waiting jobs, running jobs `batchSize` at a time. For a pool
    /// that grows under load and shrinks when idle, set `maxWorkers` in a ``TypedPoolConfiguration``.
    @inlinable
    public convenience init(workers: Int, capacityPerWorker: Int = 65_536, batchSize: Int = 64, handler: @escaping Handler) {
        self.init(Self.plain(workers, capacityPerWorker, batchSize), body: .asynchronous(handler))
    }

    /// A pool whose handler never waits (CPU work): the same pool, with jobs called in a plain loop. A
    /// closure without `await` picks this initialiser.
    @inlinable
    public convenience init(
        workers: Int, capacityPerWorker: Int = 65_536, batchSize: Int = 64, synchronousHandler handler: @escaping SynchronousHandler
    ) {
        self.init(Self.plain(workers, capacityPerWorker, batchSize), body: .synchronous(handler))
    }

    /// A pool as `configuration` says (retries, timeout, latencies), or an error naming the field at fault.
    /// Inlinable, as are all initialisers that start workers (see ``init(_:body:)``).
    @inlinable
    public convenience init(_ configuration: TypedPoolConfiguration, handler: @escaping Handler) throws(ConfigurationError) {
        try configuration.validate(synchronousHandler: false)
        self.init(configuration, body: .asynchronous(handler))
    }

    /// A pool with a synchronous handler as `configuration` says; a timeout is refused (a synchronous call
    /// cannot be interrupted).
    @inlinable
    public convenience init(
        _ configuration: TypedPoolConfiguration, synchronousHandler handler: @escaping SynchronousHandler
    ) throws(ConfigurationError) {
        try configuration.validate(synchronousHandler: true)
        self.init(configuration, body: .synchronous(handler))
    }

    @inlinable
    static func plain(_ workers: Int, _ capacityPerWorker: Int, _ batchSize: Int) -> TypedPoolConfiguration {
        var configuration = TypedPoolConfiguration(workers: max(workers, 1))
        configuration.capacityPerWorker = max(capacityPerWorker, 1)
        configuration.batchSize = max(batchSize, 1)
        return configuration
    }

    /// Inlinable, as is all of the pool's hot path: the workers it starts then run code specialised for
    /// `Input` in the caller's module, not generic code that looks up type metadata per call (8x slower on
    /// no-op jobs).
    @inlinable
    init(_ configuration: TypedPoolConfiguration, body: Body) {
        self.configuration = configuration
        let workers = max(configuration.workers, 1)
        let maxWorkers = max(configuration.maxWorkers ?? workers, workers)
        coreWorkers = workers
        self.maxWorkers = maxWorkers
        active = Atomic(workers)
        self.body = body
        capacityPerWorker = max(configuration.capacityPerWorker, 1)
        batchSize = max(configuration.batchSize, 1)
        featured = configuration.needsFeatures
        recordsLatencies = configuration.recordsLatencies
        latencyShards = configuration.recordsLatencies ? (0..<maxWorkers).map { _ in Locked(LatencyHistograms()) } : []
        queues = (0..<maxWorkers).map { WorkerQueue<Input>(retired: $0 >= workers) }
        // A shared queue holds what the per-worker queues would in all.
        let (sharedCapacity, overflow) = capacityPerWorker.multipliedReportingOverflow(by: maxWorkers)
        shared =
            configuration.strategy == .perWorker
            ? nil : TypedSharedQueue(configuration.strategy, capacity: overflow ? .max : sharedCapacity)
        placements = KeyPlacements(workers: workers)
        executor = DedicatedThreadExecutor(
            threadCount: min(maxWorkers, ProcessInfo.processInfo.activeProcessorCount), name: "poolscope-typed")
        tasks = Locked(Array(repeating: nil, count: maxWorkers))
        let started = (0..<workers).map { index in
            Task(executorPreference: executor) { [self] in await runWorker(index) }
        }
        tasks.withLock { $0.replaceSubrange(0..<workers, with: started) }
        startPublishingMetrics()
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
        counters.retried = retried.load(ordering: .acquiring)
        counters.timedOut = timedOut.load(ordering: .acquiring)
        return counters
    }

    /// Jobs waiting in each running worker's queue.
    @inlinable
    public var queueDepths: [Int] { queues.prefix(workerCount).map(\.count) }

    /// Workers running now: the configuration's `workers`, up to its `maxWorkers` under load.
    @inlinable
    public var workerCount: Int { active.load(ordering: .relaxed) }

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
        offer(inputs, priority: 0, waiting: false).taken
    }

    /// One offer of `inputs`: pushed to the shared queue, or a batch per worker queue in turn. Without
    /// `waiting`, what does not fit is rejected and counted. With `waiting` (``submit(contentsOf:priority:)``)
    /// the jobs taken are a prefix of `inputs`, and the rest is not counted: it is offered again once there is
    /// room. `closed`: the pool is shutting down, and all of `inputs` was counted as rejected.
    @inlinable
    func offer<Inputs: Collection>(_ inputs: Inputs, priority: Int, waiting: Bool) -> (taken: Int, closed: Bool)
    where Inputs.Element == Input {
        offer(inputs.count, waiting: waiting) {
            shared.map { push(inputs, priority: priority, to: $0) } ?? push(inputs, prefixOnly: waiting)
        }
    }

    /// One offer of `total` jobs that `push` places (returning how many were taken), counted as
    /// ``offer(_:priority:waiting:)`` says, inside the announcement a shutdown waits for.
    @inlinable
    func offer(_ total: Int, waiting: Bool, push: () -> Int) -> (taken: Int, closed: Bool) {
        guard total > 0 else { return (0, false) }
        guard beginSubmitting(total, counting: !waiting) else { return (0, true) }
        defer { submitting.subtract(1, ordering: .sequentiallyConsistent) }
        let accepted = push()
        if waiting {
            // Counted once taken, inside the announcement, so a shutdown's report includes it. A worker may
            // end the job a moment before this count: a reader of `counters` then sees it ended before it was
            // submitted (the metrics' in-flight gauge clamps that at 0).
            submitted.add(accepted, ordering: .relaxed)
        } else if accepted < total {
            rejected.add(total - accepted, ordering: .relaxed)
        }
        return (accepted, false)
    }

    /// Pushes `inputs` a batch per worker queue in turn; returns how many were taken. With `prefixOnly`
    /// (a waiting submission) what a queue refuses of a batch is offered to the other running queues in
    /// turn, and the push stops at the first batch none of them took whole: what was taken is a prefix, and
    /// less than all means every running queue was found full.
    @inlinable
    func push<Inputs: Collection>(_ inputs: Inputs, prefixOnly: Bool) -> Int where Inputs.Element == Input {
        let stamp = recordsLatencies ? Self.monotonicStamp() : 0
        var accepted = 0
        var start = inputs.startIndex
        while start != inputs.endIndex {
            let end = inputs.index(start, offsetBy: batchSize * 4, limitedBy: inputs.endIndex) ?? inputs.endIndex
            let turn = nextQueue.add(1, ordering: .relaxed).oldValue
            var taken = push(inputs[start..<end], turn: turn, stamp: stamp)
            if prefixOnly {
                let size = inputs.distance(from: start, to: end)
                let running = active.load(ordering: .relaxed)
                for step in 1..<max(running, 1) where taken < size {
                    taken += push(inputs[inputs.index(start, offsetBy: taken)..<end], turn: turn + step, stamp: stamp)
                }
                accepted += taken
                if taken < size { break }
            } else {
                accepted += taken
            }
            start = end
        }
        return accepted
    }

    /// Pushes one batch to the queue of running worker `turn` (modulo those running); returns how many it
    /// took. Its owner is busy, or has more than a batch to do: a sleeping worker, if any, comes to take half
    /// (none sleep under full load, and then this costs one atomic read). With none asleep and a backlog left,
    /// a pool that may grow starts a worker.
    @inlinable
    func push(_ batch: some Collection<Input>, turn: Int, stamp: Int64) -> Int {
        var queue = queues[turn % active.load(ordering: .relaxed)]
        var (taken, wokeOwner, retired) = queue.push(batch, at: stamp, capacity: capacityPerWorker)
        if retired {
            // Its worker ended after this turn was chosen: a core worker's queue, never retired, takes it.
            queue = queues[turn % coreWorkers]
            (taken, wokeOwner, retired) = queue.push(batch, at: stamp, capacity: capacityPerWorker)
        }
        if taken > 0 && (!wokeOwner || taken > batchSize) && !wakeASleeper(besides: queue)
            && active.load(ordering: .relaxed) < maxWorkers && queue.stealableCount > batchSize
        {
            startWorker()
        }
        return taken
    }

    /// Counts an offer of `total` jobs and announces the call to a shutdown; `false` (all counted as
    /// rejected) once the pool is shutting down. After `true` the caller must end the announcement.
    /// `counting: false` leaves the count of submitted jobs to the caller while the pool runs (a waiting
    /// submission counts what was taken); once it is shutting down, the offer is counted all the same.
    @inlinable
    func beginSubmitting(_ total: Int, counting: Bool = true) -> Bool {
        guard total > 0 else { return false }
        // Announced before the phase is read (both in one total order with the shutdown's store and read),
        // so a shutdown either sees this call and waits for it, or this call sees the shutdown.
        submitting.add(1, ordering: .sequentiallyConsistent)
        if counting { submitted.add(total, ordering: .relaxed) }
        guard phase.load(ordering: .sequentiallyConsistent) == 0 else {
            if !counting { submitted.add(total, ordering: .relaxed) }
            rejected.add(total, ordering: .relaxed)
            submitting.subtract(1, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    @inlinable
    func runWorker(_ index: Int) async {
        let own = queues[index]
        var batch: [TypedEntry<Input>] = []
        batch.reserveCapacity(batchSize)
        var random = SeededRandom(seed: 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1))
        // A worker beyond the core ends after sleeping its idle timeout in one go.
        let idleTimeout = index >= coreWorkers ? configuration.idleTimeout : nil
        while true {
            let taken = take(into: &batch, for: index)
            // Room was made: submitters waiting for it, if any, offer again (one atomic read per batch).
            if taken > 0 { room.signalIfWaited() }
            if taken == 0 {
                // Nothing anywhere: stop once the own queue is closed (a shutdown) and empty, else sleep
                // until a job arrives (or, beyond the core, its idle timeout).
                sleepers.add(1, ordering: .sequentiallyConsistent)
                let wake = await own.waitForWork(idleTimeout: idleTimeout, executor: executor) {
                    self.shared?.hasJobs ?? self.queues.contains { $0 !== own && $0.hasStealableJobs }
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                switch wake {
                case .work: continue
                case .finished: return
                case .idle: if retire(index) { return } else { continue }
                }
            }
            // More than this batch waits here (or in the shared queue): a sleeping worker comes to share it
            // (and so on, one by one).
            if shared?.hasJobs ?? (own.stealableCount > 0) { wakeASleeper(besides: own) }
            let tally = featured ? await runFeatured(batch, worker: index, random: &random) : await run(batch)
            batch.removeAll(keepingCapacity: true)
            if tally.done > 0 { completed.add(tally.done, ordering: .releasing) }
            if tally.failed > 0 { failed.add(tally.failed, ordering: .releasing) }
            if tally.stopped > 0 { cancelled.add(tally.stopped, ordering: .releasing) }
            if tally.retried > 0 { retried.add(tally.retried, ordering: .releasing) }
            if tally.timedOut > 0 { timedOut.add(tally.timedOut, ordering: .releasing) }
        }
    }

    /// Runs a batch with none of the configuration's features. A function of its own so that the handler's
    /// frames come after this one's in the task's allocator: called once per batch, it may take a new slab
    /// of the allocator at most once per batch, never once per job.
    @inlinable
    nonisolated(nonsending) func run(_ batch: [TypedEntry<Input>]) async -> BatchTally {
        let handler: Handler
        switch body {
        case .synchronous(let handler): return runSynchronously(batch, handler)
        case .asynchronous(let asynchronous): handler = asynchronous
        }
        var tally = BatchTally()
        for entry in batch {
            guard tally.mayStart(phase) else { continue }
            do {
                try await handler(entry.input)
                tally.done += 1
            } catch {
                if tally.failedOrStopped(phase) { deadLetter(entry.input, error: error) }
            }
        }
        return tally
    }

    /// ``run(_:)`` for a synchronous handler.
    @inlinable
    func runSynchronously(_ batch: [TypedEntry<Input>], _ handler: SynchronousHandler) -> BatchTally {
        var tally = BatchTally()
        for entry in batch {
            guard tally.mayStart(phase) else { continue }
            do {
                try handler(entry.input)
                tally.done += 1
            } catch {
                if tally.failedOrStopped(phase) { deadLetter(entry.input, error: error) }
            }
        }
        return tally
    }

    /// Wakes one sleeping worker other than `queue`'s owner, if any sleeps, to take from the busy queues;
    /// whether one was.
    @inlinable @discardableResult
    func wakeASleeper(besides queue: WorkerQueue<Input>?) -> Bool {
        guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return false }
        for other in queues where other !== queue && other.wakeIfAsleep() { return true }
        return false
    }

    /// Starts one more worker, unless the pool has its most or is shutting down. The new worker's queue
    /// is the next after the running ones; it takes half of the busiest queue before it sleeps.
    @usableFromInline
    func startWorker() {
        tasks.withLock { tasks in
            let index = active.load(ordering: .relaxed)
            guard index < maxWorkers, phase.load(ordering: .sequentiallyConsistent) == 0 else { return }
            queues[index].reopen()
            active.store(index + 1, ordering: .releasing)
            // The queue's previous owner (if any) has retired; its task is done or about to be.
            let previous = tasks[index]
            tasks[index] = Task(executorPreference: executor) { [self] in
                await previous?.value
                await runWorker(index)
            }
        }
    }

    /// Ends worker `index` (beyond the core) if it is the newest running, its queue is empty and no job
    /// waits that it could take, so the running ones stay `0..<active`; whether it ended. The others wait
    /// another idle timeout.
    @usableFromInline
    func retire(_ index: Int) -> Bool {
        // A submitter that pushed as the idle timer woke this worker found no sleeper to wake and (at
        // maxWorkers) started none: the worker sees the jobs here (its sleepers count went down before this
        // read), stays, and takes them.
        guard !(shared?.hasJobs ?? queues.contains { $0.hasStealableJobs }) else { return false }
        return tasks.withLock { _ in
            guard index >= coreWorkers, index == active.load(ordering: .relaxed) - 1, queues[index].retireIfEmpty() else {
                return false
            }
            active.store(index, ordering: .releasing)
            return true
        }
    }

    /// Worker `index`'s next batch: from its own queue, else half of the fullest other one's; under a shared
    /// strategy its keyed jobs first, then its share of the shared queue.
    @inlinable
    func take(into batch: inout [TypedEntry<Input>], for index: Int) -> Int {
        let own = queues[index].take(into: &batch, max: batchSize)
        guard let shared else { return own > 0 ? own : steal(into: &batch, for: index) }
        guard own < batchSize else { return own }
        // A fair share, so that a few jobs spread over the idle workers instead of one taking them all.
        let workers = active.load(ordering: .relaxed)
        let share = min(batchSize - own, max((shared.count + workers - 1) / workers, 1))
        return own + shared.take(into: &batch, max: share)
    }

    /// Takes up to half of the fullest other queue's jobs that are not pinned to their worker.
    @inlinable
    func steal(into batch: inout [TypedEntry<Input>], for index: Int) -> Int {
        guard queues.count > 1 else { return 0 }
        var victim: WorkerQueue<Input>?
        var depth = 0
        for (other, queue) in queues.enumerated() where other != index {
            let count = queue.stealableCount
            if count > depth { (victim, depth) = (queue, count) }
        }
        guard let victim else { return 0 }
        return victim.steal(into: &batch, max: min(batchSize, max(depth / 2, 1)))
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
            finishPublishingMetrics(counters)
            return counters
        }
        phase.store(1, ordering: .sequentiallyConsistent)
        // The shared queue first: a worker finishes only once its own queue is closed, by then no push to
        // the shared one can still land.
        shared?.close()
        for queue in queues { queue.close() }
        // Submitters waiting for room offer again, find the pool shutting down, and count their jobs rejected.
        room.signal()
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
        let left = queues.reduce(shared?.removeAll() ?? 0) { $0 + $1.removeAll() }
        if left > 0 { cancelled.add(left, ordering: .releasing) }
        await waitForSubmitters()
        let final = settledCounters()
        finishPublishingMetrics(final)
        return final
    }

    /// The counts, read again while a late offer (after the shutdown, counted submitted and rejected in
    /// two steps) is caught between them: nothing else changes any more, so a balanced read is the report.
    @inlinable
    func settledCounters() -> JobCounters {
        var counts = counters
        for _ in 0..<1_000 where !counts.isBalanced { counts = counters }
        return counts
    }

    /// Waits for calls of `trySubmit` that began before the shutdown, and for `submit`s waiting for room
    /// (they find the queues closed and count their jobs as rejected).
    @inlinable
    func waitForSubmitters() async {
        while submitting.load(ordering: .sequentiallyConsistent) > 0 || room.waiters.load(ordering: .sequentiallyConsistent) > 0 {
            await Task.yield()
        }
    }

    @inlinable
    func cancelRemaining() {
        phase.store(2, ordering: .sequentiallyConsistent)
        let left = queues.reduce(shared?.removeAll() ?? 0) { $0 + $1.removeAll() }
        if left > 0 { cancelled.add(left, ordering: .releasing) }
        for task in tasks.withLock({ $0 }) { task?.cancel() }
        for queue in queues { queue.close() }
    }

    @inlinable
    func waitForWorkers() async {
        for task in tasks.withLock({ $0 }) { await task?.value }
    }
}
