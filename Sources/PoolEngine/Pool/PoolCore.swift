import DequeModule
import Synchronization

/// The pool's state and every rule that changes it, free of threads and I/O: a thin composition of small
/// state machines, each with its own tests (`Tests/PoolEngineTests/CoreMachineTests.swift`):
/// ``Lifecycle`` (phases and the shutdown's waiters), ``AdmissionRule``, ``WorkerRegistry``,
/// ``TakeAheadRule``, ``OutcomeLedger`` (the counts and each attempt's fate), ``FlowControl`` (rate limit and
/// breaker), and ``ScalingPolicy`` with its ``LoadWindow``.
///
/// ``WorkerPool`` keeps one of these behind a mutex; each method is one event (a submission, a finished
/// attempt, a tick, a shutdown step) and leaves what must happen outside the lock in an ``Effects``. Time
/// and randomness come in (the event's instants, the seeds); the one exception is the workers' run
/// buffers, objects the owner's workers pop from under their own lock (pool lock first, then buffer).
struct PoolCore: Sendable {
    typealias Workers = WorkerRegistry<UnsafeContinuation<WorkerStep, Never>, Task<Void, Never>, OwnedWait>

    let configuration: PoolConfiguration
    let startedAt: PoolInstant
    var settings: ScalingSettings
    var queue: any QueueStrategy
    var lifecycle = Lifecycle<CheckedContinuation<Void, Never>>()
    private let admission: AdmissionRule
    var workers = Workers()
    private let takeAheadRule: TakeAheadRule
    var ledger: OutcomeLedger
    var flow: FlowControl
    /// Jobs taken by workers and not yet finished: running, or taken ahead (``takenAhead``).
    var inFlight = 0
    /// Jobs in workers' run buffers (see ``PoolConfiguration/takeAhead``); a job the owner has popped
    /// counts here until the owner reports its run.
    private(set) var takenAhead = 0
    /// Every worker's run buffer, by worker (apart from the records, so that scanning them copies no record).
    var runBuffers: [WorkerID: RunBuffer] = [:]
    /// Every job ever taken ahead (for tests).
    private(set) var takenAheadTotal = 0
    var blockedSubmitters = Deque<BlockedSubmitter>()
    var awaitingRetry: [JobID: QueuedJob] = [:]
    var retryTasks: [JobID: Task<Void, Never>] = [:]
    /// Attempts callers are running themselves (``OverflowPolicy/runInCaller``), and their tasks, so a
    /// shutdown's deadline cancels them like a worker's job and the shutdown waits for them before it reports.
    var callerAttempts = 0
    var callerTasks: [JobID: Task<Void, Never>] = [:]
    /// Every owned wait ever started (for tests).
    var ownedWaitsTotal = 0
    var lastScaledAt: PoolInstant?
    var lastGrewAt: PoolInstant?
    private var nextJobID: UInt64 = 0
    var throughput: ThroughputTracker
    var faults: FaultInjection
    /// Fault injection's draws and the random crash victim (seeded by ``PoolConfiguration/faultSeed``).
    var random: SeededRandom
    /// Recent arrivals and busy time, kept only while the scaler aims for a target wait.
    var loadWindow: LoadWindow?

    /// `jitterSeed` seeds the retries' backoff jitter (the owner draws it, so pools do not retry in step).
    init(configuration: PoolConfiguration, queue: any QueueStrategy, now: PoolInstant, jitterSeed: UInt64) {
        self.configuration = configuration
        self.startedAt = now
        self.settings = ScalingSettings(configuration)
        self.queue = queue
        self.admission = AdmissionRule(capacity: configuration.queueCapacity, overflow: configuration.overflowPolicy)
        self.ledger = OutcomeLedger(
            retry: configuration.retry, deadLetterCapacity: configuration.deadLetterCapacity, jitterSeed: jitterSeed)
        self.flow = FlowControl(rateLimit: configuration.rateLimit, breaker: configuration.circuitBreaker, now: now)
        self.throughput = ThroughputTracker(origin: now)
        self.faults = configuration.faults
        self.random = SeededRandom(seed: configuration.faultSeed)
        self.loadWindow = Self.loadWindow(for: configuration.scalingMode)
        var ownThreads = false
        if case .dedicatedThreads = configuration.executor { ownThreads = true }
        takeAheadRule = TakeAheadRule(strategyAllows: queue.allowsTakingAhead, ownThreads: ownThreads, takeAhead: configuration.takeAhead)
    }

