import PoolEngine

extension Scenario {
    /// The scenario `poolscope` shows with no arguments: steady load with a burst every 20 seconds, so a
    /// new user sees the pool scale up and back down within a minute.
    public static var builtInDemo: Scenario {
        var pool = PoolConfiguration()
        pool.name = "built-in demo"
        pool.minWorkers = 2
        pool.maxWorkers = 32
        pool.queueCapacity = 10_000
        pool.scaleUpThreshold = 8
        pool.idleTimeout = .seconds(4)
        pool.cooldown = .milliseconds(500)
        pool.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(20))
        return Scenario(
            name: "built-in demo",
            description: "Steady load with a burst every 20 s: the pool doubles under the burst and idles back down.",
            seed: 42, duration: .seconds(3_600), pool: pool,
            workload: WorkloadSpec(
                arrivals: .bursts(rate: 60, size: 400, every: .seconds(20)), service: .exponential(mean: .milliseconds(30)),
                failureRate: 0.01),
            timeline: [
                TimelineEntry(
                    at: .zero,
                    action: .caption("Steady load, and a burst every 20 s: watch the queue jump and the pool double. Press ? for keys.")),
                TimelineEntry(
                    at: .seconds(30),
                    action: .caption("Press b for a burst of your own, + or - to move the scale-up threshold, s to drain and stop.")),
            ])
    }
}
