import Foundation
import PoolEngine

/// Runs the benchmark's helper programs (the Go peer, the allocation probe, one waiting-workload row) and
/// reads what they print.
enum ChildProcess {
    /// The status reported for a child stopped at its time limit.
    static let timedOutStatus: Int32 = -2

    /// Runs `executable` with `arguments` (in `directory`, with `environment` added), returning its exit
    /// status and its standard output and error together. A child still running after `limit` is stopped
    /// (SIGTERM, then SIGKILL 5 s later), so a helper that hangs cannot hang the benchmark: the status is
    /// then ``timedOutStatus`` and the text ends with a line saying so.
    static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
        limit: Duration = .seconds(900)
    ) -> (Int32, String) {
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
        let watchdog = Watchdog(pid: process.processIdentifier, limit: limit)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let timedOut = watchdog.finish()
        let text = String(decoding: data, as: UTF8.self)
        guard timedOut else { return (process.terminationStatus, text) }
        return (timedOutStatus, text + "\npoolscope bench: \(executable) was stopped after \(limit) (its time limit)")
    }
}

/// Stops a child process that outlives its time limit, from a thread of its own.
private final class Watchdog: Sendable {
    private let state = Locked<(done: Bool, fired: Bool)>((false, false))
    private let pid: Int32

    init(pid: Int32, limit: Duration) {
        self.pid = pid
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            guard
                state.withLock({ state in
                    guard !state.done else { return false }
                    state.fired = true
                    return true
                })
            else { return }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [self] in
                if !state.withLock({ $0.done }) { kill(pid, SIGKILL) }
            }
        }
    }

    /// Marks the child as ended (no signal is sent after this); whether the limit stopped it.
    func finish() -> Bool {
        state.withLock { state in
            state.done = true
            return state.fired
        }
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
