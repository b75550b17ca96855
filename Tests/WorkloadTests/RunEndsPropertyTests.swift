import Foundation
import PoolEngine
import PropertyBased
import Synchronization
import Testing

@testable import Workload

/// Issue 15's property: any scenario that `check` accepts, run headless and short, ends within its duration
/// plus its shutdown deadline (plus a margin for a loaded machine), with balanced counts. The scenarios are
/// the demos with their pool and service reshaped at random: overflow policies that hold the producer,
/// queues of one, service times far longer than the run.
@Suite("Every accepted scenario ends on time", .timeLimit(.minutes(5)))
struct RunEndsPropertyTests {
    /// What a loaded 2-core machine may add to a run's end (starting the pool, the last sample, the report).
    /// 45 s: in the full suite the run shares the process's threads with suites that start and wait on
    /// processes and PostgreSQL, and a fresh-clone CI saw a 1.5 s run (work-stealing, 3.3 s jobs) end after
    /// 20.7 s that ends in 1.6 s alone; the hang this property guards against ran until SIGKILL at 337 s.
    static let margin: Duration = .seconds(45)

    @Test("a short run of any accepted scenario ends by its duration plus its deadline, its counts balanced")
    func runsEndOnTime() async throws {
        let demos = DemoCatalog.demos().map(\.name)
        try #require(!demos.isEmpty)
        let accepted = Mutex(0)
        await propertyCheck(
            count: 12,
            input: Gen<String?>.element(of: demos),
            Gen<String?>.element(of: ["reject", "wait", "drop_oldest", "run_in_caller"]),
            Gen.int(in: 1...60_000),  // constant service, ms: up to a minute, far beyond the 1 s run
            Gen.int(in: 1...6),  // max_workers
            Gen.int(in: 1...20)  // queue_capacity
        ) { demo, overflow, serviceMs, workers, capacity in
            guard let demo, let overflow else { return }
            let overrides = [
                "pool.overflow=\(overflow)", "pool.max_workers=\(workers)", "pool.min_workers=1",
                "pool.queue_capacity=\(capacity)", "shutdown_deadline=500ms",
                "workload.service={distribution: constant, value: \(serviceMs)ms}",
            ]
            let scenario: Scenario
            do {
                guard let source = try DemoCatalog.resolve(demo) else { return }
                scenario = try DemoCatalog.load(
                    source, overrides: try overrides.map { text throws(ScenarioError) in try ScenarioOverride(text) })
            } catch {
                return  // the property is about what check accepts; some combinations are refused (keyed pools, ...)
            }
            accepted.withLock { $0 += 1 }
            let short = scenario.compressed(to: .seconds(1))
            let deadlines =
                [short.shutdownDeadline]
                + short.timeline.compactMap { entry -> Duration? in
                    if case .shutdown(.graceful(let deadline)) = entry.action { return deadline }
                    return nil
                }
            let bound = short.duration + (deadlines.max() ?? .zero) + Self.margin
            let started = ContinuousClock.now
            let output = try await ScenarioRunner(scenario: short).run()
            let elapsed = ContinuousClock.now - started
            let jobs = output.result.jobs
            let label = "\(demo) with \(overrides.joined(separator: " "))"
            if elapsed > bound || !output.result.balanced {
                // The property checker keeps the expectations' own messages to itself while it shrinks, so a
                // failure in CI would name only the input: say what went wrong where the log shows it.
                print("RunEndsPropertyTests: \(label): ended after \(elapsed) (bound \(bound)), \(jobs)")
            }
            #expect(elapsed <= bound, "\(label): ended after \(elapsed), bound \(bound)")
            #expect(output.result.balanced, "\(label): \(jobs)")
            #expect(jobs.submitted == jobs.completed + jobs.failed + jobs.rejected + jobs.cancelled, "\(label): \(jobs)")
        }
        #expect(accepted.withLock { $0 } >= 6, "most generated scenarios are accepted, or the property tests little")
    }
}
