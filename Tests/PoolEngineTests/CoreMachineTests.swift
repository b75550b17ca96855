import Testing

@testable import PoolEngine

/// The pool core's state machines on their own: plain values, instants by hand, no threads.
private func at(_ milliseconds: Int64) -> PoolInstant { PoolInstant(nanoseconds: milliseconds * 1_000_000) }

private func queuedJob(_ id: UInt64, attempt: Int = 1, key: String? = nil) -> QueuedJob {
    QueuedJob(id: JobID(id), job: Job(key: key) {}, attempt: attempt, submittedAt: .zero, enqueuedAt: .zero, outcome: nil)
}

@Suite("Core: lifecycle")
struct LifecycleTests {
    @Test("running -> draining -> cancelling -> stopped; only the first shutdown begins one")
    func phases() {
        var lifecycle = Lifecycle<String>()
        #expect(lifecycle.isAccepting && lifecycle.scales && lifecycle.workersRun)
        let began = lifecycle.beginShutdown()
        #expect(began)
        #expect(lifecycle.phase == .draining && !lifecycle.isAccepting && lifecycle.isDraining)
        let beganAgain = lifecycle.beginShutdown()
        #expect(!beganAgain, "a second shutdown does not begin another")
        #expect(lifecycle.scales, "draining still keeps the minimum until the workers are released")
        lifecycle.releaseWorkers()
        #expect(!lifecycle.scales)
        _ = lifecycle.cancel()
        #expect(lifecycle.isCancelling && !lifecycle.workersRun)
        lifecycle.markStopped()
        #expect(lifecycle.phase == .stopped)
    }

    @Test("the drain's waiter: kept only while there is something to wait for, handed back once, or on cancel")
    func drainWaiter() {
        var lifecycle = Lifecycle<String>()
        _ = lifecycle.beginShutdown()
        let keptWhenDrained = lifecycle.waitForDrain("early", drained: true)
        #expect(!keptWhenDrained, "already drained: nothing kept")
        let keptWhileDraining = lifecycle.waitForDrain("drain", drained: false)
        #expect(keptWhileDraining)
        #expect(lifecycle.drainWaiterIfDone(drained: false) == nil)
        #expect(lifecycle.drainWaiterIfDone(drained: true) == "drain")
        #expect(lifecycle.drainWaiterIfDone(drained: true) == nil, "handed back once")
        let keptAgain = lifecycle.waitForDrain("again", drained: false)
        #expect(keptAgain)
        #expect(lifecycle.cancel() == "again", "a cancel ends the drain's wait")
        let keptWhenCancelling = lifecycle.waitForDrain("late", drained: false)
        #expect(!keptWhenCancelling, "nothing to drain once cancelling")
    }

    @Test("the stop's waiter is handed back only once the workers are released and nothing runs")
    func stopWaiter() {
        var lifecycle = Lifecycle<Int>()
        let keptWhenIdle = lifecycle.waitForStop(1, nothingRunning: true)
        #expect(!keptWhenIdle)
        let keptWhileRunning = lifecycle.waitForStop(2, nothingRunning: false)
        #expect(keptWhileRunning)
        #expect(lifecycle.stopWaiterIfDone(nothingRunning: true) == nil, "workers not released yet")
        lifecycle.releaseWorkers()
        #expect(lifecycle.stopWaiterIfDone(nothingRunning: false) == nil)
        #expect(lifecycle.stopWaiterIfDone(nothingRunning: true) == 2)
        #expect(lifecycle.stopWaiterIfDone(nothingRunning: true) == nil)
    }
}

@Suite("Core: admission")
struct AdmissionRuleTests {
    @Test("shutting down refuses first, then an open breaker, then a full queue follows its policy")
    func order() {
        let rule = AdmissionRule(capacity: 2, overflow: .reject)
        var asked = false
        #expect(
            rule.decide(
                accepting: false,
                breakerAdmits: {
                    asked = true
                    return true
                }(), queued: 0, canWait: false, callerMayRun: false) == .reject(.shuttingDown))
        #expect(!asked, "the breaker is not asked while shutting down (asking can move it to half-open)")
        #expect(rule.decide(accepting: true, breakerAdmits: false, queued: 0, canWait: false, callerMayRun: false) == .reject(.circuitOpen))
        #expect(rule.decide(accepting: true, breakerAdmits: true, queued: 1, canWait: false, callerMayRun: false) == .enqueue)
        #expect(rule.decide(accepting: true, breakerAdmits: true, queued: 2, canWait: true, callerMayRun: true) == .reject(.queueFull))
    }

    @Test("each overflow policy on a full queue, and what the submitting call allows")
    func overflow() {
        func decide(_ policy: OverflowPolicy, canWait: Bool = false, callerMayRun: Bool = false) -> AdmissionDecision {
            AdmissionRule(capacity: 1, overflow: policy).decide(
                accepting: true, breakerAdmits: true, queued: 1, canWait: canWait, callerMayRun: callerMayRun)
        }
        #expect(decide(.dropOldest) == .dropOldestThenEnqueue)
        #expect(decide(.wait, canWait: true) == .block)
        #expect(decide(.wait) == .reject(.queueFull), "trySubmit never waits")
        #expect(decide(.runInCaller, callerMayRun: true) == .runInCaller)
        #expect(decide(.runInCaller) == .reject(.queueFull))
        #expect(AdmissionRule(capacity: nil, overflow: .reject).hasRoom(queued: Int.max - 1))
    }
}

