import Histogram
import Logging
public import PoolEngine

/// How far a run has got, reported about ten times a second.
public struct RunProgress: Sendable {
    public var elapsed: Duration
    public var duration: Duration
    public var submitted: Int
    public var completed: Int
    public var workers: Int
    public var queueDepth: Int
}

/// What a run produced: the JSON summary and the per-second rows.
public struct RunOutput: Sendable {
    public var result: RunResult
    public var seconds: [SecondRow]
    /// The pool's shutdown report.
    public var report: ShutdownReport? = nil
    /// The deepest queue seen, sampled every 100 ms of scenario time (the rows hold one sample a second).
    public var maxQueue: Int = 0
}

/// Runs a scenario headless against a live pool: submits its job stream on time, performs its timeline,
/// samples the pool every second, ends with a shutdown, and summarises.
public final class ScenarioRunner: Sendable {
    public let scenario: Scenario
    /// The running session, so ``interrupt()`` can end it; and whether it was interrupted.
    private let current = Locked<(session: LiveSession?, interrupted: Bool)>((nil, false))

    /// How many times faster than written the scenario's clock runs.
    public let speed: Double

    public init(scenario: Scenario, speed: Double = 1) {
        self.scenario = scenario
        self.speed = speed
    }

    /// Ends the run early, as SIGINT or SIGTERM should: arrivals stop, the pool shuts down at once (every job
    /// accounted for), and the summary covers what ran, marked `interrupted`. A shutdown already under way
    /// (the scenario's end, a timeline entry with a long deadline) is escalated: what is left is cancelled now.
    public func interrupt() {
        let session = current.withLock { state -> LiveSession? in
            state.interrupted = true
            return state.session
        }
        guard let session else { return }
        session.send(.shutdown(.immediate))
        Task { _ = await session.shutdown(.immediate) }
    }

    /// Runs the scenario. `started` is called with the session before the first arrival (to serve its pool,
    /// say), and the run waits for it.
    public func run(
        progress: (@Sendable (RunProgress) -> Void)? = nil, started: (@Sendable (LiveSession) async -> Void)? = nil
    ) async throws(ConfigurationError) -> RunOutput {
        let session = try LiveSession(scenario: scenario, speed: speed)
        await started?(session)
        let interruptedEarly = current.withLock { state -> Bool in
            state.session = session
            return state.interrupted
        }
        if interruptedEarly { session.send(.shutdown(.immediate)) }
        let pool = session.pool
        let log = session.log
        let origin = PoolInstant.zero  // the pool runs on the session's scenario clock, which starts at zero

        let events = pool.events()
        let collector = Task {
            for await event in events {
                switch event.kind {
                case .scaledUp(let from, let to, let reason), .scaledDown(let from, let to, let reason):
                    log.record(RunResult.ScaleEvent(tS: rounded((event.time - origin).seconds), from: from, to: to, reason: reason))
                default: break
                }
            }
        }
        let scenarioClock = session.clock
        let sampler = Task { [scenario] in
            // Rows fall on whole seconds of scenario time (the session's clock), as claims count time.
            var nextRow = Duration.seconds(1)
            var last = JobCounters()
            while !Task.isCancelled {
                // On the scenario clock: at any speed, a row falls on each whole second of scenario time.
                do { try await scenarioClock.sleep(for: .milliseconds(100)) } catch { break }
                let snapshot = pool.snapshot(includingLatencies: false)
                if snapshot.phase == .running {
                    log.sawWorkers(snapshot.workers.count)
                    log.sampledWorkers(snapshot.workers.count, queue: snapshot.queue.total)
                }
                progress?(
                    RunProgress(
                        elapsed: scenarioClock.elapsed, duration: scenario.duration, submitted: snapshot.counters.submitted,
                        completed: snapshot.counters.completed, workers: snapshot.workers.count,
                        queueDepth: snapshot.queue.total))
                if scenarioClock.elapsed >= nextRow {
                    let (p50, p99) = log.takeSecondPercentiles()
                    log.add(
                        SecondRow(
                            t: nextRow.seconds, workers: snapshot.workers.count, queueDepth: snapshot.queue.total,
                            inFlight: snapshot.inFlight, completedPerS: snapshot.counters.completed - last.completed,
                            failedPerS: snapshot.counters.failed - last.failed, p50Ms: p50, p99Ms: p99,
                            rejectedPerS: snapshot.counters.rejected - last.rejected,
                            arrivalsPerS: snapshot.counters.submitted - last.submitted, totals: snapshot.counters,
                            keysMovedPercent: snapshot.queue.lastKeyMovement.map { rounded($0.movedPercent) }))
                    last = snapshot.counters
                    nextRow = nextRow + .seconds(1)
                }
            }
        }

        let shutdownMode = await session.drive()
        log.setFinalWorkers(pool.snapshot(includingLatencies: false).workers.count)
        let report = await session.shutdown(shutdownMode)
        let end = session.clock.elapsed  // scenario time: the same as wall time unless run at another speed
        sampler.cancel()
        await sampler.value
        await collector.value
        var result = summarise(pool, report: report, state: log, wallTime: end)
        if current.withLock({ $0.interrupted }) { result.interrupted = true }
        let rows = log.rows
        let claims = scenario.claims
        if !claims.isEmpty { result.claims = claims.map { $0.check(summary: result, rows: rows) } }
        return RunOutput(result: result, seconds: rows, report: report, maxQueue: max(log.maxQueue, rows.map(\.queueDepth).max() ?? 0))
    }

