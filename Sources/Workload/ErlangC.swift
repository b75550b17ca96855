/// Queueing theory for a fixed pool fed by Poisson arrivals with exponential service: the M/M/c queue.
public enum ErlangC {
    /// The M/M/c model of a scenario, when Erlang C applies to it: a stationary Poisson/exponential sleep
    /// workload with no failures, on a fixed-size pool with no limiter or breaker, and a timeline of captions
    /// only. Shared by the headless summary and the dashboard.
    public struct Model: Sendable, Equatable {
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

    /// The probability that an arriving job has to wait (Erlang's C formula), for `servers` workers and
    /// offered load `load` = arrival rate × mean service time (in erlangs). `nil` when the pool is
    /// overloaded (load ≥ servers), where no steady state exists.
    public static func probabilityOfWaiting(servers: Int, load: Double) -> Double? {
        guard servers > 0, load >= 0, load < Double(servers) else { return nil }
        // Erlang B by its stable recurrence, then C from B.
        var blocking = 1.0
        for k in 1...servers { blocking = load * blocking / (Double(k) + load * blocking) }
        let utilisation = load / Double(servers)
        return blocking / (1 - utilisation * (1 - blocking))
    }

    /// The mean time a job waits in the queue, in seconds: C / (c·μ − λ).
    public static func meanWait(servers: Int, arrivalRate: Double, meanService: Double) -> Double? {
        guard meanService > 0 else { return nil }
        let load = arrivalRate * meanService
        guard let waiting = probabilityOfWaiting(servers: servers, load: load) else { return nil }
        return waiting / (Double(servers) / meanService - arrivalRate)
    }
}