    var phase: PoolPhase { lifecycle.phase }
    var counters: JobCounters { ledger.counters }
    var breaker: CircuitBreaker? { flow.breaker }
    var bucket: TokenBucket? { flow.bucket }
    var activeWorkers: Int { workers.active }
    var stoppedWorkers: Deque<WorkerSnapshot> { workers.stopped }
    var deadLetters: Deque<DeadLetter> { ledger.deadLetters }
    var deadLetterTotal: Int { ledger.deadLetterTotal }
    var cancelledWhileQueued: Int { ledger.cancelledWhileQueued }
    var cancelledWhileRunning: Int { ledger.cancelledWhileRunning }
    /// Jobs waiting: in the queue, or taken ahead by a worker.
    var pendingCount: Int { queue.count + takenAhead }
    /// Jobs running now.
    var runningCount: Int { inFlight - takenAhead }
    /// The waiting jobs, by queue, with those taken ahead.
    var queueDepths: QueueDepths {
        var depths = queue.depths()
        depths.takenAhead = takenAhead
        return depths
    }
    var awaitingRetryCount: Int { awaitingRetry.count }
    var blockedSubmitterCount: Int { blockedSubmitters.count }

    // MARK: Admission

    /// The answer to a submission.
    enum SubmitResult {
        case decided(Admission)
        /// The caller must run the job itself (``OverflowPolicy/runInCaller``); it is counted as accepted.
        case runInCaller(QueuedJob)
    }

    /// A submission. `waiter` is given when the caller will wait for space (``OverflowPolicy/wait``), and
    /// `callerMayRun` when it would run the job itself (``OverflowPolicy/runInCaller``). `nil`: it waits.
    mutating func submit(
        _ job: Job, box: OutcomeBox?, waiter: CheckedContinuation<Admission, Never>? = nil,
        callerMayRun: Bool = false, now: PoolInstant, effects: inout Effects
    ) -> SubmitResult? {
        let rule = admission  // a copy, so that asking the breaker (which mutates the core) overlaps no access
        let decision = rule.decide(
            accepting: lifecycle.isAccepting, breakerAdmits: breakerAdmits(now: now, effects: &effects), queued: queue.count,
            canWait: waiter != nil, callerMayRun: callerMayRun)
        switch decision {
        case .reject(let reason):
            return .decided(reject(box: box, reason: reason, effects: &effects))
        case .block:
            guard let waiter else { return .decided(reject(box: box, reason: .queueFull, effects: &effects)) }
            blockedSubmitters.append(BlockedSubmitter(job: job, box: box, continuation: waiter))
            return nil
        case .runInCaller:
            let queued = admit(job, box: box, now: now)
            inFlight += 1
            callerAttempts += 1
            return .runInCaller(queued)
        case .dropOldestThenEnqueue:
            if let dropped = queue.evict() {
                ledger.dropped()
                if let droppedBox = dropped.outcome { effects.outcomes.append((droppedBox, .rejected(.droppedOldest))) }
            }
        case .enqueue:
            break
        }
        let queued = admit(job, box: box, now: now)
        let id = queued.id
        enqueue(queued, effects: &effects)
        scaleIfOverThreshold(now: now, effects: &effects)
        return .decided(.accepted(id))
    }

    private mutating func breakerAdmits(now: PoolInstant, effects: inout Effects) -> Bool {
        let (admits, transition) = flow.admits(now: now)
        report(transition, effects: &effects)
        return admits
    }

    mutating func reject(box: OutcomeBox?, reason: RejectionReason, effects: inout Effects) -> Admission {
        ledger.refused()
        if let box { effects.outcomes.append((box, .rejected(reason))) }
        return .rejected(reason)
    }

    static func loadWindow(for mode: ScalingMode) -> LoadWindow? {
        guard case .targetWait(let goal) = mode else { return nil }
        return LoadWindow(span: goal.window)
    }

    private mutating func admit(_ job: Job, box: OutcomeBox?, now: PoolInstant) -> QueuedJob {
        nextJobID += 1
        ledger.admitted()
        return QueuedJob(id: JobID(nextJobID), job: job, attempt: 1, submittedAt: now, enqueuedAt: now, outcome: box)
    }

