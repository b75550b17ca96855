import ArgumentParser
import Dashboard
import Foundation
import PoolEngine
import TerminalBackend
import Workload

struct Compare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario's variants on the same job stream and compare them side by side.",
        discussion: """
            Each value of --vary is one variant: the scenario with PATH set to it. The variants run one after \
            another, headless, on the same arrivals, service times and failures (the stream digest proves it; \
            varying the workload itself changes the stream, and the table says so). Several --vary change \
            several fields in step: variant i takes the i-th value of each. Examples: \
            poolscope compare burst --vary pool.strategy=fifo,lifo; \
            poolscope compare target-wait --vary pool.scaling.policy=target_wait,threshold,threshold \
            --vary pool.min_workers=1,1,9 --vary pool.max_workers=32,32,9
            """)

    @Argument(help: "A scenario file, or the name of a bundled demo.")
    var scenario: String

    @Option(
        help: ArgumentHelp(
            "The field to vary and its values: PATH=V1,V2[,...] (2 to 8 values); repeat to vary several fields in step.",
            valueName: "path=values"))
    var vary: [String]

    @OptionGroup var overrides: OverrideOptions

    @OptionGroup var runs: ExperimentRunOptions

    @Flag(help: "Print exactly one JSON document on standard output.")
    var json = false

    @Flag(help: "Watch the variants live, side by side in the dashboard, instead of printing a table (needs 80 columns per variant).")
    var watch = false

    @Flag(help: "With --watch: draw with plain ASCII.")
    var ascii = false

    func validate() throws {
        if watch && json { throw ValidationError("--watch shows the variants live; --json prints a table's numbers: choose one") }
        _ = try variations()
    }

    /// Every `--vary PATH=V1,V2`: the path and the values (commas inside `{}` or `[]` belong to a value), all
    /// with the same number of values.
    func variations() throws -> [(path: String, values: [String])] {
        guard !vary.isEmpty else { throw ValidationError("compare needs --vary PATH=V1,V2[,...], like pool.strategy=fifo,lifo") }
        let parsed = try vary.map { vary in
            guard let equals = vary.firstIndex(of: "=") else {
                throw ValidationError("--vary is PATH=V1,V2[,...], like pool.strategy=fifo,lifo; got '\(vary)'")
            }
            let path = String(vary[..<equals])
            let values = Self.splitValues(String(vary[vary.index(after: equals)...]))
            guard !path.isEmpty, (2...8).contains(values.count), values.allSatisfy({ !$0.isEmpty }) else {
                throw ValidationError("--vary needs a path and 2 to 8 non-empty values, like pool.max_workers=4,8,16; got '\(vary)'")
            }
            return (path: path, values: values)
        }
        if Set(parsed.map(\.path)).count != parsed.count {
            throw ValidationError("each --vary names a different field; \(parsed.map(\.path).joined(separator: ", ")) repeats one")
        }
        if let first = parsed.first, let other = parsed.first(where: { $0.values.count != first.values.count }) {
            throw ValidationError(
                "several --vary change fields in step, so each needs as many values: \(first.path) has \(first.values.count), \(other.path) has \(other.values.count)"
            )
        }
        return parsed
    }

    /// Variant `index`: each varied path with its value there.
    static func assignments(_ variations: [(path: String, values: [String])], variant index: Int) -> [(path: String, value: String)] {
        variations.map { (path: $0.path, value: $0.values[index]) }
    }

    static func splitValues(_ text: String) -> [String] {
        var values: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "{", "[": depth += 1
            case "}", "]": depth -= 1
            case "," where depth == 0:
                values.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        values.append(current.trimmingCharacters(in: .whitespaces))
        return values
    }

    func run() async throws {
        let variations = try variations()
        let count = variations[0].values.count
        // Each variant's PATH=VALUE texts: its overrides, and (joined) its label.
        let settings = (0..<count).map { index in Self.assignments(variations, variant: index).map { "\($0.path)=\($0.value)" } }
        let labels = settings.map { $0.joined(separator: " ") }
        var scenarios: [Scenario] = []
        for variant in settings {
            var scenario = runs.shaped(loadScenario(self.scenario, overrides: overrides.values, variants: variant).0)
            if let seed = runs.seed { scenario.seed = seed }
            scenarios.append(scenario)
        }
        if watch {
            await watchSideBySide(scenarios, titles: labels)
            return
        }
        let digests = scenarios.map(StreamDigest.of)
        var variants: [CompareDocument.Variant] = []
        for (index, scenario) in scenarios.enumerated() {
            printError("poolscope: variant \(index + 1)/\(scenarios.count): \(labels[index])")
            let progress = ProgressReporter(duration: scenario.duration, enabled: true)
            let output: RunOutput
            do {
                output = try await ScenarioRunner(scenario: scenario, speed: runs.speed).run(progress: { progress.update($0) })
            } catch {
                progress.finish()
                printError("poolscope: the pool refused variant \(labels[index]): \(error)")
                terminate(1)
            }
            progress.finish()
            variants.append(
                CompareDocument.Variant(
                    set: Dictionary(uniqueKeysWithValues: Self.assignments(variations, variant: index).map { ($0.path, $0.value) }),
                    streamDigest: digests[index],
                    maxQueue: output.maxQueue, summary: output.result))
        }
        let document = CompareDocument(
            scenario: scenarios[0].name, vary: variations.map(\.path).joined(separator: ","), streamDigest: digests[0],
            sameStream: Set(digests).count == 1,
            variants: variants)
        if json {
            print(try document.json())
        } else {
            print(document.table())
        }
        if variants.contains(where: { !$0.summary.balanced }) { terminate(1) }
    }
}

