import Foundation
import PoolEngine
import Workload

/// Turns a run's result into the JSON document or the human summary.
enum RunReportFormatter {
    static func json(_ result: RunResult) throws -> String { try jsonText(result) }

    /// Any of the CLI's documents as the contract writes them: snake_case keys, sorted, indented.
    static func jsonText(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func human(_ r: RunResult) -> String {
        let j = r.jobs
        var lines: [String] = []
        lines.append("scenario   \(r.scenario)  (seed \(r.seed), \(r.durationS)s, strategy \(r.strategy))")
        lines.append(
            "jobs       submitted \(j.submitted) = completed \(j.completed) + failed \(j.failed) + rejected \(j.rejected)"
                + " + cancelled \(j.cancelled)   \(r.balanced ? "balanced" : "NOT BALANCED")")
        lines.append("           retried \(j.retried), timed out \(j.timedOut), dead letters \(r.deadLetters)")
        func latency(_ name: String, _ s: LatencySummary) -> String {
            "\(name)mean \(ms(s.mean))  p50 \(ms(s.p50))  p90 \(ms(s.p90))  p99 \(ms(s.p99))  p99.9 \(ms(s.p999))  max \(ms(s.max))"
        }
        lines.append(latency("latency    queue wait  ", r.latencyMs.queueWait))
        lines.append(latency("           service     ", r.latencyMs.service))
        lines.append(latency("           end to end  ", r.latencyMs.endToEnd))
        lines.append("throughput mean \(r.throughput.meanPerS)/s, peak \(Int(r.throughput.peakPerS))/s")
        lines.append(
            "workers    min \(r.workers.minSeen), max \(r.workers.maxSeen), final \(r.workers.final)"
                + (r.workers.meanSeen.map { String(format: ", mean %.1f", $0) } ?? ""))
        if r.scaleEvents.isEmpty {
            lines.append("scaling    no scale events")
        } else {
            for (index, event) in r.scaleEvents.enumerated() {
                lines.append("\(index == 0 ? "scaling    " : "           ")t=\(event.tS)s  \(event.from) -> \(event.to): \(event.reason)")
            }
        }
        if let t = r.theory {
            let error = t.predictedMeanWaitMs > 0 ? (t.measuredMeanWaitMs - t.predictedMeanWaitMs) / t.predictedMeanWaitMs * 100 : 0
            lines.append(
                "theory     \(t.model), c=\(t.servers), utilisation \(t.utilisation): predicted mean wait \(ms(t.predictedMeanWaitMs)),"
                    + " measured \(ms(t.measuredMeanWaitMs)) (\(error >= 0 ? "+" : "")\(Int(error.rounded()))%)")
        }
        if let claims = r.claims {
            let held = claims.filter(\.held).count
            lines.append("claims     \(held) of \(claims.count) held")
            for claim in claims { lines.append("           \(claim.held ? "held  " : "FAILED") \(claim.claim): \(claim.observed)") }
        }
        for warning in r.warnings { lines.append("warning    \(warning)") }
        return lines.joined(separator: "\n")
    }

    static func ms(_ value: Double) -> String {
        value >= 100 ? "\(Int(value.rounded()))ms" : "\((value * 100).rounded() / 100)ms"
    }
}

/// Shows a run's progress on standard error: a redrawn bar on a terminal, a line every 10% otherwise.
final class ProgressReporter: Sendable {
    private let duration: Duration
    private let onTerminal: Bool
    private let lastDecile = Locked(-1)

    init(duration: Duration, enabled: Bool) {
        self.duration = duration
        onTerminal = enabled && isTerminal(2)
    }

    func update(_ progress: RunProgress) {
        let fraction = min(max(progress.elapsed.seconds / max(duration.seconds, 1e-9), 0), 1)
        let counts =
            "submitted \(progress.submitted)  completed \(progress.completed)  workers \(progress.workers)  queue \(progress.queueDepth)"
        if onTerminal {
            let width = 24
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            writeStandardError(
                "\r[\(bar)] \(Int(fraction * 100))%  \(formatted(progress.elapsed))/\(formatted(duration))  \(counts)\u{1B}[K")
        } else {
            let decile = Int(fraction * 10)
            let due = lastDecile.withLock { last in
                defer { last = max(last, decile) }
                return decile > last
            }
            if due { writeStandardError("progress \(decile * 10)%  \(counts)\n") }
        }
    }

    func finish() {
        if onTerminal { writeStandardError("\r\u{1B}[K") }
    }
}
