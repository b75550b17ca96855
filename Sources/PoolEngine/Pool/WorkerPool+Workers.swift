/// The workers' side of the pool: the loop each worker runs, attempts, timeouts and retries.
extension WorkerPool {
    func startWorker(_ id: WorkerID) {
        let task = Task(executorPreference: taskExecutor) { [self] in await runWorker(id) }
        core.withLock { $0.attach(task, to: id) }
    }

    /// A worker's life: take a job, run it, record it, and park only when there is nothing to take.
    ///
    /// The hot path is one lock per run of jobs: ``PoolCore/runFinished(_:results:stoppedEarly:on:now:effects:takeAheadLimit:tookAhead:)``
    /// records what the worker ran and hands out its next jobs (more than one when jobs are short); and no
    /// suspension while work is queued.
    private func runWorker(_ id: WorkerID) async {
        var effects = Effects(now: clock.now())
        var (step, buffer) = core.withLock { ($0.workerStarted(id, now: effects.now, effects: &effects), $0.buffer(of: id)) }
        perform(effects)
        var run = WorkerRun(buffer: buffer, home: WorkerHomeRule(enabled: ownedThreads != nil && configuration.movesAwaitingWorkers))
        // Each pass runs the worker where its home is, until the home changes or the worker exits.
        while true {
            let exited: Bool
            switch run.home.home {
            case .ownThreads:
                exited = await work(&step, &run, on: id)
            case .sharedPool:
                exited = await withTaskExecutorPreference(globalConcurrentExecutor) { await work(&step, &run, on: id) }
            }
            if exited { return }
        }
    }

    /// The worker's loop, from `step`, on the executor it is called on: until the worker exits (true) or
    /// its home changes (false, with the worker's next step in `step`).
    nonisolated(nonsending) private func work(_ step: inout WorkerStep, _ run: inout WorkerRun, on id: WorkerID) async -> Bool {
        let home = run.home.home
        while true {
            switch step {
            case .run(let job):
                run.jobs.append(job)
                step = await runJobs(&run, on: id)
                if run.home.home != home { return false }
            case .runTaken:
                step = await runJobs(&run, on: id)
                if run.home.home != home { return false }
            case .park:
                step = await withUnsafeContinuation { continuation in
                    var effects = Effects(now: clock.now())
                    let immediate = core.withLock {
                        $0.park(id, continuation: continuation, now: effects.now, effects: &effects)
                    }
                    perform(effects)
                    if let immediate { continuation.resume(returning: immediate) }
                }
            case .sleep(let until):
                // A task of its own, so that a new rate limit or the workers' release can end it (see
                // FlowControl.interruptThrottleSleep); the worker's own cancellation ends it too.
                let clock = self.clock
                let sleep = Task(executorPreference: taskExecutor) { _ = try? await clock.sleep(until: until) }
                if core.withLock({ $0.flow.throttleSleepRegistered(sleep) }) { sleep.cancel() }
                await withTaskCancellationHandler {
                    await sleep.value
                } onCancel: {
                    sleep.cancel()
                }
                var effects = Effects(now: clock.now())
                step = core.withLock { $0.throttleSleepEnded(id, now: effects.now, effects: &effects) }
                perform(effects)
            case .exit:
                var effects = Effects(now: clock.now())
                core.withLock { $0.workerExited(id, effects: &effects) }
                perform(effects)
                return true
            }
        }
    }