extension Compare {
    /// The variants live, side by side, until q or a signal.
    @MainActor
    func watchSideBySide(_ scenarios: [Scenario], titles: [String]) async {
        requireTerminal("poolscope compare \(scenario) \(vary.map { "--vary \($0)" }.joined(separator: " ")) (the table) or --json")
        var apps: [DashboardApp] = []
        for (scenario, title) in zip(scenarios, titles) {
            do {
                let session = try LiveSession(scenario: scenario, speed: runs.speed)
                apps.append(DashboardApp(source: SessionSource(session: session), fps: 10, burst: 500, ascii: ascii))
            } catch {
                printError("poolscope: the pool refused variant \(title): \(error)")
                terminate(1)
            }
        }
        let screen = SideBySideApp(apps: apps, titles: titles.enumerated().map { " \($0.offset + 1). \($0.element) " })
        if let signal = await runScreen(screen, ascii: ascii) { terminate(128 + signal) }
    }
}

/// `poolscope compare --json`: the contract's `variants` (each `set` and `summary`, the run --json
/// document) and `stream_digest`, plus each variant's own digest and its deepest queue.
struct CompareDocument: Codable {
    var scenario: String
    /// The varied paths, comma-separated when several vary in step.
    var vary: String
    /// The first variant's stream; the same for all when ``sameStream``.
    var streamDigest: String
    var sameStream: Bool
    var variants: [Variant]

    struct Variant: Codable {
        var set: [String: String]
        var streamDigest: String
        /// The deepest queue seen, sampled every 100 ms of scenario time.
        var maxQueue: Int
        var summary: RunResult
    }

    func json() throws -> String { try RunReportFormatter.jsonText(self) }

    /// The side-by-side table: one column per variant.
    func table() -> String {
        let ms = RunReportFormatter.ms
        let rows: [(String, (RunResult, Int) -> String)] = [
            ("throughput (mean)", { r, _ in String(format: "%.1f/s", r.throughput.meanPerS) }),
            ("queue wait mean", { r, _ in ms(r.latencyMs.queueWait.mean) }),
            ("queue wait p50", { r, _ in ms(r.latencyMs.queueWait.p50) }),
            ("queue wait p99", { r, _ in ms(r.latencyMs.queueWait.p99) }),
            ("queue wait max", { r, _ in ms(r.latencyMs.queueWait.max) }),
            ("end-to-end p99", { r, _ in ms(r.latencyMs.endToEnd.p99) }),
            ("max queue", { _, q in "\(q)" }),
            ("workers min/max", { r, _ in "\(r.workers.minSeen)/\(r.workers.maxSeen)" }),
            ("workers mean", { r, _ in r.workers.meanSeen.map { String(format: "%.1f", $0) } ?? "-" }),
            ("completed", { r, _ in "\(r.jobs.completed)" }),
            ("rejected", { r, _ in "\(r.jobs.rejected)" }),
            ("dead letters", { r, _ in "\(r.deadLetters)" }),
            ("balanced", { r, _ in r.balanced ? "yes" : "NO" }),
        ]
        let paths = vary.split(separator: ",").map(String.init)
        let headers = variants.map { variant in paths.map { variant.set[$0] ?? "?" }.joined(separator: " ") }
        let varied = paths.joined(separator: " ")
        let labelWidth = max(rows.map(\.0.count).max() ?? 0, varied.count) + 2
        let cells = rows.map { row in variants.map { row.1($0.summary, $0.maxQueue) } }
        let width = max((cells.flatMap { $0 } + headers).map(\.count).max() ?? 0, 8) + 2
        func pad(_ text: String, _ count: Int) -> String { text.padding(toLength: max(count, text.count), withPad: " ", startingAt: 0) }
        var lines = [
            "compare \(scenario): \(varied) = \(headers.joined(separator: ", "))",
            sameStream
                ? "same job stream in every variant (digest \(streamDigest))"
                : "the variants' job streams differ (\(varied) changes the workload): digests \(variants.map(\.streamDigest).joined(separator: ", "))",
            "",
            pad(varied, labelWidth) + headers.map { pad($0, width) }.joined(),
        ]
        for (row, values) in zip(rows, cells) { lines.append(pad(row.0, labelWidth) + values.map { pad($0, width) }.joined()) }
        return lines.joined(separator: "\n")
    }
}

/// `compare --watch`: the variants' dashboards side by side, each a `DashboardApp` over its own session,
/// all started together on the same job stream. A key goes to every variant (a burst lands on each).
@MainActor
final class SideBySideApp: Screen {
    let apps: [DashboardApp]
    let titles: [String]

    init(apps: [DashboardApp], titles: [String]) {
        self.apps = apps
        self.titles = titles
    }

    var frameInterval: Duration { apps.first?.frameInterval ?? .milliseconds(100) }

    func start(glyphs: Glyphs) {
        for app in apps { app.start(glyphs: glyphs) }
    }

    func refresh() async {
        for app in apps { await app.refresh() }
    }

    func press(_ key: Key) async -> Bool {
        var quit = false
        for app in apps where await app.press(key) { quit = true }
        return quit
    }

    func render(width: Int, height: Int) -> Canvas {
        compareView(apps.map(\.state), titles: titles, width: width, height: height)
    }

    func finish(_ terminal: Terminal) async {
        for app in apps { await app.finish(terminal) }
    }
}
