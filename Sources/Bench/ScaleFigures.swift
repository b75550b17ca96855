import CHeap
import Dashboard
import Foundation
import Logging
import PoolEngine
import Workload

/// Memory and reaction figures, and the dashboard's cost.
public struct ScaleFigures: Codable, Sendable {
    public var sleepingWorkers: Int
    public var sleepingWorkersRssMb: Double
    public var kilobytesPerWorker: Double
    public var queuedJobs: Int
    public var queuedJobsRssMb: Double
    public var bytesPerQueuedJob: Double
    /// The same number of jobs queued on ``TypedPool`` (`Int` inputs): what a job costs as a plain value.
    public var typedQueuedJobsRssMb: Double
    public var typedBytesPerQueuedJob: Double
    public var burstToScaleUpMs: Double
    public var frameRenderP50Ms: Double
    public var frameRenderP99Ms: Double
    public var snapshotP50Ms: Double
    public var throughputWithDashboardRatio: Double

    static func quietPool(_ change: (inout PoolConfiguration) -> Void) -> WorkerPool? {
        var configuration = PoolConfiguration()
        configuration.name = "scale"
        configuration.queueCapacity = nil
        configuration.logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        change(&configuration)
        return try? WorkerPool(configuration: configuration)
    }

    public static func measure(workers: Int = 10_000, queued: Int = 1_000_000, dashboardRounds: Int = 5) async -> ScaleFigures {
        // Sleeping workers: each holds a job that sleeps until released.
        let before = Benchmark.currentRSSMegabytes()
        var sleepingMb = 0.0
        if let pool = quietPool({
            $0.minWorkers = workers
            $0.maxWorkers = workers
        }) {
            for _ in 0..<workers { pool.trySubmit { try await Task.sleep(for: .seconds(3)) } }
            try? await Task.sleep(for: .seconds(2))
            sleepingMb = Benchmark.currentRSSMegabytes() - before
            _ = await pool.shutdown(.immediate)
        }
        // Queued jobs: one worker held on a gate while a million jobs wait.
        let beforeQueue = Benchmark.currentRSSMegabytes()
        var queuedMb = 0.0
        if let pool = quietPool({
            $0.minWorkers = 1
            $0.maxWorkers = 1
        }) {
            pool.trySubmit { try await Task.sleep(for: .seconds(60)) }
            let job = Job {}
            let batch = Array(repeating: job, count: 1_000)
            for _ in 0..<(queued / 1_000) { _ = pool.trySubmit(batch: batch) }
            queuedMb = Benchmark.currentRSSMegabytes() - beforeQueue
            _ = await pool.shutdown(.immediate)
        }
        // The same on the typed pool: one worker held by its first job while the rest wait. The closure
        // pool's freed memory is handed back first, or the allocator reuses it and RSS does not move.
        #if os(Linux)
            malloc_trim(0)
        #endif
        let beforeTyped = Benchmark.currentRSSMegabytes()
        var typedMb = 0.0
        do {
            let typed = TypedPool<Int>(workers: 1, capacityPerWorker: queued + 1, batchSize: 1) { index in
                if index < 0 { try await Task.sleep(for: .seconds(60)) }
            }
            typed.trySubmit(-1)
            var start = 0
            while start < queued {
                let end = min(start + 1_000, queued)
                typed.trySubmit(contentsOf: start..<end)
                start = end
            }
            typedMb = Benchmark.currentRSSMegabytes() - beforeTyped
            _ = await typed.shutdown(.immediate)
        }
        // Burst to scale-up decision.
        var reaction = 0.0
        if let pool = quietPool({
            $0.minWorkers = 1
            $0.maxWorkers = 8
            $0.scaleUpThreshold = 4
            $0.cooldown = .zero
        }) {
            let events = pool.events()
            let clock = SystemPoolClock()
            let start = clock.now()
            for _ in 0..<200 { pool.trySubmit { try await Task.sleep(for: .milliseconds(50)) } }
            for await event in events {
                if case .scaledUp = event.kind {
                    reaction = (event.time - start).seconds * 1_000
                    break
                }
            }
            _ = await pool.shutdown(.immediate)
        }
        let (render50, render99, snapshot50) = await dashboardFrameCost()
        let ratio = await throughputWithDashboard(rounds: dashboardRounds)
        return ScaleFigures(
            sleepingWorkers: workers, sleepingWorkersRssMb: round1(sleepingMb),
            kilobytesPerWorker: round1(sleepingMb * 1_024 / Double(workers)),
            queuedJobs: queued, queuedJobsRssMb: round1(queuedMb), bytesPerQueuedJob: round1(queuedMb * 1_048_576 / Double(queued)),
            typedQueuedJobsRssMb: round1(typedMb), typedBytesPerQueuedJob: round1(typedMb * 1_048_576 / Double(queued)),
            burstToScaleUpMs: (reaction * 1_000).rounded() / 1_000, frameRenderP50Ms: render50, frameRenderP99Ms: render99,
            snapshotP50Ms: snapshot50, throughputWithDashboardRatio: (ratio * 1_000).rounded() / 1_000)
    }

