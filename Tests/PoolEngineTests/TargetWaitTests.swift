import Foundation
import Synchronization
import Testing

@testable import PoolEngine

@Suite("Sizing for a target wait (Erlang C), on a virtual clock")
struct TargetWaitPolicyTests {
    let goal = TargetWait(target: .milliseconds(50), window: .seconds(2))
    var settings: ScalingSettings {
        ScalingSettings(
            minWorkers: 1, maxWorkers: 32, scaleUpThreshold: 4, cooldown: .seconds(1), mode: .targetWait(goal))
    }

    func at(_ milliseconds: Int) -> PoolInstant { PoolInstant(nanoseconds: Int64(milliseconds) * 1_000_000) }

    func workers(_ count: Int, idle: Int = 0) -> [ScalingInput.Worker] {
        (1...count).map { ScalingInput.Worker(id: WorkerID($0), idleSince: $0 <= idle ? at(0) : nil) }
    }

    @Test("the fewest workers whose predicted wait is under the target, and the reason says why")
    func sizesByErlangC() throws {
        let input = ScalingInput(
            now: at(10_000), pending: 0, workers: workers(4), lastScaledAt: nil, settings: settings,
            load: LoadEstimate(arrivalRate: 410, meanService: 0.018))
        let sizing = try #require(ScalingPolicy.targetWaitSize(input, goal: goal))
        // 7.38 erlangs: 7 workers cannot carry it at all, 8 predict 22 ms.
        #expect(ErlangC.meanWait(servers: 7, arrivalRate: 410, meanService: 0.018) == nil)
        let eight = try #require(ErlangC.meanWait(servers: 8, arrivalRate: 410, meanService: 0.018))
        #expect(eight < 0.05)
        #expect(sizing.workers == 8)
        #expect(sizing.reason == "λ 410/s, 1/μ 18ms: c = 8 keeps Wq 22ms < 50ms")
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 8, reason: sizing.reason))
        // A tighter target needs more: 9 workers keep 410/s under 10 ms, 8 do not.
        var tight = input
        tight.settings.mode = .targetWait(TargetWait(target: .milliseconds(10)))
        let nine = try #require(ErlangC.meanWait(servers: 9, arrivalRate: 410, meanService: 0.018))
        #expect(eight > 0.01 && nine < 0.01)
        #expect(ScalingPolicy.targetWaitSize(tight, goal: TargetWait(target: .milliseconds(10)))?.workers == 9)
    }

    @Test("one pass of Erlang B finds the same size as asking each size in turn")
    func fewestServersMatchesTheFormula() {
        for (rate, service, wait) in [(410.0, 0.018, 0.05), (410, 0.018, 0.01), (100, 0.02, 0.025), (2_000, 0.02, 0.05), (0.5, 1, 0.1)] {
            for range in [1...32, 4...64, 9...9] {
                let linear = range.first { (ErlangC.meanWait(servers: $0, arrivalRate: rate, meanService: service) ?? .infinity) <= wait }
                let found = ErlangC.fewestServers(in: range, arrivalRate: rate, meanService: service, maxWait: wait)
                #expect(found.servers == (linear ?? range.upperBound), "\(rate)/s, \(service) s, \(range)")
                #expect(found.meanWait == ErlangC.meanWait(servers: found.servers, arrivalRate: rate, meanService: service))
            }
        }
    }

    @Test("a load beyond the maximum asks for the maximum and says the target cannot be met")
    func overloaded() {
        let input = ScalingInput(
            now: at(10_000), pending: 0, workers: workers(4), lastScaledAt: nil, settings: settings,
            load: LoadEstimate(arrivalRate: 2_000, meanService: 0.02))
        guard case .scaleUp(let to, let reason) = ScalingPolicy.decide(input) else {
            Issue.record("expected a scale-up")
            return
        }
        #expect(to == 32)
        #expect(reason.contains("needs more than max 32"))
    }

    @Test("a backlog the current workers cannot clear within the target adds workers to drain it")
    func drainsABacklog() {
        // 100/s of 20 ms needs 4 workers at steady state; 400 queued on 4 workers is 2 s of waiting.
        let input = ScalingInput(
            now: at(10_000), pending: 400, workers: workers(4), lastScaledAt: nil, settings: settings,
            load: LoadEstimate(arrivalRate: 100, meanService: 0.02))
        guard case .scaleUp(let to, let reason) = ScalingPolicy.decide(input) else {
            Issue.record("expected a scale-up")
            return
        }
        #expect(to == 18)  // 2 erlangs + 400 x 20 ms / 500 ms (ten targets) = 18
        #expect(reason.contains("400 queued"))
    }

    @Test("it shrinks, idle workers first, but only to a size that keeps the wait under half the target")
    func shrinksWithMargin() throws {
        let input = ScalingInput(
            now: at(10_000), pending: 0, workers: workers(12, idle: 6), lastScaledAt: nil, settings: settings,
            load: LoadEstimate(arrivalRate: 100, meanService: 0.02))
        let up = try #require(ScalingPolicy.targetWaitSize(input, goal: goal))
        let down = try #require(ScalingPolicy.targetWaitSize(input, goal: goal, within: 0.025))
        #expect(down.workers >= up.workers)
        guard case .scaleDown(let retire, let to, _) = ScalingPolicy.decide(input) else {
            Issue.record("expected a scale-down")
            return
        }
        #expect(to == down.workers)
        #expect(retire.count == 12 - down.workers)
        #expect(retire.prefix(6).allSatisfy { $0.rawValue <= 6 })  // the idle ones go first
        // Not within a window of growing.
        var justGrew = input
        justGrew.lastGrewAt = at(9_000)
        #expect(ScalingPolicy.decide(justGrew) == .hold)
        justGrew.lastGrewAt = at(8_000)
        #expect(ScalingPolicy.decide(justGrew) != .hold)
        // At the size it aims for, it holds.
        var settled = input
        settled.workers = workers(down.workers)
        #expect(ScalingPolicy.decide(settled) == .hold)
    }

    @Test("before any job has finished there is no estimate, and the threshold rule stands in")
    func noEstimateYet() {
        let input = ScalingInput(now: at(10_000), pending: 100, workers: workers(2), lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 4, reason: "queue 100 > 2 workers x 4"))
    }

    @Test("min and max and the cooldown hold as for the threshold rule")
    func limitsAndCooldown() {
        var input = ScalingInput(
            now: at(10_000), pending: 0, workers: workers(4), lastScaledAt: at(9_500), settings: settings,
            load: LoadEstimate(arrivalRate: 410, meanService: 0.018))
        #expect(ScalingPolicy.decide(input) == .hold)
        input.lastScaledAt = nil
        input.settings.maxWorkers = 6
        guard case .scaleUp(let to, _) = ScalingPolicy.decide(input) else {
            Issue.record("expected a scale-up")
            return
        }
        #expect(to == 6)
    }
}