    /// Runs the job in `run.jobs`, then the ones in the worker's run buffer, until the buffer is empty (a
    /// crash, a shutdown or a suspended job empties it) or the run has lasted ``WorkerRun/handBackAfter``
    /// (a job turned out long: what is left goes back to the queue); then records the run and returns what
    /// the worker does next.
    ///
    /// `nonisolated(nonsending)`, like the job's closure: the whole run stays on the worker's thread with
    /// no executor switch per job.
    nonisolated(nonsending) private func runJobs(_ run: inout WorkerRun, on worker: WorkerID) async -> WorkerStep {
        run.results.removeAll(keepingCapacity: true)
        let measures = configuration.recordsLatencies
        let runStart = WorkerRun.monotonicNanoseconds()
        var mark = runStart
        var stoppedEarly = false
        var suspended = 0
        while run.results.count < run.jobs.count {
            let index = run.results.count
            let started = measures ? (clockIsMonotonic ? PoolInstant(nanoseconds: mark) : clock.now()) : .zero
            // With jobs in its buffer, the worker tells its thread which job runs, so that if the job suspends
            // the pool puts the buffer back in the queue rather than keep those jobs waiting behind it.
            // The start time stays published until the pool records the run, so a worker stopped anywhere in
            // its run (a long job, or its thread descheduled) looks stalled to the others.
            let watched = run.aheadLeft > 0
            if watched { run.buffer?.currentJobStart.store(mark, ordering: .relaxed) }
            // A worker that may move to the shared pool also learns whether each job suspends.
            let marked = watched || run.home.watchesJobs
            if marked { DedicatedThreadExecutor.markJobRunning(worker, reclaimsBuffer: watched) }
            let job = run.jobs[index].job
            let work = job.pooledWait?.work(on: clock) ?? job.work
            let timeout = job.timeout ?? configuration.defaultTimeout
            run.results.append(await attempt(work, timeout: timeout, fault: run.jobs[index].injectedFault))
            // A job with a timeout runs as a child task, so its worker always suspends: no evidence.
            if marked, !DedicatedThreadExecutor.markJobReturned(), timeout == nil { suspended += 1 }
            mark = WorkerRun.monotonicNanoseconds()
            if measures {
                run.sample(
                    index, started: started, ended: clockIsMonotonic ? PoolInstant(nanoseconds: mark) : clock.now(),
                    maxAttempts: configuration.retry.maxAttempts)
            }
            // (A crash or shutdown empties the buffer, which ends the run at the next pop.)
            if mark - runStart >= WorkerRun.handBackAfter {
                // What it took ahead goes back; with nothing taken ahead there is nothing to look for.
                stoppedEarly = run.aheadLeft > 0
                break
            }
            guard run.aheadLeft > 0, let next = run.buffer?.jobs.withLock({ $0.popFirst() }) else {
                run.aheadLeft = 0
                break
            }
            run.aheadLeft -= 1
            run.jobs.append(next)
        }
        run.pace(jobs: run.results.count, nanoseconds: mark - runStart)
        if measures { flushLatencies(&run, worker: worker) }
        // A worker about to move to the shared pool takes nothing ahead: there it runs one job at a time.
        let limit =
            run.home.ran(jobs: run.results.count, suspended: suspended) == .sharedPool
            ? 0 : configuration.pacesTakeAhead ? run.takeAheadLimit(configuration.takeAhead) : configuration.takeAhead
        var effects = Effects(now: clock.now())
        let step = core.withLock {
            $0.runFinished(
                &run.jobs, results: run.results, stoppedEarly: stoppedEarly, on: worker, now: effects.now,
                effects: &effects, takeAheadLimit: limit, tookAhead: &run.aheadLeft)
        }
        perform(effects)
        return step
    }

    private func flushLatencies(_ run: inout WorkerRun, worker: WorkerID) {
        record(run.samples, worker: worker)
        run.samples.removeAll(keepingCapacity: true)
    }

    /// Records measured attempts into the pool's histograms (and its metrics' timers when exported).
    func record(_ samples: some Collection<LatencySample>, worker: WorkerID) {
        latencies.record(samples, worker: worker)
        if configuration.exportsLatencyTimers {
            for sample in samples {
                metrics.recordLatencies(queueWait: .nanoseconds(sample.queueWait), service: .nanoseconds(sample.service))
            }
        }
    }

    /// Runs one attempt of a job that the caller runs itself (``OverflowPolicy/runInCaller``) and records it.
    ///
    /// The attempt runs in a task the pool holds, so a shutdown's deadline cancels it as it cancels a
    /// worker's job (and the shutdown reports only once it has ended); cancelling the caller cancels it too.
    func runInCaller(_ job: QueuedJob) async {
        let started = clock.now()
        let outcome = Locked<AttemptResult>(.failure(error: "cancelled", timedOut: false))
        let work = job.job.pooledWait?.work(on: clock) ?? job.job.work
        let timeout = job.job.timeout ?? configuration.defaultTimeout
        let fault = job.injectedFault
        let task = Task { [self] in
            let result = await attempt(work, timeout: timeout, fault: fault)
            outcome.withLock { $0 = result }
        }
        core.withLock { $0.attach(callerTask: task, to: job.id) }
        await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        let result = outcome.withLock { $0 }
        if configuration.recordsLatencies {
            var run = WorkerRun(buffer: nil)
            run.jobs.append(job)
            run.results.append(result)
            run.sample(0, started: started, ended: clock.now(), maxAttempts: configuration.retry.maxAttempts)
            latencies.record(run.samples, worker: nil)
        }
        var effects = Effects(now: clock.now())
        core.withLock { $0.callerAttemptFinished(job, result: result, now: effects.now, effects: &effects) }
        perform(effects)
    }