    /// Every attempt a worker will serve comes through here (new jobs, admitted waiters, retries), so the
    /// target-wait estimate counts attempts, as the workers' busy time does; jobs run in the caller do not.
    private mutating func enqueue(_ job: consuming QueuedJob, effects: inout Effects) {
        loadWindow?.arrived(at: effects.now)
        let target = queue.enqueue(job)
        wakeWorker(for: target, effects: &effects)
    }

    private mutating func admitBlockedSubmitters(now: PoolInstant, effects: inout Effects) {
        while !blockedSubmitters.isEmpty, lifecycle.isAccepting, admission.hasRoom(queued: queue.count) {
            let blocked = blockedSubmitters.removeFirst()
            let queued = admit(blocked.job, box: blocked.box, now: now)
            effects.resumeSubmitters.append((blocked.continuation, .accepted(queued.id)))
            enqueue(queued, effects: &effects)
        }
    }

    // MARK: Dispatch

    private mutating func wakeWorker(for target: DispatchTarget, effects: inout Effects) {
        let candidate: WorkerID?
        switch target {
        case .anyWorker: candidate = workers.lastParked
        case .worker(let id): candidate = workers.isParked(id) ? id : nil
        case .preferring(let id): candidate = workers.isParked(id) ? id : workers.lastParked
        }
        // Unparked before taking a job: taking one may wake another worker, which must not be this one.
        guard let id = candidate, let continuation = workers.unpark(id) else { return }
        let step: WorkerStep
        switch takeJob(for: id, now: effects.now, effects: &effects) {
        case .job(let job):
            step = .run(job)
        case .throttled(let until) where flow.beginThrottleSleep():
            step = .sleep(until: until)
        case .throttled, .nothing:
            workers.park(id, continuation)
            return
        }
        effects.resumeWorkers.append((id, continuation, step))
    }

    /// Offers work to every parked worker (after the workers or the breaker changed).
    mutating func wakeParkedWorkersWithWork(effects: inout Effects) {
        for id in workers.parkedOrder.reversed() where queue.count > 0 {
            wakeWorker(for: .worker(id), effects: &effects)
        }
    }

    /// Hands `worker` its next job, marking it busy, and lets a blocked submitter into the freed space.
    /// Rate limit and circuit breaker are applied here, at dispatch.
    private mutating func takeJob(for id: WorkerID, now: PoolInstant, effects: inout Effects) -> TakeResult {
        reclaimStalledBuffers(effects: &effects)
        guard queue.count > 0 else {
            guard let stolen = steal(for: id) else { return .nothing }
            workers.markBusy(id, with: stolen.id, now: now)
            return .job(stolen)
        }
        switch flow.dispatch(now: now) {
        case .held: return .nothing
        case .throttled(let until): return .throttled(until: until)
        case .start: break
        }
        guard var job = queue.dequeue(for: id) else { return .nothing }
        flow.started()
        injectFault(into: &job)
        inFlight += 1
        workers.markBusy(id, with: job.id, now: now)
        admitBlockedSubmitters(now: now, effects: &effects)
        if flow.bucket != nil && !flow.hasThrottleSleeper && queue.count > 0 { wakeWorker(for: .anyWorker, effects: &effects) }
        return .job(job)
    }

    private mutating func injectFault(into job: inout QueuedJob) {
        guard faults.isActive else { return }
        let fails = Double.random(in: 0..<1, using: &random) < faults.failureProbability
        job.injectedFault = InjectedFault(delay: faults.extraLatency, fails: fails)
    }

    // MARK: Taking ahead

    /// Gives `id`, which is about to run a job, up to `limit` more to run after it, in its run buffer.
    private mutating func takeAhead(for id: WorkerID, upTo limit: Int, effects: inout Effects) -> Int {
        let count = takeAheadRule.count(
            limit: limit, queued: queue.count, activeWorkers: workers.active, decidesEachJob: flow.decidesEachJob)
        guard count > 0, let buffer = runBuffers[id] else { return 0 }
        var taken = 0
        buffer.jobs.withLock { ahead in
            while taken < count, let job = queue.takeAhead(for: id) {
                ahead.append(job)
                taken += 1
            }
            if faults.isActive {
                for index in ahead.indices.suffix(taken) { injectFault(into: &ahead[index]) }
            }
        }
        inFlight += taken
        takenAhead += taken
        takenAheadTotal += taken
        // From now until its run is recorded, the owner's progress is published (see `reclaimStalledBuffers`).
        if taken > 0 { buffer.currentJobStart.store(effects.machineNanoseconds(), ordering: .relaxed) }
        admitBlockedSubmitters(now: effects.now, effects: &effects)
        return taken
    }

