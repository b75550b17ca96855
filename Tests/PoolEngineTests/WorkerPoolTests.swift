import Testing

@testable import PoolEngine

@Suite("The pool runs, refuses, retries and accounts for jobs", .timeLimit(.minutes(3)))
struct WorkerPoolTests {
    @Test("every submitted job runs exactly once and a graceful shutdown balances the counts")
    func runsEveryJobOnce() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 2, max: 4))
        let log = RunLog()
        for index in 0..<2_000 {
            #expect(pool.trySubmit { log.ran(index) }.isAccepted)
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.submitted == 2_000)
        #expect(report.counters.completed == 2_000)
        #expect(log.all.count == 2_000 && log.all.values.allSatisfy { $0 == 1 })
        #expect(!report.deadlineReached)
        expectBalanced(report.counters)
    }

    @Test("submitting after shutdown is rejected and counted, not lost")
    func afterShutdown() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration())
        _ = await pool.shutdown(.immediate)
        #expect(pool.trySubmit {} == .rejected(.shuttingDown))
        #expect(await pool.submit(Job {}) == .rejected(.shuttingDown))
        #expect(await pool.execute(Job {}) == .rejected(.shuttingDown))
        let counters = pool.counters
        #expect(counters.submitted == 3 && counters.rejected == 3)
        expectBalanced(counters)
        let again = await pool.shutdown(.immediate)
        #expect(again.counters.submitted == 0, "a second shutdown returns the first one's report")
    }

    @Test("a full queue rejects under the reject policy")
    func rejectPolicy() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1, capacity: 2, overflow: .reject))
        let gate = Gate()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.trySubmit {}.isAccepted)
        #expect(pool.trySubmit {}.isAccepted)
        #expect(pool.trySubmit {} == .rejected(.queueFull))
        let handle = await pool.submitWithHandle(Job {})
        #expect(handle.map(\.id) == .failure(.queueFull))
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 3 && report.counters.rejected == 2)
        expectBalanced(report.counters)
    }

    @Test("drop-oldest admits the new job and ends the oldest waiting one as rejected")
    func dropOldest() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1, capacity: 2, overflow: .dropOldest))
        let gate = Gate()
        let log = RunLog()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        let oldest = await pool.submitWithHandle(Job { log.ran(1) })
        pool.trySubmit { log.ran(2) }
        pool.trySubmit { log.ran(3) }
        guard case .success(let handle) = oldest else {
            Issue.record("the oldest job should have been accepted")
            return
        }
        #expect(await handle.outcome() == .rejected(.droppedOldest))
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(log.count(1) == 0 && log.count(2) == 1 && log.count(3) == 1)
        #expect(report.counters.rejected == 1 && report.counters.completed == 3)
        expectBalanced(report.counters)
    }

    @Test("the wait policy suspends submit until there is space, while trySubmit refuses")
    func waitPolicy() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1, capacity: 1, overflow: .wait))
        let gate = Gate()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.trySubmit {}.isAccepted)
        #expect(pool.trySubmit {} == .rejected(.queueFull))
        let admitted = Flag()
        let blocked = Task {
            let admission = await pool.submit(Job {})
            admitted.set()
            return admission
        }
        #expect(await eventually { pool.snapshot(includingLatencies: false).blockedSubmitters == 1 })
        #expect(!admitted.isSet)
        gate.open()
        #expect(await blocked.value.isAccepted)
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 3 && report.counters.rejected == 1)
        expectBalanced(report.counters)
    }

    @Test("a shutdown refuses callers blocked for space")
    func shutdownRefusesBlocked() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1, capacity: 1, overflow: .wait))
        let gate = Gate()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        pool.trySubmit {}
        let blocked = Task { await pool.submit(Job {}) }
        #expect(await eventually { pool.snapshot(includingLatencies: false).blockedSubmitters == 1 })
        let shutdown = Task { await pool.shutdown(.graceful(deadline: .seconds(30))) }
        #expect(await blocked.value == .rejected(.shuttingDown))
        gate.open()
        let report = await shutdown.value
        #expect(report.counters.completed == 2 && report.counters.rejected == 1)
        expectBalanced(report.counters)
    }

    @Test("run-in-caller makes the submitter run the job when the queue is full")
    func runInCaller() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1, capacity: 1, overflow: .runInCaller))
        let gate = Gate()
        let ranInCaller = Flag()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        pool.trySubmit {}
        let marker = TaskLocalMarker.$isCaller.withValue(true) {
            Task { await pool.submit(Job { ranInCaller.set(TaskLocalMarker.isCaller) }) }
        }
        #expect(await marker.value.isAccepted)
        #expect(ranInCaller.isSet, "the job ran in the submitting task")
        #expect(pool.trySubmit {} == .rejected(.queueFull), "trySubmit never runs a job itself")
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 3 && report.counters.rejected == 1)
        expectBalanced(report.counters)
    }

    @Test("a failing job is retried with backoff, then dead-lettered with its last error")
    func retriesThenDeadLetter() async throws {
        var configuration = makeConfiguration(min: 1, max: 2)
        configuration.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(5))
        let pool = try WorkerPool(configuration: configuration)
        let log = RunLog()
        let outcome = await pool.execute(
            Job(key: "k1") {
                log.ran(1)
                throw TestFailure()
            })
        #expect(outcome == .failed(attempts: 3, lastError: "injected failure", timedOut: false))
        #expect(log.count(1) == 3)
        let letters = pool.deadLetters()
        #expect(letters.count == 1 && letters.first?.key == "k1" && letters.first?.attempts == 3)
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.failed == 1 && report.counters.retried == 2 && report.counters.completed == 0)
        expectBalanced(report.counters)
    }

    @Test("a job that fails then succeeds completes, counting its retries")
    func retryThenSuccess() async throws {
        var configuration = makeConfiguration()
        configuration.retry = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(1))
        let pool = try WorkerPool(configuration: configuration)
        let log = RunLog()
        let outcome = await pool.execute(
            Job {
                log.ran(7)
                if log.count(7) < 3 { throw TestFailure() }
            })
        #expect(outcome == .completed(attempts: 3))
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 1 && report.counters.retried == 2 && report.counters.failed == 0)
        #expect(pool.deadLetters().isEmpty)
        expectBalanced(report.counters)
    }

    @Test("a job past its timeout is cancelled and counted as timed out, and its worker carries on")
    func timeout() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1))
        let outcome = await pool.execute(
            Job(timeout: .milliseconds(50)) {
                try await Task.sleep(for: .seconds(60))
            })
        guard case .failed(let attempts, _, let timedOut) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(attempts == 1 && timedOut)
        #expect(await pool.execute(Job {}) == .completed(attempts: 1))
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.timedOut == 1 && report.counters.failed == 1 && report.counters.completed == 1)
        expectBalanced(report.counters)
    }

    @Test("a throwing job does not stop its worker")
    func faultIsolation() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1))
        for index in 0..<100 {
            pool.trySubmit { if index % 2 == 0 { throw TestFailure() } }
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.failed == 50 && report.counters.completed == 50)
        expectBalanced(report.counters)
    }

    @Test("a batch is admitted in order, up to the capacity")
    func batch() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 1, capacity: 3))
        let gate = Gate()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        let admissions = pool.trySubmit(batch: (0..<5).map { _ in Job {} })
        #expect(admissions.map(\.isAccepted) == [true, true, true, false, false])
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 4 && report.counters.rejected == 2)
        expectBalanced(report.counters)
    }
}

enum TaskLocalMarker {
    @TaskLocal static var isCaller = false
}
