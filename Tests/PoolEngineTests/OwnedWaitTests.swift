import Foundation
import Synchronization
import Testing

@testable import PoolEngine

/// Jobs that only wait (`Job.waiting`), whose waits the pool keeps in its own timers.
@Suite("Waits the pool owns", .timeLimit(.minutes(3)))
struct OwnedWaitTests {
    /// A fixed pool of `workers` on its own two threads, retrying up to `attempts` times.
    private func pool(workers: Int = 4, attempts: Int = 1, clock: any PoolClock = SystemPoolClock()) throws -> WorkerPool {
        var configuration = makeConfiguration(min: workers, max: workers)
        configuration.retry = RetryPolicy(maxAttempts: attempts, initialBackoff: .milliseconds(1))
        return try WorkerPool(configuration: configuration, clock: clock)
    }

    private func ownedWaits(_ pool: WorkerPool) -> Int { pool.core.withLock { $0.ownedWaitsTotal } }

    /// Waits until all `workers` are parked: a job handed to a parked worker is what the pool keeps in its
    /// timers (a worker still starting takes its first job in its task).
    private func allParked(_ pool: WorkerPool, _ workers: Int = 4) async -> Bool {
        await eventually { pool.core.withLock { $0.workers.parkedOrder.count } == workers }
    }

    @Test("a wait handed out as the one before it ends lasts its length from its start, however long the first one's then ran")
    func nextWaitIsTimedFromItsStart() async throws {
        let pool = try pool(workers: 1)
        #expect(await allParked(pool, 1))
        let startedAt = Locked<ContinuousClock.Instant?>(nil)
        let waited = Locked<Duration?>(nil)
        let done = Counter()
        // The first job's `then` takes 5 ms; the second job, queued behind it on the one worker, waits 2 ms.
        #expect(pool.trySubmit(Job.waiting(for: .milliseconds(1)) { usleep(5_000) }).isAccepted)
        let second = Job.waiting(for: .milliseconds(2), start: { startedAt.withLock { $0 = .now } }) {
            let now = ContinuousClock.now
            waited.withLock { $0 = startedAt.withLock { $0 }.map { now - $0 } }
            done.add()
        }
        #expect(pool.trySubmit(second).isAccepted)
        #expect(await eventually { done.value == 1 })
        let measured = try #require(waited.withLock { $0 })
        #expect(measured >= .milliseconds(2), "the second wait ended \(measured) after its start")
        _ = await pool.shutdown(.graceful(deadline: .seconds(10)))
    }

    @Test("a waiting job's work, called outside a pool, waits in real time, then finishes; set anew, it is plain work")
    func waitingJobsWorkOutsideAPool() async throws {
        let (started, finished) = (Counter(), Counter())
        var job = Job.waiting(for: .milliseconds(20), start: { started.add() }) { finished.add() }
        let begun = ContinuousClock.now
        try await job.work()
        #expect(ContinuousClock.now - begun >= .milliseconds(20), "it did not wait")
        #expect(started.value == 1 && finished.value == 1)
        #expect(job.pooledWait != nil)
        job.work = { finished.add() }
        #expect(job.pooledWait == nil, "set anew, the pool no longer owns its wait")
        try await job.work()
        #expect(started.value == 1 && finished.value == 2)
    }

    @Test("each waiting job ends once, no earlier than its wait, with the worker left parked meanwhile")
    func waitsEndOnce() async throws {
        let pool = try pool()
        #expect(await allParked(pool))
        let jobs = 200
        let early = Counter()
        let started = Counter()
        let log = RunLog()
        for index in 0..<jobs {
            let submitted = ContinuousClock.now
            let job = Job.waiting(for: .milliseconds(20), start: { started.add() }) {
                if ContinuousClock.now - submitted < .milliseconds(20) { early.add() }
                log.ran(index)
            }
            #expect(pool.trySubmit(job).isAccepted)
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == jobs && report.counters.submitted == jobs)
        expectBalanced(report.counters)
        #expect(log.all.count == jobs && log.all.values.allSatisfy { $0 == 1 }, "every job's wait ended exactly once")
        #expect(started.value == jobs)
        #expect(early.value == 0, "a wait ended before its length")
        #expect(ownedWaits(pool) > 0, "no wait was kept in the pool's timers: this tested the closure path only")
    }

