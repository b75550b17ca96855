import Testing

@testable import Workload

@Suite("--set PATH=VALUE: scenario fields overridden, validated like the file")
struct ScenarioOverrideTests {
    let text = """
        name: small
        duration: 20s
        pool:
          min_workers: 2
          max_workers: 8
        workload:
          arrivals: { process: poisson, rate: 80/s }
          service: { distribution: exponential, mean: 20ms }
        timeline:
          - at: 5s
            burst: 100
        """

    func parse(_ overrides: String...) throws(ScenarioError) -> Scenario {
        try ScenarioParser.parse(
            text, file: "small.yaml", overrides: try overrides.map { text throws(ScenarioError) in try ScenarioOverride(text) })
    }

    @Test("valid overrides change the fields they name, the last one winning; new fields and list positions work")
    func valid() throws {
        let scenario = try parse(
            "pool.max_workers=16", "workload.arrivals.rate=300/s", "pool.max_workers=12", "pool.scale_up_threshold=3",
            "timeline.0.burst=7", "workload.service={distribution: constant, value: 5ms}", "seed=99")
        #expect(scenario.pool.maxWorkers == 12)
        #expect(scenario.pool.scaleUpThreshold == 3)
        #expect(scenario.workload.arrivals == .poisson(rate: 300))
        #expect(scenario.timeline.first?.action == .burst(7))
        #expect(scenario.workload.service == .constant(.milliseconds(5)))
        #expect(scenario.seed == 99)
        #expect(try parse().pool.maxWorkers == 8, "without overrides, the file as written")
    }

    @Test("an unknown path is refused with the override named and the fields allowed there")
    func unknownPath() {
        #expect {
            try parse("pool.max_wrkers=3")
        } throws: { error in
            "\(error)".hasPrefix(
                "small.yaml: --set pool.max_wrkers=3: unknown field 'pool.max_wrkers'; allowed here: min_workers, max_workers")
        }
        #expect {
            try parse("timeline.4.at=1s")
        } throws: { error in
            "\(error)" == "--set timeline.4.at=1s: 'timeline' is a list of 1 in the file: '4' is not one of its positions 0...0"
        }
        #expect {
            try parse("duration.unit=s")
        } throws: { error in
            "\(error)".contains("'duration' is a single value in the file, so it has no field 'unit'")
        }
    }

    @Test("a bad value is refused exactly as in the file, naming the override instead of a line")
    func badValue() {
        #expect {
            try parse("pool.max_workers=lots")
        } throws: { error in
            "\(error)" == "small.yaml: --set pool.max_workers=lots: pool.max_workers must be a whole number, got 'lots'"
        }
        #expect {
            try parse("workload.arrivals.rate=-5/s")
        } throws: { error in
            "\(error)".hasPrefix("small.yaml: --set workload.arrivals.rate=-5/s: ")
        }
        // A problem of the file itself still points at its line.
        #expect {
            try ScenarioParser.parse(
                text.replacingOccurrences(of: "max_workers: 8", with: "max_workers: x"), file: "small.yaml",
                overrides: [ScenarioOverride(path: ["seed"], value: "3")])
        } throws: { error in
            "\(error)".hasPrefix("small.yaml:5: pool.max_workers must be a whole number")
        }
    }

    @Test("malformed overrides: no '=', an empty field in the path")
    func malformed() {
        #expect(throws: ScenarioError.self) { try ScenarioOverride("pool.max_workers") }
        #expect(throws: ScenarioError.self) { try ScenarioOverride("pool..max_workers=3") }
        #expect(throws: ScenarioError.self) { try ScenarioOverride("=3") }
        #expect((try? ScenarioOverride("workload.arrivals.rate=300/s"))?.path == ["workload", "arrivals", "rate"])
        #expect((try? ScenarioOverride("name=a=b"))?.value == "a=b", "the value is everything after the first '='")
    }
}
