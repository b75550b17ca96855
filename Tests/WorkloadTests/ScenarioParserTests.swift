import Foundation
import PoolEngine
import Testing

@testable import Workload

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func demoFiles() -> [URL] {
    let directory = repositoryRoot.appendingPathComponent("demos")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".yaml") }.sorted().map { directory.appendingPathComponent($0) }
}

@Suite("Scenario files")
struct ScenarioParserTests {
    @Test("the binary carries every demo exactly as demos/ has it (after editing a demo: python3 scripts/embed_demos.py)")
    func embeddedDemosMatchFiles() throws {
        let files = demoFiles()
        let embedded = Dictionary(uniqueKeysWithValues: EmbeddedDemos.files.map { ($0.name, $0.text) })
        #expect(
            embedded.count == files.count,
            "demos/ has \(files.count) files, the binary \(embedded.count): run python3 scripts/embed_demos.py")
        for file in files {
            let name = file.deletingPathExtension().lastPathComponent
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(
                embedded[name]?.trimmingCharacters(in: .newlines) == text.trimmingCharacters(in: .newlines),
                "demos/\(name).yaml differs from the copy in the binary: run python3 scripts/embed_demos.py")
        }
    }

    @Test("there are at least 10 demos, and every one parses")
    func demosParse() throws {
        let files = demoFiles()
        #expect(files.count >= 10)
        for file in files {
            let scenario = try DemoCatalog.load(file)
            #expect(!scenario.description.isEmpty, "\(file.lastPathComponent) has a description")
            #expect(
                scenario.timeline.contains { if case .caption = $0.action { true } else { false } },
                "\(file.lastPathComponent) has captions")
        }
    }

    @Test(
        "broken files are rejected with the line and a message naming the field",
        arguments: [
            ("bad-yaml.yaml", 5, "invalid YAML"),
            ("unknown-field.yaml", 5, "unknown field 'pool.max_workerz'; allowed here: min_workers, max_workers"),
            ("wrong-unit.yaml", 7, "workload.service.value must be a duration with a unit"),
            ("negative-rate.yaml", 6, "workload.arrivals.rate must be zero or more"),
            ("min-above-max.yaml", 4, "min_workers must not exceed max_workers (9 > 4)"),
            ("two-actions.yaml", 9, "each timeline entry needs exactly one action"),
        ])
    func brokenFiles(name: String, line: Int, message: String) {
        let url = repositoryRoot.appendingPathComponent("Tests/WorkloadTests/broken/\(name)")
        do {
            _ = try DemoCatalog.load(url)
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.description.hasPrefix(error.file + ":\(line): "))
        }
    }

    @Test("every error of a file in one run, in line order, each as file:line: message; a duplicate key names its line")
    func everyError() {
        let url = repositoryRoot.appendingPathComponent("Tests/WorkloadTests/broken/three-errors.yaml")
        do {
            _ = try DemoCatalog.load(url)
            Issue.record("accepted")
        } catch {
            let lines = error.description.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(error.description)")
            #expect(lines.map { $0.split(separator: ":")[1] } == ["5", "9", "10", "12"], "\(error.description)")
            #expect(lines[0].contains("pool.max_workers must be a whole number, got 'lots'"))
            #expect(lines[1].contains("workload.service.value must be a duration"))
            #expect(lines[2].contains("workload.keys applies only to pool.strategy keyed"))
            #expect(lines[3].contains("each timeline entry needs exactly one action"))
            #expect(!error.description.contains("maxWorkers"), "file names only")
        }
        let duplicate = repositoryRoot.appendingPathComponent("Tests/WorkloadTests/broken/duplicate-key.yaml")
        do {
            _ = try DemoCatalog.load(duplicate)
            Issue.record("accepted")
        } catch {
            #expect(
                error.description == "Tests/WorkloadTests/broken/duplicate-key.yaml:6: field 'min_workers' appears twice in one mapping",
                "\(error.description)")
        }
    }

    @Test("a full scenario reads into the engine's configuration")
    func fullScenario() throws {
        let text = """
            name: full
            seed: 99
            duration: 30s
            pool:
              min_workers: 2
              max_workers: 12
              queue_capacity: unbounded
              overflow: drop_oldest
              strategy: per_worker
              dispatch: least_loaded
              stealing: true
              growth: "+3"
              cooldown: 0s
              retry: { max_attempts: 4, initial_backoff: 5ms }
              rate_limit: { rate: 100/s, burst: 10 }
              circuit_breaker: { failure_ratio: 0.5, window: 10, when_open: hold }
            workload:
              arrivals: { process: bursts, rate: 20/s, burst_size: 100, every: 5s }
              job: { kind: mixed, cpu_fraction: 0.25 }
              service: { distribution: lognormal, median: 10ms, sigma: 0.5 }
              priorities: { levels: [0, 5], weights: [3, 1] }
            timeline:
              - at: 1s
                crash_worker: random
              - at: 2s
                shutdown: graceful
                deadline: 3s
            """
        let scenario = try ScenarioParser.parse(text, file: "full.yaml")
        #expect(scenario.seed == 99 && scenario.duration == .seconds(30))
        #expect(scenario.pool.queueCapacity == nil && scenario.pool.overflowPolicy == .dropOldest)
        #expect(scenario.pool.queueStrategy == .perWorker(.leastLoaded, stealing: true))
        #expect(scenario.pool.growth == .add(3) && scenario.pool.cooldown == .zero)
        #expect(scenario.pool.retry.maxAttempts == 4 && scenario.pool.rateLimit == RateLimit(perSecond: 100, burst: 10))
        #expect(scenario.pool.circuitBreaker?.whenOpen == .hold)
        #expect(scenario.workload.arrivals == .bursts(rate: 20, size: 100, every: .seconds(5)))
        #expect(scenario.workload.kind == .mixed(cpuFraction: 0.25))
        let keyed = try ScenarioParser.parse(
            """
            name: keyed
            duration: 10s
            pool: { strategy: keyed }
            workload:
              arrivals: { process: poisson, rate: 10/s }
              service: { distribution: constant, value: 10ms }
              keys: { distribution: zipf, count: 100, exponent: 1.2 }
            """, file: "keyed.yaml")
        #expect(keyed.workload.keys == .zipf(count: 100, exponent: 1.2))
        #expect(scenario.timeline.map(\.action) == [.crashWorker(nil), .shutdown(.graceful(deadline: .seconds(3)))])
    }

    @Test("a field that does not apply is an error, not ignored")
    func inapplicableField() {
        let text = """
            name: x
            duration: 5s
            pool: { strategy: fifo, aging: 10ms }
            workload:
              arrivals: { process: poisson, rate: 1/s }
              service: { distribution: constant, value: 1ms }
            """
        do {
            _ = try ScenarioParser.parse(text, file: "x.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.line == 3 && error.message == "pool.aging applies only to strategy priority, not fifo")
        }
    }

    @Test("pool.scaling: the threshold policy by default, target_wait with its target and window, errors named")
    func scalingPolicy() throws {
        func scenario(_ scaling: String) throws(ScenarioError) -> Scenario {
            try ScenarioParser.parse(
                """
                name: x
                duration: 5s
                pool: { max_workers: 8\(scaling) }
                workload:
                  arrivals: { process: poisson, rate: 1/s }
                  service: { distribution: constant, value: 1ms }
                """, file: "x.yaml")
        }
        #expect(try scenario("").pool.scalingMode == .queueThreshold)
        #expect(
            try scenario(", scaling: { policy: target_wait, target: 50ms }").pool.scalingMode
                == .targetWait(TargetWait(target: .milliseconds(50), window: .seconds(3))))
        #expect(
            try scenario(", scaling: { policy: target_wait, target: 20ms, window: 5s }").pool.scalingMode
                == .targetWait(TargetWait(target: .milliseconds(20), window: .seconds(5))))
        // One file switches policy with the policy alone: the target stays, unused.
        #expect(try scenario(", scaling: { policy: threshold, target: 50ms }").pool.scalingMode == .queueThreshold)
        let failures: [(String, String)] = [
            (", scaling: { policy: target_wait }", "pool.scaling with policy target_wait needs 'target'"),
            (", scaling: { policy: fastest }", "pool.scaling.policy"),
            (", scaling: { policy: target_wait, target: 50 }", "pool.scaling.target"),
            (", scaling: { policy: target_wait, target: 50ms, window: 1ms }", "pool.scaling.window must be 10ms or more"),
            (", scaling: { policy: target_wait, target: 50ms, goal: 3 }", "goal"),
        ]
        for (text, expected) in failures {
            do {
                _ = try scenario(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.line == 3 && error.message.contains(expected), "\(text): \(error.message)")
            }
        }
    }

    @Test("arrivals.utilisation: the rate that keeps max_workers busy that fraction of the time; errors named")
    func utilisation() throws {
        func scenario(_ arrivals: String, workers: Int = 4) throws(ScenarioError) -> Scenario {
            try ScenarioParser.parse(
                """
                name: x
                duration: 5s
                pool: { min_workers: \(workers), max_workers: \(workers) }
                workload:
                  arrivals: \(arrivals)
                  service: { distribution: exponential, mean: 20ms }
                """, file: "x.yaml")
        }
        // 0.8 x 4 workers / 20 ms = 160/s; with 10 workers, 400/s.
        #expect(try scenario("{ process: poisson, utilisation: 0.8 }").workload.arrivals == .poisson(rate: 160))
        #expect(try scenario("{ process: constant, utilisation: 0.8 }", workers: 10).workload.arrivals == .constant(rate: 400))
        let failures: [(String, String)] = [
            ("{ process: poisson, utilisation: 0.8, rate: 10/s }", "give rate or utilisation, not both"),
            ("{ process: ramp, utilisation: 0.8, from: 1/s, to: 2/s, over: 1s }", "applies to process constant or poisson"),
            ("{ process: poisson, utilisation: -1 }", "workload.arrivals.utilisation"),
        ]
        for (text, expected) in failures {
            do {
                _ = try scenario(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.message.contains(expected), "\(text): \(error.message)")
            }
        }
    }

    @Test("a duration too long for the clock is not a duration, rather than a crash")
    func hugeDuration() {
        #expect(Units.duration("1e300s") == nil)
        #expect(Units.duration("99999999999h") == nil)
        #expect(Units.duration("100000h") == .seconds(360_000_000))
    }

    @Test("units: durations need a unit, rates a time base")
    func units() {
        #expect(Units.duration("20ms") == .milliseconds(20))
        #expect(Units.duration("1.5s") == .milliseconds(1_500))
        #expect(Units.duration("250us") == .microseconds(250))
        #expect(Units.duration("2m") == .seconds(120))
        #expect(Units.duration("20") == nil)
        #expect(Units.duration("fast") == nil)
        #expect(Units.rate("300/s") == 300)
        #expect(Units.rate("2/ms") == 2_000)
        #expect(Units.rate("120/m") == 2)
        #expect(Units.rate("300") == nil)
        #expect(Units.rate("300/day") == nil)
    }
}