    private func summarise(_ pool: WorkerPool, report: ShutdownReport, state: SessionLog, wallTime: Duration) -> RunResult {
        let snapshot = pool.snapshot()
        let latencies = snapshot.latencies ?? LatencyHistograms()
        let counters = report.counters
        let seconds = max(wallTime.seconds, 1e-9)
        let rows = state.rows
        let (minSeen, maxSeen, final) = state.workerCounts
        return RunResult(
            scenario: scenario.name, seed: scenario.seed, durationS: rounded(wallTime.seconds), jobs: counters,
            latencyMs: RunResult.Latencies(
                queueWait: LatencySummary(latencies.queueWait).rounded, service: LatencySummary(latencies.service).rounded,
                endToEnd: LatencySummary(latencies.endToEnd).rounded),
            throughput: RunResult.ThroughputResult(
                meanPerS: rounded(Double(counters.completed) / seconds),
                peakPerS: Double(max(rows.map(\.completedPerS).max() ?? 0, snapshot.throughput.peakPerSecond))),
            workers: RunResult.WorkerCounts(
                minSeen: minSeen, maxSeen: maxSeen, final: final, meanSeen: state.meanWorkers.map { rounded($0) }),
            scaleEvents: state.scaleEvents, theory: theory(latencies), balanced: counters.isBalanced,
            strategy: scenario.pool.queueStrategy.description, deadLetters: snapshot.deadLetterCount,
            captions: state.captions, warnings: state.warnings, byPriority: state.byPriority,
            resolvedScenario: scenario.resolvedYAML.map {
                RunResult.ResolvedScenario(yaml: $0, seed: scenario.seed, compressedToS: scenario.compressedTo?.seconds)
            })
    }

    /// Erlang C's prediction beside the measurement, when the scenario is an M/M/c queue.
    private func theory(_ latencies: LatencyHistograms) -> RunResult.Theory? {
        ErlangC.model(of: scenario).map { RunResult.Theory(model: $0, latencies: latencies) }
    }
}

