import DequeModule
import Synchronization

/// How one attempt of a job ended.
enum AttemptResult: Sendable {
    case success
    case failure(error: String, timedOut: Bool)
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

/// The pool's bookkeeping for one worker.
struct WorkerRecord {
    let id: WorkerID
    let startedAt: PoolInstant
    var state: WorkerState = .starting
    /// Told to stop after its current job (scale-down or shutdown).
    var retiring = false
    /// Crashed by fault injection: its current attempt fails, and it stops.
    var crashed = false
    /// Set while the worker waits for work.
    var parked: UnsafeContinuation<WorkerStep, Never>?
    var completed = 0
    var failed = 0
    var busyNanoseconds: Int64 = 0
    var task: Task<Void, Never>?
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
    var resumeWorkers: [(UnsafeContinuation<WorkerStep, Never>, WorkerStep)] = []
    var resumeSubmitters: [(CheckedContinuation<Admission, Never>, Admission)] = []
    var outcomes: [(OutcomeBox, JobOutcome)] = []
    var events: [PoolEvent.Kind] = []
    var startWorkers: [WorkerID] = []
    var scheduleRetries: [(JobID, Duration)] = []
    var cancelTasks: [Task<Void, Never>] = []
    var signals: [CheckedContinuation<Void, Never>] = []
}

/// The pool's state and every rule that changes it, free of threads and I/O.
///
/// ``WorkerPool`` keeps one of these behind a mutex; each method is one event (a submission, a finished
/// attempt, a tick, a shutdown step) and leaves what must happen outside the lock in an ``Effects``.
struct PoolCore: Sendable {
    let configuration: PoolConfiguration
    let startedAt: PoolInstant
    private(set) var settings: ScalingSettings
    private(set) var queue: any QueueStrategy
    private(set) var phase: PoolPhase = .running
    private(set) var counters = JobCounters()
    private(set) var workers: [WorkerID: WorkerRecord] = [:]
    /// Parked workers, most recently parked last (woken first, so the others can idle out).
    private var parkedWorkers: [WorkerID] = []
    private(set) var activeWorkers = 0
    /// Jobs taken by workers and not yet finished: running, or taken ahead (``takenAhead``).
    private(set) var inFlight = 0
    /// Jobs in workers' run buffers (see ``PoolConfiguration/takeAhead``); a job the owner has popped
    /// counts here until the owner reports its run.
    private(set) var takenAhead = 0
    /// Every worker's run buffer, by worker (apart from the records, so that scanning them copies no record).
    private var runBuffers: [WorkerID: RunBuffer] = [:]
    /// Every job ever taken ahead (for tests).
    private(set) var takenAheadTotal = 0
    /// Whether workers may take jobs ahead: the strategy allows it and the pool runs its own threads, which
    /// tell it when a job suspends (see ``DedicatedThreadExecutor/onJobSuspended(_:)``).
    private let canTakeAhead: Bool
    private var blockedSubmitters = Deque<BlockedSubmitter>()
    private var awaitingRetry: [JobID: QueuedJob] = [:]
    private var retryTasks: [JobID: Task<Void, Never>] = [:]
    /// Attempts callers are running themselves (``OverflowPolicy/runInCaller``), and their tasks, so a
    /// shutdown's deadline cancels them like a worker's job and the shutdown waits for them before it reports.
    private var callerAttempts = 0
    private var callerTasks: [JobID: Task<Void, Never>] = [:]
    private(set) var deadLetters = Deque<DeadLetter>()
    /// The last workers to stop, newest last.
    private(set) var stoppedWorkers = Deque<WorkerSnapshot>()
    static let stoppedWorkersKept = 32
    private(set) var deadLetterTotal = 0
    private(set) var lastScaledAt: PoolInstant?
    private var lastGrewAt: PoolInstant?
    private var nextJobID: UInt64 = 0
    private var nextWorkerID = 0
    /// Once set, every worker stops as soon as it has no job in hand.
    private var workersReleased = false
    private var drainedWaiter: CheckedContinuation<Void, Never>?
    private var stoppedWaiter: CheckedContinuation<Void, Never>?
    private(set) var cancelledWhileQueued = 0
    private(set) var cancelledWhileRunning = 0
    var throughput: ThroughputTracker
    private(set) var breaker: CircuitBreaker?
    private(set) var bucket: TokenBucket?
    private(set) var faults: FaultInjection
    private var random: SeededRandom
    /// Workers asleep until the rate limiter's next token (at most one is needed).
    private var throttleSleepers = 0
    /// Recent arrivals and busy time, kept only while the scaler aims for a target wait.
    private var loadWindow: LoadWindow?

