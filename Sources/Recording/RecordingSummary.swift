import PoolEngine
public import Workload

extension Recording {
    /// The run summary (`run --json`'s document) rebuilt from the recording's frames and report, with the
    /// damage, if any, among its warnings and the header's scenario to run it again; `nil` with no frame.
    public func runSummary() -> RunResult? {
        var frames: [(snapshot: PoolSnapshot, status: SessionStatus)] = []
        var report: ShutdownReport?
        for entry in entries {
            switch entry.message {
            case .tick(let frame): frames.append((frame.snapshot, frame.status))
            case .shutdownFinished(let finished): report = finished
            default: break
            }
        }
        guard
            var result = RunResult.summarising(
                scenario: header.scenario, seed: header.seed ?? 0, frames: frames, report: report,
                warnings: damage.map { ["recording damaged: \($0)"] } ?? [])
        else { return nil }
        if let yaml = header.resolvedScenario, let seed = header.seed {
            result.resolvedScenario = RunResult.ResolvedScenario(yaml: yaml, seed: seed, compressedToS: nil)
        }
        return result
    }
}
