import Foundation
import Logging
import PoolEngine
import Synchronization

/// A count that jobs on any thread add to (a class: an `Atomic` itself cannot be captured by a job).
final class SharedCount: Sendable {
    private let value = Atomic<Int>(0)
    func add() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

/// The shape of most real pools: jobs that wait (here they sleep an exponential time, mean 100 ms) arriving
/// as a Poisson stream. What counts there is not wall time but the CPU each job costs, and what idle
/// workers cost while nothing arrives. Measured with `getrusage` for the whole process, around the same
/// arrival loop for every runner, so the difference between runners is what the runner adds: from when
/// its workers are made (a pool, tasks or goroutines, as Go's peer does) until every job is done.
public enum IOWorkload {
    /// One run of the waiting workload.
    public struct Row: Codable, Sendable {
        public var runner: String
        public var workers: Int
        public var ratePerS: Double
        public var seconds: Double
        public var jobs: Int
        /// CPU (user + system) of the whole process per job, in µs.
        public var cpuUsPerJob: Double
        /// Every job ran exactly once.
        public var exactlyOnce: Bool
        /// This row's CPU per job over the bare Swift loop's (same workload).
        public var ratioToBareSwift: Double?
        /// CPU per job in each round, in the order run, when the row is the median of several.
        public var cpuUsPerJobRounds: [Double]?
        /// Rounds that ran in the benchmark's own process rather than a fresh one (because the fresh process
        /// gave no row, the reason printed as it happened, or because fresh processes were not asked for);
        /// `nil` when none did. Such a round pays for what ran before it in the process.
        public var roundsInParentProcess: Int?

        /// The round with the median CPU per job (the lower middle of an even count), with every round's
        /// figure beside it; it counts as exactly once only if every round was.
        static func median(of rounds: [Row]) -> Row? {
            let sorted = rounds.sorted { $0.cpuUsPerJob < $1.cpuUsPerJob }
            guard var row = sorted.isEmpty ? nil : sorted[(sorted.count - 1) / 2] else { return nil }
            row.exactlyOnce = rounds.allSatisfy(\.exactlyOnce)
            if rounds.count > 1 { row.cpuUsPerJobRounds = rounds.map(\.cpuUsPerJob) }
            return row
        }
    }

    /// The CPU of workers with nothing to do.
    public struct IdleRow: Codable, Sendable {
        public var runner: String
        public var workers: Int
        public var seconds: Double
        /// Percent of one core.
        public var cpuPercentOfCore: Double
    }

    /// The process's CPU time so far (user + system), in seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The arrival stream every runner gets: Poisson at `rate`, each job's sleep exponential with `mean`.
    static func stream(rate: Double, seconds: Double, mean: Duration, seed: UInt64) -> [(at: Duration, sleep: Duration)] {
        var random = SeededRandom(seed: seed)
        var at = 0.0
        var jobs: [(at: Duration, sleep: Duration)] = []
        while true {
            at += -log(random.openUnit()) / rate
            guard at < seconds else { return jobs }
            jobs.append((.seconds(at), .seconds(-log(random.openUnit()) * mean.seconds)))
        }
    }

    /// Offers each job at its arrival time (sleeping in between with `sleep`, `Task.sleep` by default),
    /// through `submit`.
    static func drive(
        _ jobs: [(at: Duration, sleep: Duration)],
        sleep: (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        submit: (Duration) -> Void
    ) async {
        let clock = ContinuousClock()
        let start = clock.now
        for job in jobs {
            let wait = start + job.at - clock.now
            if wait > .zero { try? await sleep(wait) }
            submit(job.sleep)
        }
    }

    /// How PoolScope's pool runs the waiting workload.
    public enum PoolMode: String, Sendable, CaseIterable {
        /// Each job sleeps with `Task.sleep`, what a user's job awaiting I/O looks like.
        case taskSleep = "poolscope"
        /// Each job sleeps as the scenarios' simulated jobs do, in the pool's own timers
        /// (``SleepWheel/sleepOnCurrentPool(for:)``); arrivals as for every other runner.
        case poolTimers = "poolscope-wheel"
        /// A simulated scenario whole: jobs that wait as the scenarios' simulated jobs do
        /// (``Job/waiting(for:key:priority:timeout:start:then:)``, a wait the pool owns), and the arrival loop on
        /// the pool's threads too, its waits between arrivals simulated sleeps in the pool's timers.
        case simulated = "poolscope-simulated"
    }

    /// PoolScope's pool of `workers` fixed workers, jobs submitted one by one as they arrive, on `threads`
    /// threads of its own (`nil`: the default, one per core), or on Swift's shared pool when `shared`; with
    /// `staysOnOwnThreads`, no worker moves to the shared pool (``PoolConfiguration/movesAwaitingWorkers``).
    public static func poolScope(
        workers: Int, rate: Double, seconds: Double, mean: Duration = .milliseconds(100), mode: PoolMode = .taskSleep,
        threads: Int? = nil, shared: Bool = false, staysOnOwnThreads: Bool = false
    ) async -> Row {
        let runner =
            mode.rawValue + (threads.map { "-\($0)t" } ?? "") + (shared ? "-shared" : "") + (staysOnOwnThreads ? "-own-threads" : "")
        let jobs = stream(rate: rate, seconds: seconds, mean: mean, seed: 14)
        var configuration = PoolConfiguration()
        configuration.name = "bench-io"
        (configuration.minWorkers, configuration.maxWorkers) = (workers, workers)
        configuration.queueCapacity = nil
        configuration.logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        if let threads { configuration.executor = .dedicatedThreads(threads) }
        if shared { configuration.executor = .globalConcurrent }
        configuration.movesAwaitingWorkers = !staysOnOwnThreads
        guard let pool = try? WorkerPool(configuration: configuration) else {
            return Row(runner: runner, workers: workers, ratePerS: rate, seconds: seconds, jobs: 0, cpuUsPerJob: 0, exactlyOnce: false)
        }
        let before = cpuSeconds()
        let done = SharedCount()
        let submit = { (sleep: Duration) -> Void in
            switch mode {
            case .taskSleep:
                pool.trySubmit {
                    try? await Task.sleep(for: sleep)
                    done.add()
                }
            case .poolTimers:
                pool.trySubmit {
                    try? await SleepWheel.sleepOnCurrentPool(for: sleep)
                    done.add()
                }
            case .simulated:
                // As the scenarios' simulated jobs: a wait the pool owns.
                pool.trySubmit(Job.waiting(for: sleep) { done.add() })
            }
        }
        if mode == .simulated {
            await withTaskExecutorPreference(pool.executor) {
                await drive(jobs, sleep: { try await SleepWheel.sleepOnCurrentPool(for: $0) }, submit: submit)
            }
        } else {
            await drive(jobs, submit: submit)
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(3_600)))
        let used = cpuSeconds() - before
        return Row(
            runner: runner, workers: workers, ratePerS: rate, seconds: seconds, jobs: jobs.count,
            cpuUsPerJob: rounded(used * 1e6 / Double(max(jobs.count, 1))),
            exactlyOnce: report.counters.completed == jobs.count && done.count == jobs.count)
    }

