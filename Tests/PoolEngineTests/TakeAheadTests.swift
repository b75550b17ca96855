import Foundation
import Synchronization
import Testing

@testable import PoolEngine

/// Workers take runs of short jobs from a shared queue (``PoolConfiguration/takeAhead``); these tests check
/// that doing so loses, repeats and hides nothing, and that a job taken ahead never waits behind a long one
/// while another worker is free.
@Suite("Taking runs of short jobs ahead", .timeLimit(.minutes(3)))
struct TakeAheadTests {
    @Test(
        "a job waiting for the next job still finishes: what a suspended or stalled worker took ahead goes back",
        arguments: [QueueStrategyKind.sharedFIFO, .perWorker(.roundRobin, stealing: true)])
    func dependentJobs(strategy: QueueStrategyKind) async throws {
        let pool = try WorkerPool(configuration: takingAhead(strategy))
        let ran = Atomic(0)
        let waitersDone = Atomic(0)
        let pairs = 5
        // Far enough apart that a worker cannot reach the next pair within the 1 ms stall rule.
        let gap = Self.scaled(20_000)
        let released = (0..<pairs).map { _ in Flag() }
        var submitted = 0
        var accepted = true
        // One pair per submission, after the previous pair is done: with stealing, a worker that runs dry
        // steals the *newest* job of the other's queue, so with every pair queued at once both workers could
        // each hold a waiting A whose B sits in a queue only the other (busy) worker serves, a deadlock of the
        // test's own making (it failed so once in CI), not the take-ahead rule this checks.
        for pair in 0..<pairs {
            var batch: [Job] = []
            for _ in 0..<gap { batch.append(Job { ran.add(1, ordering: .relaxed) }) }
            // A waits for B, submitted right after it. In a plain FIFO queue the next free worker takes B; here
            // B may sit in the run buffer of A's worker. If nobody took it back from there (A suspends, or its
            // worker stalls), A would give up after 20 s and fail.
            batch.append(
                Job {
                    defer { waitersDone.add(1, ordering: .relaxed) }
                    let clock = ContinuousClock()
                    let deadline = clock.now + .seconds(20)
                    while !released[pair].isSet {
                        guard clock.now < deadline else { throw TestFailure() }
                        try await Task.sleep(for: .microseconds(200))
                    }
                })
            batch.append(Job { released[pair].set() })
            submitted += batch.count
            accepted = accepted && pool.trySubmit(batch: batch).allSatisfy { $0.isAccepted }
            #expect(await eventually(timeout: .seconds(60)) { waitersDone.load(ordering: .relaxed) == pair + 1 })
        }
        #expect(accepted)
        let report = await pool.shutdown(.graceful(deadline: .seconds(120)))
        #expect(report.counters.completed == submitted && report.counters.failed == 0)
        #expect(ran.load(ordering: .relaxed) == pairs * gap)
        #expect(pool.core.withLock { $0.takenAheadTotal } > 0, "the workers never took jobs ahead: this tested nothing")
        expectBalanced(report.counters)
    }

