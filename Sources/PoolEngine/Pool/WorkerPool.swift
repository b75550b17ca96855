import Foundation
import Logging

/// A live pool of workers that run submitted jobs, growing and shrinking with the load.
///
/// The pool starts its initial workers and its scaler as soon as it is created. Every submission ends in
/// exactly one terminal state (completed, failed, rejected or cancelled), which ``counters`` and every
/// ``ShutdownReport`` prove. Call ``shutdown(_:)`` when done: until then the pool keeps its workers and
/// threads alive.
///
/// ```swift
/// let pool = try WorkerPool(configuration: configuration)
/// pool.trySubmit(Job { try await fetch(url) })
/// let report = await pool.shutdown(.graceful(deadline: .seconds(5)))
/// ```
public final class WorkerPool: Sendable {
    /// The configuration the pool was created with (scaling fields may since have changed: see ``snapshot(includingLatencies:)``).
    public let configuration: PoolConfiguration
    let clock: any PoolClock
    /// Whether ``clock`` is the machine's monotonic clock, so a worker's one reading per job serves both
    /// its pacing and the latencies.
    let clockIsMonotonic: Bool
    let core: Locked<PoolCore>
    let taskExecutor: any TaskExecutor
    /// The executor the pool's workers run on (see ``PoolConfiguration/executor``). A producer run there
    /// (`withTaskExecutorPreference(pool.executor)`) shares the pool's threads, and its
    /// ``SleepWheel/sleepOnCurrentPool(for:)`` waits in the pool's own timers.
    public var executor: any TaskExecutor { taskExecutor }
    let ownedThreads: DedicatedThreadExecutor?
    /// Whether the pool keeps the waits of ``Job/waiting(for:key:priority:timeout:start:then:)`` in its own
    /// timers: it runs on its own threads, and its clock can say how long a wait lasts in real time.
    let ownsWaits: Bool
    let latencies: LatencyRecorder
    let eventHub = EventHub()
    let metrics: MetricsPublisher
    let logger: Logger
    let shutdownReport = Completion<ShutdownReport>()
    private let scaler = Locked<Task<Void, Never>?>(nil)

    /// Creates and starts a pool; throws if the configuration is invalid.
    public init(configuration: PoolConfiguration = PoolConfiguration(), clock: any PoolClock = SystemPoolClock())
        throws(ConfigurationError)
    {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        self.clockIsMonotonic = clock is SystemPoolClock
        self.logger = configuration.logger
        let threads: Int
        switch configuration.executor {
        case .dedicatedThreads(let count):
            threads = count ?? ProcessInfo.processInfo.activeProcessorCount
            let executor = DedicatedThreadExecutor(threadCount: threads, name: configuration.name)
            ownedThreads = executor
            taskExecutor = executor
        case .globalConcurrent:
            threads = ProcessInfo.processInfo.activeProcessorCount
            ownedThreads = nil
            taskExecutor = globalConcurrentExecutor
        case .custom(let executor):
            threads = ProcessInfo.processInfo.activeProcessorCount
            ownedThreads = nil
            taskExecutor = executor
        }
        ownsWaits = ownedThreads != nil && clock.wallDelay(until: clock.now()) != nil
        latencies = LatencyRecorder(shardCount: max(threads, 2))
        metrics = MetricsPublisher(poolName: configuration.name)
        let now = clock.now()
        // The retries' jitter is drawn from the system's randomness here, so that pools do not retry in step.
        var core = PoolCore(
            configuration: configuration, queue: configuration.queueStrategy.makeQueue(), now: now,
            jitterSeed: UInt64.random(in: 0...UInt64.max))
        let initial = core.startInitialWorkers(now: now)
        self.core = Locked(core)
        for id in initial { startWorker(id) }
        let scalerTask = Task { [self] in await runScaler() }
        scaler.withLock { $0 = scalerTask }
        ownedThreads?.onJobSuspended { [weak self] worker in self?.jobSuspended(on: worker) }
    }

    // MARK: Submitting

    /// Offers a job and answers at once: accepted, or rejected with the reason. Never waits; with
    /// ``OverflowPolicy/wait`` or ``OverflowPolicy/runInCaller`` a full queue rejects with
    /// ``RejectionReason/queueFull``.
    @discardableResult
    public func trySubmit(_ job: Job) -> Admission {
        admit(job, box: nil)
    }

    /// Offers a closure as a job; see ``trySubmit(_:)``.
    @discardableResult
    public func trySubmit(
        key: String? = nil, priority: Int = 0, timeout: Duration? = nil,
        _ work: nonisolated(nonsending) @escaping @Sendable () async throws -> Void
    ) -> Admission {
        trySubmit(Job(key: key, priority: priority, timeout: timeout, work))
    }

