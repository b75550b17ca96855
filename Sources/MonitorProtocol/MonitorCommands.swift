package import PoolEngine

/// A command the pool refused or could not understand, with the reason in words.
package struct CommandError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Carries out one command on `pool`; returns what was done. Settings changes go through the pool's own
/// validation, so a command never puts a pool where its configuration could not.
package func apply(_ command: CommandDocument, to pool: WorkerPool) throws(CommandError) -> String {
    func need<T>(_ value: T?, _ field: String) throws(CommandError) -> T {
        guard let value else { throw CommandError("\(command.command) needs '\(field)'") }
        return value
    }
    /// A step or a value from the network, within what a pool could ever take (no overflow on adding).
    func bounded(_ value: Int?, _ field: String) throws(CommandError) -> Int {
        let value = try need(value, field)
        guard abs(value) <= 1_000_000_000 else { throw CommandError("'\(field)' \(value) is out of range") }
        return value
    }
    func scaling(_ change: (inout ScalingSettings) -> Void) throws(CommandError) {
        do {
            try pool.updateScaling(change)
        } catch {
            throw CommandError("refused: \(error)")
        }
    }
    switch command.command {
    case "set_threshold":
        let value = try bounded(command.value, "value")
        try scaling { $0.scaleUpThreshold = value }
        return "threshold \(value)"
    case "change_threshold":
        let by = try bounded(command.by, "by")
        try scaling { $0.scaleUpThreshold = max($0.scaleUpThreshold + by, 1) }
        return "threshold \(by >= 0 ? "+" : "")\(by)"
    case "set_min_workers":
        let value = try bounded(command.value, "value")
        try scaling { $0.minWorkers = value }
        return "min workers \(value)"
    case "change_min_workers":
        let by = try bounded(command.by, "by")
        try scaling { $0.minWorkers = min(max($0.minWorkers + by, 0), $0.maxWorkers) }
        return "min workers \(by >= 0 ? "+" : "")\(by)"
    case "set_max_workers":
        let value = try bounded(command.value, "value")
        try scaling { $0.maxWorkers = value }
        return "max workers \(value)"
    case "change_max_workers":
        let by = try bounded(command.by, "by")
        try scaling { $0.maxWorkers = max($0.maxWorkers + by, max($0.minWorkers, 1)) }
        return "max workers \(by >= 0 ? "+" : "")\(by)"
    case "set_rate_limit":
        let limit = command.perSecond.map { RateLimit(perSecond: $0, burst: command.burst ?? 1) }
        do {
            try pool.updateRateLimit(limit)
        } catch {
            throw CommandError("refused: \(error)")
        }
        return limit.map { "rate limit \($0.perSecond)/s" } ?? "rate limit lifted"
    case "crash_worker":
        guard let crashed = pool.crashWorker(command.worker.map { WorkerID($0) }) else {
            throw CommandError(command.worker.map { "no worker \($0)" } ?? "no worker to crash")
        }
        return "crashed worker \(crashed)"
    case "shutdown":
        let mode: ShutdownMode
        switch command.mode ?? "graceful" {
        case "graceful":
            let seconds = command.deadlineS ?? 10
            guard seconds.isFinite, (0...86_400).contains(seconds) else {
                throw CommandError("deadline_s must lie within 0...86400 seconds, got \(seconds)")
            }
            mode = .graceful(deadline: .milliseconds(Int64(seconds * 1_000)))
        case "immediate": mode = .immediate
        case let other: throw CommandError("shutdown mode must be graceful or immediate, got '\(other)'")
        }
        Task { _ = await pool.shutdown(mode) }
        return "shutdown (\(mode)) started"
    case let other:
        throw CommandError(
            "unknown command '\(other)'; known: set_threshold, change_threshold, set_min_workers, change_min_workers, "
                + "set_max_workers, change_max_workers, set_rate_limit, crash_worker, shutdown")
    }
}