    @Test("a wait handed out by a job that goes on running ends on time: the other thread keeps its timer")
    func waitFromABusyThread() async throws {
        let pool = try pool(workers: 2)
        #expect(await allParked(pool, 2))
        let ended = Flag()
        let elapsed = Locked<Duration?>(nil)
        // This job hands the other (parked) worker a wait from the pool's thread, then spins until the wait
        // has ended: were the timer left for this thread's loop, it would never be seen.
        pool.trySubmit {
            let begin = ContinuousClock.now
            pool.trySubmit(Job.waiting(for: .milliseconds(20)) { ended.set() })
            spin(until: ended, atMost: .seconds(30))
            elapsed.withLock { $0 = ContinuousClock.now - begin }
        }
        #expect(await eventually(timeout: .seconds(60)) { elapsed.withLock { $0 } != nil })
        let took = elapsed.withLock { $0 } ?? .seconds(999)
        #expect(took < .seconds(20), "the wait waited for the spinning job: \(took)")
        #expect(ownedWaits(pool) == 1)
        _ = await pool.shutdown(.graceful(deadline: .seconds(10)))
    }

    @Test("a timeout shorter than the wait ends it as timed out, and `then` is not called")
    func timeoutEndsTheWait() async throws {
        let pool = try pool()
        let finished = Flag()
        #expect(await allParked(pool))
        let begin = ContinuousClock.now
        let outcome = await pool.execute(Job.waiting(for: .seconds(600), timeout: .milliseconds(20)) { finished.set() })
        guard case .failed(attempts: 1, let error, timedOut: true) = outcome else {
            Issue.record("expected a timed-out failure, got \(outcome)")
            return
        }
        #expect(error.contains("timed out"))
        #expect(!finished.isSet)
        #expect(ContinuousClock.now - begin < .seconds(60))
        #expect(ownedWaits(pool) == 1)
        _ = await pool.shutdown(.graceful(deadline: .seconds(10)))
    }

    @Test("an error from `then` fails the attempt: retried, then dead-lettered; `start` runs once per attempt")
    func errorsAreRetried() async throws {
        let pool = try pool(attempts: 3)
        let starts = Counter()
        #expect(await allParked(pool))
        let outcome = await pool.execute(
            Job.waiting(for: .milliseconds(5), start: { starts.add() }) { throw TestFailure() })
        guard case .failed(attempts: 3, let error, timedOut: false) = outcome else {
            Issue.record("expected three failed attempts, got \(outcome)")
            return
        }
        #expect(error == "injected failure")
        #expect(starts.value == 3)
        let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
        #expect(report.counters.failed == 1 && report.counters.completed == 0)
        expectBalanced(report.counters)
    }

    @Test("an immediate shutdown ends waits at once, as cancelled; so does a graceful one's deadline")
    func shutdownCancelsWaits() async throws {
        for immediate in [true, false] {
            let pool = try pool()
            let finished = Counter()
            #expect(await allParked(pool))
            for _ in 0..<8 { pool.trySubmit(Job.waiting(for: .seconds(600)) { finished.add() }) }
            #expect(await eventually { ownedWaits(pool) == 4 }, "the four workers' waits started")
            let begin = ContinuousClock.now
            let report = await pool.shutdown(immediate ? .immediate : .graceful(deadline: .milliseconds(50)))
            #expect(ContinuousClock.now - begin < .seconds(60), "the shutdown waited for the waits' length")
            #expect(report.counters.cancelled == 8 && report.counters.completed == 0)
            expectBalanced(report.counters)
            #expect(finished.value == 0)
        }
    }