    /// Puts a worker's run buffer back in the queue: its job suspended (so the jobs behind it would wait
    /// for whatever it waits for, maybe one of them), or stalled (``reclaimStalledBuffers(effects:)``).
    mutating func reclaimBuffer(of id: WorkerID, effects: inout Effects) {
        let jobs = emptyBuffer(of: id)
        if !jobs.isEmpty { handBack(jobs, effects: &effects) }
    }

    /// Takes a job for `id`, which found the queue empty, from the back of the fullest run buffer of
    /// another worker, so that a job taken ahead never waits behind a long one while a worker is free.
    private mutating func steal(for id: WorkerID) -> QueuedJob? {
        guard takenAhead > 0, queue.allowsMovingTakenJobs else { return nil }
        var victim: (buffer: RunBuffer, depth: Int)?
        for (owner, buffer) in runBuffers where owner != id {
            let depth = buffer.jobs.withLock { $0.count }
            if depth > (victim?.depth ?? 0) { victim = (buffer, depth) }
        }
        guard let job = victim?.buffer.jobs.withLock({ $0.popLast() }) else { return nil }
        takenAhead -= 1
        return job
    }

    /// Puts back in the queue the buffers of workers that stalled (``TakeAheadRule/isStalled(lastProgress:now:)``),
    /// so before anyone starts a newer job those older ones are back at the head of the queue, and jobs
    /// that wait for each other behave as in a plain queue, up to one run.
    private mutating func reclaimStalledBuffers(effects: inout Effects) {
        guard takenAhead > 0 else { return }
        let now = effects.machineNanoseconds()
        for (owner, buffer) in runBuffers
        where TakeAheadRule.isStalled(lastProgress: buffer.currentJobStart.load(ordering: .relaxed), now: now) {
            reclaimBuffer(of: owner, effects: &effects)
        }
    }

    /// Empties a worker's run buffer (the owner was cancelled, crashed, or ran long), returning the jobs.
    mutating func emptyBuffer(of id: WorkerID) -> [QueuedJob] {
        guard let buffer = runBuffers[id] else { return [] }
        let jobs = buffer.jobs.withLock { ahead -> [QueuedJob] in
            // Not copied when empty: copying an empty Deque writes the count of the array runtime's shared
            // empty storage, which ThreadSanitizer reports as a race between every two threads doing it.
            guard !ahead.isEmpty else { return [] }
            defer { ahead.removeAll() }
            return Array(ahead)
        }
        takenAhead -= jobs.count
        return jobs
    }

    /// Jobs a worker took ahead but never started: cancelled if the pool is cancelling, else queued again.
    private mutating func handBack(_ jobs: [QueuedJob], effects: inout Effects) {
        inFlight -= jobs.count
        if lifecycle.isCancelling {
            ledger.cancelledBeforeStarting(jobs.count)
            for job in jobs { job.outcome.map { effects.outcomes.append(($0, .cancelled)) } }
        } else {
            for target in queue.putBack(jobs) { wakeWorker(for: target, effects: &effects) }
        }
    }

    mutating func report(_ transition: CircuitBreaker.Transition?, effects: inout Effects) {
        guard let transition else { return }
        effects.events.append(.breakerChanged(to: transition.to, reason: transition.reason))
    }
}

// MARK: - Workers and outcomes

extension PoolCore {
    /// A new worker's first step. Growth goes on from here too, not only from the scaler's tick: a burst
    /// grows 1, 2, 4, 8 as fast as workers come up (outside the cooldown), even when the scaler's task
    /// is slow to be scheduled on a busy machine.
    mutating func workerStarted(_ id: WorkerID, now: PoolInstant, effects: inout Effects) -> WorkerStep {
        scaleIfOverThreshold(now: now, effects: &effects)
        return nextStep(for: id, now: now, effects: &effects)
    }

    func buffer(of id: WorkerID) -> RunBuffer? { runBuffers[id] }

