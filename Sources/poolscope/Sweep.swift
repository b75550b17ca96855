import ArgumentParser
import Foundation
import PoolEngine
import Workload

struct Sweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario over a range of one or two fields, repeated with other seeds, and tabulate the metrics.",
        discussion: """
            --vary PATH=A..B[:STEP] (numbers, with a shared unit such as 100/s..400/s:100/s; STEP defaults to 1) \
            or PATH=V1,V2,...; give --vary twice for a grid. Join paths with + to set several fields to one value \
            (pool.min_workers+pool.max_workers=4..10 sizes a fixed pool). Each point runs --repeat times with \
            seeds seed, seed+1, ...; a metric is shown as its mean and 95% interval (Student's t). Where Erlang C \
            applies, theory_mean_wait_ms is its prediction. Runs headless, one at a time or --parallel N at once, \
            with the time left on standard error.
            """)

    @Argument(help: "A scenario file, or the name of a bundled demo.")
    var scenario: String

    @Option(help: ArgumentHelp("A field and its values: PATH=A..B[:STEP] or PATH=V1,V2,... (once or twice).", valueName: "path=values"))
    var vary: [String] = []

    @Option(help: "Runs per point, with seeds seed, seed+1, ... (1-100).")
    var `repeat`: Int = 1

    @Option(
        help: ArgumentHelp(
            "Runs at once (1-64). Each run is its own pool; runs that sleep (the default workload) share cores well, runs that spin do not: keep N at or below the cores for those.",
            valueName: "n"))
    var parallel: Int = 1

    @OptionGroup var overrides: OverrideOptions

    @OptionGroup var runs: ExperimentRunOptions

    @Flag(help: "Print exactly one JSON document on standard output.")
    var json = false

    @Option(help: "Also write one CSV row per point to this file.")
    var csv: String?

    @Option(help: "Also write a self-contained HTML page with a chart per metric (and Erlang C's curve where it applies).")
    var html: String?

    func validate() throws {
        guard (1...2).contains(vary.count) else { throw ValidationError("give --vary once or twice, like --vary pool.max_workers=4..10") }
        for text in vary { _ = try SweepAxis(text) }
        guard (1...100).contains(`repeat`) else { throw ValidationError("--repeat must lie within 1...100, got \(`repeat`)") }
        guard (1...64).contains(parallel) else { throw ValidationError("--parallel must lie within 1...64, got \(parallel)") }
        let points = try vary.map { try SweepAxis($0).values.count }.reduce(1, *)
        guard points * `repeat` <= 10_000 else {
            throw ValidationError("\(points) points x --repeat \(`repeat`) is \(points * `repeat`) runs; at most 10000 in one sweep")
        }
        if let csv { try checkWritable(csv, option: "--csv") }
        if let html { try checkWritable(html, option: "--html") }
    }

    func run() async throws {
        let axes = try vary.map(SweepAxis.init)
        var points: [[(path: String, value: String)]] = axes[0].values.map { [(axes[0].path, $0)] }
        if axes.count == 2 { points = points.flatMap { first in axes[1].values.map { first + [(axes[1].path, $0)] } } }
        // Every point is read (and checked) before anything runs.
        let scenarios = points.map { point -> Scenario in
            runs.shaped(
                loadScenario(
                    self.scenario, overrides: overrides.values,
                    variants: point.flatMap { entry in entry.path.split(separator: "+").map { "\($0)=\(entry.value)" } }
                ).0)
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if parallel > cores, scenarios.contains(where: { $0.workload.kind != .sleep }) {
            printError(
                "poolscope: --parallel \(parallel) on \(cores) cores with a spinning workload: the runs share the CPU, and their service times will show it"
            )
        }
        // Every run, in order: point by point, seed by seed.
        var jobs: [(point: Int, label: String, scenario: Scenario)] = []
        for (index, (point, scenario)) in zip(points, scenarios).enumerated() {
            let label = point.map { "\($0.path)=\($0.value)" }.joined(separator: " ")
            for repeatIndex in 0..<`repeat` {
                var run = scenario
                run.seed = (runs.seed ?? scenario.seed) &+ UInt64(repeatIndex)
                jobs.append((index, label, run))
            }
        }
        let speed = runs.speed
        var finished: [Int: RunResult] = [:]
        var launched = 0
        var launchedAt: [Int: ContinuousClock.Instant] = [:]
        var durations: [Double] = []
        func announce(_ index: Int) {
            let job = jobs[index]
            var left = ""
            if !durations.isEmpty {
                // Runs end in waves of `parallel`: what the running ones have left (by the mean run so
                // far), then a mean run per wave of those not started yet.
                let mean = durations.reduce(0, +) / Double(durations.count)
                let now = ContinuousClock.now
                let running = launchedAt.filter { finished[$0.key] == nil && $0.key != index }.values
                let runningLeft = running.map { max(mean - (now - $0).seconds, 0) }.max() ?? 0
                let waves = (Double(jobs.count - launched + 1) / Double(parallel)).rounded(.up)
                left = ", about \(formatted(.seconds((runningLeft + waves * mean).rounded(.up)))) left"
            }
            printError("poolscope: sweep run \(index + 1)/\(jobs.count): \(job.label), seed \(job.scenario.seed)\(left)")
        }
        await withTaskGroup(of: (Int, Result<RunResult, ConfigurationError>).self) { group in
            func launch() {
                guard launched < jobs.count else { return }
                let index = launched
                launched += 1
                launchedAt[index] = ContinuousClock.now
                announce(index)
                let scenario = jobs[index].scenario
                group.addTask {
                    do throws(ConfigurationError) {
                        return (index, .success(try await ScenarioRunner(scenario: scenario, speed: speed).run().result))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for _ in 0..<min(parallel, jobs.count) { launch() }
            while let (index, outcome) = await group.next() {
                switch outcome {
                case .success(let result):
                    finished[index] = result
                    if let start = launchedAt[index] { durations.append((ContinuousClock.now - start).seconds) }
                case .failure(let error):
                    printError("poolscope: the pool refused \(jobs[index].label): \(error)")
                    terminate(1)
                }
                launch()
            }
        }
        var results: [SweepDocument.Point] = []
        for (index, point) in points.enumerated() {
            let pointRuns = jobs.indices.filter { jobs[$0].point == index }.compactMap { finished[$0] }
            results.append(SweepDocument.Point(set: Dictionary(point.map { ($0.path, $0.value) }) { $1 }, runs: pointRuns))
        }
        let document = SweepDocument(scenario: scenarios[0].name, vary: axes.map(\.path), repeats: `repeat`, points: results)
        for (path, option, text) in [(csv, "--csv", { document.csv() }), (html, "--html", { document.html() })] {
            guard let path else { continue }
            writeResultFile(text(), to: path, option: option)
        }
        print(json ? try document.json() : document.table())
        if results.contains(where: { $0.runs.contains { !$0.balanced } }) { terminate(1) }
    }
}

/// One `--vary`: a path (or several joined by `+`) and its values, from `A..B[:STEP]` or `V1,V2,...`.
struct SweepAxis {
    var path: String
    var values: [String]

    init(_ text: String) throws {
        guard let equals = text.firstIndex(of: "="), text.startIndex != equals else {
            throw ValidationError("--vary is PATH=A..B[:STEP] or PATH=V1,V2,...; got '\(text)'")
        }
        path = String(text[..<equals])
        let spec = String(text[text.index(after: equals)...])
        if let range = spec.range(of: "..") {
            let lower = String(spec[..<range.lowerBound])
            let rest = spec[range.upperBound...].split(separator: ":", maxSplits: 1).map(String.init)
            guard let upperText = rest.first else { throw ValidationError("--vary \(text): a range is A..B[:STEP]") }
            values = try Self.range(lower, upperText, rest.count > 1 ? rest[1] : nil, in: text)
        } else {
            values = Compare.splitValues(spec)
        }
        guard !values.isEmpty, values.count <= 1_000, values.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--vary \(text): between 1 and 1000 non-empty values")
        }
    }

    /// A number and what follows it: "100/s" -> (100, "/s").
    static func split(_ text: String) -> (Double, String)? {
        // The longest prefix that reads as a number ("1e-05/s" -> 1e-05 and "/s"; "100ms" -> 100 and "ms").
        for length in stride(from: text.count, through: 1, by: -1) {
            let prefix = String(text.prefix(length))
            guard prefix.last?.isNumber == true || prefix.last == "." else { continue }
            if let value = Double(prefix), value.isFinite { return (value, String(text.dropFirst(length))) }
        }
        return nil
    }

    private static func range(_ lower: String, _ upper: String, _ step: String?, in text: String) throws -> [String] {
        guard let (from, unit) = split(lower), let (to, upperUnit) = split(upper), unit == upperUnit else {
            throw ValidationError("--vary \(text): A and B must be numbers with the same unit, like 4..10 or 100/s..400/s")
        }
        var by = 1.0
        if let step {
            guard let (value, stepUnit) = split(step), stepUnit == unit || stepUnit.isEmpty, value > 0 else {
                throw ValidationError("--vary \(text): STEP must be a positive number in the range's unit")
            }
            by = value
        }
        guard [from, to, by].allSatisfy({ abs($0) < 9e15 }) else { throw ValidationError("--vary \(text): numbers must lie within ±9e15") }
        guard from <= to else { throw ValidationError("--vary \(text): A must not exceed B") }
        guard (to - from) / by < 1_000 else { throw ValidationError("--vary \(text): more than 1000 points") }
        let integral = [from, to, by].allSatisfy { $0 == $0.rounded() }
        var values: [String] = []
        var index = 0.0
        while from + index * by <= to + by * 1e-9 {
            let value = from + index * by
            values.append((integral ? "\(Int(value))" : "\((value * 1e9).rounded() / 1e9)") + unit)
            index += 1
        }
        return values
    }
}

/// `poolscope sweep --json`: the contract's `points` (`set`, `runs`, `metrics` with mean and 95% interval),
/// with `theory_mean_wait_ms` where Erlang C applies.
struct SweepDocument: Encodable {
    var scenario: String
    var vary: [String]
    var repeats: Int
    var points: [Point]

    struct Point: Encodable {
        var set: [String: String]
        var runs: [RunResult]

        /// The metrics, by the run summary's names.
        static let metricNames = [
            "queue_wait_mean_ms", "queue_wait_p50_ms", "queue_wait_p99_ms", "queue_wait_max_ms", "end_to_end_p99_ms",
            "throughput_mean_per_s", "workers_max", "workers_mean", "service_mean_ms", "completed", "rejected", "dead_letters",
        ]

        static func metric(_ name: String, of run: RunResult) -> Double {
            switch name {
            case "queue_wait_mean_ms": run.latencyMs.queueWait.mean
            case "queue_wait_p50_ms": run.latencyMs.queueWait.p50
            case "queue_wait_p99_ms": run.latencyMs.queueWait.p99
            case "queue_wait_max_ms": run.latencyMs.queueWait.max
            case "end_to_end_p99_ms": run.latencyMs.endToEnd.p99
            case "throughput_mean_per_s": run.throughput.meanPerS
            case "workers_max": Double(run.workers.maxSeen)
            case "workers_mean": run.workers.meanSeen ?? Double(run.workers.final)
            case "service_mean_ms": run.latencyMs.service.mean
            case "completed": Double(run.jobs.completed)
            case "rejected": Double(run.jobs.rejected)
            default: Double(run.deadLetters)
            }
        }

        var metrics: [String: Interval] {
            Dictionary(uniqueKeysWithValues: Self.metricNames.map { name in (name, Interval(runs.map { Self.metric(name, of: $0) })) })
        }

        var theoryMeanWaitMs: Double? { runs.first?.theory?.predictedMeanWaitMs }

        /// Erlang C again with each run's measured mean service time (sleeps overshoot a little), averaged.
        var theoryWithMeasuredServiceMs: Double? {
            let values = runs.compactMap { $0.theory?.predictedWithMeasuredServiceMs }
            guard !values.isEmpty, values.count == runs.count else { return nil }
            return Interval.round(values.reduce(0, +) / Double(values.count))
        }

        enum CodingKeys: String, CodingKey {
            case set, runs, metrics, seeds
            case resolvedScenario = "resolved_scenario"
            case theoryMeanWaitMs = "theory_mean_wait_ms"
            case theoryWithMeasuredServiceMs = "theory_mean_wait_measured_service_ms"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(set, forKey: .set)
            try container.encode(runs.count, forKey: .runs)
            try container.encode(runs.map(\.seed), forKey: .seeds)
            // The first run's: the others differ only in their seeds.
            try container.encodeIfPresent(runs.first?.resolvedScenario, forKey: .resolvedScenario)
            try container.encode(metrics, forKey: .metrics)
            try container.encodeIfPresent(theoryMeanWaitMs, forKey: .theoryMeanWaitMs)
            try container.encodeIfPresent(theoryWithMeasuredServiceMs, forKey: .theoryWithMeasuredServiceMs)
        }
    }

    /// A mean with its 95% confidence interval (Student's t with n-1 degrees of freedom; one run: no width).
    struct Interval: Encodable {
        var mean: Double
        var ci95Low: Double
        var ci95High: Double

        enum CodingKeys: String, CodingKey {
            case mean
            case ci95Low = "ci95_low"
            case ci95High = "ci95_high"
        }

        init(_ values: [Double]) {
            let n = Double(values.count)
            mean = values.isEmpty ? 0 : values.reduce(0, +) / n
            guard values.count > 1 else {
                mean = Self.round(mean)
                (ci95Low, ci95High) = (mean, mean)
                return
            }
            let center = mean
            let variance = values.map { ($0 - center) * ($0 - center) }.reduce(0, +) / (n - 1)
            let half = Self.t95(degrees: values.count - 1) * (variance / n).squareRoot()
            (ci95Low, ci95High) = (mean - half, mean + half)
            (mean, ci95Low, ci95High) = (Self.round(mean), Self.round(ci95Low), Self.round(ci95High))
        }

        static func round(_ value: Double) -> Double { (value * 1_000).rounded() / 1_000 }

        /// The two-sided 97.5% quantile of Student's t.
        static func t95(degrees: Int) -> Double {
            let table = [
                12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
            ]
            return degrees <= table.count ? table[max(degrees, 1) - 1] : (degrees <= 60 ? 2.021 : (degrees <= 120 ? 2.000 : 1.980))
        }
    }

    func json() throws -> String { try RunReportFormatter.jsonText(self) }

    private static let shown = [
        "queue_wait_mean_ms", "queue_wait_p99_ms", "end_to_end_p99_ms", "throughput_mean_per_s", "workers_max", "rejected",
    ]

    func table() -> String {
        func cell(_ interval: Interval) -> String {
            repeats > 1 ? "\(interval.mean) ±\(Interval.round((interval.ci95High - interval.ci95Low) / 2))" : "\(interval.mean)"
        }
        let header = vary + Self.shown + (points.contains { $0.theoryMeanWaitMs != nil } ? ["theory_mean_wait_ms"] : [])
        let rows = points.map { point -> [String] in
            let metrics = point.metrics
            return vary.map { point.set[$0] ?? "" } + Self.shown.map { metrics[$0].map(cell) ?? "" }
                + (header.count > vary.count + Self.shown.count ? [point.theoryMeanWaitMs.map { "\($0)" } ?? "-"] : [])
        }
        let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1 + 2, withPad: " ", startingAt: 0) }.joined()
        }
        let title =
            "sweep \(scenario): \(points.count) points x \(repeats) run\(repeats == 1 ? "" : "s")\(repeats > 1 ? " (mean ±95% interval)" : "")"
        return ([title, line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// `#` lines saying what ran (the first point's resolved scenario and seed, so `run --from` runs it;
    /// the others differ in the varied fields), then one row per point: the varied values, runs, then each
    /// metric's mean and interval.
    func csv() -> String {
        var preamble = ""
        if let first = points.first?.runs.first?.resolvedScenario {
            preamble =
                "# sweep: [\(vary.joined(separator: ", "))]\n# repeats: \(repeats)\n"
                + ResultPreamble.lines(first, version: poolscopeVersion)
        }
        let names = Point.metricNames
        let header =
            vary + ["runs"] + names.flatMap { ["\($0)_mean", "\($0)_ci95_low", "\($0)_ci95_high"] }
            + ["theory_mean_wait_ms", "theory_mean_wait_measured_service_ms"]
        let rows = points.map { point -> String in
            let metrics = point.metrics
            let values =
                vary.map { point.set[$0] ?? "" } + ["\(point.runs.count)"]
                + names.flatMap { name in metrics[name].map { ["\($0.mean)", "\($0.ci95Low)", "\($0.ci95High)"] } ?? ["", "", ""] }
                + [point.theoryMeanWaitMs.map { "\($0)" } ?? "", point.theoryWithMeasuredServiceMs.map { "\($0)" } ?? ""]
            // RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled.
            return values.map { field in
                field.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline })
                    ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
            }.joined(separator: ",")
        }
        return preamble + ([header.joined(separator: ",")] + rows).joined(separator: "\n") + "\n"
    }
}
