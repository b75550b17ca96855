/// The workers' side of the pool: the loop each worker runs, attempts, timeouts and retries.
extension WorkerPool {
    func startWorker(_ id: WorkerID) {
        let task = Task(executorPreference: taskExecutor) { [self] in await runWorker(id) }
        core.withLock { $0.attach(task, to: id) }
    }

    /// A worker's life: take a job, run it, record it, and park only when there is nothing to take.
    ///
    /// The hot path is one lock per job (``PoolCore/attemptFinished(_:result:startedAt:on:now:effects:)``
    /// records the finished job and hands out the next one) and no suspension while work is queued.
    private func runWorker(_ id: WorkerID) async {
        var effects = Effects(now: clock.now())
        var step = core.withLock { $0.workerStarted(id, now: effects.now, effects: &effects) }
        perform(effects)
        while true {
            switch step {
            case .run(let job):
                step = await run(job, on: id)
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
                try? await clock.sleep(until: until)
                var effects = Effects(now: clock.now())
                step = core.withLock { $0.throttleSleepEnded(id, now: effects.now, effects: &effects) }
                perform(effects)
            case .exit:
                var effects = Effects(now: clock.now())
                core.withLock { $0.workerExited(id, effects: &effects) }
                perform(effects)
                return
            }
        }
    }

    /// Runs one attempt of `job` on `worker` (or in the caller when `nil`), records it, and returns what
    /// the worker does next.
    @discardableResult
    func run(_ job: QueuedJob, on worker: WorkerID?) async -> WorkerStep {
        let measures = configuration.recordsLatencies
        let started = measures ? clock.now() : job.enqueuedAt
        let result = await attempt(job)
        let now = clock.now()
        if measures {
            let isFinal: Bool
            switch result {
            case .success: isFinal = true
            case .failure: isFinal = job.attempt >= configuration.retry.maxAttempts
            }
            latencies.record(
                worker: worker, queueWait: started - job.enqueuedAt, service: now - started,
                endToEnd: isFinal ? now - job.submittedAt : nil)
            if configuration.exportsLatencyTimers {
                metrics.recordLatencies(queueWait: started - job.enqueuedAt, service: now - started)
            }
        }
        var effects = Effects(now: now)
        let step = core.withLock {
            $0.attemptFinished(job, result: result, startedAt: started, on: worker, now: now, effects: &effects)
        }
        perform(effects)
        return step
    }

    /// One attempt, cancelled cooperatively if it outlives its timeout.
    ///
    /// Without a timeout the job runs inline, with no task of its own. With one, it runs as a child task
    /// beside a timer child; the timer prefers the shared pool so that it fires even while every worker
    /// thread is busy.
    private func attempt(_ queued: QueuedJob) async -> AttemptResult {
        let work = withInjectedFault(queued)
        guard let timeout = queued.job.timeout ?? configuration.defaultTimeout else {
            do {
                try await work()
                return .success
            } catch {
                return .failure(error: String(describing: error), timedOut: false)
            }
        }
        let clock = self.clock
        return await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask {
                do {
                    try await work()
                    return .success
                } catch {
                    return .failure(error: String(describing: error), timedOut: false)
                }
            }
            group.addTask(executorPreference: globalConcurrentExecutor) {
                do {
                    try await clock.sleep(for: timeout)
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

    /// The job's work, preceded by the fault injection chose for this attempt, if any.
    private func withInjectedFault(_ queued: QueuedJob) -> @Sendable () async throws -> Void {
        let original = queued.job.work
        guard let fault = queued.injectedFault else { return original }
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