@Suite("Core: worker registry")
struct WorkerRegistryTests {
    @Test("workers are numbered once; the last parked is woken first; unparking takes one out of the order")
    func parking() {
        var registry = WorkerRegistry<String, Int, Int>()
        let (a, b, c) = (registry.add(now: at(0)), registry.add(now: at(0)), registry.add(now: at(0)))
        #expect([a, b, c].map(\.rawValue) == [1, 2, 3] && registry.active == 3)
        registry.park(a, "a")
        registry.park(b, "b")
        registry.park(c, "c")
        #expect(registry.lastParked == c)
        #expect(registry.unpark(b) == "b" && registry.parkedOrder == [a, c] && !registry.isParked(b))
        #expect(registry.unparkAll() == ["a", "c"] && registry.lastParked == nil)
    }

    @Test("retiring: a parked worker is woken to exit, a busy one drains, a leaving one is left alone; active counts those staying")
    func retiring() {
        var registry = WorkerRegistry<String, Int, Int>()
        let idle = registry.add(now: at(0))
        let busy = registry.add(now: at(0))
        registry.park(idle, "idle")
        registry.markBusy(busy, with: JobID(7), now: at(5))
        registry.attach(99, to: busy)
        guard case .wake("idle") = registry.retire(idle) else {
            Issue.record("the parked worker is woken")
            return
        }
        guard case .running(JobID(7), 99?, nil) = registry.retire(busy) else {
            Issue.record("the busy one drains")
            return
        }
        #expect(registry[busy]?.state == .draining(job: JobID(7), since: at(5)))
        guard case .nothing = registry.retire(busy) else {
            Issue.record("retired once")
            return
        }
        #expect(registry.active == 0 && registry.activeIDs.isEmpty)
        #expect(registry.exited(idle, now: at(10)) && !registry.exited(idle, now: at(10)))
        #expect(registry.active == 0, "a retired worker leaving does not count twice")
        #expect(registry.stopped.last?.state == .stopped(at: at(10)))
    }

    @Test("busy time adds up run by run, and a snapshot includes the job running now; a crash marks the worker")
    func busyTime() {
        var registry = WorkerRegistry<String, Int, Int>()
        let id = registry.add(now: at(0))
        registry.markBusy(id, with: JobID(1), now: at(10))
        #expect(registry.endRun(of: id, completed: 1, failed: 0, now: at(30)) == .milliseconds(20))
        registry.markIdle(id, now: at(30))
        registry.markIdle(id, now: at(40))
        #expect(registry[id]?.state == .idle(since: at(30)), "idle since it became idle, not since it last looked")
        registry.markBusy(id, with: JobID(2), now: at(50))
        #expect(registry.snapshots(now: at(60)).first?.busyTime == .milliseconds(30))
        guard case .running = registry.crash(id) else {
            Issue.record("a crashed busy worker stops after its job")
            return
        }
        #expect(registry[id]?.crashed == true && registry.active == 0)
        #expect(registry.hasCrashed(id) && !registry.isActive(id), "read in place as the core asks per run")
        let exited = registry.add(now: at(0))
        _ = registry.exited(exited, now: at(1))
        #expect(registry.active == 0, "an active worker that exits leaves the count")
    }

    @Test("an owned wait is kept on its worker until the run ends, handed over by a crash, and refused once crashed")
    func ownedWaits() {
        var registry = WorkerRegistry<String, Int, Int>()
        let (a, b) = (registry.add(now: at(0)), registry.add(now: at(0)))
        registry.markBusy(a, with: JobID(1), now: at(1))
        registry.markBusy(b, with: JobID(2), now: at(1))
        let attached = (registry.attach(wait: 10, to: a), registry.attach(wait: 20, to: b))
        #expect(attached == (true, true))
        #expect(registry.waits.sorted() == [10, 20])
        _ = registry.endRun(of: a, completed: 1, failed: 0, now: at(2))
        #expect(registry[a]?.wait == nil && registry.waits == [20], "the run's end lets go of the wait")
        guard case .running(JobID(2), nil, 20?) = registry.crash(b) else {
            Issue.record("a crash hands over the wait to end")
            return
        }
        let refused = (registry.attach(wait: 30, to: b), registry.attach(wait: 40, to: WorkerID(42)))
        #expect(refused == (false, false), "a crashed worker takes no new wait, nor one that is not there")
    }