@Suite("The load window")
struct LoadWindowTests {
    func at(_ milliseconds: Int) -> PoolInstant { PoolInstant(nanoseconds: Int64(milliseconds) * 1_000_000) }

    @Test("rate and mean service over the window; old slices fall out")
    func slidingEstimate() throws {
        var window = LoadWindow(span: .seconds(1))
        #expect(window.estimate(at: at(0)) == nil)
        for ms in stride(from: 0, to: 1_000, by: 10) { window.arrived(at: at(ms)) }  // 100/s
        window.served(jobs: 2, busy: .milliseconds(40), at: at(500))
        var estimate = try #require(window.estimate(at: at(999)))
        #expect(abs(estimate.arrivalRate - 100) < 1)
        #expect(abs(estimate.meanService - 0.02) < 1e-9)
        // A second later at 300/s: only the new second counts.
        for ms in stride(from: 1_000, to: 2_000, by: 1) where ms % 10 < 3 { window.arrived(at: at(ms)) }
        estimate = try #require(window.estimate(at: at(1_999)))
        #expect(abs(estimate.arrivalRate - 300) < 3)
        // No job finished in this window: the last run's mean service stands.
        #expect(abs(estimate.meanService - 0.02) < 1e-9)
    }

    @Test("before the window has filled, the rate is over the time seen")
    func youngWindow() throws {
        var window = LoadWindow(span: .seconds(10))
        for ms in stride(from: 0, to: 500, by: 5) { window.arrived(at: at(ms)) }
        window.served(jobs: 1, busy: .milliseconds(5), at: at(5))
        let estimate = try #require(window.estimate(at: at(500)))
        #expect(abs(estimate.arrivalRate - 200) < 10)
    }
}

@Suite("A target-wait pool under a step in load, in real time")
struct TargetWaitLiveTests {
    /// One phase of the arrival stream.
    struct Phase {
        var rate: Double
        var seconds: Double
    }