    /// The arrival loop alone (`Task.sleep` between arrivals, nothing submitted): the floor under every
    /// Swift row that uses it.
    public static func arrivalsOnly(rate: Double, seconds: Double, mean: Duration = .milliseconds(100)) async -> Row {
        let jobs = stream(rate: rate, seconds: seconds, mean: mean, seed: 14)
        let before = cpuSeconds()
        let done = SharedCount()
        await drive(jobs) { _ in done.add() }
        let used = cpuSeconds() - before
        return Row(
            runner: "arrivals-only", workers: 0, ratePerS: rate, seconds: seconds, jobs: jobs.count,
            cpuUsPerJob: rounded(used * 1e6 / Double(max(jobs.count, 1))), exactlyOnce: done.count == jobs.count)
    }

    /// What a Swift user writes without a pool: `workers` tasks reading one `AsyncStream`.
    public static func bareSwift(workers: Int, rate: Double, seconds: Double, mean: Duration = .milliseconds(100)) async -> Row {
        let jobs = stream(rate: rate, seconds: seconds, mean: mean, seed: 14)
        let done = SharedCount()
        let (sleeps, continuation) = AsyncStream.makeStream(of: Duration.self)
        let used = await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    for await sleep in sleeps {
                        try? await Task.sleep(for: sleep)
                        done.add()
                    }
                }
            }
            let before = cpuSeconds()
            await drive(jobs) { continuation.yield($0) }
            continuation.finish()
            await group.waitForAll()
            return cpuSeconds() - before
        }
        return Row(
            runner: "asyncstream", workers: workers, ratePerS: rate, seconds: seconds, jobs: jobs.count,
            cpuUsPerJob: rounded(used * 1e6 / Double(max(jobs.count, 1))), exactlyOnce: done.count == jobs.count)
    }

    /// The CPU of PoolScope's pool of `workers` idle workers over `seconds`.
    public static func idlePoolScope(workers: Int, seconds: Double) async -> IdleRow {
        var configuration = PoolConfiguration()
        configuration.name = "bench-idle"
        (configuration.minWorkers, configuration.maxWorkers) = (workers, workers)
        configuration.logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        guard let pool = try? WorkerPool(configuration: configuration) else {
            return IdleRow(runner: "poolscope", workers: workers, seconds: seconds, cpuPercentOfCore: 0)
        }
        try? await Task.sleep(for: .milliseconds(200))  // the workers are up and parked
        let before = cpuSeconds()
        try? await Task.sleep(for: .seconds(seconds))
        let used = cpuSeconds() - before
        _ = await pool.shutdown(.immediate)
        return IdleRow(runner: "poolscope", workers: workers, seconds: seconds, cpuPercentOfCore: rounded(used * 100 / seconds))
    }

    /// The CPU of `workers` tasks waiting on an empty `AsyncStream` over `seconds`.
    public static func idleBareSwift(workers: Int, seconds: Double) async -> IdleRow {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        return await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers { group.addTask { for await _ in stream {} } }
            try? await Task.sleep(for: .milliseconds(200))
            let before = cpuSeconds()
            try? await Task.sleep(for: .seconds(seconds))
            let used = cpuSeconds() - before
            continuation.finish()
            return IdleRow(runner: "asyncstream", workers: workers, seconds: seconds, cpuPercentOfCore: rounded(used * 100 / seconds))
        }
    }

    private static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