    @Test("a worker that is not there: every change is a no-op, and it is neither active, crashed nor parked")
    func unknownWorker() {
        var registry = WorkerRegistry<String, Int, Int>()
        let known = registry.add(now: at(0))
        let unknown = WorkerID(42)
        registry.park(unknown, "ghost")
        registry.markBusy(unknown, with: JobID(1), now: at(1))
        registry.markIdle(unknown, now: at(2))
        #expect(registry.endRun(of: unknown, completed: 1, failed: 0, now: at(3)) == nil)
        #expect(registry.unpark(unknown) == nil && registry.parkedOrder.isEmpty)
        #expect(!registry.isActive(unknown) && !registry.hasCrashed(unknown) && !registry.isParked(unknown))
        #expect(registry.isActive(known) && registry[unknown] == nil && registry.active == 1)
    }

    @Test("the last 32 stopped workers are kept, newest last")
    func stoppedKept() {
        var registry = WorkerRegistry<String, Int, Int>()
        for index in 0..<40 { _ = registry.exited(registry.add(now: at(0)), now: at(Int64(index))) }
        #expect(registry.stopped.count == 32 && registry.stopped.last?.id == WorkerID(40))
    }
}

@Suite("Core: taking ahead")
struct TakeAheadRuleTests {
    @Test("a worker takes at most its share of the queue, up to the limit, and none when rules decide each job")
    func count() {
        let rule = TakeAheadRule(strategyAllows: true, ownThreads: true, takeAhead: 8)
        #expect(rule.count(limit: 8, queued: 100, activeWorkers: 2, decidesEachJob: false) == 8)
        #expect(rule.count(limit: 8, queued: 9, activeWorkers: 2, decidesEachJob: false) == 4, "its share")
        #expect(rule.count(limit: 8, queued: 1, activeWorkers: 2, decidesEachJob: false) == 0)
        #expect(rule.count(limit: 8, queued: 100, activeWorkers: 2, decidesEachJob: true) == 0, "rate limit or breaker")
        #expect(rule.count(limit: 8, queued: 10_000, activeWorkers: 257, decidesEachJob: false) == 0, "too many workers to scan")
        #expect(rule.count(limit: 0, queued: 100, activeWorkers: 1, decidesEachJob: false) == 0)
        #expect(
            TakeAheadRule(strategyAllows: false, ownThreads: true, takeAhead: 8).count(
                limit: 8, queued: 100, activeWorkers: 1, decidesEachJob: false) == 0)
        #expect(
            TakeAheadRule(strategyAllows: true, ownThreads: false, takeAhead: 8).count(
                limit: 8, queued: 100, activeWorkers: 1, decidesEachJob: false) == 0)
    }

    @Test("a run stalls after 1 ms without progress; no run never stalls")
    func stalled() {
        #expect(!TakeAheadRule.isStalled(lastProgress: 0, now: 10_000_000_000))
        #expect(!TakeAheadRule.isStalled(lastProgress: 5_000_000, now: 5_999_999))
        #expect(TakeAheadRule.isStalled(lastProgress: 5_000_000, now: 6_000_000))
    }
}

