import CHeap
import Foundation
import PoolEngine

/// One row of results: the JSON contract of `poolscope bench --json`.
public struct BenchRow: Codable, Sendable {
    public var pool: String
    public var metrics: Bool
    public var workers: Int
    public var job: String
    public var n: Int
    public var nsPerJob: Double
    public var jobsPerS: Double
    public var peakRssMb: Double
    /// Extra: every job ran exactly once in every round.
    public var exactlyOnce: Bool
    /// Extra: this row's throughput over PoolScope FIFO's (same job, workers, metrics on).
    public var ratioToPoolScope: Double?
    /// Extra: heap allocations per no-op job in steady state (`poolscope-allocations`), where measured.
    public var allocationsPerJob: Double? = nil
}

/// The benchmark's settings.
public struct BenchSettings: Sendable {
    public var rounds = 5
    public var warmUp = 1
    public var workerCounts = [2, 8]
    public var jobs = BenchJob.allCases
    public var pools = BenchPool.allCases
    /// Jobs per row, by job kind.
    public var counts: [BenchJob: Int] = [.noop: 1_000_000, .spin1us: 1_000_000, .spin100us: 20_000, .sleep1ms: 4_000]

    public init() {}

    /// About two minutes on two cores, the waiting workload aside. The no-op and 1 µs rows are a fifth of
    /// the full run's: shorter, a PoolScope row lasted 15-35 ms, and one thread descheduled for a few of them
    /// moved a ratio by 30%.
    public static var quick: BenchSettings {
        var settings = BenchSettings()
        settings.counts = [.noop: 200_000, .spin1us: 200_000, .spin100us: 1_000, .sleep1ms: 200]
        settings.rounds = 5
        settings.warmUp = 1
        return settings
    }
}

/// Runs the comparison: every (pool, metrics, workers, job) row, rounds interleaved so that the machine's
/// drift hits every row alike, median of the rounds after the warm-up.
public enum Benchmark {
    struct RowKey: Hashable {
        let pool: BenchPool
        let metrics: Bool
        let workers: Int
        let job: BenchJob
    }

    public static func run(_ settings: BenchSettings, progress: (String) -> Void = { _ in }) async -> [BenchRow] {
        let spinner = Spinner.calibrate()
        _ = Baselines.benchKeys.count  // made now (a lazy global), not in the first keyed row's time
        var pools = settings.pools
        var peer: GoPeer?
        if pools.contains(.go) {
            switch GoPeer.build() {
            case .success(let built): peer = built
            case .failure(let why):
                progress("no Go peer in this run: \(why)")
                pools.removeAll { $0 == .go }
            }
        }
        var keys: [RowKey] = []
        for job in settings.jobs {
            for workers in settings.workerCounts {
                for pool in pools where pool != .go || job == .noop || job == .spin1us {
                    keys.append(RowKey(pool: pool, metrics: true, workers: workers, job: job))
                    if pool == .poolscopeFIFO { keys.append(RowKey(pool: pool, metrics: false, workers: workers, job: job)) }
                }
            }
        }
        var times: [RowKey: [Double]] = [:]
        var rss: [RowKey: Double] = [:]
        var exact: [RowKey: Bool] = [:]
        let totalRounds = settings.warmUp + settings.rounds
        for round in 0..<totalRounds {
            progress("round \(round + 1)/\(totalRounds)\(round < settings.warmUp ? " (warm-up)" : "")")
            for key in keys {
                let n = settings.counts[key.job] ?? 1_000
                let sampler = PeakRSSSampler()
                let (seconds, once) = await measure(key, n: n, spinner: spinner, peer: peer)
                if round >= settings.warmUp { times[key, default: []].append(seconds) }
                rss[key] = max(rss[key] ?? 0, sampler.stop())
                exact[key] = (exact[key] ?? true) && once
            }
        }
        if let peer { try? FileManager.default.removeItem(atPath: peer.binary) }
        var rows: [BenchRow] = keys.map { key in
            let n = settings.counts[key.job] ?? 1_000
            let sorted = (times[key] ?? [0]).sorted()
            let median = sorted[sorted.count / 2]
            return BenchRow(
                pool: key.pool.rawValue, metrics: key.metrics, workers: key.workers, job: key.job.rawValue, n: n,
                nsPerJob: (median * 1e9 / Double(n) * 10).rounded() / 10, jobsPerS: (Double(n) / median).rounded(),
                peakRssMb: ((rss[key] ?? 0) * 10).rounded() / 10, exactlyOnce: exact[key] ?? false, ratioToPoolScope: nil)
        }
        for index in rows.indices {
            let reference = rows.first {
                $0.pool == BenchPool.poolscopeFIFO.rawValue && $0.metrics && $0.workers == rows[index].workers
                    && $0.job == rows[index].job
            }
            if let reference, reference.jobsPerS > 0 {
                rows[index].ratioToPoolScope = (rows[index].jobsPerS / reference.jobsPerS * 100).rounded() / 100
            }
        }
        return rows
    }