    @Test("while workers take ahead, snapshots account for every job and show no more running than workers")
    func snapshotsStayBalanced() async throws {
        let pool = try WorkerPool(configuration: takingAhead())
        let jobs = Self.scaled(100_000)
        let ran = Atomic(0)
        var batch: [Job] = []
        batch.reserveCapacity(jobs)
        // Each job spins ~2 µs, so the batch lasts long enough to take dozens of snapshots.
        for _ in 0..<jobs {
            batch.append(
                Job {
                    spin(for: .microseconds(2))
                    ran.add(1, ordering: .relaxed)
                })
        }
        #expect(pool.trySubmit(batch: batch).count == jobs)
        var snapshots = 0
        repeat {
            let s = pool.snapshot(includingLatencies: false)
            let c = s.counters
            #expect(s.inFlight <= s.workers.count, "running \(s.inFlight) on \(s.workers.count) workers")
            #expect(
                c.submitted == c.completed + c.failed + c.rejected + c.cancelled + s.queue.total + s.inFlight + s.awaitingRetry,
                "snapshot does not account for every job: \(c), queue \(s.queue), running \(s.inFlight)")
            snapshots += 1
            try await Task.sleep(for: .milliseconds(1))
        } while ran.load(ordering: .relaxed) < jobs * 9 / 10
        let report = await pool.shutdown(.graceful(deadline: .seconds(120)))
        #expect(report.counters.completed == jobs && ran.load(ordering: .relaxed) == jobs)
        #expect(snapshots > 0 && pool.core.withLock { $0.takenAheadTotal } > 0, "no job was taken ahead")
        expectBalanced(report.counters)
    }

    @Test(
        "crashing workers mid-run puts back the jobs they took ahead: none is lost, only interrupted ones rerun",
        arguments: [QueueStrategyKind.sharedFIFO, .perWorker(.roundRobin, stealing: true), .keyed])
    func crashesMidRun(strategy: QueueStrategyKind) async throws {
        var configuration = takingAhead(strategy)
        configuration.retry = RetryPolicy(maxAttempts: 10, initialBackoff: .milliseconds(1))
        let pool = try WorkerPool(configuration: configuration)
        let log = RunLog()
        let jobs = Self.scaled(50_000)
        // Each job spins ~5 µs, so the batch lasts long enough for a few dozen crashes to land mid-run.
        let batch = (0..<jobs).map { index in
            Job(key: strategy == .keyed ? "key-\(index % 100)" : nil) {
                spin(for: .microseconds(5))
                log.ran(index)
            }
        }
        #expect(pool.trySubmit(batch: batch).count == jobs)
        var crashes = 0
        repeat {
            if pool.crashWorker() != nil { crashes += 1 }
            try await Task.sleep(for: .milliseconds(2))
        } while pool.counters.completed < jobs * 8 / 10 && crashes < 30
        let report = await pool.shutdown(.graceful(deadline: .seconds(120)))
        let runs = log.all
        #expect(report.counters.completed == jobs && report.counters.failed == 0)
        let neverRan = (0..<jobs).filter { runs[$0, default: 0] == 0 }
        #expect(neverRan.isEmpty, "jobs never ran: \(neverRan.prefix(10))")
        // A crash fails (and so reruns) at most the one attempt it interrupted; jobs put back never started.
        #expect(log.total - jobs <= crashes, "\(log.total - jobs) extra runs after \(crashes) crashes")
        #expect(crashes > 0 && pool.core.withLock { $0.takenAheadTotal } > 0)
        expectBalanced(report.counters)
    }

    @Test("with takeAhead 0 no worker takes jobs ahead")
    func turnedOff() async throws {
        var configuration = takingAhead()
        configuration.takeAhead = 0
        let pool = try WorkerPool(configuration: configuration)
        let jobs = Self.scaled(50_000)
        #expect(pool.trySubmit(batch: (0..<jobs).map { _ in Job {} }).count == jobs)
        let report = await pool.shutdown(.graceful(deadline: .seconds(120)))
        #expect(report.counters.completed == jobs)
        #expect(pool.core.withLock { $0.takenAheadTotal } == 0)
    }

    /// A fifth as many jobs under ThreadSanitizer (see `underSanitizer`).
    private static func scaled(_ jobs: Int) -> Int { scaledForSanitizer(jobs) }

    /// Two workers that take 32 jobs ahead whenever the queue allows, however loaded the machine is.
    private func takingAhead(_ strategy: QueueStrategyKind = .sharedFIFO) -> PoolConfiguration {
        var configuration = makeConfiguration(min: 2, max: 2, capacity: nil)
        configuration.queueStrategy = strategy
        configuration.pacesTakeAhead = false
        return configuration
    }
}
