import Testing

@testable import PoolEngine

@Suite("The scaling decision, on a virtual clock")
struct ScalingPolicyTests {
    let settings = ScalingSettings(
        minWorkers: 2, maxWorkers: 16, scaleUpThreshold: 50, growth: .double,
        idleTimeout: .seconds(30), cooldown: .seconds(5))

    func at(_ seconds: Int) -> PoolInstant { PoolInstant(nanoseconds: Int64(seconds) * 1_000_000_000) }

    func busy(_ count: Int, from first: Int = 1) -> [ScalingInput.Worker] {
        (first..<first + count).map { ScalingInput.Worker(id: WorkerID($0), idleSince: nil) }
    }

    @Test("a queue over the threshold doubles the workers and says why")
    func doubling() {
        let input = ScalingInput(now: at(100), pending: 240, workers: busy(4), lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 8, reason: "queue 240 > 4 workers x 50"))
    }

    @Test("a queue exactly at the threshold holds")
    func atThreshold() {
        let input = ScalingInput(now: at(100), pending: 200, workers: busy(4), lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .hold)
    }

    @Test("doubling is capped at the maximum, and at the maximum the pool holds")
    func capAtMax() {
        var input = ScalingInput(now: at(100), pending: 10_000, workers: busy(12), lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 16, reason: "queue 10000 > 12 workers x 50"))
        input.workers = busy(16)
        #expect(ScalingPolicy.decide(input) == .hold)
    }

    @Test("growth by a fixed step adds that many, capped")
    func additiveGrowth() {
        var settings = settings
        settings.growth = .add(3)
        let input = ScalingInput(now: at(100), pending: 1_000, workers: busy(4), lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 7, reason: "queue 1000 > 4 workers x 50"))
        #expect(Growth.add(3).next(from: 15, max: 16) == 16)
        #expect(Growth.double.next(from: 0, max: 16) == 1)
    }

    @Test("no decision inside the cooldown; the next one right after it")
    func cooldown() {
        var input = ScalingInput(
            now: at(104), pending: 1_000, workers: busy(4), lastScaledAt: at(100), settings: settings)
        #expect(ScalingPolicy.decide(input) == .hold)
        input.now = at(105)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 8, reason: "queue 1000 > 4 workers x 50"))
    }

    @Test("idle workers retire after the idle timeout, longest idle first, never below min")
    func idleScaleDown() {
        let workers = [
            ScalingInput.Worker(id: WorkerID(1), idleSince: at(10)),
            ScalingInput.Worker(id: WorkerID(2), idleSince: at(0)),
            ScalingInput.Worker(id: WorkerID(3), idleSince: at(5)),
            ScalingInput.Worker(id: WorkerID(4), idleSince: at(20)),
        ]
        var input = ScalingInput(now: at(29), pending: 0, workers: workers, lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .hold, "nobody has idled 30s yet")
        input.now = at(40)
        #expect(
            ScalingPolicy.decide(input)
                == .scaleDown(retire: [WorkerID(2), WorkerID(3)], to: 2, reason: "2 workers idle >= 30s"))
    }

    @Test("idle workers are kept while the rest would be over the threshold")
    func idleKeptUnderLoad() {
        let workers = busy(2) + [ScalingInput.Worker(id: WorkerID(9), idleSince: at(0))]
        let input = ScalingInput(now: at(100), pending: 120, workers: workers, lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .hold)
    }

    @Test("below min and above max are corrected at once, even inside the cooldown")
    func limitsIgnoreCooldown() {
        var input = ScalingInput(now: at(101), pending: 0, workers: busy(1), lastScaledAt: at(100), settings: settings)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 2, reason: "1 workers < min 2"))
        var tighter = settings
        tighter.maxWorkers = 3
        input.settings = tighter
        input.workers = busy(4) + [ScalingInput.Worker(id: WorkerID(7), idleSince: at(50))]
        #expect(
            ScalingPolicy.decide(input)
                == .scaleDown(retire: [WorkerID(7), WorkerID(4)], to: 3, reason: "5 workers > max 3"))
    }

    @Test("a lower threshold turns the same queue into a scale-up")
    func thresholdChange() {
        var input = ScalingInput(now: at(100), pending: 100, workers: busy(4), lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .hold)
        input.settings.scaleUpThreshold = 10
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 8, reason: "queue 100 > 4 workers x 10"))
    }

    @Test("a pool at zero workers starts one for the first job")
    func fromZero() {
        var settings = settings
        settings.minWorkers = 0
        let input = ScalingInput(now: at(1), pending: 1, workers: [], lastScaledAt: nil, settings: settings)
        #expect(ScalingPolicy.decide(input) == .scaleUp(to: 1, reason: "queue 1 > 0 workers x 50"))
    }
}
