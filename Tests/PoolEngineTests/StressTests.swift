import Testing

@testable import PoolEngine

/// What a stress job does.
enum StressKind: Equatable {
    case succeed
    /// Throws on every attempt.
    case fail
    /// Outlives its timeout on every attempt.
    case timeOut
}

@Suite("Stress: the conservation law under failures, timeouts and scaling churn", .timeLimit(.minutes(5)))
struct StressTests {
    static func configuration() -> PoolConfiguration {
        var configuration = makeConfiguration(min: 1, max: 16, capacity: 20_000, overflow: .reject, threshold: 8)
        configuration.cooldown = .milliseconds(5)
        configuration.idleTimeout = .milliseconds(20)
        configuration.scalingInterval = .milliseconds(5)
        configuration.retry = RetryPolicy(
            maxAttempts: 3, initialBackoff: .microseconds(100), maxBackoff: .milliseconds(1), jitter: 0.5)
        return configuration
    }

    static func kinds(count: Int, seed: UInt64) -> [StressKind] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            switch Int.random(in: 0..<1_000, using: &random) {
            case 0..<50: .fail
            case 50..<55: .timeOut
            default: .succeed
            }
        }
    }

    /// Submits `kinds` in bursts with pauses (so the pool grows and shrinks) while another task moves the
    /// limits; returns each job's admission.
    static func drive(_ pool: WorkerPool, kinds: [StressKind], log: RunLog) async -> [Admission] {
        let churn = Task {
            var step = 0
            while !Task.isCancelled {
                step += 1
                try? pool.updateScaling {
                    $0.minWorkers = step % 3
                    $0.maxWorkers = 4 + (step % 4) * 4
                }
                try? await Task.sleep(for: .milliseconds(3))
            }
        }
        var admissions: [Admission] = []
        admissions.reserveCapacity(kinds.count)
        for (index, kind) in kinds.enumerated() {
            let job: Job
            switch kind {
            case .succeed: job = Job { log.ran(index) }
            case .fail:
                job = Job {
                    log.ran(index)
                    throw TestFailure()
                }
            case .timeOut:
                job = Job(timeout: .microseconds(200)) {
                    log.ran(index)
                    try await Task.sleep(for: .seconds(3_600))  // ended by its timeout, however late that fires
                }
            }
            admissions.append(pool.trySubmit(job))
            if index % 2_000 == 1_999 { try? await Task.sleep(for: .milliseconds(2)) }
        }
        churn.cancel()
        await churn.value
        return admissions
    }

    @Test("100,000 jobs: every accepted job ran exactly as often as its attempts, and the counts balance")
    func hundredThousandJobs() async throws {
        let count = 100_000
        let kinds = Self.kinds(count: count, seed: 42)
        let pool = try WorkerPool(configuration: Self.configuration())
        let log = RunLog()
        let events = pool.events()
        let scaleEvents = Task {
            var ups = 0
            var downs = 0
            for await event in events {
                if case .scaledUp = event.kind { ups += 1 }
                if case .scaledDown = event.kind { downs += 1 }
            }
            return (ups, downs)
        }
        let admissions = await Self.drive(pool, kinds: kinds, log: log)
        let report = await pool.shutdown(.graceful(deadline: .seconds(300)))
        let counters = report.counters
        expectBalanced(counters)
        #expect(!report.deadlineReached && counters.cancelled == 0)
        #expect(counters.submitted == count)

        var expected = (completed: 0, failed: 0, timedOutJobs: 0, rejected: 0)
        var wrongRuns: [(Int, StressKind, Int)] = []
        for (index, kind) in kinds.enumerated() {
            let runs = log.count(index)
            guard admissions[index].isAccepted else {
                expected.rejected += 1
                if runs != 0 { wrongRuns.append((index, kind, runs)) }
                continue
            }
            switch kind {
            case .succeed:
                expected.completed += 1
                if runs != 1 { wrongRuns.append((index, kind, runs)) }
            case .fail, .timeOut:
                expected.failed += 1
                if kind == .timeOut { expected.timedOutJobs += 1 }
                if runs != 3 { wrongRuns.append((index, kind, runs)) }
            }
        }
        #expect(wrongRuns.isEmpty, "jobs that ran the wrong number of times: \(wrongRuns.prefix(10))")
        #expect(counters.completed == expected.completed)
        #expect(counters.failed == expected.failed)
        #expect(counters.rejected == expected.rejected)
        #expect(counters.retried == 2 * expected.failed)
        #expect(counters.timedOut == 3 * expected.timedOutJobs)
        #expect(expected.timedOutJobs > 0 && expected.failed > expected.timedOutJobs)
        let (ups, downs) = await scaleEvents.value
        #expect(ups > 0 && downs > 0, "the pool scaled both ways (\(ups) up, \(downs) down)")
    }

    @Test(
        "a shutdown issued mid-burst, under failures and churn, still balances",
        arguments: [ShutdownMode.graceful(deadline: .seconds(300)), .graceful(deadline: .milliseconds(20)), .immediate])
    func shutdownMidBurst(mode: ShutdownMode) async throws {
        let kinds = Self.kinds(count: 30_000, seed: 7)
        let pool = try WorkerPool(configuration: Self.configuration())
        let log = RunLog()
        let driver = Task { await Self.drive(pool, kinds: kinds, log: log) }
        // Mid-burst: a few thousand in. Generous: under ThreadSanitizer, beside the other suites on 2 cores,
        // 5,000 submissions once took longer than 20 s.
        #expect(await eventually(timeout: .seconds(90)) { pool.counters.submitted >= 2_000 })
        let report = await pool.shutdown(mode)
        let admissions = await driver.value
        expectBalanced(report.counters)
        let final = pool.counters
        expectBalanced(final)
        #expect(final.submitted == kinds.count)
        #expect(final.rejected - report.counters.rejected == kinds.count - report.counters.submitted)
        for (index, kind) in kinds.enumerated() where admissions[index].isAccepted {
            let runs = log.count(index)
            #expect(kind == .succeed ? runs <= 1 : runs <= 3, "job \(index) ran \(runs) times")
        }
    }
}
