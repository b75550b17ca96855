import Testing

@testable import Bench

@Suite("The benchmark's accounting", .timeLimit(.minutes(3)))
struct BenchTests {
    @Test("at tiny N, every pool runs every job exactly once for every job kind")
    func exactlyOnceAtTinyN() async {
        var settings = BenchSettings()
        settings.counts = [.noop: 2_000, .spin1us: 500, .spin100us: 50, .sleep1ms: 40]
        settings.rounds = 1
        settings.warmUp = 0
        settings.workerCounts = [2]
        let rows = await Benchmark.run(settings)
        #expect(rows.count == BenchPool.allCases.count * BenchJob.allCases.count + BenchJob.allCases.count)
        for row in rows {
            #expect(row.exactlyOnce, "\(row.pool) \(row.job): a job was lost or ran twice")
            #expect(row.jobsPerS > 0 && row.nsPerJob > 0)
        }
        #expect(rows.contains { $0.pool == "poolscope-fifo" && !$0.metrics })
    }
}
