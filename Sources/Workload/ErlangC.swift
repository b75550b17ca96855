public import PoolEngine

/// The M/M/c queue applied to scenarios (the formulas are the engine's ``ErlangC``).
extension ErlangC {
    /// The M/M/c model of a scenario, when Erlang C applies to it: a stationary Poisson/exponential sleep
    /// workload with no failures, on a fixed-size pool with no limiter or breaker, and a timeline of captions
    /// only. Shared by the headless summary and the dashboard.
    public struct Model: Sendable, Equatable, Codable {
        public var servers: Int
        public var arrivalRate: Double
        public var meanService: Duration
        /// The predicted mean queue wait, in seconds.
        public var predictedMeanWait: Double
    }

    public static func model(of scenario: Scenario) -> Model? {
        guard case .poisson(let rate) = scenario.workload.arrivals, case .exponential(let mean) = scenario.workload.service,
            scenario.workload.kind == .sleep, scenario.workload.failureRate == 0,
            scenario.pool.minWorkers == scenario.pool.maxWorkers, scenario.pool.rateLimit == nil,
            scenario.pool.circuitBreaker == nil,
            scenario.timeline.allSatisfy({ if case .caption = $0.action { true } else { false } }),
            let predicted = meanWait(servers: scenario.pool.maxWorkers, arrivalRate: rate, meanService: mean.seconds)
        else { return nil }
        return Model(servers: scenario.pool.maxWorkers, arrivalRate: rate, meanService: mean, predictedMeanWait: predicted)
    }
}
