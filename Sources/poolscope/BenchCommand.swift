import ArgumentParser
import Bench
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            "Compare PoolScope's pool with what a Swift user would use instead (run it in release: swift run -c release poolscope bench).",
        discussion: """
            Runs every pool on the same jobs (no-op, 1 µs and 100 µs of CPU spin, a 1 ms sleep) with 2 and 8 \
            workers, rounds interleaved, median of 5 after a warm-up, and checks that every job ran exactly \
            once; Go's channel pool beside them when `go` is installed. Then the waiting workload (200 workers, \
            jobs sleeping Exp(100 ms), Poisson arrivals at 1,800/s: CPU per job, each runner in a fresh process, \
            rounds interleaved (five of 5 s with --quick, three of 20 s in the full run), the median reported; \
            and the CPU of 200 idle workers), scale figures \
            (10,000 sleeping workers, 1,000,000 queued jobs, burst-to-scale-up time) \
            and the dashboard's cost. Last, the engine's speed targets, each a ratio of this run's rows, met \
            or not ('targets' in the JSON). Results and their history: BENCHMARKS.md. 'poolscope bench cluster' \
            measures the PostgreSQL cluster.
            """,
        subcommands: [BenchCluster.self, BenchMonitor.self, BenchIORow.self])

    @Flag(help: "A smaller run, about six minutes (the full run takes about half an hour).")
    var quick = false

    @Flag(help: "Print one JSON document: {\"results\": [...], \"io\": {...}, \"scale\": {...}, \"targets\": [...]}.")
    var json = false

    @Flag(help: "Skip the scale figures and the dashboard cost.")
    var skipScale = false

    @Flag(help: "Skip the waiting workload (CPU per job of sleeping jobs, and of idle workers).")
    var skipIO = false

    @Option(help: "Only these jobs (repeatable): noop, 1us, 100us, sleep1ms.")
    var job: [String] = []

    @Option(help: "Only these pools (repeatable), e.g. poolscope-fifo, threads.")
    var pool: [String] = []

    @Option(help: "Only these worker counts (repeatable).")
    var workers: [Int] = []

    @Option(name: .customLong("io-runner"), help: "Only these runners of the waiting workload (repeatable), e.g. poolscope-simulated, go.")
    var ioRunner: [String] = []

    @Option(name: .customLong("io-rate"), help: "Arrivals per second in the waiting workload (the targets are set for the default).")
    var ioRate: Double = 1_800

    @Option(
        name: .customLong("io-workers"),
        help: "Workers in the waiting workload and idle workers measured (the targets are set for the default).")
    var ioWorkers: Int = 200

    func validate() throws {
        for name in ioRunner where IOComparison.Runner(rawValue: name) == nil {
            let names = IOComparison.Runner.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown waiting-workload runner '\(name)'; runners: \(names)")
        }
        for name in job where BenchJob(rawValue: name) == nil {
            throw ValidationError("unknown job '\(name)'; jobs: \(BenchJob.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for name in pool where BenchPool(rawValue: name) == nil {
            throw ValidationError("unknown pool '\(name)'; pools: \(BenchPool.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if workers.contains(where: { $0 < 1 || $0 > 4_096 }) { throw ValidationError("--workers must lie within 1...4096") }
        if !(1...1_000_000).contains(ioRate) { throw ValidationError("--io-rate must lie within 1...1000000 arrivals per second") }
        if !(1...100_000).contains(ioWorkers) { throw ValidationError("--io-workers must lie within 1...100000") }
    }

    func run() async throws {
        #if DEBUG
            printError("poolscope bench: this is a debug build; numbers mean little. Use: swift run -c release poolscope bench")
        #endif
        var settings = quick ? BenchSettings.quick : BenchSettings()
        if !job.isEmpty { settings.jobs = job.compactMap(BenchJob.init(rawValue:)) }
        if !pool.isEmpty { settings.pools = pool.compactMap(BenchPool.init(rawValue:)) }
        if !workers.isEmpty { settings.workerCounts = workers }
        // Memory figures first, while the process is fresh: later, freed pages stay with the allocator.
        var scale: ScaleFigures?
        if !skipScale {
            printError("bench: scale figures and dashboard cost")
            scale = await ScaleFigures.measure(
                workers: quick ? 2_000 : 10_000, queued: quick ? 200_000 : 1_000_000, dashboardRounds: quick ? 1 : 5)
        }
        var rows = await Benchmark.run(settings) { printError("bench: \($0)") }
        var allocations: [String: Double] = [:]
        switch AllocationsPerJob.measure(jobs: quick ? 100_000 : 1_000_000) {
        case .success(let perJob):
            allocations = perJob
            for index in rows.indices where rows[index].job == BenchJob.noop.rawValue && rows[index].metrics {
                rows[index].allocationsPerJob = perJob[rows[index].pool]
            }
        case .failure(let why): printError("bench: no allocation counts: \(why)")
        }
        var io: IOComparison?
        if !skipIO {
            let (rate, workers, seconds) = (ioRate, ioWorkers, quick ? 5.0 : 20.0)
            let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
            io = await IOComparison.run(
                // Short rows swing most with the host's load: more of them, so that one busy moment does not
                // decide the median.
                // Idle workers cost a few milliseconds of CPU a second: 10 s, so that one stray wake-up does not
                // double the figure (0.3% and 0.6% of a core in two 3 s runs of the same code).
                workers: workers, rate: rate, seconds: seconds, rounds: quick ? 5 : 3, idleSeconds: 10,
                only: Set(ioRunner.compactMap(IOComparison.Runner.init(rawValue:))),
                isolate: { runner in
                    let arguments = [
                        "bench", "io-row", "--runner", runner.rawValue, "--worker-count", "\(workers)", "--rate", "\(rate)",
                        "--seconds", "\(seconds)",
                    ]
                    // A 5 s (quick) or 20 s row: minutes longer than that is a hang.
                    return IOComparison.rowFromChild(executable, arguments, limit: .seconds(seconds * 3 + 300))
                }
            ) { printError("bench: \($0)") }
        }
        let targets = BenchTargets.evaluate(rows, io: io, allocations: allocations)
        if json {
            struct Document: Encodable {
                let results: [BenchRow]
                let io: IOComparison?
                let scale: ScaleFigures?
                let targets: [BenchTarget]
                let cores: Int
            }
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let document = Document(
                results: rows, io: io, scale: scale, targets: targets, cores: ProcessInfo.processInfo.activeProcessorCount)
            print(String(decoding: try encoder.encode(document), as: UTF8.self))
        } else {
            print(table(rows))
            if let io { print("\n" + io.table) }
            if let scale { print(describe(scale)) }
            print("\n" + BenchTargets.table(targets))
        }
        if let hung = io?.roundsTimedOut, !hung.isEmpty {
            let runners = hung.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            printError("bench: waiting-workload rounds hung and were stopped, as a lost job would make them: \(runners)")
            terminate(1)
        }
        if rows.contains(where: { !$0.exactlyOnce }) || io?.rows.contains(where: { !$0.exactlyOnce }) == true {
            printError("bench: a job was lost or ran twice (exactly_once false above)")
            terminate(1)
        }
    }

    func table(_ rows: [BenchRow]) -> String {
        var lines = [
            "job      W  pool                   metrics         n   ns/job      jobs/s  vs poolscope  peak RSS MB  allocs/job  once"
        ]
        for row in rows {
            func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
                let padding = String(repeating: " ", count: max(width - text.count, 0))
                return right ? padding + text : text + padding
            }
            lines.append(
                pad(row.job, 8) + " " + pad("\(row.workers)", 2) + " " + pad(row.pool, 22) + " " + pad(row.metrics ? "on" : "off", 7)
                    + pad("\(row.n)", 10, right: true) + pad(String(format: "%.1f", row.nsPerJob), 9, right: true)
                    + pad(String(format: "%.0f", row.jobsPerS), 12, right: true)
                    + pad(row.ratioToPoolScope.map { String(format: "%.2fx", $0) } ?? "-", 14, right: true)
                    + pad(String(format: "%.1f", row.peakRssMb), 13, right: true)
                    + pad(row.allocationsPerJob.map { String(format: "%.3f", $0) } ?? "-", 12, right: true) + "  "
                    + (row.exactlyOnce ? "yes" : "NO"))
        }
        return lines.joined(separator: "\n")
    }

    func describe(_ s: ScaleFigures) -> String {
        """

        scale
          \(s.sleepingWorkers) sleeping workers: \(s.sleepingWorkersRssMb) MB RSS (\(s.kilobytesPerWorker) KB per worker)
          \(s.queuedJobs) queued jobs: \(s.queuedJobsRssMb) MB RSS (\(s.bytesPerQueuedJob) bytes per job)
          \(s.queuedJobs) queued jobs on the typed pool (Int inputs): \(s.typedQueuedJobsRssMb) MB RSS (\(s.typedBytesPerQueuedJob) bytes per job)
          burst to scale-up decision: \(s.burstToScaleUpMs) ms
        dashboard
          frame render at 200 workers, 200x60: p50 \(s.frameRenderP50Ms) ms, p99 \(s.frameRenderP99Ms) ms (snapshot p50 \(s.snapshotP50Ms) ms)
          throughput with a 10 fps snapshot+render loop beside the pool: \(s.throughputWithDashboardRatio)x of without
        """
    }
}
