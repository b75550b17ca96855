import ArgumentParser
import Foundation
import PoolEngine
import Workload

/// Loads the scenario a command names, or ends the process with the contract's exit code and a message.
func loadScenario(_ reference: String, overrides texts: [String] = [], variants: [String] = []) -> (Scenario, ScenarioSource) {
    do {
        var overrides = try texts.map { text throws(ScenarioError) in try ScenarioOverride(text) }
        for variant in variants { overrides.append(try ScenarioOverride(variant, flag: "--vary")) }
        guard let source = try DemoCatalog.resolve(reference) else {
            let demos = DemoCatalog.demos().map(\.name)
            printError("poolscope: no scenario file or bundled demo named '\(reference)'")
            if !demos.isEmpty { printError("bundled demos: \(demos.joined(separator: ", "))") }
            terminate(2)
        }
        return (try DemoCatalog.load(source, overrides: overrides), source)
    } catch {
        printError(error.description)
        terminate(1)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a scenario file: exit 0 if valid, else 1 with file:line: message.")

    @Argument(help: "A scenario file, or the name of a bundled demo.")
    var scenario: String

    @OptionGroup var overrides: OverrideOptions

    func run() throws {
        let (scenario, source) = loadScenario(scenario, overrides: overrides.values)
        print(
            "\(source.display): ok (\(scenario.name), \(formatted(scenario.duration)), \(scenario.timeline.count) timeline entries, \(scenario.claims.count) claim\(scenario.claims.count == 1 ? "" : "s"))"
        )
    }
}

struct Demos: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the bundled teaching demos, one line each.")

    func run() throws {
        let demos = DemoCatalog.demos()
        guard !demos.isEmpty else {
            printError("poolscope: no demos found (in $POOLSCOPE_DEMOS)")
            terminate(1)
        }
        let width = demos.map(\.name.count).max() ?? 0
        for demo in demos {
            let padded = demo.name.padding(toLength: width, withPad: " ", startingAt: 0)
            switch Result(catching: { () throws(ScenarioError) in try DemoCatalog.load(demo) }) {
            case .success(let scenario):
                let line = scenario.description.split(separator: "\n").first.map(String.init) ?? ""
                print("\(padded)  \(line)")
            case .failure(let error):
                print("\(padded)  (invalid: \(error))")
            }
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario headless and summarise it (or print the JSON summary with --json).")

    @Argument(help: "A scenario file, or the name of a bundled demo (or --from a result instead).")
    var scenario: String?

    @Option(
        help: ArgumentHelp(
            "Run again what a `run --json` or `run --csv` result ran: its resolved scenario, seed and duration.", valueName: "result"))
    var from: String?

    @OptionGroup var overrides: OverrideOptions

    @Option(parsing: .unconditional, help: "Override the scenario's seed (0 to 2^64-1).", transform: parseSeed)
    var seed: UInt64?

    @Flag(help: "Print exactly one JSON document (the summary) on standard output.")
    var json = false

    @Option(help: "Write one CSV row per second to this file.")
    var csv: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Run for this long instead (e.g. 5s); the timeline is compressed to fit.", valueName: "duration"))
    var duration: String?

    @OptionGroup var serving: ServeOptions

    @Option(
        help: ArgumentHelp(
            "Run the scenario's clock this many times faster (0.05 to 20): arrivals, service times and the pool's timers together; times in the summary stay scenario time.",
            valueName: "x"))
    var speed: Double = 1

    @Option(
        help: ArgumentHelp(
            "Drive the arrivals into this cluster's shared queue (postgres://...) instead of a local pool; nodes run the jobs.",
            valueName: "url"))
    var cluster: String?

    @Option(help: "With --cluster: the cluster's PostgreSQL schema.")
    var schema: String = "poolscope"

    @Option(
        help: ArgumentHelp("With --cluster: how long to wait for the nodes to finish the jobs after the arrivals.", valueName: "duration"))
    var drainTimeout: String = "60s"

    @OptionGroup var recording: RecordOptions

    func validate() throws {
        if (scenario == nil) == (from == nil) {
            throw ValidationError(
                scenario == nil
                    ? "name a scenario (a file or a bundled demo), or --from RESULT (a run --json or --csv result)"
                    : "a scenario or --from, not both")
        }
        if cluster == nil, drainTimeout != "60s" || schema != "poolscope" {
            throw ValidationError("--schema and --drain-timeout go with --cluster")
        }
        if cluster != nil, csv != nil { throw ValidationError("--csv is not available with --cluster") }
        if Units.duration(drainTimeout).map({ $0 > .zero }) != true {
            throw ValidationError("--drain-timeout must be a positive duration like 60s, got '\(drainTimeout)'")
        }
        if let csv { try checkWritable(csv, option: "--csv") }
        if !ScenarioClock.speeds.contains(speed) { throw ValidationError("--speed must lie within 0.05...20, got \(speed)") }
        if cluster != nil, speed != 1 { throw ValidationError("--speed is not available with --cluster") }
        if cluster != nil, serving.serve != nil { throw ValidationError("--serve is not available with --cluster") }
        if cluster != nil, recording.record != nil { throw ValidationError("--record is not available with --cluster") }
        if let duration, !Units.isRunLength(duration) {
            throw ValidationError("--duration must be a positive duration up to 24h like 5s or 500ms, got '\(duration)'")
        }
    }

    func run() async throws {
        var scenario =
            from.map { loadResult($0, overrides: overrides.values) } ?? loadScenario(self.scenario ?? "", overrides: overrides.values).0
        if let seed { scenario.seed = seed }
        if let duration, let value = Units.duration(duration) { scenario = scenario.compressed(to: value) }
        if let cluster {
            await ClusterRun.run(
                scenario, url: cluster, schema: schema, json: json, drainTimeout: Units.duration(drainTimeout) ?? .seconds(60))
            return
        }
        let progress = ProgressReporter(duration: scenario.duration, enabled: true)
        let runner = ScenarioRunner(scenario: scenario, speed: speed)
        // SIGINT or SIGTERM ends the run early: the partial summary is printed, then exit 130 or 143.
        let interruption = Interruption(then: { runner.interrupt() })
        let output: RunOutput
        let recorder = recording.writer(for: scenario, fps: 10).map { HeadlessRecorder(writer: $0) }
        let recordedSession = Locked<LiveSession?>(nil)
        do {
            let serving = self.serving
            let name = scenario.name
            output = try await runner.run(progress: { progress.update($0) }) { session in
                if let monitor = await serving.start(session.pool, name: name) {
                    printError("poolscope: serving pool '\(ServeOptions.poolName(name))' on \(monitor.url) (GET /v1/pools, /metrics)")
                }
                recordedSession.withLock { $0 = session }
                recorder?.start(session)
            }
        } catch {
            progress.finish()
            printError("poolscope: the pool refused the scenario's configuration: \(error)")
            terminate(1)
        }
        progress.finish()
        await recorder?.stop(recordedSession.withLock { $0 }, report: output.report)
        let recorded = recorder?.writer.close() ?? true
        if let csv {
            let lines = [SecondRow.csvHeader] + output.seconds.map(\.csvLine)
            let preamble = output.result.resolvedScenario.map { ResultPreamble.lines($0, version: poolscopeVersion) } ?? ""
            writeResultFile(preamble + lines.joined(separator: "\n") + "\n", to: csv, option: "--csv")
        }
        if json {
            print(try RunReportFormatter.json(output.result))
        } else {
            print(RunReportFormatter.human(output.result))
        }
        interruption.exitIfInterrupted("the summary covers what ran")
        if !output.result.balanced || !recorded { terminate(1) }
    }
}

/// Fails validation (exit 2) unless `path` looks writable, so a run never ends by losing its output.
func checkWritable(_ path: String, option: String) throws {
    if let problem = UserFile.writableProblem(path) { throw ValidationError("cannot write \(option) \(path): \(problem)") }
}

/// Writes a result file whole (a temporary file renamed over it), or ends the process with exit 1 and the
/// reason in words: a result that was not written must not look like success.
func writeResultFile(_ text: String, to path: String, option: String) {
    do {
        try UserFile.write(text, to: path)
    } catch {
        printError("poolscope: cannot write \(option) \(error)")
        terminate(1)
    }
}

/// Reads `--seed`: a whole number from 0 to 2^64-1. Parsed unconditionally, so `--seed -1` reaches here
/// and is refused in words instead of reading as a missing value.
@Sendable func parseSeed(_ text: String) throws -> UInt64 {
    guard let seed = UInt64(text) else {
        throw ValidationError("a seed is a whole number from 0 to 18446744073709551615, got '\(text)'")
    }
    return seed
}

/// `--set PATH=VALUE`, repeatable, on every command that reads a scenario.
struct OverrideOptions: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a scenario field by its dotted path as written in the file (repeatable): --set pool.max_workers=8 --set workload.arrivals.rate=300/s. Checked like the file.",
            valueName: "path=value"))
    var values: [String] = []
}

