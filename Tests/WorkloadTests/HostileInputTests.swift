import Foundation
import PoolEngine
import Testing

@testable import Workload

/// Regression tests for issue 15's findings: what a fuzzer fed to `check` and `run` crashed or hung on.
@Suite("Hostile input", .timeLimit(.minutes(3)))
struct HostileInputTests {
    /// A small valid scenario with `field` set to `value` (a YAML line inside `workload` or `pool`).
    func scenario(
        pool: String = "", arrivals: String = "{ process: poisson, rate: 100/s }",
        service: String = "{ distribution: constant, value: 5ms }"
    ) -> String {
        """
        name: hostile
        duration: 2s
        pool:
          max_workers: 4
        \(pool)
        workload:
          arrivals: \(arrivals)
          service: \(service)
        """
    }

    func problem(_ text: String) -> String? {
        do {
            _ = try ScenarioParser.parse(text, file: "hostile.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test("finding 3: a rate no generator can keep is refused with its line and the limit")
    func hugeRate() throws {
        let message = try #require(problem(scenario(arrivals: "{ process: poisson, rate: 200200200200200200200200200/s }")))
        #expect(message.contains("hostile.yaml:7: workload.arrivals.rate must be at most 1000000/s"), "\(message)")
        #expect(problem(scenario(arrivals: "{ process: poisson, rate: 1000000/s }")) == nil)
        let timeline = scenario() + "\ntimeline:\n  - at: 1s\n    rate: 5000000/s\n"
        #expect(
            problem(timeline)?.contains("hostile.yaml:11: timeline.rate must be at most 1000000/s") == true, "\(problem(timeline) ?? "")")
        let utilisation = try #require(
            problem(scenario(arrivals: "{ process: poisson, utilisation: 0.9 }", service: "{ distribution: constant, value: 1us }")))
        #expect(
            utilisation.contains("workload.arrivals.utilisation 0.9 asks for 36") && utilisation.contains("at most 1000000/s"),
            "\(utilisation)")
        let bursts = try #require(problem(scenario(arrivals: "{ process: bursts, rate: 1/s, burst_size: 10000000, every: 1ms }")))
        #expect(bursts.contains("10000000 jobs every 1ms is 10000000000/s; at most 1000000/s"), "\(bursts)")
    }