    init(configuration: PoolConfiguration, queue: any QueueStrategy, now: PoolInstant) {
        self.configuration = configuration
        self.startedAt = now
        self.settings = ScalingSettings(configuration)
        self.queue = queue
        self.throughput = ThroughputTracker(origin: now)
        self.breaker = configuration.circuitBreaker.map { CircuitBreaker(policy: $0) }
        self.bucket = configuration.rateLimit.map { TokenBucket(limit: $0, now: now) }
        self.faults = configuration.faults
        self.random = SeededRandom(seed: configuration.faultSeed)
        self.loadWindow = Self.loadWindow(for: configuration.scalingMode)
        if case .dedicatedThreads = configuration.executor {
            canTakeAhead = queue.allowsTakingAhead && configuration.takeAhead > 0
        } else {
            canTakeAhead = false
        }
    }

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
    /// `callerMayRun` when it would run the job itself (``OverflowPolicy/runInCaller``).
    mutating func submit(
        _ job: Job, box: OutcomeBox?, waiter: CheckedContinuation<Admission, Never>? = nil,
        callerMayRun: Bool = false, now: PoolInstant, effects: inout Effects
    ) -> SubmitResult? {
        guard phase == .running else {
            return .decided(reject(box: box, reason: .shuttingDown, effects: &effects))
        }
        if breaker != nil, let admits = breaker?.admits(now: now) {
            report(admits.1, effects: &effects)
            if !admits.0 { return .decided(reject(box: box, reason: .circuitOpen, effects: &effects)) }
        }
        if let capacity = configuration.queueCapacity, queue.count >= capacity {
            switch configuration.overflowPolicy {
            case .reject:
                return .decided(reject(box: box, reason: .queueFull, effects: &effects))
            case .dropOldest:
                if let dropped = queue.evict() {
                    counters.rejected += 1
                    if let droppedBox = dropped.outcome { effects.outcomes.append((droppedBox, .rejected(.droppedOldest))) }
                }
            case .wait:
                guard let waiter else { return .decided(reject(box: box, reason: .queueFull, effects: &effects)) }
                blockedSubmitters.append(BlockedSubmitter(job: job, box: box, continuation: waiter))
                return nil
            case .runInCaller:
                guard callerMayRun else { return .decided(reject(box: box, reason: .queueFull, effects: &effects)) }
                let queued = admit(job, box: box, now: now)
                inFlight += 1
                callerAttempts += 1
                return .runInCaller(queued)
            }
        }
        let queued = admit(job, box: box, now: now)
        enqueue(queued, effects: &effects)
        scaleIfOverThreshold(now: now, effects: &effects)
        return .decided(.accepted(queued.id))
    }

    private mutating func reject(box: OutcomeBox?, reason: RejectionReason, effects: inout Effects) -> Admission {
        counters.submitted += 1
        counters.rejected += 1
        if let box { effects.outcomes.append((box, .rejected(reason))) }
        return .rejected(reason)
    }

    private static func loadWindow(for mode: ScalingMode) -> LoadWindow? {
        guard case .targetWait(let goal) = mode else { return nil }
        return LoadWindow(span: goal.window)
    }

    private mutating func admit(_ job: Job, box: OutcomeBox?, now: PoolInstant) -> QueuedJob {
        nextJobID += 1
        counters.submitted += 1
        return QueuedJob(id: JobID(nextJobID), job: job, attempt: 1, submittedAt: now, enqueuedAt: now, outcome: box)
    }

    /// Every attempt a worker will serve comes through here (new jobs, admitted waiters, retries), so the
    /// target-wait estimate counts attempts, as the workers' busy time does; jobs run in the caller do not.
    private mutating func enqueue(_ job: QueuedJob, effects: inout Effects) {
        loadWindow?.arrived(at: effects.now)
        let target = queue.enqueue(job)
        wakeWorker(for: target, effects: &effects)
    }

