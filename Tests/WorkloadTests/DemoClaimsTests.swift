import Foundation
import PoolEngine
import Testing

@testable import Workload

@Suite("Demos tell the truth: every caption's claims hold in a headless run")
struct DemoClaimsTests {
    @Test("every demo carries at least one checked claim")
    func everyDemoHasAClaim() throws {
        let files = demoFiles()
        #expect(files.count >= 17)
        for file in files {
            let scenario = try DemoCatalog.load(file)
            #expect(!scenario.claims.isEmpty, "\(scenario.name) has no claims: a lesson nobody checks can quietly become false")
        }
    }

    @Test("claims parse, name their mistakes, and are judged against samples and the summary")
    func claimGrammar() throws {
        let claim = try Claim.parse("queue >= 200 at 12s")
        #expect(claim.metric.name == "queue" && claim.comparison == .atLeast && claim.factor == 200 && claim.when == .at(.seconds(12)))
        #expect(try Claim.parse("wait_p99_ms[0] > 10 x wait_p99_ms[10]").reference == Claim.Metric(name: "wait_p99_ms", level: 10))
        #expect(try Claim.parse("workers == 2 by 40s", at: .seconds(22)).when == .by(.seconds(40), since: .seconds(22)))
        #expect(throws: ClaimSyntaxError.self) { try Claim.parse("qeue >= 1") }
        #expect(throws: ClaimSyntaxError.self) { try Claim.parse("queue => 1") }
        #expect(throws: ClaimSyntaxError.self) { try Claim.parse("wait_p99_ms >= 1 at 3s") }
        #expect(throws: ClaimSyntaxError.self) { try Claim.parse("queue >= 1 from 5s to 2s") }

        var rows: [SecondRow] = []
        for second in 1...10 {
            rows.append(
                SecondRow(
                    t: Double(second), workers: second < 5 ? 2 : 8, queueDepth: second * 10, inFlight: 0,
                    completedPerS: 10, failedPerS: 0, p50Ms: 0, p99Ms: 0))
        }
        let summary = RunResult(
            scenario: "s", seed: 1, durationS: 10, jobs: JobCounters(),
            latencyMs: .init(queueWait: LatencySummary(), service: LatencySummary(), endToEnd: LatencySummary()),
            throughput: .init(meanPerS: 10, peakPerS: 10), workers: .init(minSeen: 2, maxSeen: 8, final: 8),
            scaleEvents: [], theory: nil, balanced: true, strategy: "fifo", deadLetters: 0, captions: [], warnings: [])
        func held(_ text: String, at: Duration = .zero) throws -> Bool {
            try Claim.parse(text, at: at).check(summary: summary, rows: rows).held
        }
        #expect(try held("queue >= 50 at 5s"))
        #expect(try !held("queue >= 51 at 5s"))
        #expect(try held("workers == 8 by 6s", at: .seconds(2)))
        #expect(try !held("workers == 8 by 4s", at: .seconds(2)))
        #expect(try held("completed_per_s == 10 from 1s to 10s"))
        #expect(try !held("workers == 2 from 1s to 6s"))
        #expect(try held("workers_max == 8"))
        #expect(try !held("queue >= 1 at 30s"), "no sample there: not held")
        #expect(try !held("wait_p99_ms[3] >= 0"), "no such priority in the run: not held")
        #expect(try !held("keys_moved_pct <= 30 at 5s"), "no resize (or not keyed): a claim about keys moved does not hold")
    }

    @Test("a claim that looks past the scenario's end or does not parse is an error with its line")
    func claimsInFiles() {
        let yaml = """
            name: c
            duration: 10s
            pool: { min_workers: 1, max_workers: 1 }
            workload:
              arrivals: { process: poisson, rate: 10/s }
              service: { distribution: constant, value: 1ms }
            timeline:
              - at: 0s
                caption: "hello"
                claims: ["queue >= 1 at 20s", "qeue >= 1"]
            """
        #expect {
            try ScenarioParser.parse(yaml, file: "c.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.contains("c.yaml:10: timeline.claims: 'queue >= 1 at 20s' looks at 20s, after the scenario's duration 10s")
        }
    }

    /// Every demo, two at a time at twice the speed (one scenario clock, so the same run, faster). A
    /// measurement of real pools, so it runs alone: `.ci/run` runs it in a `swift test` of its own.
    @Test(
        "every demo's claims hold in a headless run",
        .enabled(if: ProcessInfo.processInfo.environment["POOLSCOPE_DEMO_CLAIMS"] == "1", "runs alone in CI (POOLSCOPE_DEMO_CLAIMS=1)"),
        .timeLimit(.minutes(10)))
    func everyDemoIsTrue() async throws {
        let scenarios = try demoFiles().map { try DemoCatalog.load($0) }
        let results = try await withThrowingTaskGroup(of: (String, [ClaimResult]).self) { group in
            var pending = scenarios[...]
            var results: [(String, [ClaimResult])] = []
            func startNext() {
                guard let scenario = pending.popFirst() else { return }
                group.addTask {
                    let output = try await ScenarioRunner(scenario: scenario, speed: 2).run()
                    return (scenario.name, output.result.claims ?? [])
                }
            }
            startNext()
            startNext()
            while let result = try await group.next() {
                results.append(result)
                startNext()
            }
            return results
        }
        #expect(results.count == scenarios.count)
        for (name, claims) in results {
            #expect(!claims.isEmpty, "\(name): no claims checked")
            for claim in claims {
                #expect(claim.held, "\(name): '\(claim.claim)' did not hold: \(claim.observed)")
            }
        }
    }
}