    @Test("a graceful shutdown lets every wait end")
    func gracefulShutdownWaits() async throws {
        let pool = try pool()
        let finished = Counter()
        for _ in 0..<12 { pool.trySubmit(Job.waiting(for: .milliseconds(30)) { finished.add() }) }
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == 12 && finished.value == 12)
        expectBalanced(report.counters)
    }

    @Test("a worker crashed during its wait fails that attempt as crashed; the retry runs on another worker")
    func crashDuringWait() async throws {
        let pool = try pool(workers: 2, attempts: 2)
        let starts = Counter()
        let finished = Counter()
        #expect(await allParked(pool, 2))
        let handle = try await pool.submitWithHandle(
            Job.waiting(for: .milliseconds(300), start: { starts.add() }) { finished.add() }
        ).get()
        #expect(await eventually { ownedWaits(pool) == 1 })
        let busy = pool.snapshot().workers.first { if case .busy = $0.state { true } else { false } }
        let crashed = pool.crashWorker(busy?.id)
        #expect(crashed != nil && crashed == busy?.id)
        let outcome = await handle.outcome()
        #expect(outcome == .completed(attempts: 2), "got \(outcome)")
        #expect(starts.value == 2 && finished.value == 1)
        let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
        expectBalanced(report.counters)
    }

    @Test("on a clock that cannot say how long a wait lasts (a manual clock), the wait is a sleep on that clock")
    func manualClockSleeps() async throws {
        let clock = ManualClock()
        let pool = try pool(clock: clock)
        #expect(!pool.ownsWaits)
        let finished = Flag()
        pool.trySubmit(Job.waiting(for: .seconds(10)) { finished.set() })
        // The scaler's tick sleeps on the clock too.
        #expect(await eventually { clock.sleeperCount >= 2 }, "the job's sleep on the manual clock")
        #expect(!finished.isSet)
        clock.advance(by: .seconds(10))
        #expect(await eventually { finished.isSet })
        #expect(ownedWaits(pool) == 0)
        _ = await pool.shutdown(.immediate)
    }

    @Test("waiting jobs beside closures, with failures, timeouts and scaling churn: every job ends once and the counts balance")
    func mixedStress() async throws {
        var configuration = makeConfiguration(min: 1, max: 8, capacity: nil, threshold: 2)
        configuration.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1))
        configuration.idleTimeout = .milliseconds(5)
        configuration.cooldown = .milliseconds(1)
        let pool = try WorkerPool(configuration: configuration)
        let jobs = scaledForSanitizer(2_000, dividedBy: 5)
        let attempts = RunLog()
        let finishes = RunLog()
        for index in 0..<jobs {
            let wait = Duration.microseconds(Int64(index % 7) * 300)
            let job: Job
            switch index % 8 {
            case 0, 4:
                job = Job {
                    attempts.ran(index)
                    try await SleepWheel.sleepOnCurrentPool(for: wait)
                    finishes.ran(index)
                }
            case 1, 5:
                job = Job.waiting(for: wait, start: { attempts.ran(index) }) {
                    finishes.ran(index)
                    if index % 8 == 1 { throw TestFailure() }
                }
            case 2:
                // A timeout in a worker's task races a timer on Swift's shared threads, which other suites
                // may keep busy: few of them, so the test does not wait on those threads much.
                // A wait that cannot end within the test: only its timeout ends it, even on a loaded machine.
                job = Job.waiting(for: .seconds(600), timeout: .milliseconds(1), start: { attempts.ran(index) }) {
                    finishes.ran(index)
                }
            default:
                job = Job.waiting(for: wait, start: { attempts.ran(index) }) { finishes.ran(index) }
            }
            #expect(pool.trySubmit(job).isAccepted)
            if index % 500 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(120)))
        expectBalanced(report.counters)
        #expect(report.counters.submitted == jobs && report.counters.cancelled == 0 && report.counters.rejected == 0)
        for index in 0..<jobs {
            let tries = attempts.count(index)
            #expect((1...2).contains(tries), "job \(index) ran \(tries) times")
            if index % 8 == 2 { #expect(finishes.count(index) == 0, "job \(index) timed out, yet finished") }
        }
        // Timed-out jobs fail twice; `then` throwing fails both attempts of those jobs.
        let failing = (0..<jobs).filter { $0 % 8 == 2 || $0 % 8 == 1 }.count
        #expect(report.counters.failed == failing && report.counters.completed == jobs - failing)
        #expect(ownedWaits(pool) > 0)
    }
}