    private mutating func wakeWorker(for target: DispatchTarget, effects: inout Effects) {
        let candidate: WorkerID?
        switch target {
        case .anyWorker:
            candidate = parkedWorkers.last
        case .worker(let id):
            candidate = workers[id]?.parked == nil ? nil : id
        case .preferring(let id):
            candidate = workers[id]?.parked == nil ? parkedWorkers.last : id
        }
        guard let id = candidate, let continuation = workers[id]?.parked else { return }
        // Unparked before taking a job: taking one may wake another worker, which must not be this one.
        unpark(id)
        let step: WorkerStep
        switch takeJob(for: id, now: effects.now, effects: &effects) {
        case .job(let job):
            step = .run(job)
        case .throttled(let until) where throttleSleepers == 0:
            throttleSleepers += 1
            step = .sleep(until: until)
        case .throttled, .nothing:
            workers[id]?.parked = continuation
            parkedWorkers.append(id)
            return
        }
        effects.resumeWorkers.append((continuation, step))
    }

    /// Offers work to every parked worker (after the workers or the breaker changed).
    private mutating func wakeParkedWorkersWithWork(effects: inout Effects) {
        for id in parkedWorkers.reversed() where queue.count > 0 {
            wakeWorker(for: .worker(id), effects: &effects)
        }
    }

    private mutating func unpark(_ id: WorkerID) {
        workers[id]?.parked = nil
        if parkedWorkers.last == id {
            parkedWorkers.removeLast()
        } else if let index = parkedWorkers.lastIndex(of: id) {
            parkedWorkers.remove(at: index)
        }
    }

    /// Hands `worker` its next job, marking it busy, and lets a blocked submitter into the freed space.
    /// Rate limit and circuit breaker are applied here, at dispatch.
    private mutating func takeJob(for id: WorkerID, now: PoolInstant, effects: inout Effects) -> TakeResult {
        reclaimStalledBuffers(effects: &effects)
        guard queue.count > 0 else {
            guard let stolen = steal(for: id) else { return .nothing }
            markBusy(id, with: stolen.id, now: now)
            return .job(stolen)
        }
        if let breaker, !breaker.mayStart { return .nothing }
        if bucket != nil, let next = bucket?.nextToken(now: now) { return .throttled(until: next) }
        guard var job = queue.dequeue(for: id) else { return .nothing }
        bucket?.spend()
        breaker?.started()
        injectFault(into: &job)
        inFlight += 1
        markBusy(id, with: job.id, now: now)
        admitBlockedSubmitters(now: now, effects: &effects)
        if bucket != nil && throttleSleepers == 0 && queue.count > 0 { wakeWorker(for: .anyWorker, effects: &effects) }
        return .job(job)
    }

    private mutating func markBusy(_ id: WorkerID, with job: JobID, now: PoolInstant) {
        guard let retiring = workers[id]?.retiring else { return }
        workers[id]?.state = retiring ? .draining(job: job, since: now) : .busy(job: job, since: now)
    }

    private mutating func injectFault(into job: inout QueuedJob) {
        guard faults.isActive else { return }
        let fails = Double.random(in: 0..<1, using: &random) < faults.failureProbability
        job.injectedFault = InjectedFault(delay: faults.extraLatency, fails: fails)
    }

