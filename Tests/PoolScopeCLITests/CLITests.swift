import Foundation
import Synchronization
import Testing

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

struct CommandResult {
    var status: Int32
    var output: String
    var error: String
}

/// Starts poolscope, sends `signal` after `delay`, and returns its exit status and standard output. With
/// `marker`, the delay counts from when standard error first shows it (a local run's first progress line is
/// printed once its signal handlers are in place), so that a slow start on a loaded machine does not get
/// the signal before it can handle it; at most 60 s are waited for the marker.
func runPoolscope(
    _ arguments: [String], signal: Int32, after delay: Duration, once marker: String? = nil
) async throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = poolscopeBinary
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    let output = Pipe()
    let errors = Pipe()
    let errorText = Mutex("")
    process.standardOutput = output
    process.standardError = marker == nil ? FileHandle.nullDevice : errors
    process.standardInput = FileHandle.nullDevice
    if marker != nil {
        // Drained as it comes, so the child never blocks on a full pipe.
        errors.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { errorText.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        }
    }
    try process.run()
    if let marker {
        let deadline = ContinuousClock.now + .seconds(60)
        while !errorText.withLock({ $0.contains(marker) }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    try await Task.sleep(for: delay)
    kill(process.processIdentifier, signal)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errors.fileHandleForReading.readabilityHandler = nil
    return (process.terminationStatus, data)
}

/// The `poolscope` built beside this test bundle (so `swift test -c release` and `--scratch-path` work).
let poolscopeBinary: URL = {
    let fileManager = FileManager.default
    var candidates: [URL] = []
    if let executable = try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // The test runner lives in <build>/<config>/X.xctest (a file on Linux, a bundle elsewhere).
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("poolscope"))
            directory.deleteLastPathComponent()
        }
    }
    return candidates.first { fileManager.isExecutableFile(atPath: $0.path) }
        ?? URL(fileURLWithPath: "/nonexistent/poolscope (not found beside the test runner)")
}()

/// Runs the built `poolscope` from the repository root, as a person would, and waits for it.
func poolscope(_ arguments: String...) throws -> CommandResult {
    try runPoolscope(arguments)
}

/// Runs poolscope with arguments given as an array, optionally with environment overrides (a nil value
/// removes the variable), another copy of the binary, or another working directory.
func runPoolscope(
    _ arguments: [String], environment: [String: String?] = [:], binary: URL = poolscopeBinary,
    directory: URL = repositoryRoot
) throws -> CommandResult {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = directory
    var merged = ProcessInfo.processInfo.environment
    for (name, value) in environment { merged[name] = value }
    process.environment = merged
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self),
        error: String(decoding: errData, as: UTF8.self))
}