    /// View time of a 200x60 frame of a pool of 200 busy workers, and snapshot time.
    static func dashboardFrameCost() async -> (Double, Double, Double) {
        guard
            let pool = quietPool({
                $0.minWorkers = 200
                $0.maxWorkers = 200
            })
        else { return (0, 0, 0) }
        for _ in 0..<5_000 { pool.trySubmit { try await Task.sleep(for: .milliseconds(Int.random(in: 1...20))) } }
        try? await Task.sleep(for: .milliseconds(300))
        let clock = ContinuousClock()
        var renders: [Double] = []
        var snapshots: [Double] = []
        var state = DashboardState()
        let status = SessionStatus(
            scenarioName: "bench", scenarioTime: .seconds(1), duration: .seconds(60), caption: "bench", arrivalRate: 100,
            paused: false, speed: 1, failureRate: 0, extraLatency: .zero, finished: false)
        for _ in 0..<300 {
            var snapshot: PoolSnapshot?
            snapshots.append(clock.measure { snapshot = pool.snapshot() }.seconds * 1_000)
            guard let snapshot else { continue }
            state = update(state, .tick(DashboardFrame(snapshot: snapshot, status: status))).0
            let frozen = state
            renders.append(clock.measure { _ = view(frozen, width: 200, height: 60) }.seconds * 1_000)
        }
        _ = await pool.shutdown(.immediate)
        renders.sort()
        snapshots.sort()
        func pct(_ values: [Double], _ p: Double) -> Double {
            guard !values.isEmpty else { return 0 }
            return (values[min(Int(Double(values.count) * p), values.count - 1)] * 1_000).rounded() / 1_000
        }
        return (pct(renders, 0.5), pct(renders, 0.99), pct(snapshots, 0.5))
    }

    /// Throughput of 2 workers on 1 µs jobs with a 10 fps snapshot-and-render loop beside them, over without.
    static func throughputWithDashboard(rounds: Int) async -> Double {
        let spinner = Spinner.calibrate()
        func run(withDashboard: Bool) async -> Double {
            guard
                let pool = quietPool({
                    $0.minWorkers = 2
                    $0.maxWorkers = 2
                })
            else { return 0 }
            let n = 400_000
            let ledger = RunLedger(size: n)
            let body = Baselines.syncBody(.spin1us, spinner: spinner, ledger: ledger)
            let watcher = Task {
                var state = DashboardState()
                let status = SessionStatus(
                    scenarioName: "bench", scenarioTime: .zero, duration: .seconds(60), caption: nil, arrivalRate: 0,
                    paused: false, speed: 1, failureRate: 0, extraLatency: .zero, finished: false)
                while withDashboard && !Task.isCancelled {
                    state = update(state, .tick(DashboardFrame(snapshot: pool.snapshot(), status: status))).0
                    _ = view(state, width: 200, height: 60)
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            let clock = ContinuousClock()
            let start = clock.now
            let batch = 1_000
            for chunk in 0..<(n / batch) {
                _ = pool.trySubmit(batch: (0..<batch).map { offset in Job { body(chunk * batch + offset) } })
            }
            _ = await pool.shutdown(.graceful(deadline: .seconds(600)))
            let elapsed = (clock.now - start).seconds
            watcher.cancel()
            return Double(n) / elapsed
        }
        var ratios: [Double] = []
        for _ in 0..<max(rounds, 1) {
            let without = await run(withDashboard: false)
            let with = await run(withDashboard: true)
            ratios.append(with / max(without, 1))
        }
        ratios.sort()
        return ratios[ratios.count / 2]
    }
}

func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }
