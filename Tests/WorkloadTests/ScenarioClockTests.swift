import Logging
import Synchronization
import Testing

@testable import PoolEngine
@testable import Workload

/// A wall clock the test moves by hand.
final class HandWall: Sendable {
    private let nanoseconds = Atomic<Int64>(1_000)
    func advance(_ duration: Duration) { nanoseconds.add(duration.nanoseconds, ordering: .relaxed) }
    var read: @Sendable () -> Int64 { { [self] in nanoseconds.load(ordering: .relaxed) } }
}

/// Waits up to 30 s of real time for `condition`, looking every 10 ms; returns whether it held.
private func waitFor(_ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite("One scenario clock: speed and pause reach the pool")
struct ScenarioClockTests {
    @Test("scenario time is wall time times the speed, kept across speed changes, frozen while paused")
    func clockArithmetic() {
        let wall = HandWall()
        let clock = ScenarioClock(speed: 0.25, wall: wall.read)
        wall.advance(.seconds(4))
        #expect(clock.elapsed == .seconds(1))
        clock.setSpeed(2)
        wall.advance(.seconds(1))
        #expect(clock.elapsed == .seconds(3))
        clock.setPaused(true)
        wall.advance(.seconds(10))
        #expect(clock.elapsed == .seconds(3), "a pause freezes scenario time")
        #expect(clock.wallTime(for: .seconds(1)) == nil)
        clock.setPaused(false)
        wall.advance(.milliseconds(500))
        #expect(clock.elapsed == .seconds(4))
        #expect(clock.wallTime(for: .seconds(1)) == .milliseconds(500))
        clock.setSpeed(1_000)
        #expect(clock.speed == ScenarioClock.speeds.upperBound)
    }

    /// A pool of 4 idle workers with a 1 s idle timeout and no arrivals, in a session.
    func idleSession(speed: Double) throws -> LiveSession {
        var pool = PoolConfiguration()
        pool.minWorkers = 1
        pool.maxWorkers = 4
        pool.initialWorkers = 4
        pool.idleTimeout = .seconds(1)
        pool.cooldown = .zero
        pool.scalingInterval = .milliseconds(100)
        let scenario = Scenario(
            name: "idle", duration: .seconds(600), pool: pool,
            workload: WorkloadSpec(arrivals: .poisson(rate: 1), service: .constant(.milliseconds(1))),
            timeline: [TimelineEntry(at: .zero, action: .pauseArrivals)])
        return try LiveSession(scenario: scenario, speed: speed)
    }

    @Test("slow motion stretches the idle timeout, a pause holds it, and speeding up lets it expire")
    func idleTimeoutFollowsTheScenarioClock() async throws {
        let session = try idleSession(speed: 0.05)
        let driver = Task { await session.drive() }
        try await Task.sleep(for: .milliseconds(500))
        session.setPaused(true)
        let frozen = session.clock.elapsed
        let workersAtPause = session.pool.snapshot(includingLatencies: false).workers.count
        // 0.5 s of wall time at 0.05x is 25 ms of scenario time, far from the 1 s idle timeout. The check
        // reads the scenario clock rather than trusting the wall: on a starved machine the sleep can last
        // 20 s, and then the timeout has rightly passed.
        if frozen < .milliseconds(900) {
            #expect(workersAtPause == 4, "slow motion: \(frozen) of scenario time is not the 1 s idle timeout")
        }
        session.setSpeed(20)
        try await Task.sleep(for: .seconds(1))
        #expect(session.clock.elapsed == frozen)
        if frozen < .milliseconds(900) {
            #expect(session.pool.snapshot(includingLatencies: false).workers.count == 4, "paused: no idle time passes, even at 20x")
        }
        #expect(session.status.paused)
        session.setPaused(false)
        var workers = 4
        for _ in 0..<400 where workers != 1 {
            try await Task.sleep(for: .milliseconds(50))
            workers = session.pool.snapshot(includingLatencies: false).workers.count
        }
        #expect(workers == 1, "at 20x the 1 s idle timeout passes in 50 ms of wall time")
        session.send(.shutdown(.immediate))
        let report = await session.shutdown(await driver.value)
        #expect(report.counters.isBalanced)
    }

    @Test("a job's simulated service runs on the scenario clock: a pause holds it, even at 20x, and resuming finishes it")
    func servicePausesWithTheScenario() async throws {
        var pool = PoolConfiguration()
        pool.minWorkers = 1
        pool.maxWorkers = 1
        let scenario = Scenario(
            name: "one job", duration: .seconds(600), pool: pool,
            workload: WorkloadSpec(arrivals: .poisson(rate: 1), service: .constant(.seconds(20))),
            timeline: [TimelineEntry(at: .zero, action: .pauseArrivals), TimelineEntry(at: .zero, action: .burst(1))])
        let session = try LiveSession(scenario: scenario)
        let driver = Task { await session.drive() }
        #expect(try await waitFor { session.pool.snapshot(includingLatencies: false).inFlight == 1 })
        session.setPaused(true)
        session.setSpeed(20)
        // 20 s of service at 20x is 1 s of wall time: 1.5 s later it would be done, were it not paused.
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(session.pool.snapshot(includingLatencies: false).counters.completed == 0, "a paused job does not finish")
        session.setPaused(false)
        #expect(try await waitFor { session.pool.snapshot(includingLatencies: false).counters.completed == 1 })
        session.send(.shutdown(.graceful(deadline: .seconds(30))))
        let report = await session.shutdown(await driver.value)
        #expect(report.counters.completed == 1 && report.counters.isBalanced)
    }

    @Test("a wait the pool owns (Job.waiting) follows the scenario clock: a pause holds it, resuming at 20x ends it")
    func ownedWaitFollowsTheClock() async throws {
        let clock = ScenarioClock(speed: 20)
        var configuration = PoolConfiguration()
        (configuration.minWorkers, configuration.maxWorkers) = (1, 1)
        configuration.logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let pool = try WorkerPool(configuration: configuration, clock: clock)
        // Handed to a parked worker, the wait is the pool's own (a starting worker runs it in its task).
        #expect(try await waitFor { pool.core.withLock { $0.workers.parkedOrder.count } == 1 })
        clock.setPaused(true)
        let finished = Locked(false)
        #expect(pool.trySubmit(Job.waiting(for: .seconds(20)) { finished.withLock { $0 = true } }).isAccepted)
        // 20 s of scenario time at 20x is 1 s of wall time: 1.5 s later it would be over, were it not paused.
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(!finished.withLock { $0 }, "a paused wait does not end")
        clock.setPaused(false)
        #expect(try await waitFor { finished.withLock { $0 } })
        #expect(pool.core.withLock { $0.ownedWaitsTotal } == 1, "the wait was not the pool's own: this tested a sleep")
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 1 && report.counters.isBalanced)
    }

    @Test(
        "a shutdown from outside the session (the monitor's command) ends a paused scenario: the clock resumes, the drive returns, and p no longer pauses",
        .timeLimit(.minutes(1)))
    func outsideShutdownResumes() async throws {
        let session = try idleSession(speed: 1)
        let driver = Task { await session.drive() }
        session.setPaused(true)
        #expect(session.status.paused)
        // As PoolMonitor does: straight to the pool, not through the session.
        let report = await session.pool.shutdown(.graceful(deadline: .seconds(5)))
        #expect(report.counters.isBalanced)
        let mode = await driver.value
        #expect(mode == .graceful(deadline: .seconds(5)), "the drive ends with the pool's shutdown")
        #expect(!session.status.paused, "resumed, so a drain's deadline can pass")
        session.togglePause()
        #expect(!session.status.paused, "a session shutting down is not paused again")
    }
}