// Serialized: these tests wait for a child process synchronously, which holds one of Swift's cooperative
// threads (two on a 2-core machine) for the whole run; two at once starved every async test beside them
// (a rate-limited pool measured 0 jobs/s for 3 s in CI, a 2 s sleep lasted over 20 s).
@Suite("The poolscope command line", .serialized, .timeLimit(.minutes(3)))
struct CLITests {
    @Test("check accepts a demo and exits 0")
    func checkValid() throws {
        let result = try poolscope("check", "demos/burst.yaml")
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("demos/burst.yaml: ok"))
    }

    @Test("check rejects a broken file with file:line: message and exit 1, without a backtrace")
    func checkBroken() throws {
        let result = try poolscope("check", "Tests/WorkloadTests/broken/wrong-unit.yaml")
        #expect(result.status == 1)
        #expect(result.error.hasPrefix("Tests/WorkloadTests/broken/wrong-unit.yaml:7: workload.service.value must be a duration"))
        #expect(!result.error.contains("Backtrace") && !result.error.contains("Fatal error"))
    }

    @Test("check reports every error of a file, one file:line: message each, and exits 1")
    func checkEveryError() throws {
        let result = try poolscope("check", "Tests/WorkloadTests/broken/three-errors.yaml")
        #expect(result.status == 1)
        let lines = result.error.split(separator: "\n")
        #expect(lines.count == 4 && lines.allSatisfy { $0.hasPrefix("Tests/WorkloadTests/broken/three-errors.yaml:") }, "\(result.error)")
    }

    @Test("compare varies several fields in step: a target-wait pool, the threshold rule and a fixed pool on one stream")
    func compareInStep() throws {
        let result = try poolscope(
            "compare", "target-wait", "--vary", "pool.scaling.policy=target_wait,threshold,threshold", "--vary",
            "pool.min_workers=1,1,9", "--vary", "pool.max_workers=32,32,9", "--duration", "3s", "--speed", "2")
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("same job stream in every variant"), "\(result.output)")
        #expect(result.output.contains("target_wait 1 32") && result.output.contains("threshold 9 9"), "\(result.output)")
        #expect(result.output.contains("workers mean") && result.output.contains("queue wait mean"), "\(result.output)")
        let uneven = try poolscope("compare", "burst", "--vary", "pool.strategy=fifo,lifo", "--vary", "pool.max_workers=4,8,16")
        #expect(uneven.status == 2 && uneven.error.contains("each needs as many values"), "\(uneven.error)")
    }

    @Test("run --record writes a recording whose replay --json summary counts the same jobs; damage is noted, not fatal")
    func recordAndReplaySummary() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-\(UUID().uuidString).rec").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try poolscope("run", "burst", "--duration", "3s", "--json", "--record", path)
        #expect(run.status == 0, "\(run.error)")
        #expect(run.error.contains("recorded ") && run.error.contains("replay with: poolscope replay \(path)"), "\(run.error)")
        let live = try JSONDecoder.snakeCase.decode(Summary.self, from: Data(run.output.utf8))
        let replay = try poolscope("replay", path, "--json")
        #expect(replay.status == 0, "\(replay.error)")
        let replayed = try JSONDecoder.snakeCase.decode(Summary.self, from: Data(replay.output.utf8))
        #expect(replayed.jobs == live.jobs)
        #expect(replayed.interrupted == nil)
        // Cut short: the summary of what is left, marked interrupted, and a note on standard error.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: path))
        let cut = try poolscope("replay", path, "--json")
        #expect(cut.status == 0)
        #expect(cut.error.contains("cut short"), "\(cut.error)")
        let partial = try JSONDecoder.snakeCase.decode(Summary.self, from: Data(cut.output.utf8))
        #expect(partial.interrupted == true)
        #expect(partial.jobs.submitted < live.jobs.submitted)
        // Not a recording at all: one line, exit 1.
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        let bad = try poolscope("replay", path, "--json")
        #expect(bad.status == 1)
        #expect(bad.error == "poolscope: \(path): not a PoolScope recording (it does not start with POOLSCOPE-RECORDING)\n", "\(bad.error)")
    }

    @Test("--set overrides a field for run and check; a bad override is refused naming it, exit 1")
    func overrides() throws {
        let run = try poolscope("run", "burst", "--set", "pool.max_workers=3", "--duration", "3s", "--json")
        #expect(run.status == 0, "\(run.error)")
        let summary = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
        let workers = summary?["workers"] as? [String: Any]
        #expect((workers?["max_seen"] as? Int) == 3, "the pool stayed within the overridden maximum: \(run.output)")
        let bad = try poolscope("check", "burst", "--set", "pool.max_workers=abc")
        #expect(bad.status == 1)
        #expect(
            bad.error == "demos/burst.yaml: --set pool.max_workers=abc: pool.max_workers must be a whole number, got 'abc'\n",
            "\(bad.error)")
        let watch = try poolscope("watch", "--set", "pool.max_workers=3")
        #expect(watch.status == 2)
    }

    @Test("compare runs the variants on one job stream: one JSON document, the same digest, the same jobs submitted")
    func compare() throws {
        let result = try poolscope("compare", "burst", "--vary", "pool.strategy=fifo,lifo", "--duration", "2s", "--json")
        #expect(result.status == 0, "\(result.error)")
        let document = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let variants = document?["variants"] as? [[String: Any]] ?? []
        #expect(variants.count == 2)
        #expect(variants.compactMap { ($0["set"] as? [String: String])?["pool.strategy"] } == ["fifo", "lifo"])
        let digests = Set(variants.compactMap { $0["stream_digest"] as? String })
        #expect(digests.count == 1 && digests.first == document?["stream_digest"] as? String && document?["same_stream"] as? Bool == true)
        let submitted = variants.compactMap { (($0["summary"] as? [String: Any])?["jobs"] as? [String: Any])?["submitted"] as? Int }
        #expect(submitted.count == 2 && submitted[0] == submitted[1] && submitted[0] > 0, "\(submitted)")
        #expect(variants.allSatisfy { ($0["summary"] as? [String: Any])?["balanced"] as? Bool == true })
        let bad = try poolscope("compare", "burst", "--vary", "pool.strategy=fifo")
        #expect(bad.status == 2 && bad.error.contains("--vary needs a path and 2 to 8 non-empty values"), "\(bad.error)")
        let unknown = try poolscope("compare", "burst", "--vary", "pool.stratgy=fifo,lifo")
        #expect(unknown.status == 1 && unknown.error.contains("--vary pool.stratgy=fifo: unknown field 'pool.stratgy'"), "\(unknown.error)")
    }

    @Test("run --from RESULT.json runs again what a result ran: the resolved scenario (overrides included), seed and duration")
    func runFrom() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let first = try poolscope("run", "burst", "--set", "pool.max_workers=5", "--seed", "11", "--duration", "3s", "--json")
        #expect(first.status == 0, "\(first.error)")
        try first.output.write(to: file, atomically: true, encoding: .utf8)
        let again = try poolscope("run", "--from", file.path, "--json")
        #expect(again.status == 0, "\(again.error)")
        func fields(_ text: String) throws -> (Int?, Int?, UInt64?) {
            let document = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            let jobs = document?["jobs"] as? [String: Any]
            let workers = document?["workers"] as? [String: Any]
            return (jobs?["submitted"] as? Int, workers?["max_seen"] as? Int, (document?["seed"] as? NSNumber)?.uint64Value)
        }
        let (submitted, maxWorkers, seed) = try fields(first.output)
        let (submittedAgain, maxWorkersAgain, seedAgain) = try fields(again.output)
        #expect(submitted != nil && submitted == submittedAgain, "the same stream: the same seed and duration")
        #expect(maxWorkers == 5 && maxWorkersAgain == 5, "the override came along")
        #expect(seed == 11 && seedAgain == 11)
        #expect(try poolscope("run").status == 2, "a scenario or --from is needed")
    }

    @Test("sweep runs every point --repeat times and reports each metric's mean and 95% interval, with Erlang C where it applies")
    func sweep() throws {
        let page = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-\(UUID().uuidString).html")
        let table = page.deletingPathExtension().appendingPathExtension("csv")
        defer {
            try? FileManager.default.removeItem(at: page)
            try? FileManager.default.removeItem(at: table)
        }
        let result = try poolscope(
            "sweep", "mmc-erlang-c", "--vary", "pool.min_workers+pool.max_workers=4,5", "--repeat", "2", "--duration", "2s",
            "--speed", "4", "--json", "--html", page.path, "--parallel", "2", "--seed", "40", "--csv", table.path)
        #expect(result.status == 0, "\(result.error)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(
            html.components(separatedBy: "<svg").count == 8 && html.contains("Erlang C"),
            "six charts, the theory line, and measured over theory")
        #expect(html.contains("Measured mean wait / Erlang C"))
        #expect(!html.contains("<script") && !html.contains("src="), "self-contained: nothing to fetch")
        #expect(result.error.contains("sweep run 4/4") && result.error.contains("left"), "progress with the time left: \(result.error)")
        let document = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let points = document?["points"] as? [[String: Any]] ?? []
        #expect(points.count == 2)
        // Run two at a time, reported in the points' order.
        #expect(points.map { ($0["set"] as? [String: String])?["pool.min_workers+pool.max_workers"] } == ["4", "5"])
        #expect(points.allSatisfy { $0["runs"] as? Int == 2 && $0["theory_mean_wait_ms"] is Double })
        #expect(
            points.allSatisfy { ($0["seeds"] as? [Int]) == [40, 41] && ($0["resolved_scenario"] as? [String: Any])?["seed"] as? Int == 40 })
        let csv = try String(contentsOf: table, encoding: .utf8)
        #expect(csv.hasPrefix("# sweep: [pool.min_workers+pool.max_workers]\n# repeats: 2\n") && csv.contains("\n# seed: 40\n"), "\(csv)")
        #expect(csv.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 3, "a header and a row per point")
        let wait = (points.first?["metrics"] as? [String: Any])?["queue_wait_mean_ms"] as? [String: Double]
        #expect(wait.map { $0["ci95_low"]! <= $0["mean"]! && $0["mean"]! <= $0["ci95_high"]! } == true, "\(String(describing: wait))")
        let bad = try poolscope("sweep", "burst", "--vary", "pool.max_workers=9..3")
        #expect(bad.status == 2 && bad.error.contains("A must not exceed B"), "\(bad.error)")
        let huge = try poolscope("sweep", "burst", "--vary", "pool.max_workers=1e19..1e19")
        #expect(huge.status == 2 && huge.error.contains("numbers must lie within ±9e15"), "no trap on a huge bound: \(huge.error)")
        let many = try poolscope("sweep", "burst", "--vary", "pool.max_workers=1..1000", "--vary", "seed=1..1000")
        #expect(many.status == 2 && many.error.contains("at most 10000 in one sweep"), "\(many.error)")
    }

    @Test("an unknown scenario and an unknown option are usage errors: exit 2")
    func usageErrors() throws {
        let missing = try poolscope("run", "no-such-demo")
        #expect(missing.status == 2)
        #expect(missing.error.contains("no scenario file or bundled demo named 'no-such-demo'"))
        let option = try poolscope("run", "burst", "--bogus")
        #expect(option.status == 2)
        let badDuration = try poolscope("run", "burst", "--duration", "soon")
        #expect(badDuration.status == 2)
        #expect(badDuration.error.contains("--duration must be a positive duration"))
    }

    @Test("--version prints the version; a --csv path that cannot be written is refused before the run starts")
    func versionAndOutputPath() throws {
        let version = try poolscope("--version")
        #expect(version.status == 0 && version.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
        let started = ContinuousClock.now
        let bad = try poolscope("run", "burst", "--duration", "20s", "--csv", "/nonexistent-dir/out.csv")
        #expect(bad.status == 2)
        #expect(bad.error.contains("cannot write --csv /nonexistent-dir/out.csv: no such directory: /nonexistent-dir"), "\(bad.error)")
        #expect(ContinuousClock.now - started < .seconds(10), "refused before running the 20 s scenario")
    }

    @Test(
        "SIGINT or SIGTERM on a headless run prints the partial summary (interrupted: true) and exits 130 or 143",
        arguments: [SIGINT, SIGTERM])
    func interruptedRun(signal: Int32) async throws {
        let (status, data) = try await runPoolscope(
            ["run", "burst", "--json", "--duration", "30s"], signal: signal, after: .seconds(1), once: "progress 0%")
        #expect(status == 128 + signal)
        let object = try #require(
            try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        #expect(object["interrupted"] as? Bool == true)
        #expect(object["balanced"] as? Bool == true)
        #expect((object["duration_s"] as? Double ?? 99) < 20, "ended early")
    }

    @Test("the binary carries its demos: copied alone into an empty directory, demos, check and run work there")
    func demosFromAnywhere() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-alone-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("poolscope")
        try FileManager.default.copyItem(at: poolscopeBinary, to: copy)
        func run(_ arguments: [String]) throws -> CommandResult {
            try runPoolscope(arguments, environment: ["POOLSCOPE_DEMOS": nil], binary: copy, directory: directory)
        }
        let demos = try run(["demos"])
        #expect(demos.status == 0 && demos.output.split(separator: "\n").count >= 17, "\(demos.error)")
        let check = try run(["check", "burst"])
        #expect(check.status == 0 && check.output.hasPrefix("demos/burst.yaml: ok"), "\(check.output)\(check.error)")
        let result = try run(["run", "burst", "--duration", "1s", "--json"])
        #expect(result.status == 0, "\(result.error)")
    }

    @Test("run --json prints exactly one JSON document whose counts balance, with the seed given")
    func runJSON() throws {
        let result = try poolscope("run", "burst", "--json", "--duration", "2s", "--seed", "5")
        #expect(result.status == 0, "\(result.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(object["seed"] as? Int == 5)
        #expect(object["balanced"] as? Bool == true)
        let jobs = try #require(object["jobs"] as? [String: Int])
        #expect(jobs["submitted"] == (jobs["completed"] ?? 0) + (jobs["failed"] ?? 0) + (jobs["rejected"] ?? 0) + (jobs["cancelled"] ?? 0))
        #expect(result.error.contains("progress"), "progress goes to standard error")
    }

    @Test("a scenario with priorities has by_priority in its JSON summary, as the contract says")
    func byPriority() throws {
        let result = try poolscope("run", "priority-aging", "--json", "--duration", "2s")
        #expect(result.status == 0, "\(result.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let levels = try #require(object["by_priority"] as? [String: [String: Any]], "\(result.output)")
        #expect(Set(levels.keys) == ["0", "10"])
        let jobs = try #require(object["jobs"] as? [String: Int])
        let submitted = levels.values.compactMap { $0["submitted"] as? Int }.reduce(0, +)
        #expect(submitted == (jobs["submitted"] ?? 0) - 0, "every submission counted under its level")
        for level in levels.values {
            let wait = try #require(level["queue_wait_ms"] as? [String: Double])
            #expect(Set(wait.keys) == ["mean", "p50", "p99", "max"])
            #expect(level["completed"] is Int)
        }
        let plain = try poolscope("run", "burst", "--json", "--duration", "1s")
        #expect(!plain.output.contains("by_priority"), "absent without priorities")
    }

    @Test("run --csv writes '#' lines saying what ran, then one row per second under the documented header; --from runs the CSV again")
    func runCSV() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try poolscope(
            "run", "burst", "--set", "pool.max_workers=5", "--seed", "23", "--duration", "3s", "--csv", file.path, "--json")
        #expect(result.status == 0, "\(result.error)")
        let all = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        let preamble = all.prefix { $0.hasPrefix("#") }
        #expect(preamble.contains("# seed: 23") && preamble.contains("# compressed_to_s: 3.0"), "\(preamble)")
        #expect(preamble.contains("#     max_workers: 5"), "the scenario as it ran, after its overrides: \(preamble)")
        let lines = all.dropFirst(preamble.count)
        #expect(
            lines.first?.hasPrefix("t_s,workers,queue_depth,in_flight,completed_per_s,failed_per_s,p50_ms,p99_ms,") == true,
            "the contract's columns first, added ones after")
        #expect(lines.first?.hasSuffix(",arrivals_per_s,admitted_per_s,rejected_per_s") == true)
        #expect(lines.count >= 3)
        #expect(lines.dropFirst().allSatisfy { $0.split(separator: ",").count == 11 })
        let arrivals = lines.dropFirst().compactMap { Int($0.split(separator: ",")[8]) }.reduce(0, +)
        #expect(arrivals > 0, "arrivals are counted")
        let first = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let submitted = (first?["jobs"] as? [String: Any])?["submitted"] as? Int

        let again = try poolscope("run", "--from", file.path, "--json")
        #expect(again.status == 0, "\(again.error)")
        let document = try JSONSerialization.jsonObject(with: Data(again.output.utf8)) as? [String: Any]
        let workers = document?["workers"] as? [String: Any]
        let jobs = document?["jobs"] as? [String: Any]
        #expect((document?["seed"] as? NSNumber)?.uint64Value == 23 && workers?["max_seen"] as? Int == 5)
        #expect(submitted != nil && (jobs?["submitted"] as? Int) == submitted, "the same stream again: \(again.output)")

        try "t_s,workers\n1,2\n".write(to: file, atomically: true, encoding: .utf8)
        let bare = try poolscope("run", "--from", file.path)
        #expect(bare.status == 1 && bare.error.contains("has no '#' lines before its header"), "\(bare.error)")
    }

    @Test("demos lists every bundled demo with one line each")
    func demos() throws {
        let result = try poolscope("demos")
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count >= 10)
        #expect(lines.contains { $0.hasPrefix("burst ") })
    }
}

/// The parts of a run summary the recording tests compare.
private struct Summary: Decodable {
    struct Jobs: Decodable, Equatable {
        var submitted: Int, completed: Int, failed: Int, rejected: Int, cancelled: Int
    }
    var jobs: Jobs
    var interrupted: Bool?
}

extension JSONDecoder {
    fileprivate static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