/// What a session collects while it runs, shared by its tasks.
final class SessionLog: Sendable {
    private struct State {
        var scaleEvents: [RunResult.ScaleEvent] = []
        var captions: [RunResult.Caption] = []
        var warnings: [String] = []
        var rows: [SecondRow] = []
        var minWorkers = Int.max
        var maxWorkers = 0
        var finalWorkers = 0
        var workerSampleSum = 0
        var workerSamples = 0
        var maxQueue = 0
        var second = Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .two)
        var byPriority: [Int: PriorityLog] = [:]
    }

    /// One priority level's counts and queue waits.
    struct PriorityLog {
        var submitted = 0
        var refused = 0
        var completed = 0
        var waits = Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .two)
    }

    func prioritySubmitted(_ level: Int) { state.withLock { $0.byPriority[level, default: PriorityLog()].submitted += 1 } }
    func priorityAdmitted(_ level: Int, accepted: Bool) {
        if !accepted { state.withLock { $0.byPriority[level, default: PriorityLog()].refused += 1 } }
    }

    /// The live view of each level, most urgent first.
    var priorityStatus: [PriorityStatus] {
        state.withLock { state in
            state.byPriority.sorted { $0.key > $1.key }.map { level, log in
                let started = Int(log.waits.totalCount)
                return PriorityStatus(
                    level: level, waiting: max(log.submitted - log.refused - started, 0), completed: log.completed,
                    meanWaitMs: started == 0 ? 0 : log.waits.mean / 1e6,
                    p99WaitMs: started == 0 ? 0 : Double(log.waits.valueAtPercentile(99)) / 1e6)
            }
        }
    }

    func priorityCompleted(_ level: Int) { state.withLock { $0.byPriority[level, default: PriorityLog()].completed += 1 } }
    func priorityStarted(_ level: Int, wait: Duration) {
        let nanoseconds = UInt64(max(min(wait.nanoseconds, 3_600_000_000_000), 1))
        state.withLock { _ = $0.byPriority[level, default: PriorityLog()].waits.record(nanoseconds) }
    }

    /// The contract's `by_priority`: per level, submitted, completed and the queue wait of jobs that started.
    var byPriority: [String: RunResult.PriorityResult]? {
        state.withLock { state in
            guard !state.byPriority.isEmpty else { return nil }
            return Dictionary(
                uniqueKeysWithValues: state.byPriority.map { level, log in
                    let wait = LatencySummary(log.waits).rounded
                    return (
                        "\(level)",
                        RunResult.PriorityResult(
                            submitted: log.submitted, completed: log.completed,
                            queueWaitMs: .init(mean: wait.mean, p50: wait.p50, p99: wait.p99, max: wait.max))
                    )
                })
        }
    }

    private let state = Locked(State())

    func record(_ event: RunResult.ScaleEvent) { state.withLock { $0.scaleEvents.append(event) } }
    func caption(_ caption: RunResult.Caption) { state.withLock { $0.captions.append(caption) } }
    func warning(_ text: String) { state.withLock { $0.warnings.append(text) } }
    func add(_ row: SecondRow) { state.withLock { $0.rows.append(row) } }

    /// Runs a steering call; a refusal (say, a min above the max) becomes a warning, not a failure.
    func attempt(_ place: String, _ action: ScenarioAction, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            warning("\(place): \(action) refused: \(error)")
        }
    }

    func sawWorkers(_ count: Int) {
        state.withLock { state in
            state.minWorkers = min(state.minWorkers, count)
            state.maxWorkers = max(state.maxWorkers, count)
        }
    }

    /// One of the evenly spaced (100 ms of scenario time) samples the time-average of workers is taken from.
    func sampledWorkers(_ count: Int, queue: Int) {
        state.withLock { state in
            state.workerSampleSum += count
            state.workerSamples += 1
            state.maxQueue = max(state.maxQueue, queue)
        }
    }

    var maxQueue: Int { state.withLock { $0.maxQueue } }

    var meanWorkers: Double? {
        state.withLock { $0.workerSamples == 0 ? nil : Double($0.workerSampleSum) / Double($0.workerSamples) }
    }

    func setFinalWorkers(_ count: Int) {
        sawWorkers(count)
        state.withLock { $0.finalWorkers = count }
    }

    func recordEndToEnd(_ latency: Duration) {
        let nanoseconds = UInt64(max(min(latency.nanoseconds, 3_600_000_000_000), 0))
        state.withLock { _ = $0.second.record(nanoseconds) }
    }

    /// The p50 and p99 (ms) of the second that just ended, and a fresh histogram for the next.
    func takeSecondPercentiles() -> (Double, Double) {
        state.withLock { state in
            defer { state.second.reset() }
            guard state.second.totalCount > 0 else { return (0, 0) }
            return (
                rounded(Double(state.second.valueAtPercentile(50)) / 1e6),
                rounded(Double(state.second.valueAtPercentile(99)) / 1e6)
            )
        }
    }

    var scaleEvents: [RunResult.ScaleEvent] { state.withLock { $0.scaleEvents } }
    var captions: [RunResult.Caption] { state.withLock { $0.captions } }
    var warnings: [String] { state.withLock { $0.warnings } }
    var rows: [SecondRow] { state.withLock { $0.rows } }
    var workerCounts: (Int, Int, Int) {
        state.withLock { ($0.minWorkers == .max ? $0.finalWorkers : $0.minWorkers, $0.maxWorkers, $0.finalWorkers) }
    }
}

extension LatencySummary {
    /// The same summary with every figure to three decimals, for JSON people read.
    var rounded: LatencySummary {
        var copy = self
        copy.mean = Workload.rounded(mean)
        copy.p50 = Workload.rounded(p50)
        copy.p90 = Workload.rounded(p90)
        copy.p99 = Workload.rounded(p99)
        copy.p999 = Workload.rounded(p999)
        copy.max = Workload.rounded(max)
        return copy
    }
}
