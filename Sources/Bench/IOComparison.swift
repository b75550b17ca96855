import Foundation

/// The waiting workload run by each runner in turn: PoolScope's pool, the bare Swift loop and Go (when
/// installed), then the idle workers of each.
public struct IOComparison: Codable, Sendable {
    public var rows: [IOWorkload.Row]
    public var idle: [IOWorkload.IdleRow]

    /// The waiting workload's runners, in the order they run; the raw value is the name of the row.
    public enum Runner: String, CaseIterable, Sendable {
        case asyncStream = "asyncstream"
        case poolScope = "poolscope"
        case poolTimers = "poolscope-wheel"
        case simulated = "poolscope-simulated"
        case simulatedOneThread = "poolscope-simulated-1t"
        case arrivalsOnly = "arrivals-only"
        case go
    }

    /// `seconds` of arrivals at `rate` per second to `workers` workers, and `idleSeconds` of idle workers;
    /// only the runners named in `only`, when it is not empty (idle workers are then skipped).
    public static func run(
        workers: Int, rate: Double, seconds: Double, idleSeconds: Double, only: Set<Runner> = [],
        progress: (String) -> Void
    ) async -> IOComparison {
        let runners = Runner.allCases.filter { only.isEmpty || only.contains($0) }
        var peer: GoPeer?
        if runners.contains(.go) {
            switch GoPeer.build() {
            case .success(let built): peer = built
            case .failure(let why): progress("no Go peer in the waiting workload: \(why)")
            }
        }
        defer { if let peer { try? FileManager.default.removeItem(atPath: peer.binary) } }
        progress("waiting workload: \(workers) workers, \(Int(rate))/s for \(Int(seconds)) s, each runner in turn")
        var rows: [IOWorkload.Row] = []
        for runner in runners {
            let row: IOWorkload.Row? =
                switch runner {
                case .asyncStream: await IOWorkload.bareSwift(workers: workers, rate: rate, seconds: seconds)
                case .poolScope: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds)
                case .poolTimers: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .poolTimers)
                case .simulated: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .simulated)
                case .simulatedOneThread:
                    await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .simulated, threads: 1)
                case .arrivalsOnly: await IOWorkload.arrivalsOnly(rate: rate, seconds: seconds)
                case .go: peer?.io(workers: workers, rate: rate, seconds: seconds)
                }
            if let row { rows.append(row) }
        }
        let bare = rows.first { $0.runner == Runner.asyncStream.rawValue }?.cpuUsPerJob ?? 0
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
