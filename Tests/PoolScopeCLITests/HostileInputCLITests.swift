import Foundation
import Testing

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
            #expect(!result.error.contains("Domain") && !result.error.contains("error 2") && !result.error.contains("permission"), "\(result.error)")
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
}
