import Foundation
import PoolEngine
import Testing

@testable import Workload

@Suite("Running scenarios headless", .timeLimit(.minutes(3)))
struct RunnerTests {
    @Test("every demo, compressed to 2 s, runs and its counts balance", arguments: demoFiles().map(\.lastPathComponent))
    func demoRuns(name: String) async throws {
        var scenario = try DemoCatalog.load(repositoryRoot.appendingPathComponent("demos/\(name)"))
        scenario = scenario.compressed(to: .seconds(2))
        scenario.shutdownDeadline = .seconds(5)
        let output = try await ScenarioRunner(scenario: scenario).run()
        let jobs = output.result.jobs
        #expect(output.result.balanced)
        #expect(jobs.submitted == jobs.completed + jobs.failed + jobs.rejected + jobs.cancelled)
        #expect(jobs.submitted > 0)
        #expect(output.result.scenario == scenario.name)
        #expect(!output.result.captions.isEmpty)
    }

    @Test("the JSON summary carries every field of the contract")
    func jsonContract() async throws {
        var scenario = try DemoCatalog.load(repositoryRoot.appendingPathComponent("demos/burst.yaml"))
        scenario = scenario.compressed(to: .seconds(2))
        let output = try await ScenarioRunner(scenario: scenario).run()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(output.result)) as? [String: Any])
        for key in ["scenario", "seed", "duration_s", "jobs", "latency_ms", "throughput", "workers", "scale_events"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let jobs = try #require(object["jobs"] as? [String: Any])
        for key in ["submitted", "completed", "failed", "rejected", "cancelled", "retried", "timed_out"] {
            #expect(jobs[key] is Int, "jobs.\(key)")
        }
        let latency = try #require(object["latency_ms"] as? [String: Any])
        for kind in ["queue_wait", "service", "end_to_end"] {
            let summary = try #require(latency[kind] as? [String: Any], "latency_ms.\(kind)")
            for key in ["mean", "p50", "p90", "p99", "p999", "max"] { #expect(summary[key] is Double || summary[key] is Int) }
        }
        let throughput = try #require(object["throughput"] as? [String: Any])
        #expect(throughput["mean_per_s"] != nil && throughput["peak_per_s"] != nil)
        let workers = try #require(object["workers"] as? [String: Any])
        #expect(workers["min_seen"] is Int && workers["max_seen"] is Int && workers["final"] is Int)
        let events = try #require(object["scale_events"] as? [[String: Any]])
        #expect(!events.isEmpty, "the burst scales the pool")
        #expect(events.allSatisfy { $0["t_s"] != nil && $0["from"] is Int && $0["to"] is Int && $0["reason"] is String })
        #expect(output.seconds.count >= 1)
    }
}