    /// Offers many jobs in order, each answered as by ``trySubmit(_:)``, taking the pool's lock once per few
    /// dozen jobs rather than once per job.
    public func trySubmit(batch jobs: [Job]) -> [Admission] {
        var admissions: [Admission] = []
        admissions.reserveCapacity(jobs.count)
        // A few dozen jobs per trip through the lock: fewer trips, yet workers never wait long for it.
        var start = jobs.startIndex
        while start < jobs.endIndex {
            let end = min(start + Self.submissionChunk, jobs.endIndex)
            var effects = Effects(now: clock.now())
            core.withLock { core in
                for job in jobs[start..<end] {
                    guard case .decided(let admission)? = core.submit(job, box: nil, now: effects.now, effects: &effects)
                    else {
                        admissions.append(.rejected(.queueFull))
                        continue
                    }
                    admissions.append(admission)
                }
            }
            perform(effects)
            start = end
        }
        return admissions
    }

    /// How many jobs of a batch are admitted per hold of the pool's lock.
    static let submissionChunk = 64

    /// Submits a job, applying the overflow policy in full: with ``OverflowPolicy/wait`` this suspends
    /// until there is space (backpressure), and with ``OverflowPolicy/runInCaller`` a full queue makes the
    /// caller run the job's first attempt before returning.
    @discardableResult
    public func submit(_ job: Job) async -> Admission {
        await admitWaiting(job, box: nil)
    }

    /// Submits a job like ``submit(_:)`` and returns a handle to await its outcome, or the rejection.
    public func submitWithHandle(_ job: Job) async -> Result<JobHandle, RejectionReason> {
        let box = OutcomeBox()
        switch await admitWaiting(job, box: box) {
        case .accepted(let id): return .success(JobHandle(id: id, box: box))
        case .rejected(let reason): return .failure(reason)
        }
    }

    /// Submits a job like ``submit(_:)`` and waits for its terminal outcome.
    public func execute(_ job: Job) async -> JobOutcome {
        let box = OutcomeBox()
        _ = await admitWaiting(job, box: box)
        return await box.wait()
    }

    private func admit(_ job: Job, box: OutcomeBox?) -> Admission {
        var effects = Effects(now: clock.now())
        let result = core.withLock { $0.submit(job, box: box, now: effects.now, effects: &effects) }
        perform(effects)
        guard case .decided(let admission)? = result else { return .rejected(.queueFull) }
        return admission
    }

    private func admitWaiting(_ job: Job, box: OutcomeBox?) async -> Admission {
        switch configuration.overflowPolicy {
        case .wait:
            return await withCheckedContinuation { continuation in
                var effects = Effects(now: clock.now())
                let result = core.withLock {
                    $0.submit(job, box: box, waiter: continuation, now: effects.now, effects: &effects)
                }
                perform(effects)
                if case .decided(let admission)? = result { continuation.resume(returning: admission) }
            }
        case .runInCaller:
            var effects = Effects(now: clock.now())
            let result = core.withLock {
                $0.submit(job, box: box, callerMayRun: true, now: effects.now, effects: &effects)
            }
            perform(effects)
            switch result {
            case .decided(let admission)?: return admission
            case .runInCaller(let queued)?:
                await runInCaller(queued)
                return .accepted(queued.id)
            case nil: return .rejected(.queueFull)
            }
        case .reject, .dropOldest:
            return admit(job, box: box)
        }
    }

    // MARK: Steering

    /// Changes the scaling settings while the pool runs; the pool moves within new limits at once.
    public func updateScaling(_ change: (inout ScalingSettings) -> Void) throws(ConfigurationError) {
        let now = clock.now()
        var effects = Effects(now: now)
        try core.withLock { core throws(ConfigurationError) in
            var settings = core.settings
            change(&settings)
            try settings.applied(to: configuration).validate()
            core.updateSettings(settings, now: now, effects: &effects)
        }
        perform(effects)
    }

    /// Sets or removes the rate limit while the pool runs. It applies at once: the tokens already earned are
    /// kept (up to the new burst), and a worker waiting for the old limit's next token looks again.
    public func updateRateLimit(_ limit: RateLimit?) throws(ConfigurationError) {
        try limit?.validate()
        var effects = Effects(now: clock.now())
        core.withLock { $0.setRateLimit(limit, now: effects.now, effects: &effects) }
        perform(effects)
    }

    /// Changes the injected faults while the pool runs (``FaultInjection/none`` to stop).
    public func injectFaults(_ faults: FaultInjection) throws(ConfigurationError) {
        try faults.validate()
        var effects = Effects(now: clock.now())
        core.withLock { $0.setFaults(faults, effects: &effects) }
        perform(effects)
    }