    /// Parks the worker, unless there is work or it must stop, in which case that step is returned.
    mutating func park(
        _ id: WorkerID, continuation: UnsafeContinuation<WorkerStep, Never>, now: PoolInstant, effects: inout Effects
    ) -> WorkerStep? {
        let step = nextStep(for: id, now: now, effects: &effects)
        guard case .park = step else { return step }
        workers.park(id, continuation)
        return nil
    }

    private mutating func nextStep(for id: WorkerID, now: PoolInstant, effects: inout Effects) -> WorkerStep {
        guard workers.isActive(id), !lifecycle.workersReleased else { return .exit }
        let taken = takeJob(for: id, now: now, effects: &effects)
        if case .job(let job) = taken { return .run(job) }
        workers.markIdle(id, now: now)
        if case .throttled(let until) = taken, flow.beginThrottleSleep() { return .sleep(until: until) }
        return .park
    }

    /// A worker's wait for a rate-limit token is over.
    mutating func throttleSleepEnded(_ id: WorkerID, now: PoolInstant, effects: inout Effects) -> WorkerStep {
        flow.throttleSleepEnded()
        let step = nextStep(for: id, now: now, effects: &effects)
        // A sleeper that leaves (retired by a scale-down, crashed) hands the wait for the next token on: the
        // others parked because it slept, and nothing else would wake them while jobs wait.
        if case .exit = step, queue.count > 0 { wakeWorker(for: .anyWorker, effects: &effects) }
        return step
    }

    /// An attempt that the caller ran itself (``OverflowPolicy/runInCaller``) ended.
    mutating func callerAttemptFinished(_ job: QueuedJob, result: AttemptResult, now: PoolInstant, effects: inout Effects) {
        callerAttempts -= 1
        callerTasks[job.id] = nil
        record(job, result: result, on: nil, now: now, effects: &effects)
        checkDrained(effects: &effects)
        signalStoppedIfDone(effects: &effects)
    }

    /// Notes the task running a caller's attempt; one that starts after the deadline is cancelled at once.
    mutating func attach(callerTask task: Task<Void, Never>, to id: JobID) {
        if lifecycle.isCancelling { task.cancel() } else { callerTasks[id] = task }
    }

    /// `worker` ran `jobs` (its run: the job it was given, then those it popped from its run buffer), with
    /// `results` in the same order. If it stopped early (cancelled, crashed, or a job ran long), what is
    /// left in its buffer goes back to the queue, or is cancelled in a shutdown. Records the run and hands
    /// out what the worker does next; a job to run replaces `jobs`, with up to `limit` more in the buffer.
    mutating func runFinished(
        _ jobs: inout [QueuedJob], results: [AttemptResult], stoppedEarly: Bool, on worker: WorkerID,
        now: PoolInstant, effects: inout Effects, takeAheadLimit limit: Int, tookAhead: inout Int
    ) -> WorkerStep {
        tookAhead = 0
        takenAhead -= jobs.count - 1
        let crashed = workers.hasCrashed(worker)
        var failed = 0
        for (index, result) in results.enumerated() {
            // A crash fails the attempt it interrupted: the last one.
            if record(jobs[index], result: result, crashed: crashed && index == results.count - 1, on: worker, now: now, effects: &effects)
            {
                failed += 1
            }
        }
        jobs.removeAll(keepingCapacity: true)
        let step = runEnded(
            on: worker, completed: results.count - failed, failed: failed, stoppedEarly: stoppedEarly, now: now, effects: &effects)
        guard case .run(let job) = step else { return step }
        jobs.append(job)
        tookAhead = takeAhead(for: worker, upTo: limit, effects: &effects)
        return .runTaken
    }

    /// `worker` ran `job` alone (an owned wait), with `result`: recorded as a run of one, with no array to
    /// hold it (so the job is not copied); returns the worker's next step.
    mutating func singleJobFinished(
        _ job: QueuedJob, result: AttemptResult, on worker: WorkerID, now: PoolInstant, effects: inout Effects
    ) -> WorkerStep {
        let failed = record(job, result: result, crashed: workers.hasCrashed(worker), on: worker, now: now, effects: &effects)
        return runEnded(on: worker, completed: failed ? 0 : 1, failed: failed ? 1 : 0, stoppedEarly: false, now: now, effects: &effects)
    }

