import Foundation
import Testing

@testable import PoolEngine

@Suite("Circuit breaker, on a virtual clock")
struct CircuitBreakerTests {
    func at(_ milliseconds: Int64) -> PoolInstant { PoolInstant(nanoseconds: milliseconds * 1_000_000) }

    @Test("closed opens after N consecutive failures, half-opens after the cool-off, closes on a good trial")
    func consecutiveFailures() {
        var breaker = CircuitBreaker(policy: CircuitBreakerPolicy(consecutiveFailures: 3, coolOff: .seconds(5)))
        #expect(breaker.record(success: false, now: at(0)) == nil)
        #expect(breaker.record(success: true, now: at(1)) == nil, "a success resets the run")
        #expect(breaker.record(success: false, now: at(2)) == nil)
        #expect(breaker.record(success: false, now: at(3)) == nil)
        let opened = breaker.record(success: false, now: at(4))
        #expect(opened == CircuitBreaker.Transition(to: .open(until: at(5_004)), reason: "3 consecutive failures"))
        #expect(breaker.admits(now: at(5_000)).0 == false)
        #expect(!breaker.mayStart)
        let (admits, halfOpen) = breaker.admits(now: at(5_004))
        #expect(admits && halfOpen?.to == .halfOpen)
        #expect(breaker.mayStart)
        breaker.started()
        #expect(!breaker.mayStart, "only one trial at a time")
        #expect(breaker.record(success: true, now: at(5_010))?.to == .closed)
        #expect(breaker.state == .closed)
    }

    @Test("a failed trial opens the breaker again for another cool-off")
    func failedTrial() {
        var breaker = CircuitBreaker(policy: CircuitBreakerPolicy(consecutiveFailures: 1, coolOff: .seconds(1)))
        _ = breaker.record(success: false, now: at(0))
        #expect(breaker.tick(now: at(999)) == nil)
        #expect(breaker.tick(now: at(1_000))?.to == .halfOpen)
        breaker.started()
        #expect(breaker.record(success: false, now: at(1_100))?.to == .open(until: at(2_100)))
    }

    @Test("the failure ratio rule opens once the window is full and the ratio reached")
    func failureRatio() {
        var breaker = CircuitBreaker(
            policy: CircuitBreakerPolicy(consecutiveFailures: nil, failureRatio: 0.5, window: 10, coolOff: .seconds(1)))
        var transitions: [CircuitBreaker.Transition] = []
        for index in 0..<9 {
            if let t = breaker.record(success: index % 2 == 0, now: at(Int64(index))) { transitions.append(t) }
        }
        #expect(transitions.isEmpty, "the window is not full yet")
        let opened = breaker.record(success: false, now: at(9))
        #expect(opened?.reason == "5 of the last 10 attempts failed")
    }

    @Test("with the hold policy, an open breaker admits but starts nothing")
    func holdPolicy() {
        var breaker = CircuitBreaker(
            policy: CircuitBreakerPolicy(consecutiveFailures: 1, coolOff: .seconds(1), whenOpen: .hold))
        _ = breaker.record(success: false, now: at(0))
        #expect(breaker.admits(now: at(10)).0)
        #expect(!breaker.mayStart)
    }
}

@Suite("Flow control and faults in the live pool", .timeLimit(.minutes(3)))
struct FlowControlTests {
    /// A fixed pool of `workers` under `limit` on a manual clock, offered `jobs` jobs that log their index.
    private func limitedPool(workers: Int, _ limit: RateLimit, jobs: Int) throws -> (WorkerPool, ManualClock, RunLog) {
        let clock = ManualClock()
        var configuration = makeConfiguration(min: workers, max: workers, capacity: nil)
        configuration.rateLimit = limit
        let pool = try WorkerPool(configuration: configuration, clock: clock)
        let log = RunLog()
        for index in 0..<jobs { pool.trySubmit { log.ran(index) } }
        return (pool, clock, log)
    }