    /// Crashes a worker (the given one, or one at random) as a fault would: its running attempt fails and
    /// is retried or dead-lettered per the retry policy, and a replacement starts at once. Returns the
    /// crashed worker, or `nil` if there was none to crash.
    @discardableResult
    public func crashWorker(_ worker: WorkerID? = nil) -> WorkerID? {
        var effects = Effects(now: clock.now())
        let crashed = core.withLock { $0.crashWorker(worker, now: effects.now, effects: &effects) }
        perform(effects)
        return crashed
    }

    // MARK: Observing

    /// The counts so far.
    public var counters: JobCounters { core.withLock { $0.counters } }

    /// An immutable picture of the whole pool. It holds the pool's lock only to copy O(workers) values;
    /// merging the latency histograms happens outside it.
    public func snapshot(includingLatencies: Bool = true) -> PoolSnapshot {
        let now = clock.now()
        var snapshot = core.withLock { core in
            PoolSnapshot(
                name: configuration.name, takenAt: now, uptime: now - core.startedAt, phase: core.phase,
                strategy: configuration.queueStrategy, settings: core.settings,
                queueCapacity: configuration.queueCapacity, overflowPolicy: configuration.overflowPolicy,
                workers: core.workerSnapshots(now: now), stoppedWorkers: Array(core.stoppedWorkers), queue: core.queueDepths,
                inFlight: core.runningCount,
                awaitingRetry: core.awaitingRetryCount, blockedSubmitters: core.blockedSubmitterCount,
                counters: core.counters, latencies: nil, throughput: core.throughput.current, recentEvents: [],
                deadLetterCount: core.deadLetterTotal, breaker: core.breaker?.state,
                rateLimit: core.bucket?.limit, faults: core.faults)
        }
        snapshot.latencies = includingLatencies ? latencies.merged() : nil
        snapshot.recentEvents = eventHub.recent
        return snapshot
    }

    /// Every event from now on, until the pool has shut down (the stream then finishes).
    public func events() -> AsyncStream<PoolEvent> { eventHub.subscribe() }

    /// The dead-lettered jobs still kept, oldest first (at most ``PoolConfiguration/deadLetterCapacity``).
    public func deadLetters() -> [DeadLetter] { core.withLock { Array($0.deadLetters) } }

    // MARK: Effects

    /// Carries out what the state machine asked for, outside its lock.
    func perform(_ effects: Effects) {
        effects.resumeWorkers.forEach { resumption in
            // A job that only waits, handed to a parked worker: the pool keeps the wait, the worker stays parked.
            if ownsWaits, let worker = resumption.worker, case .run(let job) = resumption.step, let wait = job.job.pooledWait,
                job.injectedFault == nil
            {
                startOwnedWait(job, wait: wait, worker: worker, continuation: resumption.continuation)
            } else {
                resumption.continuation.resume(returning: resumption.step)
            }
        }
        // Events before outcomes: a caller that learns its job's outcome also sees what led to it.
        if !effects.events.isEmpty { publish(effects.events, at: effects.now) }
        for (continuation, admission) in effects.resumeSubmitters { continuation.resume(returning: admission) }
        for (box, outcome) in effects.outcomes { box.complete(outcome) }
        for id in effects.startWorkers { startWorker(id) }
        for (id, delay) in effects.scheduleRetries { scheduleRetry(id, after: delay) }
        for task in effects.cancelTasks { task.cancel() }
        for wait in effects.cancelWaits { wait.cancel() }
        for signal in effects.signals { signal.resume() }
    }

    func publish(_ kinds: [PoolEvent.Kind], at time: PoolInstant) {
        for kind in kinds {
            switch kind {
            case .deadLettered: logger.debug("\(kind)", metadata: ["pool": "\(configuration.name)"])
            default: logger.info("\(kind)", metadata: ["pool": "\(configuration.name)"])
            }
        }
        eventHub.publish(kinds.map { PoolEvent(time: time, kind: $0) })
    }

    /// A job of `worker` suspended while the worker held jobs taken ahead: they go back to the queue.
    private func jobSuspended(on worker: WorkerID) {
        var effects = Effects(now: clock.now())
        core.withLock { $0.reclaimBuffer(of: worker, effects: &effects) }
        perform(effects)
    }

    // MARK: Scaling loop

    private func runScaler() async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: configuration.scalingInterval)
            } catch {
                return
            }
            tick()
        }
    }

    /// One look at the pool: scale if needed, sample throughput, publish metrics.
    func tick() {
        let now = clock.now()
        var effects = Effects(now: now)
        let (counters, workers, depth, inFlight) = core.withLock { core in
            core.evaluateScaling(now: now, effects: &effects)
            core.throughput.sample(now: now, counters: core.counters)
            return (core.counters, core.activeWorkers, core.pendingCount, core.runningCount)
        }
        perform(effects)
        metrics.publish(counters: counters, workers: workers, queueDepth: depth, inFlight: inFlight)
    }

    func stopBackgroundWork() {
        scaler.withLock { $0?.cancel() }
        ownedThreads?.stop()
    }
}
