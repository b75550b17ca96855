import Testing

@testable import PoolEngine

@Suite("The live pool scales", .timeLimit(.minutes(3)))
struct ScalingTests {
    @Test("a queue over the threshold scales up at once, with the reason in the event")
    func scaleUpOnBurst() async throws {
        var configuration = makeConfiguration(min: 1, max: 8, threshold: 2)
        configuration.cooldown = .zero
        let pool = try WorkerPool(configuration: configuration)
        let events = pool.events()
        let gate = Gate()
        for _ in 0..<40 { pool.trySubmit { await gate.wait() } }
        var scaleUps: [String] = []
        for await event in events {
            if case .scaledUp(_, let to, let reason) = event.kind {
                scaleUps.append(reason)
                if to == 8 { break }
            }
        }
        #expect(scaleUps.first?.hasPrefix("queue ") == true)
        #expect(scaleUps.first?.hasSuffix("> 1 workers x 2") == true)
        #expect(pool.snapshot().workers.count == 8)
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.counters.completed == 40)
        expectBalanced(report.counters)
    }

    /// On a manual clock that never moves, the scaler never ticks: growth past the first step comes from
    /// the workers as they start (a busy machine once starved the scaler's task for 20 s here).
    @Test("a threshold raised while running stops scale-up; lowered, it starts it, without waiting for the scaler")
    func thresholdChangeWhileRunning() async throws {
        var configuration = makeConfiguration(min: 1, max: 8, threshold: 100)
        configuration.cooldown = .zero
        let pool = try WorkerPool(configuration: configuration, clock: ManualClock())
        let gate = Gate()
        for _ in 0..<50 { pool.trySubmit { await gate.wait() } }
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.snapshot().workers.count == 1, "50 waiting is under 1 worker x 100")
        try pool.updateScaling { $0.scaleUpThreshold = 5 }
        #expect(pool.snapshot().settings.scaleUpThreshold == 5)
        #expect(await eventually { pool.snapshot(includingLatencies: false).workers.count == 8 })
        #expect(pool.snapshot().recentEvents.contains { $0.kind == .settingsChanged("threshold 100 -> 5") })
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        expectBalanced(report.counters)
    }

    @Test("invalid settings while running are refused and change nothing")
    func invalidRuntimeSettings() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 4))
        #expect(throws: ConfigurationError.self) { try pool.updateScaling { $0.minWorkers = 10 } }
        #expect(pool.snapshot().settings.minWorkers == 1)
        _ = await pool.shutdown(.immediate)
    }

    @Test("raising min starts workers at once; lowering max retires them")
    func minMaxWhileRunning() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 1, max: 8))
        try pool.updateScaling { $0.minWorkers = 6 }
        #expect(await eventually { pool.snapshot().workers.count == 6 })
        try pool.updateScaling {
            $0.minWorkers = 1
            $0.maxWorkers = 2
        }
        #expect(await eventually { pool.snapshot().workers.count == 2 })
        let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
        expectBalanced(report.counters)
    }

    @Test("idle workers scale down to min after the idle timeout, on a manual clock")
    func idleScaleDownManualClock() async throws {
        let clock = ManualClock()
        var configuration = makeConfiguration(min: 2, max: 8, initial: 6)
        configuration.idleTimeout = .seconds(30)
        configuration.scalingInterval = .seconds(1)
        configuration.cooldown = .seconds(5)
        let pool = try WorkerPool(configuration: configuration, clock: clock)
        #expect(await eventually { pool.snapshot().workers.allSatisfy { if case .idle = $0.state { true } else { false } } })
        #expect(await eventually { clock.sleeperCount >= 1 }, "the scaler sleeps on the manual clock")
        clock.advance(by: .seconds(29))
        #expect(await eventually { clock.sleeperCount >= 1 })
        #expect(pool.snapshot().workers.count == 6, "not idle long enough")
        clock.advance(by: .seconds(2))
        #expect(await eventually { pool.snapshot().workers.count == 2 })
        let event = pool.snapshot().recentEvents.last { if case .scaledDown = $0.kind { true } else { false } }
        #expect(event?.kind == .scaledDown(from: 6, to: 2, reason: "4 workers idle >= 30s"))
        let report = await pool.shutdown(.immediate)
        expectBalanced(report.counters)
    }

    @Test("a pool saturated with CPU-spinning jobs still answers snapshots and scales on time")
    func saturatedPoolStaysResponsive() async throws {
        var configuration = makeConfiguration(min: 1, max: 4, capacity: nil, threshold: 2)
        configuration.executor = .dedicatedThreads(2)
        configuration.cooldown = .milliseconds(200)
        let pool = try WorkerPool(configuration: configuration)
        let stop = Flag()
        for _ in 0..<200 {
            pool.trySubmit {
                // Spins, never suspending, until the test ends it: the worker threads stay saturated.
                while !stop.isSet {}
            }
        }
        let clock = ContinuousClock()
        var slowest = Duration.zero
        for _ in 0..<20 {
            let elapsed = clock.measure { _ = pool.snapshot() }
            slowest = max(slowest, elapsed)
            try await Task.sleep(for: .milliseconds(10))
        }
        // A snapshot that waited for the spinning workers would never return; the bound only has to exceed a
        // pause of the test's own thread on a loaded 2-core machine (ThreadSanitizer included).
        #expect(slowest < .seconds(20), "a snapshot took \(slowest)")
        let reachedMax = await eventually(timeout: .seconds(60)) { pool.snapshot(includingLatencies: false).workers.count == 4 }
        #expect(reachedMax, "the scaler ran despite the spinning jobs")
        stop.set()
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        expectBalanced(report.counters)
    }
}
