import DequeModule

// MARK: Scaling

extension PoolCore {
    mutating func scaleIfOverThreshold(now: PoolInstant, effects: inout Effects) {
        guard settings.mode == .queueThreshold, pendingCount > settings.scaleUpThreshold * activeWorkers,
            activeWorkers < settings.maxWorkers
        else { return }
        if let last = lastScaledAt, now - last < settings.cooldown { return }
        evaluateScaling(now: now, effects: &effects)
    }

    /// The scaler's tick: decide and apply.
    mutating func evaluateScaling(now: PoolInstant, effects: inout Effects) {
        guard lifecycle.scales else { return }
        if let transition = flow.tick(now: now) {
            report(transition, effects: &effects)
            wakeParkedWorkersWithWork(effects: &effects)
        }
        // A fixed-size pool at its size has nothing to decide (every decision lies within min...max): skip
        // building the scaler's view of every worker ten times a second, most of an idle pool's CPU.
        if settings.minWorkers == settings.maxWorkers && workers.active == settings.minWorkers { return }
        let input = ScalingInput(
            now: now, pending: pendingCount, workers: workers.scalingCandidates, lastScaledAt: lastScaledAt, settings: settings,
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
            let retire = queue.workersToRetire(count: suggested.count, from: workers.activeIDs) ?? suggested
            for id in retire {
                if case .wake(let continuation) = workers.retire(id) { effects.resumeWorkers.append((id, continuation, .exit)) }
            }
            effects.events.append(.scaledDown(from: from, to: target, reason: reason))
        }
        lastScaledAt = now
        workersChanged(effects: &effects)
    }

    private mutating func workersChanged(effects: inout Effects) {
        queue.workersChanged(to: workers.activeIDs)
        wakeParkedWorkersWithWork(effects: &effects)
    }

    /// Creates the configured initial workers (the owner starts their tasks).
    mutating func startInitialWorkers(now: PoolInstant) -> [WorkerID] {
        let ids = (0..<configuration.effectiveInitialWorkers).map { _ in addWorker(now: now) }
        queue.workersChanged(to: workers.activeIDs)
        return ids
    }

    mutating func addWorker(now: PoolInstant) -> WorkerID {
        let id = workers.add(now: now)
        runBuffers[id] = RunBuffer()
        return id
    }

    /// Replaces the scaling settings (already validated) and corrects the pool at once if it is now
    /// outside the new limits.
    mutating func updateSettings(_ new: ScalingSettings, now: PoolInstant, effects: inout Effects) {
        let old = settings
        settings = new
        let changes = Self.changes(from: old, to: new)
        if old.mode != new.mode, Self.loadWindow(for: old.mode)?.span != Self.loadWindow(for: new.mode)?.span {
            loadWindow = Self.loadWindow(for: new.mode)
        }
        if !changes.isEmpty { effects.events.append(.settingsChanged(changes.joined(separator: ", "))) }
        evaluateScaling(now: now, effects: &effects)
    }

    /// What changed between two settings, in the words of the event that reports it.
    private static func changes(from old: ScalingSettings, to new: ScalingSettings) -> [String] {
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
        if old.mode != new.mode { changes.append("scaling \(old.mode) -> \(new.mode)") }
        return changes
    }
}

// MARK: Flow control and faults

extension PoolCore {
    mutating func setRateLimit(_ limit: RateLimit?, now: PoolInstant, effects: inout Effects) {
        flow.setRateLimit(limit, now: now)
        if let limit {
            // Jobs taken ahead go back, so that every job from now on starts through the limiter.
            for owner in Array(runBuffers.keys) { reclaimBuffer(of: owner, effects: &effects) }
            effects.events.append(.settingsChanged("rate limit \(limit.perSecond)/s, burst \(limit.burst)"))
        } else {
            effects.events.append(.settingsChanged("rate limit off"))
        }
        // A sleep until the old limit's next token could outlast the new limit's (hours at 0.001/s).
        interruptThrottleSleep(effects: &effects)
        wakeParkedWorkersWithWork(effects: &effects)
    }

    /// Ends the throttled worker's sleep now (see ``FlowControl/interruptThrottleSleep()``); it then looks
    /// for a job under the current limit.
    mutating func interruptThrottleSleep(effects: inout Effects) {
        if let task = flow.interruptThrottleSleep() { effects.cancelTasks.append(task) }
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
        guard lifecycle.workersRun else { return nil }
        let candidates = workers.activeIDs
        guard !candidates.isEmpty else { return nil }
        let victim = requested ?? candidates[Int(random.next() % UInt64(candidates.count))]
        guard candidates.contains(victim) else { return nil }
        reclaimBuffer(of: victim, effects: &effects)  // what it took ahead goes back; its run ends
        var runningJob: JobID?
        switch workers.crash(victim) {
        case .wake(let continuation): effects.resumeWorkers.append((victim, continuation, .exit))
        case .running(let job, let task, let wait):
            runningJob = job
            task.map { effects.cancelTasks.append($0) }
            wait.map { effects.cancelWaits.append($0) }
        case .nothing: break
        }
        let replacement = addWorker(now: now)
        effects.startWorkers.append(replacement)
        effects.events.append(.workerCrashed(victim, job: runningJob))
        effects.events.append(.workerReplaced(old: victim, new: replacement))
        workersChanged(effects: &effects)
        return victim
    }
}

// MARK: Shutdown

extension PoolCore {
    /// Closes admission; blocked submitters are refused. An immediate shutdown also cancels everything.
    mutating func beginShutdown(_ mode: ShutdownMode, now: PoolInstant, effects: inout Effects) -> Bool {
        guard lifecycle.beginShutdown() else { return false }
        effects.events.append(.shutdownStarted(mode))
        while let blocked = blockedSubmitters.popFirst() {
            effects.resumeSubmitters.append((blocked.continuation, reject(box: blocked.box, reason: .shuttingDown, effects: &effects)))
        }
        if case .immediate = mode { cancelRemaining(effects: &effects) }
        return true
    }

    /// An immediate shutdown asked for while a graceful one drains: cancels what is left now; returns whether
    /// there was a drain to escalate.
    mutating func escalateDrain(effects: inout Effects) -> Bool {
        guard phase == .draining else { return false }
        effects.events.append(.shutdownEscalated(remaining: remainingJobs))
        cancelRemaining(effects: &effects)
        return true
    }

    /// The number of jobs a graceful shutdown's deadline would cancel.
    var remainingJobs: Int { queue.count + inFlight + awaitingRetryCount }

    private var isDrained: Bool { queue.count == 0 && inFlight == 0 && awaitingRetry.isEmpty }

    /// Registers the wait for a graceful drain; returns `false` (and keeps nothing) if it is already over.
    mutating func waitForDrain(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        lifecycle.waitForDrain(continuation, drained: isDrained)
    }

    mutating func checkDrained(effects: inout Effects) {
        if let waiter = lifecycle.drainWaiterIfDone(drained: isDrained) { effects.signals.append(waiter) }
    }

    /// Ends every queued job and pending retry as cancelled and cancels the running ones.
    mutating func cancelRemaining(effects: inout Effects) {
        let drainWaiter = lifecycle.cancel()
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
        ledger.cancelledBeforeStarting(cancelled.count)
        for job in cancelled { job.outcome.map { effects.outcomes.append(($0, .cancelled)) } }
        effects.cancelTasks.append(contentsOf: workers.tasks)
        effects.cancelWaits.append(contentsOf: workers.waits)
        effects.cancelTasks.append(contentsOf: callerTasks.values)
        callerTasks.removeAll()
        if let drainWaiter { effects.signals.append(drainWaiter) }
    }

    /// Tells every worker to stop once its hands are empty.
    mutating func releaseWorkers(effects: inout Effects) {
        lifecycle.releaseWorkers()
        interruptThrottleSleep(effects: &effects)
        for continuation in workers.unparkAll() { effects.resumeWorkers.append((nil, continuation, .exit)) }
    }

    /// Registers the wait for every worker to stop; returns `false` if they already have.
    /// Caller-run attempts count too: the report waits for every job it accounts for.
    mutating func waitForWorkersToStop(_ continuation: CheckedContinuation<Void, Never>) -> Bool {
        lifecycle.waitForStop(continuation, nothingRunning: workers.isEmpty && callerAttempts == 0)
    }

    mutating func markStopped() { lifecycle.markStopped() }

    // MARK: Observation

    func workerSnapshots(now: PoolInstant) -> [WorkerSnapshot] { workers.snapshots(now: now) }
}
