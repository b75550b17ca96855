import Foundation

/// Runs the benchmark's helper programs (the Go peer, the allocation probe) and reads what they print.
enum ChildProcess {
    /// Runs `executable` with `arguments` (in `directory`, with `environment` added), returning its exit
    /// status and its standard output and error together.
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]) -> (
        Int32, String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Heap allocations per job, from `poolscope-allocations` run beside this program with ordo-one's malloc
/// interposer preloaded (both are built by `swift build`; the interposer is never linked into poolscope).
public enum AllocationsPerJob {
    /// Allocations per job by pool name, or why there are none.
    public static func measure(jobs: Int) -> Result<[String: Double], HelperUnavailable> {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let probe = directory + "/poolscope-allocations"
        let library = directory + "/libMallocInterposerSwift.so"
        guard FileManager.default.isExecutableFile(atPath: probe), FileManager.default.fileExists(atPath: library) else {
            return .failure(HelperUnavailable(reason: "no \(probe) or \(library): build them with swift build -c release"))
        }
        let (status, text) = ChildProcess.run(probe, ["\(jobs)"], environment: ["LD_PRELOAD": library])
        struct Output: Decodable {
            let preloaded: Bool
            let allocations_per_job: [String: Double]
        }
        guard status == 0, let line = text.split(separator: "\n").last,
            let output = try? JSONDecoder().decode(Output.self, from: Data(line.utf8)),
            output.preloaded
        else { return .failure(HelperUnavailable(reason: "the allocation probe failed: \(text.prefix(300))")) }
        return .success(output.allocations_per_job)
    }
}
