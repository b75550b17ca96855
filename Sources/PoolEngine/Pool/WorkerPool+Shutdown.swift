extension WorkerPool {
    /// Stops the pool and accounts for every job.
    ///
    /// Both modes close admission at once (later submissions are rejected with
    /// ``RejectionReason/shuttingDown``, and callers blocked in ``submit(_:)`` are refused).
    /// ``ShutdownMode/graceful(deadline:)`` lets the queued, running and retrying jobs finish, and at the
    /// deadline cancels what is left; ``ShutdownMode/immediate`` cancels at once. Cancellation is
    /// cooperative: a running job that ignores it is waited for. Calling this again, or concurrently,
    /// returns the first call's report; an ``ShutdownMode/immediate`` call during a graceful drain first
    /// escalates it (what is left is cancelled now, as at the deadline), so it returns as soon as the
    /// running jobs have stopped.
    public func shutdown(_ mode: ShutdownMode) async -> ShutdownReport {
        let began = clock.now()
        var effects = Effects(now: began)
        let first = core.withLock { core in
            if core.beginShutdown(mode, now: began, effects: &effects) { return true }
            if case .immediate = mode { _ = core.escalateDrain(effects: &effects) }
            return false
        }
        perform(effects)
        guard first else { return await shutdownReport.wait() }

        var deadlineReached = false
        if case .graceful(let deadline) = mode {
            deadlineReached = !(await drain(until: began + deadline))
        }

        effects = Effects(now: clock.now())
        core.withLock { $0.releaseWorkers(effects: &effects) }
        perform(effects)
        await withCheckedContinuation { continuation in
            if !core.withLock({ $0.waitForWorkersToStop(continuation) }) { continuation.resume() }
        }
        stopBackgroundWork()

        let end = clock.now()
        let report = core.withLock { core in
            core.markStopped()
            return ShutdownReport(
                mode: mode, counters: core.counters, deadlineReached: deadlineReached,
                cancelledWhileQueued: core.cancelledWhileQueued, cancelledWhileRunning: core.cancelledWhileRunning,
                duration: end - began)
        }
        metrics.publish(counters: report.counters, workers: 0, queueDepth: 0, inFlight: 0)
        publish([.shutdownCompleted(report.counters)], at: end)
        eventHub.finish()
        shutdownReport.complete(report)
        return report
    }

    /// Waits for the queue, the running jobs and the pending retries to finish; at `deadline`, cancels
    /// what is left instead. Returns whether everything finished in time.
    private func drain(until deadline: PoolInstant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { continuation in
                    if !core.withLock({ $0.waitForDrain(continuation) }) { continuation.resume() }
                }
                return true
            }
            group.addTask { [clock] in
                do {
                    try await clock.sleep(until: deadline)
                    return false
                } catch {
                    return true
                }
            }
            let drained = await group.next() ?? true
            if !drained {
                // Resumes the drain waiter too, so the group can end.
                var effects = Effects(now: clock.now())
                let remaining = core.withLock { core in
                    let remaining = core.remainingJobs
                    core.cancelRemaining(effects: &effects)
                    return remaining
                }
                effects.events.append(.shutdownDeadlineReached(remaining: remaining))
                perform(effects)
            }
            group.cancelAll()
            return drained
        }
    }
}