@Suite("Core: outcomes")
struct OutcomeLedgerTests {
    @Test("every fate is counted once and the counts balance: completed, retried then dead-lettered, refused, dropped, cancelled")
    func fates() {
        var ledger = OutcomeLedger(
            retry: RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(100), jitter: 0), deadLetterCapacity: 1, jitterSeed: 1)
        for _ in 0..<5 { ledger.admitted() }
        ledger.refused()
        #expect(ledger.attemptEnded(queuedJob(1), result: .success, cancelling: false, now: at(1)) == .completed(attempts: 1))
        #expect(
            ledger.attemptEnded(queuedJob(2), result: .failure(error: "no", timedOut: true), cancelling: false, now: at(2))
                == .retry(after: .milliseconds(100)))
        guard
            case .deadLettered(let letter) = ledger.attemptEnded(
                queuedJob(2, attempt: 2), result: .failure(error: "no", timedOut: false), cancelling: false, now: at(3))
        else {
            Issue.record("the last attempt dead-letters the job")
            return
        }
        #expect(letter.attempts == 2 && letter.lastError == "no" && letter.at == at(3))
        ledger.dropped()
        #expect(
            ledger.attemptEnded(queuedJob(4), result: .failure(error: "cancelled", timedOut: false), cancelling: true, now: at(4))
                == .cancelled)
        ledger.cancelledBeforeStarting(1)
        let counters = ledger.counters
        #expect(
            counters.submitted == 6 && counters.completed == 1 && counters.failed == 1 && counters.rejected == 2 && counters.cancelled == 2)
        #expect(counters.retried == 1 && counters.timedOut == 1 && counters.isBalanced)
        #expect(ledger.cancelledWhileRunning == 1 && ledger.cancelledWhileQueued == 1)
    }

    @Test("dead letters keep the newest up to the capacity; the total counts all")
    func deadLetterCapacity() {
        var ledger = OutcomeLedger(retry: .none, deadLetterCapacity: 2, jitterSeed: 1)
        for id in 1...3 {
            _ = ledger.attemptEnded(queuedJob(UInt64(id)), result: .failure(error: "e", timedOut: false), cancelling: false, now: at(0))
        }
        #expect(ledger.deadLetters.map(\.id.rawValue) == [2, 3] && ledger.deadLetterTotal == 3)
    }

    @Test("the backoff's jitter comes from the seed: the same seed, the same backoffs")
    func seededJitter() {
        func backoffs(seed: UInt64) -> [OutcomeLedger.Fate] {
            var ledger = OutcomeLedger(retry: RetryPolicy(maxAttempts: 9, jitter: 0.5), deadLetterCapacity: 0, jitterSeed: seed)
            return (1...5).map {
                ledger.attemptEnded(queuedJob(UInt64($0)), result: .failure(error: "e", timedOut: false), cancelling: false, now: at(0))
            }
        }
        #expect(backoffs(seed: 7) == backoffs(seed: 7))
        #expect(backoffs(seed: 7) != backoffs(seed: 8))
    }
}

@Suite("Core: flow control")
struct FlowControlMachineTests {
    @Test("a rate limit of 10/s, burst 2: two start at once, the third waits 100 ms for its token")
    func rateLimit() {
        var flow = FlowControl(rateLimit: RateLimit(perSecond: 10, burst: 2), breaker: nil, now: at(0))
        #expect(flow.decidesEachJob)
        for _ in 0..<2 {
            #expect(flow.dispatch(now: at(0)) == .start)
            flow.started()
        }
        #expect(flow.dispatch(now: at(0)) == .throttled(until: at(100)))
        #expect(flow.dispatch(now: at(100)) == .start)
        #expect(flow.beginThrottleSleep() && !flow.beginThrottleSleep(), "one sleeper is enough")
        flow.throttleSleepEnded()
        let sleepsAgain = flow.beginThrottleSleep()
        #expect(sleepsAgain)
        flow.setRateLimit(nil, now: at(100))
        #expect(!flow.decidesEachJob && flow.dispatch(now: at(100)) == .start)
    }

    @Test("the breaker opens after its failures, refuses, holds dispatch, half-opens after its cool-off, and closes on a trial's success")
    func breaker() {
        var flow = FlowControl(
            rateLimit: nil, breaker: CircuitBreakerPolicy(consecutiveFailures: 2, coolOff: .seconds(1), halfOpenTrials: 1), now: at(0))
        #expect(flow.attemptEnded(success: false, now: at(1)) == nil)
        #expect(flow.attemptEnded(success: false, now: at(2))?.to == .open(until: at(1_002)))
        #expect(flow.admits(now: at(500)).0 == false && flow.dispatch(now: at(500)) == .held)
        #expect(flow.tick(now: at(1_002))?.to == .halfOpen)
        #expect(flow.dispatch(now: at(1_003)) == .start)
        flow.started()
        #expect(flow.dispatch(now: at(1_003)) == .held, "one trial at a time")
        #expect(flow.attemptEnded(success: true, now: at(1_010))?.to == .closed)
        #expect(flow.admits(now: at(1_010)).0)
    }
}

@Suite("Core: a list with its first element in line")
struct InlineFirstListTests {
    @Test("elements come back in the order appended, the first kept in line and the rest after it")
    func order() {
        var list = InlineFirstList<Int>()
        #expect(list.isEmpty && list.count == 0)
        var seen: [Int] = []
        list.forEach { seen.append($0) }
        #expect(seen.isEmpty)
        list.append(1)
        #expect(!list.isEmpty && list.count == 1)
        list.append(2)
        list.append(3)
        list.forEach { seen.append($0) }
        #expect(seen == [1, 2, 3] && list.count == 3)
    }
}