    @Test("an open breaker rejects with circuitOpen, reports its transitions, and recovers")
    func breakerInPool() async throws {
        let clock = ManualClock()
        var configuration = makeConfiguration(min: 1, max: 1)
        configuration.circuitBreaker = CircuitBreakerPolicy(consecutiveFailures: 3, coolOff: .seconds(5))
        configuration.scalingInterval = .seconds(1)
        let pool = try WorkerPool(configuration: configuration, clock: clock)
        for _ in 0..<3 { _ = await pool.execute(Job { throw TestFailure() }) }
        #expect(pool.snapshot().breaker == .open(until: PoolInstant.zero + .seconds(5)))
        #expect(pool.trySubmit {} == .rejected(.circuitOpen))
        clock.advance(by: .seconds(4))
        #expect(pool.trySubmit {} == .rejected(.circuitOpen), "still cooling off")
        #expect(await eventually { clock.sleeperCount >= 1 })
        clock.advance(by: .seconds(1))
        #expect(await eventually { pool.snapshot().breaker == .halfOpen })
        #expect(await pool.execute(Job {}) == .completed(attempts: 1))
        #expect(pool.snapshot().breaker == .closed)
        let kinds = pool.snapshot().recentEvents.compactMap { event -> String? in
            if case .breakerChanged(let to, _) = event.kind { return to.description }
            return nil
        }
        #expect(kinds == ["open", "half-open", "closed"])
        let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
        #expect(report.counters.rejected == 2 && report.counters.failed == 3 && report.counters.completed == 1)
        expectBalanced(report.counters)
    }

