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
        let watchdog = Watchdog()
        process.terminationHandler = { _ in watchdog.childExited() }
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        watchdog.start(pid: process.processIdentifier, limit: limit)
        // Read until every writer has closed the pipe: the child, and any child of its that inherited it (a
        // grandchild that outlives a stopped child holds the read until it ends; the helpers here leave none).
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard watchdog.fired else { return (process.terminationStatus, text) }
        return (timedOutStatus, text + "\npoolscope bench: \(executable) was stopped after \(limit) (its time limit)")
    }
}

/// Stops a child process that outlives its time limit, from a timer of its own.
private final class Watchdog: Sendable {
    private let state = Locked<(exited: Bool, fired: Bool)>((false, false))

    /// Signals `pid` once `limit` has passed, unless ``childExited()`` came first. The signal is sent under
    /// the lock that ``childExited()`` takes, so none is sent once the child is known to have ended (what
    /// is left is the moment between Foundation reaping the child and calling its termination handler).
    func start(pid: Int32, limit: Duration) {
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            signal(pid, SIGTERM, marking: true)
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [self] in signal(pid, SIGKILL, marking: false) }
        }
    }

    private func signal(_ pid: Int32, _ signal: Int32, marking: Bool) {
        state.withLock { state in
            guard !state.exited else { return }
            if marking { state.fired = true }
            kill(pid, signal)
        }
    }

    func childExited() { state.withLock { $0.exited = true } }

    /// Whether the limit was reached while the child ran.
    var fired: Bool { state.withLock { $0.fired } }
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
