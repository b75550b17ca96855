import ArgumentParser
import Dashboard
import Foundation
import PoolEngine
import Recording
import Workload

/// `--record FILE` on run and watch.
struct RecordOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Record the session into FILE (frames, events, captions, your keys) for 'poolscope replay FILE'.",
            valueName: "file"))
    var record: String?

    func validate() throws {
        if let record { try checkWritable(record, option: "--record") }
    }

    /// Opens the recording for a scenario, or exits 1 saying why.
    func writer(for scenario: Scenario, fps: Int, burst: Int? = nil, notice: String? = nil) -> RecordingWriter? {
        guard let record else { return nil }
        do {
            return try RecordingWriter(
                path: record,
                header: RecordingHeader(
                    source: "scenario", scenario: scenario.name, fps: fps, resolvedScenario: scenario.resolvedYAML,
                    seed: scenario.seed, burstSize: burst, notice: notice))
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
    }
}

extension RecordingWriter {
    /// Closes the recording and says on standard error what it holds; a write that failed on the way ends
    /// the command with exit 1 (after its own output), so a recording is never silently incomplete.
    func close() -> Bool {
        do {
            try finish()
            let (entries, bytes) = written
            printError("poolscope: recorded \(entries) entries (\(Self.size(bytes))) to \(path); replay with: poolscope replay \(path)")
            return true
        } catch {
            printError("poolscope: the recording is incomplete: \(error)")
            return false
        }
    }

    private static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.1f MB", Double(bytes) / 1_048_576) : String(format: "%.0f KB", Double(bytes) / 1024)
    }
}

/// Records a headless run as the dashboard would have seen it: a frame `fps` times a second (latencies
/// once a second, as the dashboard takes them), then the final frame and the shutdown report.
final class HeadlessRecorder: Sendable {
    let writer: RecordingWriter
    let fps: Int
    private let task = Locked<Task<Void, Never>?>(nil)

    init(writer: RecordingWriter, fps: Int = 10) {
        self.writer = writer
        self.fps = fps
    }

    func start(_ session: LiveSession) {
        let writer = self.writer
        let fps = self.fps
        task.withLock {
            $0 = Task {
                var frame = 0
                while !Task.isCancelled {
                    let snapshot = session.pool.snapshot(includingLatencies: frame % fps == 0)
                    writer.record(.tick(DashboardFrame(snapshot: snapshot, status: session.status)))
                    frame += 1
                    try? await Task.sleep(for: .milliseconds(1_000 / fps))
                }
            }
        }
    }

    /// Stops sampling and records the end: the last frame (with latencies) and the report.
    func stop(_ session: LiveSession?, report: ShutdownReport?) async {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
        if let session {
            writer.record(.tick(DashboardFrame(snapshot: session.pool.snapshot(), status: session.status)))
        }
        if let report { writer.record(.shutdownFinished(report)) }
    }
}
