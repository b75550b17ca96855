import Testing

@testable import Workload

@Suite("The stream digest: the same jobs, the same digest")
struct StreamDigestTests {
    func scenario(_ overrides: String...) throws -> Scenario {
        let text = """
            name: digest
            duration: 5s
            pool: { min_workers: 2, max_workers: 8 }
            workload:
              arrivals: { process: poisson, rate: 200/s }
              service: { distribution: exponential, mean: 5ms }
              failure_rate: 0.1
            timeline:
              - at: 2s
                burst: 50
            """
        return try ScenarioParser.parse(text, file: "digest.yaml", overrides: try overrides.map { try ScenarioOverride($0) })
    }

    @Test("changing the pool leaves the stream alone; changing the workload, the timeline or the seed changes it")
    func digest() throws {
        let base = StreamDigest.of(try scenario())
        #expect(base.count == 16)
        #expect(StreamDigest.of(try scenario()) == base, "deterministic")
        #expect(StreamDigest.of(try scenario("pool.max_workers=3", "pool.strategy=lifo")) == base)
        #expect(StreamDigest.of(try scenario("workload.arrivals.rate=201/s")) != base)
        #expect(StreamDigest.of(try scenario("workload.failure_rate=0.2")) != base)
        #expect(StreamDigest.of(try scenario("timeline.0.burst=51")) != base)
        #expect(StreamDigest.of(try scenario("seed=2")) != base)
    }
}
