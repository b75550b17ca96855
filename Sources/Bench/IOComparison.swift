import Foundation

/// The waiting workload run by each runner in turn: PoolScope's pool, the bare Swift loop and Go (when
/// installed), then the idle workers of each.
public struct IOComparison: Codable, Sendable {
    public var rows: [IOWorkload.Row]
    public var idle: [IOWorkload.IdleRow]

    /// The waiting workload's runners, in the order they run (the names of their rows).
    public static let runners = [
        "asyncstream", "poolscope", "poolscope-wheel", "poolscope-simulated", "poolscope-simulated-1t", "arrivals-only", "go",
    ]

    /// `seconds` of arrivals at `rate` per second to `workers` workers, and `idleSeconds` of idle workers;
    /// only the runners named in `only`, when it is not empty (idle workers are then skipped).
    public static func run(
        workers: Int, rate: Double, seconds: Double, idleSeconds: Double, only: Set<String> = [],
        progress: (String) -> Void
    ) async -> IOComparison {
        let runs = { (name: String) in only.isEmpty || only.contains(name) }
        var peer: GoPeer?
        if runs("go") {
            switch GoPeer.build() {
            case .success(let built): peer = built
            case .failure(let why): progress("no Go peer in the waiting workload: \(why)")
            }
        }
        defer { if let peer { try? FileManager.default.removeItem(atPath: peer.binary) } }
        progress("waiting workload: \(workers) workers, \(Int(rate))/s for \(Int(seconds)) s, each runner in turn")
        let plan: [(String, () async -> IOWorkload.Row?)] = [
            ("asyncstream", { await IOWorkload.bareSwift(workers: workers, rate: rate, seconds: seconds) }),
            ("poolscope", { await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds) }),
            ("poolscope-wheel", { await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .poolTimers) }),
            ("poolscope-simulated", { await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .simulated) }),
            (
                "poolscope-simulated-1t",
                { await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .simulated, threads: 1) }
            ),
            ("arrivals-only", { await IOWorkload.arrivalsOnly(rate: rate, seconds: seconds) }),
            ("go", { peer?.io(workers: workers, rate: rate, seconds: seconds) }),
        ]
        var rows: [IOWorkload.Row] = []
        for (name, measure) in plan where runs(name) {
            if let row = await measure() { rows.append(row) }
        }
        let bare = rows.first { $0.runner == "asyncstream" }?.cpuUsPerJob ?? 0
        for index in rows.indices where bare > 0 { rows[index].ratioToBareSwift = (rows[index].cpuUsPerJob / bare * 100).rounded() / 100 }
        guard only.isEmpty else { return IOComparison(rows: rows, idle: []) }
        progress("idle workers: \(workers), \(Int(idleSeconds)) s each")
        var idle = [
            await IOWorkload.idleBareSwift(workers: workers, seconds: idleSeconds),
            await IOWorkload.idlePoolScope(workers: workers, seconds: idleSeconds),
        ]
        if let row = peer?.idle(workers: workers, seconds: idleSeconds) { idle.append(row) }
        return IOComparison(rows: rows, idle: idle)
    }

    /// The human table.
    public var table: String {
        var lines = [
            "waiting jobs (sleep Exp(100 ms), Poisson arrivals): CPU per job",
            "runner                  W    rate/s  jobs    CPU us/job  vs bare Swift  once",
        ]
        for row in rows {
            lines.append(
                row.runner.padding(toLength: 22, withPad: " ", startingAt: 0) + "  "
                    + "\(row.workers)".padding(toLength: 4, withPad: " ", startingAt: 0)
                    + " " + "\(Int(row.ratePerS))".padding(toLength: 7, withPad: " ", startingAt: 0) + " "
                    + "\(row.jobs)".padding(toLength: 7, withPad: " ", startingAt: 0)
                    + " " + "\(row.cpuUsPerJob)".padding(toLength: 11, withPad: " ", startingAt: 0) + " "
                    + (row.ratioToBareSwift.map { "\($0)x" } ?? "-").padding(toLength: 14, withPad: " ", startingAt: 0)
                    + (row.exactlyOnce ? "yes" : "NO"))
        }
        lines.append("idle workers: CPU, percent of one core")
        for row in idle {
            lines.append("  \(row.runner): \(row.workers) idle workers for \(Int(row.seconds)) s: \(row.cpuPercentOfCore)% of a core")
        }
        return lines.joined(separator: "\n")
    }
}