    /// Gives `id`, which is about to run a job, up to `limit` more to run after it, in its run buffer:
    /// never more than its share of the queue (the rest stay for the other workers), and never under a
    /// rate limit or breaker, which decide job by job.
    private mutating func takeAhead(for id: WorkerID, upTo limit: Int, effects: inout Effects) -> Int {
        guard limit > 0, canTakeAhead, activeWorkers <= Self.takeAheadWorkerLimit, bucket == nil, breaker == nil,
            let buffer = runBuffers[id]
        else { return 0 }
        let count = min(limit, queue.count / max(activeWorkers, 1))
        guard count > 0 else { return 0 }
        var taken = 0
        buffer.jobs.withLock { ahead in
            while taken < count, let job = queue.dequeue(for: id) {
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
        if taken > 0 { buffer.currentJobStart.store(WorkerRun.monotonicNanoseconds(), ordering: .relaxed) }
        admitBlockedSubmitters(now: effects.now, effects: &effects)
        return taken
    }

    /// Above this many workers nobody takes ahead: each take looks at every worker's buffer.
    static let takeAheadWorkerLimit = 256

    /// Puts a worker's run buffer back in the queue: its job suspended (so the jobs behind it would wait
    /// for whatever it waits for, maybe one of them), or stalled (``reclaimStalledBuffers(effects:)``).
    mutating func reclaimBuffer(of id: WorkerID, effects: inout Effects) {
        let jobs = emptyBuffer(of: id)
        if !jobs.isEmpty { handBack(jobs, effects: &effects) }
    }

    /// Takes a job for `id`, which found the queue empty, from the back of the fullest run buffer of
    /// another worker, so that a job taken ahead never waits behind a long one while a worker is free.
    private mutating func steal(for id: WorkerID) -> QueuedJob? {
        guard takenAhead > 0 else { return nil }
        var victim: (buffer: RunBuffer, depth: Int)?
        for (owner, buffer) in runBuffers where owner != id {
            let depth = buffer.jobs.withLock { $0.count }
            if depth > (victim?.depth ?? 0) { victim = (buffer, depth) }
        }
        guard let job = victim?.buffer.jobs.withLock({ $0.popLast() }) else { return nil }
        takenAhead -= 1
        return job
    }

    /// Puts back in the queue the buffers of workers that made no progress for ``stalledAfter``: the job
    /// is long, blocks, or its thread is not running. So before anyone starts a newer job, those
    /// older ones are back at the head of the queue, and jobs that wait for each other behave as in a
    /// plain queue, up to one run.
    private mutating func reclaimStalledBuffers(effects: inout Effects) {
        guard takenAhead > 0 else { return }
        let stalledBefore = WorkerRun.monotonicNanoseconds() - Self.stalledAfter
        for (owner, buffer) in runBuffers {
            let started = buffer.currentJobStart.load(ordering: .relaxed)
            if started != 0 && started <= stalledBefore { reclaimBuffer(of: owner, effects: &effects) }
        }
    }

    /// See ``reclaimStalledBuffers(effects:)``: 1 ms, about an operating-system time slice. Shorter, and
    /// workers merely descheduled for a slice lose their buffers over and over (at 100 µs a no-op job
    /// cost 650 ns instead of 500 on 2 cores); longer, and a job behind a stalled worker waits longer.
    static let stalledAfter: Int64 = 1_000_000

    /// Empties a worker's run buffer (the owner was cancelled, crashed, or ran long), returning the jobs.
    private mutating func emptyBuffer(of id: WorkerID) -> [QueuedJob] {
        guard let buffer = runBuffers[id] else { return [] }
        let jobs = buffer.jobs.withLock { ahead in
            defer { ahead.removeAll() }
            return Array(ahead)
        }
        takenAhead -= jobs.count
        return jobs
    }

    private mutating func report(_ transition: CircuitBreaker.Transition?, effects: inout Effects) {
        guard let transition else { return }
        effects.events.append(.breakerChanged(to: transition.to, reason: transition.reason))
    }

    private mutating func admitBlockedSubmitters(now: PoolInstant, effects: inout Effects) {
        while !blockedSubmitters.isEmpty, phase == .running,
            configuration.queueCapacity.map({ queue.count < $0 }) ?? true
        {
            let blocked = blockedSubmitters.removeFirst()
            let queued = admit(blocked.job, box: blocked.box, now: now)
            effects.resumeSubmitters.append((blocked.continuation, .accepted(queued.id)))
            enqueue(queued, effects: &effects)
        }
    }

    // MARK: Workers

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
        workers[id]?.parked = continuation
        parkedWorkers.append(id)
        return nil
    }

    private mutating func nextStep(for id: WorkerID, now: PoolInstant, effects: inout Effects) -> WorkerStep {
        guard let record = workers[id], !record.retiring, !workersReleased else { return .exit }
        let taken = takeJob(for: id, now: now, effects: &effects)
        if case .job(let job) = taken { return .run(job) }
        if case .idle = record.state {} else { workers[id]?.state = .idle(since: now) }
        if case .throttled(let until) = taken, throttleSleepers == 0 {
            throttleSleepers += 1
            return .sleep(until: until)
        }
        return .park
    }

    /// A worker's wait for a rate-limit token is over.
    mutating func throttleSleepEnded(_ id: WorkerID, now: PoolInstant, effects: inout Effects) -> WorkerStep {
        throttleSleepers -= 1
        return nextStep(for: id, now: now, effects: &effects)
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
        if phase == .cancelling { task.cancel() } else { callerTasks[id] = task }
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
        // Busy time from when the worker took the run's first job (recorded even when latencies are not).
        switch workers[worker]?.state {
        case .busy(_, let since)?, .draining(_, let since)?:
            workers[worker]?.busyNanoseconds += (now - since).nanoseconds
            loadWindow?.served(jobs: results.count, busy: now - since, at: now)
        default: break
        }
        let crashed = workers[worker]?.crashed == true
        var failed = 0
        for (index, result) in results.enumerated() {
            // A crash fails the attempt it interrupted: the last one.
            let result =
                crashed && index == results.count - 1 ? .failure(error: "worker \(worker) crashed", timedOut: false) : result
            if case .failure = result { failed += 1 }
            record(jobs[index], result: result, on: worker, now: now, effects: &effects)
        }
        workers[worker]?.completed += results.count - failed
        workers[worker]?.failed += failed
        if stoppedEarly {
            let unstarted = emptyBuffer(of: worker)
            if !unstarted.isEmpty { handBack(unstarted, effects: &effects) }
        }
        jobs.removeAll(keepingCapacity: true)
        runBuffers[worker]?.currentJobStart.store(0, ordering: .relaxed)  // its buffer is empty now
        checkDrained(effects: &effects)
        let step = nextStep(for: worker, now: now, effects: &effects)
        guard case .run(let job) = step else { return step }
        jobs.append(job)
        tookAhead = takeAhead(for: worker, upTo: limit, effects: &effects)
        return .runTaken
    }

    /// Jobs a worker took ahead but never started: cancelled if the pool is cancelling, else queued again.
    private mutating func handBack(_ jobs: [QueuedJob], effects: inout Effects) {
        inFlight -= jobs.count
        if phase == .cancelling {
            counters.cancelled += jobs.count
            cancelledWhileQueued += jobs.count
            for job in jobs { job.outcome.map { effects.outcomes.append(($0, .cancelled)) } }
        } else {
            for target in queue.putBack(jobs) { wakeWorker(for: target, effects: &effects) }
        }
    }

    /// Counts one ended attempt and decides the job's fate: done, retried after a backoff, dead-lettered,
    /// or cancelled.
    private mutating func record(
        _ job: QueuedJob, result: AttemptResult, on worker: WorkerID?, now: PoolInstant, effects: inout Effects
    ) {
        inFlight -= 1
        if let worker, let target = queue.jobFinished(job, by: worker) { wakeWorker(for: target, effects: &effects) }
        if phase != .cancelling, breaker != nil {
            var success = false
            if case .success = result { success = true }
            report(breaker?.record(success: success, now: now), effects: &effects)
        }
        switch result {
        case .success:
            counters.completed += 1
            job.outcome.map { effects.outcomes.append(($0, .completed(attempts: job.attempt))) }
        case .failure(let error, let timedOut):
            if timedOut { counters.timedOut += 1 }
            if phase == .cancelling {
                counters.cancelled += 1
                cancelledWhileRunning += 1
                job.outcome.map { effects.outcomes.append(($0, .cancelled)) }
            } else if job.attempt < configuration.retry.maxAttempts {
                counters.retried += 1
                var retry = job
                retry.attempt += 1
                awaitingRetry[job.id] = retry
                let unit = Double.random(in: 0..<1)
                effects.scheduleRetries.append((job.id, configuration.retry.backoff(afterAttempt: job.attempt, unit: unit)))
            } else {
                counters.failed += 1
                let letter = DeadLetter(
                    id: job.id, key: job.job.key, attempts: job.attempt, lastError: error, timedOut: timedOut, at: now)
                deadLetterTotal += 1
                if configuration.deadLetterCapacity > 0 {
                    deadLetters.append(letter)
                    if deadLetters.count > configuration.deadLetterCapacity { deadLetters.removeFirst() }
                }
                effects.events.append(.deadLettered(letter))
                job.outcome.map {
                    effects.outcomes.append(($0, .failed(attempts: job.attempt, lastError: error, timedOut: timedOut)))
                }
            }
        }
    }

    mutating func workerExited(_ id: WorkerID, effects: inout Effects) {
        // A worker leaves with an empty buffer; should that ever not hold, its jobs are not lost.
        reclaimBuffer(of: id, effects: &effects)
        guard var record = workers.removeValue(forKey: id) else { return }
        runBuffers[id] = nil
        record.state = .stopped(at: effects.now)
        stoppedWorkers.append(snapshot(of: record, now: effects.now))
        if stoppedWorkers.count > Self.stoppedWorkersKept { stoppedWorkers.removeFirst() }
        if !record.retiring { activeWorkers -= 1 }
        unpark(id)
        signalStoppedIfDone(effects: &effects)
    }

    /// Resumes the shutdown's wait once every worker has stopped and no caller is running a job.
    private mutating func signalStoppedIfDone(effects: inout Effects) {
        if workersReleased && workers.isEmpty && callerAttempts == 0, let waiter = stoppedWaiter {
            stoppedWaiter = nil
            effects.signals.append(waiter)
        }
    }

    mutating func attach(_ task: Task<Void, Never>, to id: WorkerID) {
        if workers[id] != nil { workers[id]?.task = task }
        if phase == .cancelling { task.cancel() }
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

    // MARK: Scaling

    private mutating func scaleIfOverThreshold(now: PoolInstant, effects: inout Effects) {
        guard settings.mode == .queueThreshold, pendingCount > settings.scaleUpThreshold * activeWorkers, activeWorkers < settings.maxWorkers else { return }
        if let last = lastScaledAt, now - last < settings.cooldown { return }
        evaluateScaling(now: now, effects: &effects)
    }

    /// The scaler's tick: decide and apply.
    mutating func evaluateScaling(now: PoolInstant, effects: inout Effects) {
        // Once the workers are released (the drain is done), they stop as their hands empty: that is no
        // reason to start new ones for the minimum.
        guard phase == .running || (phase == .draining && !workersReleased) else { return }
        if let transition = breaker?.tick(now: now) {
            report(transition, effects: &effects)
            wakeParkedWorkersWithWork(effects: &effects)
        }
        let candidates = workers.values.filter { !$0.retiring }.map { record in
            let idleSince: PoolInstant? =
                switch record.state {
                case .idle(let since): since
                case .starting: record.startedAt
                default: nil
                }
            return ScalingInput.Worker(id: record.id, idleSince: idleSince)
        }
        let input = ScalingInput(
            now: now, pending: pendingCount, workers: candidates, lastScaledAt: lastScaledAt, settings: settings,
            load: loadWindow?.estimate(at: now), lastGrewAt: lastGrewAt)
        apply(ScalingPolicy.decide(input), now: now, effects: &effects)
    }

    private mutating func apply(_ decision: ScalingDecision, now: PoolInstant, effects: inout Effects) {
        switch decision {
        case .hold:
            return
        case .scaleUp(let target, let reason):
            let from = activeWorkers
            for _ in from..<target { effects.startWorkers.append(addWorker(now: now)) }
            lastGrewAt = now
            effects.events.append(.scaledUp(from: from, to: target, reason: reason))
        case .scaleDown(let suggested, let target, let reason):
            let from = activeWorkers
            let retire = queue.workersToRetire(count: suggested.count, from: activeWorkerIDs) ?? suggested
            for id in retire { self.retire(id, effects: &effects) }
            effects.events.append(.scaledDown(from: from, to: target, reason: reason))
        }
        lastScaledAt = now
        workersChanged(effects: &effects)
    }

    private var activeWorkerIDs: [WorkerID] { workers.values.filter { !$0.retiring }.map(\.id).sorted() }

    private mutating func workersChanged(effects: inout Effects) {
        queue.workersChanged(to: activeWorkerIDs)
        wakeParkedWorkersWithWork(effects: &effects)
    }

    // MARK: Flow control and faults

    mutating func setRateLimit(_ limit: RateLimit?, now: PoolInstant, effects: inout Effects) {
        if let limit {
            if bucket == nil { bucket = TokenBucket(limit: limit, now: now) } else { bucket?.change(to: limit, now: now) }
            // Jobs taken ahead go back, so that every job from now on starts through the limiter.
            for owner in runBuffers.keys { reclaimBuffer(of: owner, effects: &effects) }
            effects.events.append(.settingsChanged("rate limit \(limit.perSecond)/s, burst \(limit.burst)"))
        } else {
            bucket = nil
            effects.events.append(.settingsChanged("rate limit off"))
        }
        wakeParkedWorkersWithWork(effects: &effects)
    }

    mutating func setFaults(_ faults: FaultInjection, effects: inout Effects) {
        self.faults = faults
        effects.events.append(
            .settingsChanged(
                "faults: failure probability \(faults.failureProbability), extra latency \(formatted(faults.extraLatency))"))
    }

    /// Crashes `requested` (or a random worker): its running attempt fails with "worker crashed" (and is
    /// retried or dead-lettered per the retry policy), and a replacement starts at once.
    mutating func crashWorker(_ requested: WorkerID?, now: PoolInstant, effects: inout Effects) -> WorkerID? {
        guard phase == .running || phase == .draining else { return nil }
        let candidates = activeWorkerIDs
        guard !candidates.isEmpty else { return nil }
        let victim = requested ?? candidates[Int(random.next() % UInt64(candidates.count))]
        guard candidates.contains(victim), let record = workers[victim] else { return nil }
        workers[victim]?.crashed = true
        workers[victim]?.retiring = true
        activeWorkers -= 1
        var runningJob: JobID?
        reclaimBuffer(of: victim, effects: &effects)  // what it took ahead goes back; its run ends
        if let continuation = record.parked {
            unpark(victim)
            effects.resumeWorkers.append((continuation, .exit))
        } else if case .busy(let job, let since) = record.state {
            runningJob = job
            workers[victim]?.state = .draining(job: job, since: since)
            record.task.map { effects.cancelTasks.append($0) }
        }
        let replacement = addWorker(now: now)
        effects.startWorkers.append(replacement)
        effects.events.append(.workerCrashed(victim, job: runningJob))
        effects.events.append(.workerReplaced(old: victim, new: replacement))
        workersChanged(effects: &effects)
        return victim
    }

    /// Creates the configured initial workers (the owner starts their tasks).
    mutating func startInitialWorkers(now: PoolInstant) -> [WorkerID] {
        let ids = (0..<configuration.effectiveInitialWorkers).map { _ in addWorker(now: now) }
        queue.workersChanged(to: activeWorkerIDs)
        return ids
    }

    mutating func addWorker(now: PoolInstant) -> WorkerID {
        nextWorkerID += 1
        let id = WorkerID(nextWorkerID)
        workers[id] = WorkerRecord(id: id, startedAt: now)
        runBuffers[id] = RunBuffer()
        activeWorkers += 1
        return id
    }

    private mutating func retire(_ id: WorkerID, effects: inout Effects) {
        guard let record = workers[id], !record.retiring else { return }
        workers[id]?.retiring = true
        activeWorkers -= 1
        if let continuation = record.parked {
            unpark(id)
            effects.resumeWorkers.append((continuation, .exit))
        } else if case .busy(let job, let since) = record.state {
            workers[id]?.state = .draining(job: job, since: since)
        }
    }

    /// Replaces the scaling settings (already validated) and corrects the pool at once if it is now
    /// outside the new limits.
    mutating func updateSettings(_ new: ScalingSettings, now: PoolInstant, effects: inout Effects) {
        let old = settings
        settings = new
        var changes: [String] = []
        if old.minWorkers != new.minWorkers { changes.append("min \(old.minWorkers) -> \(new.minWorkers)") }
        if old.maxWorkers != new.maxWorkers { changes.append("max \(old.maxWorkers) -> \(new.maxWorkers)") }
        if old.scaleUpThreshold != new.scaleUpThreshold {
            changes.append("threshold \(old.scaleUpThreshold) -> \(new.scaleUpThreshold)")
        }
        if old.growth != new.growth { changes.append("growth changed") }
        if old.idleTimeout != new.idleTimeout {
            changes.append("idle timeout \(formatted(old.idleTimeout)) -> \(formatted(new.idleTimeout))")
        }
        if old.cooldown != new.cooldown { changes.append("cooldown \(formatted(old.cooldown)) -> \(formatted(new.cooldown))") }
        if old.mode != new.mode {
            changes.append("scaling \(old.mode) -> \(new.mode)")
            if Self.loadWindow(for: old.mode)?.span != Self.loadWindow(for: new.mode)?.span {
                loadWindow = Self.loadWindow(for: new.mode)
            }
        }
        if !changes.isEmpty { effects.events.append(.settingsChanged(changes.joined(separator: ", "))) }
        evaluateScaling(now: now, effects: &effects)
    }

    // MARK: Shutdown

    /// Closes admission; blocked submitters are refused. An immediate shutdown also cancels everything.
    mutating func beginShutdown(_ mode: ShutdownMode, now: PoolInstant, effects: inout Effects) -> Bool {
        guard phase == .running else { return false }
        phase = .draining
        effects.events.append(.shutdownStarted(mode))
        while let blocked = blockedSubmitters.popFirst() {
            effects.resumeSubmitters.append((blocked.continuation, reject(box: blocked.box, reason: .shuttingDown, effects: &effects)))
        }
        if case .immediate = mode { cancelRemaining(effects: &effects) }
        return true
    }

    private var isDrained: Bool { queue.count == 0 && inFlight == 0 && awaitingRetry.isEmpty }

    /// Registers the wait for a graceful drain; returns `false` (and keeps nothing) if it is already over.
    mutating func waitForDrain(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        if isDrained || phase == .cancelling { return false }
        drainedWaiter = continuation
        return true
    }

    private mutating func checkDrained(effects: inout Effects) {
        guard phase == .draining, isDrained, let waiter = drainedWaiter else { return }
        drainedWaiter = nil
        effects.signals.append(waiter)
    }

    /// An immediate shutdown asked for while a graceful one drains: cancels what is left now; returns whether
    /// there was a drain to escalate.
    mutating func escalateDrain(effects: inout Effects) -> Bool {
        guard phase == .draining else { return false }
        effects.events.append(.shutdownEscalated(remaining: remainingJobs))
        cancelRemaining(effects: &effects)
        return true
    }

    /// Ends every queued job and pending retry as cancelled and cancels the running ones.
    mutating func cancelRemaining(effects: inout Effects) {
        phase = .cancelling
        var cancelled = queue.removeAll()
        for id in Array(runBuffers.keys) {
            let unstarted = emptyBuffer(of: id)
            inFlight -= unstarted.count
            cancelled.append(contentsOf: unstarted)
        }
        cancelled.append(contentsOf: awaitingRetry.values)
        awaitingRetry.removeAll()
        effects.cancelTasks.append(contentsOf: retryTasks.values)
        retryTasks.removeAll()
        counters.cancelled += cancelled.count
        cancelledWhileQueued += cancelled.count
        for job in cancelled { job.outcome.map { effects.outcomes.append(($0, .cancelled)) } }
        for record in workers.values { record.task.map { effects.cancelTasks.append($0) } }
        effects.cancelTasks.append(contentsOf: callerTasks.values)
        callerTasks.removeAll()
        if let waiter = drainedWaiter {
            drainedWaiter = nil
            effects.signals.append(waiter)
        }
    }

    /// The number of jobs a graceful shutdown's deadline would cancel.
    var remainingJobs: Int { queue.count + inFlight + awaitingRetry.count }

    /// Tells every worker to stop once its hands are empty.
    mutating func releaseWorkers(effects: inout Effects) {
        workersReleased = true
        for id in parkedWorkers {
            if let continuation = workers[id]?.parked {
                workers[id]?.parked = nil
                effects.resumeWorkers.append((continuation, .exit))
            }
        }
        parkedWorkers.removeAll()
    }

    /// Registers the wait for every worker to stop; returns `false` if they already have.
    /// Caller-run attempts count too: the report waits for every job it accounts for.
    mutating func waitForWorkersToStop(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        if workers.isEmpty && callerAttempts == 0 { return false }
        stoppedWaiter = continuation
        return true
    }

    mutating func markStopped() { phase = .stopped }

    // MARK: Observation

    func workerSnapshots(now: PoolInstant) -> [WorkerSnapshot] {
        workers.values.sorted { $0.id < $1.id }.map { snapshot(of: $0, now: now) }
    }

    private func snapshot(of record: WorkerRecord, now: PoolInstant) -> WorkerSnapshot {
        var busy = record.busyNanoseconds
        switch record.state {
        case .busy(_, let since), .draining(_, let since): busy += (now - since).nanoseconds
        default: break
        }
        return WorkerSnapshot(
            id: record.id, state: record.state, completed: record.completed, failed: record.failed,
            busyTime: .nanoseconds(busy), startedAt: record.startedAt)
    }
}
