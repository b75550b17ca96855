import Foundation

/// The waiting workload run by each runner in turn: PoolScope's pool, the bare Swift loop and Go (when
/// installed), then the idle workers of each.
public struct IOComparison: Codable, Sendable {
    public var rows: [IOWorkload.Row]
    public var idle: [IOWorkload.IdleRow]
    /// Rounds whose fresh process hung and was stopped, by runner (empty when none did). A hang is what a
    /// lost job looks like (the pools' rows end with a graceful shutdown that waits for every job), so a
    /// runner listed here has no claim to exactly once, and `bench` fails.
    public var roundsTimedOut: [String: Int] = [:]

    /// The waiting workload's runners, in the order they run; the raw value is the name of the row.
    public enum Runner: String, CaseIterable, Sendable {
        case asyncStream = "asyncstream"
        case poolScope = "poolscope"
        case poolScopeShared = "poolscope-shared"
        /// The default pool with every job on its own threads (``PoolConfiguration/movesAwaitingWorkers`` off):
        /// what each `await`'s hand-over to those threads costs.
        case poolScopeOwnThreads = "poolscope-own-threads"
        case poolTimers = "poolscope-wheel"
        case simulated = "poolscope-simulated"
        case simulatedOneThread = "poolscope-simulated-1t"
        case arrivalsOnly = "arrivals-only"
        case go
    }

    /// One runner's row of the waiting workload, run in this process (`nil` for Go without a built peer).
    public static func row(of runner: Runner, workers: Int, rate: Double, seconds: Double, peer: GoPeer? = nil) async -> IOWorkload.Row? {
        switch runner {
        case .asyncStream: await IOWorkload.bareSwift(workers: workers, rate: rate, seconds: seconds)
        case .poolScope: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds)
        case .poolScopeShared: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, shared: true)
        case .poolScopeOwnThreads:
            await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, staysOnOwnThreads: true)
        case .poolTimers: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .poolTimers)
        case .simulated: await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .simulated)
        case .simulatedOneThread:
            await IOWorkload.poolScope(workers: workers, rate: rate, seconds: seconds, mode: .simulated, threads: 1)
        case .arrivalsOnly: await IOWorkload.arrivalsOnly(rate: rate, seconds: seconds)
        case .go: peer?.io(workers: workers, rate: rate, seconds: seconds)
        }
    }

    /// `seconds` of arrivals at `rate` per second to `workers` workers, `rounds` times for each runner (the
    /// rounds interleaved; each row is the runner's median round), and `idleSeconds` of idle workers; only
    /// the runners named in `only`, when it is not empty (idle workers are then skipped).
    ///
    /// `isolate`, when given, runs one Swift runner's row in a fresh process (``FreshProcessRow``: the row;
    /// unavailable, and the round runs here instead; or timed out, and the round is skipped, since a row that
    /// hangs would hang here too). A row run in this process pays for what ran before it (freed memory kept by the
    /// allocator, threads of the shared pool already up or gone, caches), as Go's peer, always a process of
    /// its own, never does; a fresh process per row puts every runner on the same footing.
    public static func run(
        workers: Int, rate: Double, seconds: Double, rounds: Int = 1, idleSeconds: Double, only: Set<Runner> = [],
        isolate: ((Runner) async -> FreshProcessRow)? = nil,
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
        progress(
            "waiting workload: \(workers) workers, \(Int(rate))/s for \(Int(seconds)) s, each runner in turn"
                + (isolate == nil ? "" : ", each in a fresh process"))
        // Rounds interleaved, each in a turned order, so that a drift of the machine (another tenant, the
        // clock's speed) falls on every runner alike; each runner's row is its median round.
        var byRunner: [Runner: [IOWorkload.Row]] = [:]
        var runHere: [Runner: Int] = [:]
        var timedOut: [String: Int] = [:]
        for round in 0..<max(rounds, 1) {
            if rounds > 1 { progress("waiting workload: round \(round + 1) of \(rounds)") }
            let shift = round % max(runners.count, 1)
            for runner in runners[shift...] + runners[..<shift] {
                var row: IOWorkload.Row?
                if runner != .go, let isolate {
                    switch await isolate(runner) {
                    case .row(let fresh): row = fresh
                    case .unavailable(let why):
                        progress("\(runner.rawValue): no row from a fresh process (\(why)); running it here")
                    case .timedOut(let why):
                        progress("\(runner.rawValue): round \(round + 1) skipped: \(why)")
                        timedOut[runner.rawValue, default: 0] += 1
                        continue
                    }
                }
                if row == nil {
                    row = await Self.row(of: runner, workers: workers, rate: rate, seconds: seconds, peer: peer)
                    if runner != .go { runHere[runner, default: 0] += 1 }
                }
                if let row { byRunner[runner, default: []].append(row) }
            }
        }
        var rows = runners.compactMap { runner in
            byRunner[runner].flatMap(IOWorkload.Row.median(of:)).map { row in
                var row = row
                row.roundsInParentProcess = runHere[runner]
                if timedOut[runner.rawValue] != nil { row.exactlyOnce = false }
                return row
            }
        }
        let bare = rows.first { $0.runner == Runner.asyncStream.rawValue }?.cpuUsPerJob ?? 0
        for index in rows.indices where bare > 0 { rows[index].ratioToBareSwift = (rows[index].cpuUsPerJob / bare * 100).rounded() / 100 }
        guard only.isEmpty else { return IOComparison(rows: rows, idle: [], roundsTimedOut: timedOut) }
        progress("idle workers: \(workers), \(Int(idleSeconds)) s each")
        var idle = [
            await IOWorkload.idleBareSwift(workers: workers, seconds: idleSeconds),
            await IOWorkload.idlePoolScope(workers: workers, seconds: idleSeconds),
        ]
        if let row = peer?.idle(workers: workers, seconds: idleSeconds) { idle.append(row) }
        return IOComparison(rows: rows, idle: idle, roundsTimedOut: timedOut)
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

extension IOComparison {
    /// Runs `executable` with `arguments`, a program that runs one row of the waiting workload and prints it
    /// as one line of JSON (`poolscope bench io-row`), and returns that row; why, if it failed. The child's
    /// standard error comes on the same pipe, so the row is the last line that reads as one.
    public static func rowFromChild(_ executable: String, _ arguments: [String], limit: Duration = .seconds(900)) -> FreshProcessRow {
        let (status, text) = ChildProcess.run(executable, arguments, limit: limit)
        let command = "\(executable) \(arguments.joined(separator: " "))"
        if status == ChildProcess.timedOutStatus { return .timedOut("\(command) was stopped after \(limit)") }
        let decoder = JSONDecoder()
        guard status == 0,
            let row = text.split(separator: "\n").reversed().lazy.compactMap({
                try? decoder.decode(IOWorkload.Row.self, from: Data($0.utf8))
            }).first
        else { return .unavailable("\(command) failed (\(status)): \(text.suffix(300))") }
        return .row(row)
    }
}

/// What running one waiting-workload row in a fresh process gave.
public enum FreshProcessRow: Sendable {
    case row(IOWorkload.Row)
    /// It gave no row (it could not start, failed or printed none), for this reason.
    case unavailable(String)
    /// It was stopped at its time limit, for this reason.
    case timedOut(String)
}
