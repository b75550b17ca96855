import Foundation
import Synchronization
import Testing

@testable import PoolEngine

/// A worker whose jobs keep awaiting moves to Swift's shared pool; one whose jobs compute stays on the
/// pool's threads (``PoolConfiguration/movesAwaitingWorkers``, ``WorkerHomeRule``).
@Suite("Where a worker runs: the pool's threads or the shared pool", .timeLimit(.minutes(3)))
struct WorkerHomeTests {
    @Test("the rule: three of four jobs suspended moves the worker; two do not; a disabled rule never moves")
    func movesOnMostlySuspendingJobs() {
        var rule = WorkerHomeRule(enabled: true)
        #expect(rule.watchesJobs)
        #expect(rule.ran(jobs: 1, suspended: 1) == .ownThreads)
        #expect(rule.ran(jobs: 1, suspended: 0) == .ownThreads)
        #expect(rule.ran(jobs: 1, suspended: 1) == .ownThreads)
        // The fourth job decides: 3 of 4.
        #expect(rule.ran(jobs: 1, suspended: 1) == .sharedPool)
        #expect(!rule.watchesJobs)

        var mixed = WorkerHomeRule(enabled: true)
        #expect(mixed.ran(jobs: 4, suspended: 2) == .ownThreads)
        // A new window: what came before does not count.
        #expect(mixed.ran(jobs: 2, suspended: 2) == .ownThreads)
        #expect(mixed.ran(jobs: 2, suspended: 1) == .sharedPool)

        var off = WorkerHomeRule(enabled: false)
        #expect(off.ran(jobs: 100, suspended: 100) == .ownThreads)
        #expect(!off.watchesJobs)
    }

    @Test("the rule: a long run is weighed by its share of suspended jobs")
    func longRunsWeighByShare() {
        var few = WorkerHomeRule(enabled: true)
        #expect(few.ran(jobs: 40, suspended: 29) == .ownThreads)
        var most = WorkerHomeRule(enabled: true)
        #expect(most.ran(jobs: 40, suspended: 30) == .sharedPool)
        #expect(most.ran(jobs: 0, suspended: 0) == .sharedPool)
    }

    @Test("the rule: on the shared pool the worker comes back after 256 jobs, whatever they did")
    func comesBackToLook() {
        var rule = WorkerHomeRule(enabled: true)
        #expect(rule.ran(jobs: 4, suspended: 4) == .sharedPool)
        for _ in 0..<(WorkerHomeRule.looksAgainAfter - 1) {
            #expect(rule.ran(jobs: 1, suspended: 0) == .sharedPool)
        }
        #expect(rule.ran(jobs: 1, suspended: 1) == .ownThreads)
        // Back on the pool's threads it looks at a fresh window: jobs that no longer await keep it there.
        #expect(rule.ran(jobs: 4, suspended: 0) == .ownThreads)
        #expect(rule.watchesJobs)
    }

    /// Runs `count` jobs one after another on a one-worker pool; answers, for each, whether it began on the
    /// pool's own threads.
    fileprivate func homes(
        of count: Int, moves: Bool = true, timeout: Duration? = nil,
        _ body: @escaping @Sendable () async throws -> Void
    ) async throws -> [Bool] {
        var configuration = makeConfiguration(min: 1, max: 1)
        configuration.movesAwaitingWorkers = moves
        let pool = try WorkerPool(configuration: configuration)
        let onOwnThreads = Mutex<[Bool]>([])
        for _ in 0..<count {
            let done = Flag()
            let accepted = pool.trySubmit(timeout: timeout) {
                onOwnThreads.withLock { $0.append(DedicatedThreadExecutor.current != nil) }
                try await body()
                done.set()
            }
            #expect(accepted.isAccepted)
            #expect(await eventually(timeout: .seconds(60)) { done.isSet })
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == count)
        expectBalanced(report.counters)
        return onOwnThreads.withLock { $0 }
    }

    @Test("jobs that await move their worker to the shared pool after four, and nothing is lost")
    func awaitingJobsMove() async throws {
        let homes = try await homes(of: 12) { try await Task.sleep(for: .milliseconds(1)) }
        #expect(homes.prefix(WorkerHomeRule.window).allSatisfy { $0 }, "the first jobs ran off the pool's threads: \(homes)")
        #expect(homes.suffix(6).allSatisfy { !$0 }, "the worker never moved to the shared pool: \(homes)")
    }

    @Test("jobs that compute, that await with movesAwaitingWorkers off, or that have a timeout stay on the pool's threads")
    func othersStay() async throws {
        let computing = try await homes(of: 12) { spin(for: .microseconds(200)) }
        #expect(computing.allSatisfy { $0 }, "\(computing)")
        let unmoved = try await homes(of: 12, moves: false) { try await Task.sleep(for: .milliseconds(1)) }
        #expect(unmoved.allSatisfy { $0 }, "\(unmoved)")
        let timed = try await homes(of: 12, timeout: .seconds(30)) { try await Task.sleep(for: .milliseconds(1)) }
        #expect(timed.allSatisfy { $0 }, "\(timed)")
    }
}

extension WorkerHomeTests {
    @Test("jobs that wait in the pool's own timers stay on the pool's threads: those waits need no hand-over")
    func poolTimersStay() async throws {
        let homes = try await homes(of: 12) { try await SleepWheel.sleepOnCurrentPool(for: .milliseconds(1)) }
        #expect(homes.allSatisfy { $0 }, "\(homes)")
    }
}