    static func measure(_ key: RowKey, n: Int, spinner: Spinner, peer: GoPeer?) async -> (Double, Bool) {
        if key.pool == .go {
            // The peer times itself (its process start is not counted) and checks each job ran once.
            return peer?.throughput(n: n, workers: key.workers, job: key.job) ?? (0, false)
        }
        let ledger = RunLedger(size: n)
        let clock = ContinuousClock()
        let start = clock.now
        var completed = true
        switch key.pool {
        case .dispatch: Baselines.dispatch(n: n, workers: key.workers, body: Baselines.syncBody(key.job, spinner: spinner, ledger: ledger))
        case .operationQueue:
            Baselines.operationQueue(n: n, workers: key.workers, body: Baselines.syncBody(key.job, spinner: spinner, ledger: ledger))
        case .threads: Baselines.threads(n: n, workers: key.workers, body: Baselines.syncBody(key.job, spinner: spinner, ledger: ledger))
        case .noPool: Baselines.noPool(n: n, workers: key.workers, body: Baselines.syncBody(key.job, spinner: spinner, ledger: ledger))
        case .taskGroup:
            await Baselines.taskGroup(n: n, workers: key.workers, body: Baselines.asyncBody(key.job, spinner: spinner, ledger: ledger))
        case .asyncStream:
            await Baselines.asyncStream(n: n, workers: key.workers, body: Baselines.asyncBody(key.job, spinner: spinner, ledger: ledger))
        case .poolscopeTyped, .poolscopeTypedAsync, .poolscopeTypedKeyed, .poolscopeTypedFIFO, .poolscopeTypedLatencies:
            let synchronous =
                key.pool != .poolscopeTypedAsync && key.job != .sleep1ms
                ? Baselines.syncBody(key.job, spinner: spinner, ledger: ledger) : nil
            completed = await Baselines.typedPool(
                n: n, workers: key.workers, keyed: key.pool == .poolscopeTypedKeyed,
                strategy: key.pool == .poolscopeTypedFIFO ? .sharedFIFO : .perWorker, latencies: key.pool == .poolscopeTypedLatencies,
                body: Baselines.asyncBody(key.job, spinner: spinner, ledger: ledger),
                synchronousBody: synchronous)
        case .poolscopeFIFO, .poolscopeFIFOStrict, .poolscopeStealing, .poolscopeKeyed:
            completed = await Baselines.poolScope(
                key.pool, metrics: key.metrics, n: n, workers: key.workers,
                body: Baselines.asyncBody(key.job, spinner: spinner, ledger: ledger))
        case .go: break
        }
        let elapsed = (clock.now - start).seconds
        return (elapsed, completed && ledger.exactlyOnce)
    }

    static func currentRSSMegabytes() -> Double {
        residentField("VmRSS:")
    }

    private static func residentField(_ name: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1_024
    }
}

/// The highest resident set of this process while one row runs, in MB, sampled every 2 ms by a thread of
/// its own. (The kernel's own peak, VmHWM, cannot be reset between rows on every machine: writing
/// /proc/self/clear_refs is refused in some VMs, so an early row's peak would stand for all later ones.)
final class PeakRSSSampler: Sendable {
    private let peak = Locked(0.0)
    private let stopped = Locked(false)
    private let done = DispatchSemaphore(value: 0)

    init() {
        #if os(Linux)
            malloc_trim(0)  // what earlier rows freed goes back to the system, so it does not count here
        #endif
        peak.withLock { $0 = Benchmark.currentRSSMegabytes() }
        let thread = Thread { [peak, stopped, done] in
            while !stopped.withLock({ $0 }) {
                let current = Benchmark.currentRSSMegabytes()
                peak.withLock { $0 = max($0, current) }
                usleep(2_000)
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops sampling and returns the peak.
    func stop() -> Double {
        let current = Benchmark.currentRSSMegabytes()
        stopped.withLock { $0 = true }
        done.wait()
        return peak.withLock { max($0, current) }
    }
}