    @Test("finding 1 and 3: a duration beyond a day (50 days of service, 1e300 s) is refused with its line and the limit")
    func hugeDurations() throws {
        let service = try #require(problem(scenario(service: "{ distribution: constant, value: 4294967296ms }")))
        #expect(service.contains("hostile.yaml:8: workload.service.value must be at most 24h"), "\(service)")
        let overflow = try #require(problem(scenario(service: "{ distribution: constant, value: 1e300s }")))
        #expect(overflow.contains("hostile.yaml:8: workload.service.value must be a duration"), "\(overflow)")
        let run = try #require(problem(scenario().replacingOccurrences(of: "duration: 2s", with: "duration: 202020202020202020s")))
        #expect(run.contains("hostile.yaml:2: duration must be"), "\(run)")
        #expect(problem(scenario(pool: "  idle_timeout: 24h")) == nil)
        #expect(problem(scenario(pool: "  idle_timeout: 25h"))?.contains("pool.idle_timeout must be at most 24h") == true)
        #expect(Units.isRunLength("24h") && !Units.isRunLength("24.5h") && !Units.isRunLength("1e300s") && !Units.isRunLength("0s"))
        #expect(Units.format(rate: 2e26) == "2e+26/s", "formatting a huge rate does not trap")
        #expect(
            problem(scenario(pool: "  growth: +9223372036854775807"))?.contains("pool.growth adds at most 100000 workers per step") == true)
        #expect(problem(scenario(pool: "  rate_limit: { rate: 1/h }"))?.contains("pool.rate_limit.rate must be at least 0.001/s") == true)
        #expect(Growth.add(Int.max).next(from: 5, max: 10) == 10, "growth saturates at the maximum")
    }

    @Test("finding 2: a producer held by backpressure does not hold the run: it ends by its duration plus its deadline")
    func backpressureEndsOnTime() async throws {
        // Jobs of a minute, one worker, a queue of 2 and the wait policy: the producer is held from the start.
        let text = """
            name: held
            duration: 2s
            shutdown_deadline: 1s
            pool:
              min_workers: 1
              max_workers: 1
              queue_capacity: 2
              overflow: wait
            workload:
              arrivals: { process: constant, rate: 50/s }
              service: { distribution: constant, value: 60s }
            timeline:
              - at: 1s
                caption: "still on time"
            """
        let scenario = try ScenarioParser.parse(text, file: "held.yaml")
        let started = ContinuousClock.now
        // The run in its own task, so that a regression fails this test instead of hanging the test process.
        let finished = Locked(false)
        let run = Task {
            defer { finished.withLock { $0 = true } }
            return try await ScenarioRunner(scenario: scenario).run()
        }
        while !finished.withLock({ $0 }) && ContinuousClock.now - started < .seconds(60) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(finished.withLock { $0 }, "the run was still going after 60 s (2 s of scenario and a 1 s deadline)")
        let output = try await run.value
        let elapsed = ContinuousClock.now - started
        // 3 s of work; a full suite on 2 cores has stretched a 1.5 s run to 20.7 s (RunEndsPropertyTests), and
        // the bug this guards against waits out a 60 s job.
        #expect(elapsed < .seconds(50), "ended after \(elapsed)")
        let jobs = output.result.jobs
        #expect(output.result.balanced)
        #expect(jobs.submitted == jobs.completed + jobs.failed + jobs.rejected + jobs.cancelled)
        #expect(jobs.rejected == 1, "the held submission is refused by the shutdown, counted")
        #expect(jobs.cancelled == 3, "the running job and the two queued are cancelled at the deadline")
        #expect(output.result.captions.contains { $0.text == "still on time" }, "the timeline went on while the producer was held")
    }

    @Test("finding 4 and 5: files are read and written with errors in words, and a failed write never looks complete")
    func userFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "poolscope-userfile-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: UserFileError(path: directory.path, reason: "is a directory, not a file")) { try UserFile.read(directory.path) }
        #expect(throws: UserFileError(path: "/dev/null", reason: "is empty")) { try UserFile.read("/dev/null") }
        #expect(try UserFile.read("/dev/null", allowEmpty: true).isEmpty)
        let missing = directory.appendingPathComponent("missing.yaml").path
        #expect(throws: UserFileError(path: missing, reason: "no such file or directory")) { try UserFile.read(missing) }
        let latin1 = directory.appendingPathComponent("latin1.yaml").path
        try Data([0x61, 0x62, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: latin1))
        #expect(throws: UserFileError(path: latin1, reason: "is not UTF-8 text (an invalid byte at offset 2)")) {
            try UserFile.readText(latin1)
        }

        #expect(throws: UserFileError(path: "/dev/full", reason: "no space left on the device")) {
            try UserFile.write("rows\n", to: "/dev/full")
        }
        #expect(throws: UserFileError(path: directory.path, reason: "is a directory, not a file")) {
            try UserFile.write("x", to: directory.path)
        }
        let nowhere = directory.appendingPathComponent("no/such/dir/out.csv").path
        #expect(throws: UserFileError(path: nowhere, reason: "no such directory: \(directory.path)/no/such/dir")) {
            try UserFile.write("x", to: nowhere)
        }
        let result = directory.appendingPathComponent("out.csv").path
        try UserFile.write("old\n", to: result)
        try UserFile.write("new\n", to: result)
        #expect(try String(contentsOfFile: result, encoding: .utf8) == "new\n")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["latin1.yaml", "out.csv"],
            "no temporary file left behind")

        #expect(UserFile.writableProblem(directory.path) == "is a directory, not a file")
        #expect(UserFile.writableProblem(nowhere) == "no such directory: \(directory.path)/no/such/dir")
        #expect(UserFile.writableProblem(result) == nil)
        #expect(UserFile.writableProblem(directory.appendingPathComponent("new.csv").path) == nil)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("new.csv").path), "checking creates nothing")
    }

    @Test("every fuzz seed and every input that once crashed the scenario fuzzer ends in a scenario or a located error")
    func fuzzInputs() throws {
        var files: [URL] = []
        for directory in ["Fuzz/Corpus/scenario", "Fuzz/Regressions/scenario"] {
            let url = repositoryRoot.appendingPathComponent(directory)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            files += names.filter { !$0.hasPrefix(".") }.map { url.appendingPathComponent($0) }
        }
        try #require(files.count >= 20, "the seed corpus is in the repository")
        var refused = 0
        for file in files {
            let bytes = try Data(contentsOf: file)
            let text = String(
                decoding: bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false).first ?? Data(), as: UTF8.self)
            do {
                let scenario = try ScenarioParser.parse(text, file: file.lastPathComponent)
                #expect(scenario.duration > .zero && scenario.duration <= Units.longestDuration, "\(file.lastPathComponent)")
            } catch {
                refused += 1
                #expect(error.description.hasPrefix(file.lastPathComponent + ":"), "a refusal names the file: \(error)")
            }
        }
        #expect(refused >= 8, "the broken seeds are refused")
    }

    @Test("finding 5: a scenario path that is a directory or an empty file is an error in words")
    func scenarioFiles() throws {
        #expect(throws: ScenarioError(file: "/dev/null", line: 0, message: "cannot read the scenario: is empty")) {
            _ = try DemoCatalog.resolve("/dev/null")
        }
        #expect(throws: ScenarioError(file: "/tmp", line: 0, message: "cannot read the scenario: is a directory, not a file")) {
            _ = try DemoCatalog.resolve("/tmp")
        }
    }
}