/// The scenario a `run --json` result (its `resolved_scenario`) or a `run --csv` result (its `#` lines)
/// ran, with `overrides` on top.
func loadResult(_ path: String, overrides texts: [String]) -> Scenario {
    struct Result: Decodable { var resolvedScenario: RunResult.ResolvedScenario? }
    let data: Data
    do {
        data = try UserFile.read(path)
    } catch {
        printError("poolscope: cannot read --from \(error)")
        terminate(1)
    }
    let resolved: RunResult.ResolvedScenario
    if data.first == UInt8(ascii: "#") || data.starts(with: Array("t_s,".utf8)) {
        do {
            resolved = try ResultPreamble.read(String(decoding: data, as: UTF8.self))
        } catch {
            printError("poolscope: \(path) \(error)")
            terminate(1)
        }
    } else {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let result = try? decoder.decode(Result.self, from: data) else {
            printError("poolscope: \(path) is not a poolscope run --json or --csv result")
            terminate(1)
        }
        guard let found = result.resolvedScenario else {
            printError(
                "poolscope: \(path) has no resolved_scenario (a result of the built-in demo, or of an older poolscope): nothing to run again"
            )
            terminate(1)
        }
        resolved = found
    }
    do {
        let overrides = try texts.map { text throws(ScenarioError) in try ScenarioOverride(text) }
        var scenario = try ScenarioParser.parse(resolved.yaml, file: "\(path) (resolved_scenario)", overrides: overrides)
        scenario.seed = resolved.seed
        if let seconds = resolved.compressedToS, seconds > 0, seconds < 1e9 { scenario = scenario.compressed(to: .seconds(seconds)) }
        return scenario
    } catch {
        printError(error.description)
        terminate(1)
    }
}

/// `--seed`, `--duration` and `--speed` for commands that run a scenario many times (compare, sweep).
struct ExperimentRunOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: "Override the scenario's seed, 0 to 2^64-1 (compare: every variant's; sweep: the first of each point's repeats).",
        transform: parseSeed)
    var seed: UInt64?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Run each variant or point for this long instead (e.g. 10s); the timeline is compressed to fit.", valueName: "duration"))
    var duration: String?

    @Option(help: ArgumentHelp("Run the scenario's clock this many times faster (0.05 to 20).", valueName: "x"))
    var speed: Double = 1

    func validate() throws {
        if let duration, !Units.isRunLength(duration) {
            throw ValidationError("--duration must be a positive duration up to 24h like 5s or 500ms, got '\(duration)'")
        }
        if !ScenarioClock.speeds.contains(speed) { throw ValidationError("--speed must lie within 0.05...20, got \(speed)") }
    }

    /// The scenario shortened to `--duration`, if given.
    func shaped(_ scenario: Scenario) -> Scenario {
        guard let duration, let value = Units.duration(duration) else { return scenario }
        return scenario.compressed(to: value)
    }
}