    /// Records one attempt of `worker`'s run, failed as the crash's if `crashed`; returns whether it failed.
    private mutating func record(
        _ job: QueuedJob, result: AttemptResult, crashed: Bool, on worker: WorkerID, now: PoolInstant, effects: inout Effects
    ) -> Bool {
        let result = crashed ? .failure(error: "worker \(worker) crashed", timedOut: false) : result
        record(job, result: result, on: worker, now: now, effects: &effects)
        if case .failure = result { return true }
        return false
    }

    /// The end of a run whose attempts are recorded: its busy time, the jobs it left if it `stoppedEarly`,
    /// and the worker's next step.
    private mutating func runEnded(
        on worker: WorkerID, completed: Int, failed: Int, stoppedEarly: Bool, now: PoolInstant, effects: inout Effects
    ) -> WorkerStep {
        // Busy time from when the worker took the run's first job (recorded even when latencies are not).
        if let busy = workers.endRun(of: worker, completed: completed, failed: failed, now: now) {
            loadWindow?.served(jobs: completed + failed, busy: busy, at: now)
        }
        if stoppedEarly {
            let unstarted = emptyBuffer(of: worker)
            if !unstarted.isEmpty { handBack(unstarted, effects: &effects) }
        }
        runBuffers[worker]?.currentJobStart.store(0, ordering: .relaxed)  // its buffer is empty now
        checkDrained(effects: &effects)
        return nextStep(for: worker, now: now, effects: &effects)
    }

    /// Counts one ended attempt and carries out its fate: done, retried after a backoff, dead-lettered, or
    /// cancelled.
    private mutating func record(
        _ job: QueuedJob, result: AttemptResult, on worker: WorkerID?, now: PoolInstant, effects: inout Effects
    ) {
        inFlight -= 1
        if let worker, let target = queue.jobFinished(job, by: worker) { wakeWorker(for: target, effects: &effects) }
        let cancelling = lifecycle.isCancelling
        if !cancelling {
            var success = false
            if case .success = result { success = true }
            report(flow.attemptEnded(success: success, now: now), effects: &effects)
        }
        switch ledger.attemptEnded(job, result: result, cancelling: cancelling, now: now) {
        case .completed(let attempts):
            job.outcome.map { effects.outcomes.append(($0, .completed(attempts: attempts))) }
        case .cancelled:
            job.outcome.map { effects.outcomes.append(($0, .cancelled)) }
        case .retry(let backoff):
            var retry = job
            retry.attempt += 1
            awaitingRetry[job.id] = retry
            effects.scheduleRetries.append((job.id, backoff))
        case .deadLettered(let letter):
            effects.events.append(.deadLettered(letter))
            job.outcome.map {
                effects.outcomes.append(($0, .failed(attempts: letter.attempts, lastError: letter.lastError, timedOut: letter.timedOut)))
            }
        }
    }

    mutating func workerExited(_ id: WorkerID, effects: inout Effects) {
        // A worker leaves with an empty buffer; should that ever not hold, its jobs are not lost.
        reclaimBuffer(of: id, effects: &effects)
        guard workers.exited(id, now: effects.now) else { return }
        runBuffers[id] = nil
        signalStoppedIfDone(effects: &effects)
    }

    /// Resumes the shutdown's wait once every worker has stopped and no caller is running a job.
    private mutating func signalStoppedIfDone(effects: inout Effects) {
        if let waiter = lifecycle.stopWaiterIfDone(nothingRunning: workers.isEmpty && callerAttempts == 0) {
            effects.signals.append(waiter)
        }
    }

    mutating func attach(_ task: Task<Void, Never>, to id: WorkerID) {
        workers.attach(task, to: id)
        if lifecycle.isCancelling { task.cancel() }
    }

    // MARK: Retries

    mutating func attach(retryTask task: Task<Void, Never>, to id: JobID) {
        if awaitingRetry[id] != nil { retryTasks[id] = task } else { task.cancel() }
    }

    /// A retry's backoff is over: queue its next attempt (beyond the capacity: it was accepted long ago).
    mutating func retryDue(_ id: JobID, now: PoolInstant, effects: inout Effects) {
        retryTasks[id] = nil
        guard var job = awaitingRetry.removeValue(forKey: id) else { return }
        job.enqueuedAt = now
        enqueue(job, effects: &effects)
    }
}