    /// One attempt, cancelled cooperatively if it outlives its timeout.
    ///
    /// Without a timeout the job runs inline, with no task of its own. With one, it runs as a child task
    /// beside a timer child; the timer prefers the shared pool so that it fires even while every worker
    /// thread is busy.
    nonisolated(nonsending) private func attempt(
        _ work: @escaping Job.Work, timeout: Duration?, fault: InjectedFault?
    ) async -> AttemptResult {
        let work: Job.Work = if let fault { withInjectedFault(work, fault) } else { work }
        guard let timeout else { return await AttemptResult.of(work) }
        let clock = self.clock
        return await AttemptResult.racing(work, timeout: timeout) { try await clock.sleep(for: $0) }
    }

    /// The job's work, preceded by the fault injection chose for this attempt.
    private func withInjectedFault(_ original: @escaping Job.Work, _ fault: InjectedFault) -> Job.Work {
        let clock = self.clock
        return {
            if fault.delay > .zero { try await clock.sleep(for: fault.delay) }
            if fault.fails { throw InjectedFailure() }
            try await original()
        }
    }

    func scheduleRetry(_ id: JobID, after delay: Duration) {
        let task = Task { [self] in
            do {
                try await clock.sleep(for: delay)
            } catch {
                return
            }
            var effects = Effects(now: clock.now())
            core.withLock { $0.retryDue(id, now: effects.now, effects: &effects) }
            perform(effects)
        }
        core.withLock { $0.attach(retryTask: task, to: id) }
    }
}

/// A worker's own buffers and pace, kept across its runs of jobs so that the hot path allocates nothing.
struct WorkerRun {
    /// The worker's run buffer (in the pool's record of the worker too, so that others can steal from it).
    let buffer: RunBuffer?
    /// At most how many jobs are in the buffer (others may have taken some back).
    var aheadLeft = 0
    /// The run so far: the job the worker was given, then those it popped from its buffer.
    var jobs: [QueuedJob] = []
    /// The results of the jobs run so far, in order.
    var results: [AttemptResult] = []
    /// Latencies measured in this run, recorded into the pool's histograms once per run.
    var samples: [LatencySample] = []
    /// Where the worker runs its jobs: the pool's threads, or the shared pool while its jobs keep suspending.
    var home: WorkerHomeRule
    /// Recent service time per job, smoothed; `nil` until the first run.
    private var nanosecondsPerJob: Int64?

    /// A run of jobs taken together aims to last about this long, so taking ahead only ever delays the
    /// jobs left in the queue by about this much.
    static let runBudget: Int64 = 50_000
    /// A run that has lasted this long puts its unstarted jobs back: a job turned out long.
    static let handBackAfter: Int64 = 1_000_000

    /// The arrays grow on a worker's first long run and keep their capacity; nothing is reserved up front,
    /// which would cost ~9 KB for each of thousands of mostly sleeping workers.
    init(buffer: RunBuffer?, home: WorkerHomeRule = WorkerHomeRule(enabled: false)) {
        self.buffer = buffer
        self.home = home
    }

    /// Measures `jobs[index]`, whose result is `results[index]`.
    mutating func sample(_ index: Int, started: PoolInstant, ended: PoolInstant, maxAttempts: Int) {
        samples.append(
            LatencySample(jobs[index], result: results[index], started: started, ended: ended, maxAttempts: maxAttempts))
    }

    mutating func pace(jobs: Int, nanoseconds: Int64) {
        let sample = nanoseconds / Int64(max(jobs, 1))
        nanosecondsPerJob = nanosecondsPerJob.map { ($0 * 3 + sample) / 4 } ?? sample
    }

    /// How many jobs to take ahead of the next one: as many as fit in ``runBudget``, at most `limit`.
    func takeAheadLimit(_ limit: Int) -> Int {
        guard limit > 0, let perJob = nanosecondsPerJob, perJob < Self.runBudget else { return 0 }
        return min(limit, Int(Self.runBudget / max(perJob, 1)) - 1)
    }

    /// The machine's monotonic clock, whatever clock the pool runs on: pacing is about real time.
    static func monotonicNanoseconds() -> Int64 { SystemPoolClock().now().nanoseconds }
}

extension LatencySample {
    /// The latencies of an attempt of `job` that ran from `started` to `ended` with `result`; end to end only
    /// for the job's last attempt (a success, or a failure with no retry left).
    init(_ job: QueuedJob, result: AttemptResult, started: PoolInstant, ended: PoolInstant, maxAttempts: Int) {
        let isFinal: Bool
        switch result {
        case .success: isFinal = true
        case .failure: isFinal = job.attempt >= maxAttempts
        }
        // Plain nanosecond arithmetic: `Duration` round-trips through 128-bit attoseconds.
        self.init(
            queueWait: started.nanoseconds &- job.enqueuedAt.nanoseconds,
            service: ended.nanoseconds &- started.nanoseconds,
            endToEnd: isFinal ? ended.nanoseconds &- job.submittedAt.nanoseconds : nil)
    }
}
