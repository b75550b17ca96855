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
        // Not the Go peer: building it takes both cores for many seconds, and other tests run beside this one.
        settings.pools = BenchPool.allCases.filter { $0 != .go }
        let rows = await Benchmark.run(settings)
        #expect(rows.count == (BenchPool.allCases.count - 1) * BenchJob.allCases.count + BenchJob.allCases.count)
        for row in rows {
            #expect(row.exactlyOnce, "\(row.pool) \(row.job): a job was lost or ran twice")
            #expect(row.jobsPerS > 0 && row.nsPerJob > 0)
        }
        #expect(rows.contains { $0.pool == "poolscope-fifo" && !$0.metrics })
    }

    @Test("the waiting workload: each runner gets the same Poisson arrivals and runs each job once")
    func waitingWorkload() async {
        let stream = IOWorkload.stream(rate: 200, seconds: 1, mean: .milliseconds(10), seed: 14)
        #expect(stream.count > 120 && stream.count < 280, "about 200 Poisson arrivals in a second: \(stream.count)")
        #expect(stream.map(\.at) == stream.map(\.at).sorted())
        for row in [
            await IOWorkload.bareSwift(workers: 20, rate: 200, seconds: 1, mean: .milliseconds(10)),
            await IOWorkload.poolScope(workers: 20, rate: 200, seconds: 1, mean: .milliseconds(10)),
            await IOWorkload.poolScope(workers: 20, rate: 200, seconds: 1, mean: .milliseconds(10), shared: true),
            await IOWorkload.poolScope(workers: 20, rate: 200, seconds: 1, mean: .milliseconds(10), mode: .poolTimers),
            await IOWorkload.poolScope(workers: 20, rate: 200, seconds: 1, mean: .milliseconds(10), mode: .simulated),
            await IOWorkload.poolScope(workers: 20, rate: 200, seconds: 1, mean: .milliseconds(10), mode: .simulated, threads: 1),
            await IOWorkload.arrivalsOnly(rate: 200, seconds: 1, mean: .milliseconds(10)),
        ] {
            #expect(row.exactlyOnce && row.jobs == stream.count, "\(row.runner)")
        }
        // The CPU figures are the whole process's, shared here with the tests running beside this one:
        // the benchmark measures them alone.
    }

    @Test("--io-runner: each runner named runs alone, under the name of its row, and idle workers are skipped")
    func waitingWorkloadRunnerFilter() async {
        for runner in IOComparison.Runner.allCases where runner != .go {
            let name = runner.rawValue
            let comparison = await IOComparison.run(
                workers: 5, rate: 100, seconds: 0.3, idleSeconds: 1, only: [runner], progress: { _ in })
            #expect(comparison.rows.map(\.runner) == [name])
            #expect(comparison.rows.allSatisfy { $0.exactlyOnce }, "\(name)")
            #expect(comparison.idle.isEmpty)
        }
    }

    @Test("rounds: a row from a fresh process is used, a runner without one runs here, and each row is its median round")
    func roundsAndFreshProcesses() async {
        var figures: [Double] = [3, 1, 2]
        let comparison = await IOComparison.run(
            workers: 5, rate: 100, seconds: 0.3, rounds: 3, idleSeconds: 1, only: [.asyncStream, .poolScopeShared],
            isolate: { runner in
                guard runner == .asyncStream else { return .unavailable("not this one") }
                let cpu = figures.removeFirst()
                return .row(
                    IOWorkload.Row(
                        runner: runner.rawValue, workers: 5, ratePerS: 100, seconds: 0.3, jobs: 30, cpuUsPerJob: cpu,
                        exactlyOnce: cpu != 1))
            }, progress: { _ in })
        #expect(comparison.rows.map(\.runner) == ["asyncstream", "poolscope-shared"])
        let bare = comparison.rows.first
        #expect(bare?.cpuUsPerJob == 2 && bare?.cpuUsPerJobRounds == [3, 1, 2])
        #expect(bare?.exactlyOnce == false, "one round that lost a job marks the row")
        #expect(bare?.ratioToBareSwift == 1)
        let shared = comparison.rows.last
        #expect(shared?.exactlyOnce == true && shared?.cpuUsPerJobRounds?.count == 3, "run here, in each round")
        #expect(shared?.roundsInParentProcess == 3 && bare?.roundsInParentProcess == nil, "and the JSON says so")
    }

    @Test(
        "a round whose fresh process hung is skipped, not run again in this process, and counted; the row is the rounds that ran, with no claim to exactly once"
    )
    func hungRoundsAreSkipped() async {
        var round = 0
        let comparison = await IOComparison.run(
            workers: 5, rate: 100, seconds: 0.3, rounds: 3, idleSeconds: 1, only: [.asyncStream],
            isolate: { runner in
                round += 1
                guard round != 2 else { return .timedOut("stopped") }
                return .row(
                    IOWorkload.Row(
                        runner: runner.rawValue, workers: 5, ratePerS: 100, seconds: 0.3, jobs: 30, cpuUsPerJob: Double(round),
                        exactlyOnce: true))
            }, progress: { _ in })
        let row = comparison.rows.first
        #expect(row?.cpuUsPerJobRounds == [1, 3] && row?.roundsInParentProcess == nil)
        #expect(row?.exactlyOnce == false, "a hung round may have lost a job: no claim to exactly once")
        #expect(comparison.roundsTimedOut == ["asyncstream": 1])
    }

    @Test("a helper that outlives its time limit is stopped and reported as such; one that ends in time is not")
    func helpersHaveATimeLimit() {
        let start = ContinuousClock.now
        let (status, text) = ChildProcess.run("/bin/sleep", ["60"], limit: .milliseconds(300))
        #expect(status == ChildProcess.timedOutStatus)
        #expect(text.contains("was stopped after"), "the reason is in the text: \(text)")
        #expect(ContinuousClock.now - start < .seconds(30), "stopped long before the child's 60 s")
        let (echoStatus, echoText) = ChildProcess.run("/bin/echo", ["hello"], limit: .seconds(60))
        #expect(echoStatus == 0 && echoText == "hello\n", "\(echoText.debugDescription)")
        // A child that ignores SIGTERM is killed 5 s later.
        let stubbornStart = ContinuousClock.now
        let (stubbornStatus, stubbornText) = ChildProcess.run(
            "/bin/sh", ["-c", "trap '' TERM; echo started; while :; do sleep 1; done"], limit: .seconds(2))
        let stubbornTook = ContinuousClock.now - stubbornStart
        #expect(stubbornStatus == ChildProcess.timedOutStatus)
        #expect(stubbornText.hasPrefix("started\n") && stubbornText.contains("was stopped after"), "\(stubbornText)")
        #expect(stubbornTook >= .seconds(6) && stubbornTook < .seconds(40), "SIGKILL, 5 s after SIGTERM did nothing: \(stubbornTook)")
    }
}
