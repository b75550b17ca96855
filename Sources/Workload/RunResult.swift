public import PoolEngine

/// The machine-readable summary of a run: the JSON contract of `poolscope run --json` (DESIGN.md).
/// Fields may be added; none of the contract's fields may change meaning.
public struct RunResult: Codable, Sendable, Equatable {
    public var scenario: String
    public var seed: UInt64
    /// Scenario time from the pool's start to the end of its shutdown (wall time, unless run with `--speed`).
    public var durationS: Double
    public var jobs: JobCounters
    public var latencyMs: Latencies
    public var throughput: ThroughputResult
    public var workers: WorkerCounts
    public var scaleEvents: [ScaleEvent]
    /// Present when Erlang C applies: a stationary Poisson/exponential workload on a fixed-size pool.
    public var theory: Theory?
    /// Extra: whether submitted == completed + failed + rejected + cancelled.
    public var balanced: Bool
    /// Extra: the queue strategy.
    public var strategy: String
    /// Extra: jobs dead-lettered.
    public var deadLetters: Int
    /// Extra: the captions shown, with when.
    public var captions: [Caption]
    /// Extra: timeline actions the pool refused (for example a min above the max), with why.
    public var warnings: [String]
    /// Extra: `true` when the run was ended early by SIGINT or SIGTERM (the summary covers what ran); absent
    /// otherwise.
    public var interrupted: Bool? = nil
    /// Present when the scenario has priorities (the contract's `by_priority`): per level.
    public var byPriority: [String: PriorityResult]? = nil
    /// Extra: the scenario's claims (written beside its captions) and whether the run bore them out.
    public var claims: [ClaimResult]? = nil
    /// Extra: what ran, to run it again (`poolscope run --from RESULT.json`): the scenario as YAML after its
    /// overrides, its seed, and the shortened duration when `--duration` compressed it.
    public var resolvedScenario: ResolvedScenario? = nil

    public struct ResolvedScenario: Codable, Sendable, Equatable {
        public var yaml: String
        public var seed: UInt64
        public var compressedToS: Double?

        public init(yaml: String, seed: UInt64, compressedToS: Double?) {
            self.yaml = yaml
            self.seed = seed
            self.compressedToS = compressedToS
        }
    }

    public struct PriorityResult: Codable, Sendable, Equatable {
        public var submitted: Int
        public var completed: Int
        public var queueWaitMs: Wait

        public struct Wait: Codable, Sendable, Equatable {
            public var mean: Double, p50: Double, p99: Double, max: Double
        }
    }

    public struct Latencies: Codable, Sendable, Equatable {
        public var queueWait: LatencySummary
        public var service: LatencySummary
        public var endToEnd: LatencySummary
    }

    public struct ThroughputResult: Codable, Sendable, Equatable {
        public var meanPerS: Double
        public var peakPerS: Double
    }

    public struct WorkerCounts: Codable, Sendable, Equatable {
        public var minSeen: Int
        public var maxSeen: Int
        /// Workers just before the final shutdown.
        public var final: Int
        /// The time-average of workers while the pool ran (sampled every 100 ms of scenario time); `nil`
        /// in results written before it was kept.
        public var meanSeen: Double? = nil
    }

    public struct ScaleEvent: Codable, Sendable, Equatable {
        public var tS: Double
        public var from: Int
        public var to: Int
        public var reason: String
    }

    public struct Theory: Codable, Sendable, Equatable {
        public var model: String
        /// Erlang C's mean queue wait for the scenario's nominal rate, service mean and pool size.
        public var predictedMeanWaitMs: Double
        public var measuredMeanWaitMs: Double
        /// Extra: the inputs, and the prediction redone with the service mean actually measured
        /// (sleeps overshoot a little, which raises the load).
        public var servers: Int
        public var arrivalRatePerS: Double
        public var meanServiceMs: Double
        public var utilisation: Double
        public var measuredMeanServiceMs: Double
        public var predictedWithMeasuredServiceMs: Double?
    }

    public struct Caption: Codable, Sendable, Equatable {
        public var tS: Double
        public var text: String
    }
}

/// One second of a run, a row of `--csv`.
public struct SecondRow: Sendable, Equatable {
    public var t: Double
    public var workers: Int
    public var queueDepth: Int
    public var inFlight: Int
    public var completedPerS: Int
    public var failedPerS: Int
    /// End-to-end latency of the jobs that completed in this second, in milliseconds.
    public var p50Ms: Double
    public var p99Ms: Double
    /// Jobs rejected in this second (overflow, rate limit, breaker, shutdown).
    public var rejectedPerS: Int = 0
    /// Jobs offered in this second; those not rejected were admitted.
    public var arrivalsPerS: Int = 0
    /// The counts so far.
    public var totals = JobCounters()
    /// Keyed pools: the percentage of known keys that changed worker at the last resize.
    public var keysMovedPercent: Double? = nil

    /// The first eight columns are the contract's; later ones are added at the end, never moved.
    public static let csvHeader =
        "t_s,workers,queue_depth,in_flight,completed_per_s,failed_per_s,p50_ms,p99_ms,arrivals_per_s,admitted_per_s,rejected_per_s"

    public var csvLine: String {
        "\(rounded(t)),\(workers),\(queueDepth),\(inFlight),\(completedPerS),\(failedPerS),\(rounded(p50Ms)),\(rounded(p99Ms)),"
            + "\(arrivalsPerS),\(max(arrivalsPerS - rejectedPerS, 0)),\(rejectedPerS)"
    }
}

/// A number with at most three decimals, for tables and CSV.
func rounded(_ value: Double) -> Double { (value * 1_000).rounded() / 1_000 }