    @Test("the rate limit caps the start rate within 5% over three seconds of real time, and can be changed while running")
    func rateLimit() async throws {
        var configuration = makeConfiguration(min: 4, max: 4, capacity: nil)
        configuration.rateLimit = RateLimit(perSecond: 200, burst: 20)
        let pool = try WorkerPool(configuration: configuration)
        let log = RunLog()
        for index in 0..<3_000 { pool.trySubmit { log.ran(index) } }
        let clock = ContinuousClock()
        try await Task.sleep(for: .milliseconds(500))
        // The instant first, then the count: a pause between the two can only lower the measured rate.
        let start = clock.now
        let startCount = log.total
        try await Task.sleep(for: .seconds(3))
        let rate = Double(log.total - startCount) / (clock.now - start).seconds
        // Only the cap is a fact about the pool in real time. How near the pool comes to the limit is the
        // machine's part: on a loaded 2-core CI machine the limiter's wake-ups were seen starved (96/s in one
        // run without a sanitizer, 0/s in one under ThreadSanitizer), so reaching the limit is proved on a
        // manual clock by the next test instead.
        #expect(rate <= 200 * 1.05, "measured \(rate) jobs/s against a limit of 200/s")
        try pool.updateRateLimit(nil)
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == 3_000)
        expectBalanced(report.counters)
    }

    @Test("on a manual clock the rate limit starts exactly its burst, then exactly its rate, and no more")
    func rateLimitReachesItsRate() async throws {
        let (pool, clock, log) = try limitedPool(workers: 4, RateLimit(perSecond: 200, burst: 20), jobs: 1_000)
        // The burst starts at once; then nothing more until the clock moves.
        #expect(await eventually { log.total == 20 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(log.total == 20, "no token was earned, so no further job may start")
        // Three seconds in steps of 10 ms, each earning two tokens (one per 5 ms at 200/s). After each step
        // the pool must use both: the throttled worker wakes, takes one and wakes another for the next.
        for step in 1...300 {
            clock.advance(by: .milliseconds(10))
            let expected = 20 + 2 * step
            // One token may fall a rounding short (tokens accrue as a Double) and arrive with the next step.
            let reached = await eventually { log.total >= expected - 1 }
            #expect(reached, "after \(step) steps of 10 ms: \(log.total) started, \(expected) expected")
            if !reached { break }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect((619...620).contains(log.total), "started \(log.total) in 3 s of a limit of 200/s with a burst of 20")
        // Lifting the limit ends the throttled worker's sleep (the clock stays still from here), and so
        // does the shutdown's release of the workers.
        try pool.updateRateLimit(nil)
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == 1_000)
        expectBalanced(report.counters)
    }

    @Test("a new rate limit ends a sleep until the old limit's next token", arguments: [nil, RateLimit(perSecond: 1_000, burst: 5)])
    func newLimitEndsTheThrottledSleep(newLimit: RateLimit?) async throws {
        // One token per 100 s: after the first job the only worker sleeps until t = 100 s.
        let (pool, clock, log) = try limitedPool(workers: 1, RateLimit(perSecond: 0.01, burst: 1), jobs: 3)
        #expect(await eventually { log.total == 1 })
        try pool.updateRateLimit(newLimit)
        if newLimit != nil {
            // The new limit's tokens come every millisecond; the sleep until t = 100 s must not be waited out.
            for _ in 0..<4 where log.total < 3 {
                clock.advance(by: .milliseconds(1))
                _ = await eventually(timeout: .milliseconds(500)) { log.total == 3 }
            }
        }
        #expect(await eventually { log.total == 3 }, "\(log.total) of 3 started; the clock is at \(clock.now())")
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == 3)
        expectBalanced(report.counters)
    }

    @Test("a worker crashed while it sleeps until the next token hands the wait on: the jobs still start")
    func crashedThrottledSleeper() async throws {
        let (pool, clock, log) = try limitedPool(workers: 1, RateLimit(perSecond: 1, burst: 1), jobs: 3)
        // Job 0 spends the only token; the worker is then idle, asleep until t = 1 s.
        #expect(
            await eventually { log.total == 1 && pool.snapshot().workers.allSatisfy { if case .idle = $0.state { true } else { false } } })
        let sleeper = try #require(pool.snapshot().workers.first?.id)
        #expect(pool.crashWorker(sleeper) == sleeper)
        // The replacement finds no token and parks, as the sleeper is still asleep.
        #expect(
            await eventually {
                pool.snapshot().workers.contains { if case .idle = $0.state { $0.id != sleeper } else { false } }
            })
        for expected in 2...3 {
            clock.advance(by: .seconds(1))
            #expect(await eventually { log.total == expected }, "\(log.total) started at \(clock.now())")
        }
        let report = await pool.shutdown(.immediate)
        #expect(report.counters.completed == 3)
        expectBalanced(report.counters)
    }

    @Test("a crashed worker's job is retried on another worker and the worker is replaced; nothing is lost")
    func crashWorker() async throws {
        var configuration = makeConfiguration(min: 2, max: 2)
        configuration.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1))
        let pool = try WorkerPool(configuration: configuration)
        let log = RunLog()
        let handle = try await pool.submitWithHandle(
            Job {
                log.ran(1)
                // The first attempt hangs until the crash cancels it (crashes are cooperative, like timeouts).
                if log.count(1) == 1 { try await Task.sleep(for: .seconds(60)) }
            }
        ).get()
        #expect(await eventually { log.count(1) == 1 })
        let busy = try #require(pool.snapshot().workers.first { if case .busy = $0.state { true } else { false } })
        #expect(pool.crashWorker(busy.id) == busy.id)
        #expect(await handle.outcome() == .completed(attempts: 2))
        let snapshot = pool.snapshot()
        #expect(snapshot.workers.count == 2 && !snapshot.workers.contains { $0.id == busy.id })
        let events = snapshot.recentEvents.map(\.kind)
        #expect(events.contains(.workerCrashed(busy.id, job: handle.id)))
        #expect(events.contains { if case .workerReplaced(busy.id, _) = $0 { true } else { false } })
        let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
        #expect(log.count(1) == 2)
        #expect(report.counters.completed == 1 && report.counters.retried == 1)
        expectBalanced(report.counters)
    }

    @Test("random crashes under load lose no job")
    func crashesUnderLoad() async throws {
        var configuration = makeConfiguration(min: 2, max: 6, capacity: nil)
        configuration.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1))
        let pool = try WorkerPool(configuration: configuration)
        for _ in 0..<3_000 { pool.trySubmit { try await Task.sleep(for: .microseconds(200)) } }
        for _ in 0..<20 {
            pool.crashWorker()
            try await Task.sleep(for: .milliseconds(5))
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(120)))
        #expect(report.counters.submitted == 3_000)
        #expect(report.counters.completed + report.counters.failed == 3_000)
        expectBalanced(report.counters)
    }

    @Test("injected failures and latency take effect while running, and stop when cleared")
    func faultInjection() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1))
        try pool.injectFaults(FaultInjection(failureProbability: 1))
        let failed = await pool.execute(Job {})
        #expect(failed == .failed(attempts: 1, lastError: "injected failure", timedOut: false))
        try pool.injectFaults(FaultInjection(extraLatency: .milliseconds(30)))
        let clock = ContinuousClock()
        let slow = await clock.measure { _ = await pool.execute(Job {}) }
        #expect(slow >= .milliseconds(30))
        try pool.injectFaults(.none)
        #expect(await pool.execute(Job {}) == .completed(attempts: 1))
        #expect(throws: ConfigurationError.self) { try pool.injectFaults(FaultInjection(failureProbability: 2)) }
        let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
        expectBalanced(report.counters)
    }
}
