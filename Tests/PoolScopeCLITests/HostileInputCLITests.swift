import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 15's findings as a tester meets them: through the command line. In the serialized CLI suite (see
/// its note on cooperative threads).
extension CLITests {
    @Test("finding 4: a result that cannot be written (--csv /dev/full, stdout on /dev/full) is exit 1 with the reason")
    func writeErrorsFail() throws {
        let csv = try poolscope("run", "burst", "--duration", "1s", "--json", "--csv", "/dev/full")
        #expect(csv.status == 1, "\(csv.error)")
        #expect(csv.error.contains("cannot write --csv /dev/full: no space left on the device"), "\(csv.error)")

        let process = Process()
        process.executableURL = poolscopeBinary
        process.arguments = ["run", "burst", "--duration", "1s", "--json"]
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let error = Pipe()
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "\(message)")
        #expect(message.contains("cannot write the standard output: no space left on the device"), "\(message)")
    }

    @Test("finding 5: a directory or an empty file is named as such, without platform error codes")
    func fileErrorsInWords() throws {
        let directoryCSV = try poolscope("run", "burst", "--duration", "1s", "--csv", "/tmp")
        #expect(directoryCSV.status == 2)
        #expect(directoryCSV.error.contains("cannot write --csv /tmp: is a directory, not a file"), "\(directoryCSV.error)")
        let empty = try poolscope("run", "/dev/null")
        #expect(empty.status == 1)
        #expect(empty.error.contains("/dev/null: cannot read the scenario: is empty"), "\(empty.error)")
        let directory = try poolscope("check", "/tmp")
        #expect(directory.status == 1)
        #expect(directory.error.contains("/tmp: cannot read the scenario: is a directory, not a file"), "\(directory.error)")
        for result in [directoryCSV, empty, directory] {
            #expect(
                !result.error.contains("Domain") && !result.error.contains("error 2") && !result.error.contains("permission"),
                "\(result.error)")
        }
    }

    @Test("finding 6 and 1: --seed -1 and --duration beyond a day are refused in words, exit 2")
    func seedsAndDurations() throws {
        let negative = try poolscope("run", "burst", "--seed", "-1")
        #expect(negative.status == 2)
        #expect(negative.error.contains("a seed is a whole number from 0 to 18446744073709551615, got '-1'"), "\(negative.error)")
        #expect(!negative.error.contains("Missing value"))
        let sweepSeed = try poolscope("sweep", "burst", "--vary", "pool.max_workers=2,4", "--seed", "-3")
        #expect(sweepSeed.status == 2 && sweepSeed.error.contains("a seed is a whole number"), "\(sweepSeed.error)")
        for duration in ["1e300s", "25h"] {
            let result = try poolscope("run", "burst", "--duration", duration)
            #expect(result.status == 2)
            #expect(result.error.contains("--duration must be a positive duration up to 24h"), "\(result.error)")
        }
    }

    @Test(
        "--record on a device writes into it (a full one is exit 1 with the reason) and never replaces it; --csv through a link to a file not there yet creates it"
    )
    func recordAndLinks() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "poolscope-devices-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A private copy of /dev/full (root can make one; CI runs as root), so a regression cannot replace the real one.
        let device = directory.appendingPathComponent("full").path
        // Device 1:7, encoded as glibc's makedev does for small numbers (minor | major << 8).
        if mknod(device, S_IFCHR | 0o666, dev_t(7 | 1 << 8)) == 0 {
            let result = try poolscope("run", "burst", "--duration", "1s", "--record", device)
            #expect(result.status == 1, "\(result.error)")
            #expect(result.error.contains("no space left on the device"), "\(result.error)")
            var info = stat()
            #expect(stat(device, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR, "the device is still a device")
        } else {
            print("skipped: --record on a device needs root to make a private /dev/full (mknod)")
        }
        let target = directory.appendingPathComponent("target.csv").path
        let link = directory.appendingPathComponent("link.csv").path
        #expect(symlink(target, link) == 0)
        let result = try poolscope("run", "burst", "--duration", "1s", "--csv", link)
        #expect(result.status == 0, "\(result.error)")
        let written = (try? String(contentsOfFile: target, encoding: .utf8)) ?? ""
        #expect(written.hasPrefix("# poolscope:") && written.contains("\nt_s,"), "written through the link")
        var info = stat()
        #expect(lstat(link, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK, "the link stays a link")
    }

    @Test("SIGTERM during a long graceful shutdown (a timeline deadline of 24h, jobs of an hour) ends the run at once, exit 143")
    func signalEscalatesShutdown() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-long-\(UInt32.random(in: 0...UInt32.max)).yaml")
        try """
        name: long-shutdown
        duration: 60s
        workload:
          arrivals: { process: constant, rate: 20/s }
          service: { distribution: constant, value: 1h }
        timeline:
          - at: 1s
            shutdown: graceful
            deadline: 24h
        """.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let started = ContinuousClock.now
        let (status, data) = try await runPoolscope(["run", file.path, "--json"], signal: SIGTERM, after: .seconds(3), once: "progress 0%")
        #expect(status == 143)
        #expect(ContinuousClock.now - started < .seconds(30), "ended soon after the signal, not after the 24h deadline")
        let summary = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(summary["interrupted"] as? Bool == true && summary["balanced"] as? Bool == true, "\(summary)")
    }

    @Test("a rate no machine here keeps (1000000/s) still ends by its duration plus its deadline")
    func fastestRateEndsOnTime() throws {
        let started = ContinuousClock.now
        let result = try poolscope(
            "run", "burst", "--duration", "2s", "--json", "--set", "workload.arrivals={process: constant, rate: 1000000/s}",
            "--set", "timeline=[]", "--set", "shutdown_deadline=1s", "--set", "pool.queue_capacity=unbounded")
        #expect(result.status == 0, "\(result.error)")
        #expect(ContinuousClock.now - started < .seconds(20), "took \(ContinuousClock.now - started)")
        #expect(result.output.contains("\"balanced\" : true"), "\(result.output.prefix(400))")
    }
}