    /// Real time and real waits: it runs alone in CI (`POOLSCOPE_THEORY_TEST=1`, beside the Erlang C
    /// measurement). Among the other suites, which keep both cores busy, its 20 ms jobs waited seconds for
    /// a thread and the estimate measured the machine, not the pool.
    @Test(
        "100/s -> 400/s -> 100/s of 20 ms jobs: the mean wait stays within 1.5x of 50 ms once each step settles, with fewer workers on average than a fixed pool sized for the peak",
        .timeLimit(.minutes(2)),
        .enabled(if: ProcessInfo.processInfo.environment["POOLSCOPE_THEORY_TEST"] == "1", "runs alone in CI (POOLSCOPE_THEORY_TEST=1)"))
    func stepLoad() async throws {
        let target = 0.05
        let meanService = 0.02
        let phases = [Phase(rate: 100, seconds: 4), Phase(rate: 400, seconds: 5), Phase(rate: 100, seconds: 5)]
        let settle = 2.5  // the window (2 s) and a cooldown
        var configuration = PoolConfiguration()
        configuration.name = "target-wait"
        configuration.minWorkers = 1
        configuration.maxWorkers = 32
        configuration.cooldown = .milliseconds(500)
        configuration.queueCapacity = nil
        configuration.scalingMode = .targetWait(TargetWait(target: .milliseconds(50), window: .seconds(2)))
        let pool = try WorkerPool(configuration: configuration)

        // The arrival stream: Poisson within each phase, exponential service, from a fixed seed.
        var random = SeededRandom(seed: 42)
        var arrivals: [(at: Double, phase: Int, service: Double)] = []
        var phaseStart = 0.0
        for (index, phase) in phases.enumerated() {
            var t = phaseStart
            while true {
                t += -log(1 - Double.random(in: 0..<1, using: &random)) / phase.rate
                guard t < phaseStart + phase.seconds else { break }
                arrivals.append((t, index, -log(1 - Double.random(in: 0..<1, using: &random)) * meanService))
            }
            phaseStart += phase.seconds
        }

        let waits = Mutex<[[Double]]>(Array(repeating: [], count: phases.count))
        let clock = ContinuousClock()
        let origin = clock.now
        // Workers (not counting those finishing their last job) every 50 ms, and the scaler's reasons.
        let sampling = Task {
            var samples: [Int] = []
            var reasons: Set<String> = []
            while !Task.isCancelled {
                let snapshot = pool.snapshot(includingLatencies: false)
                samples.append(snapshot.workers.filter { if case .draining = $0.state { false } else { true } }.count)
                for event in snapshot.recentEvents {
                    if case .scaledUp(_, _, let reason) = event.kind { reasons.insert(reason) }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return (samples, reasons)
        }
        for arrival in arrivals {
            let due = origin + .nanoseconds(Int64(arrival.at * 1e9))
            if due > clock.now { try await Task.sleep(until: due, clock: clock) }
            let submitted = clock.now
            let settled = arrival.at - phases[..<arrival.phase].reduce(0) { $0 + $1.seconds } >= settle
            let admission = pool.trySubmit {
                let wait = submitted.duration(to: clock.now)
                if settled { waits.withLock { $0[arrival.phase].append(Double(wait.nanoseconds) / 1e9) } }
                try await Task.sleep(for: .nanoseconds(Int64(arrival.service * 1e9)))
            }
            #expect(admission.isAccepted)
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        sampling.cancel()
        let (samples, reasons) = await sampling.value

        let counters = report.counters
        #expect(counters.submitted == arrivals.count)
        #expect(counters.completed == arrivals.count)
        let means = waits.withLock { $0.map { $0.reduce(0, +) / Double(max($0.count, 1)) } }
        for (index, mean) in means.enumerated() {
            #expect(mean <= 1.5 * target, "phase \(index) (\(phases[index].rate)/s): mean wait \(mean * 1000) ms")
        }
        // A fixed pool sized for the peak: the fewest workers that keep 400/s under the target.
        let peak = try #require(
            (1...64).first { c in
                (ErlangC.meanWait(servers: c, arrivalRate: 400, meanService: meanService) ?? .infinity) <= target
            })
        let meanWorkers = Double(samples.reduce(0, +)) / Double(max(samples.count, 1))
        print(
            "target-wait step load: mean wait per phase \(means.map { Int(($0 * 1000).rounded()) }) ms (target 50),",
            "mean workers \((meanWorkers * 10).rounded() / 10) against \(peak) for the peak, max \(samples.max() ?? 0)")
        #expect(meanWorkers < Double(peak), "mean workers \(meanWorkers) against \(peak) for the peak")
        // Its decisions say why, in the model's terms.
        #expect(reasons.contains { $0.contains("keeps Wq") })
    }
}
