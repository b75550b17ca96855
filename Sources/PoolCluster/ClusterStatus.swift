public import Foundation
import PostgresNIO

/// The cluster as the database sees it: jobs by state, runs, and nodes. Encodes to the JSON of
/// `poolscope cluster status --json` (the contract in DESIGN.md).
public struct ClusterStatus: Sendable, Codable, Equatable {
    public struct Jobs: Sendable, Codable, Equatable {
        public init() {}
        public var enqueued = 0, available = 0, scheduled = 0, running = 0, completed = 0, discarded = 0, cancelled = 0
        /// `enqueued == completed + discarded + cancelled + available + scheduled + running`.
        public var isBalanced: Bool {
            enqueued == completed + discarded + cancelled + available + scheduled + running
        }
    }

    public struct Runs: Sendable, Codable, Equatable {
        /// Attempts started (attempts handed back unstarted by a stopping node are not counted).
        public var attempts = 0
        /// Attempts that ended in an error, a timeout or an interruption by their node's stop.
        public var failed = 0
        /// Attempts ended by their node being declared dead (the job was made available again or discarded).
        public var rescued = 0
        /// Outcomes reported by a node that no longer owned the attempt: they changed nothing.
        public var staleCompletions = 0

        enum CodingKeys: String, CodingKey {
            case attempts, failed, rescued
            case staleCompletions = "stale_completions"
        }
    }

    public struct Node: Sendable, Codable, Equatable {
        public var id: Int64
        public var name: String
        public var pid: Int
        public var host: String
        /// alive, draining, stopped or dead.
        public var state: String
        public var workers: Int
        public var busy: Int
        public var keyed: Bool
        public var heartbeatAgeSeconds: Double
        public var completed: Int
        public var failed: Int
        public var staleCompletions: Int

        enum CodingKeys: String, CodingKey {
            case id, name, pid, host, state, workers, busy, keyed, completed, failed
            case heartbeatAgeSeconds = "heartbeat_age_s"
            case staleCompletions = "stale_completions"
        }
    }

    public var schemaVersion: Int
    public var jobs: Jobs
    public var runs: Runs
    public var nodes: [Node]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case jobs, runs, nodes
    }
}

/// A discarded (dead-lettered) job with the error of every attempt.
public struct DeadLetter: Sendable, Codable, Equatable {
    public var id: Int64
    public var kind: String
    public var key: String?
    public var attempts: Int
    public var maxAttempts: Int
    /// The attempts' errors as recorded: a JSON array of objects with attempt, node, reason, error, at.
    public var errors: String
    public var finishedAt: Date?
}

extension ClusterDatabase {
    /// Counts by state, runs and nodes, read in one snapshot (a repeatable-read transaction), so the job
    /// counts balance at any moment.
    public func status(includeStoppedNodes: Bool = true) async throws(ClusterError) -> ClusterStatus {
        let jobs = table("jobs")
        let nodes = table("nodes")
        let migrations = table("schema_migrations")
        let logger = self.logger
        return try await run {
            try await client.withConnection { connection in
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                do {
                    let status = try await Self.readStatus(
                        connection, jobs: jobs, nodes: nodes, migrations: migrations, includeStopped: includeStoppedNodes, logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                    return status
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    private static func readStatus(
        _ connection: PostgresConnection, jobs: String, nodes: String, migrations: String, includeStopped: Bool, logger: Logging.Logger
    ) async throws -> ClusterStatus {
        var counts = ClusterStatus.Jobs()
        var runs = ClusterStatus.Runs()
        let stateRows = try await connection.query(
            """
            SELECT state, count(*), coalesce(sum(attempt), 0)::bigint, coalesce(sum(rescues), 0)::bigint,
                   coalesce(sum(CASE WHEN errors = '[]'::jsonb THEN 0 ELSE
                       (SELECT count(*) FROM jsonb_array_elements(errors) e
                        WHERE e->>'reason' IN ('failed', 'timed_out', 'interrupted')) END), 0)::bigint
            FROM \(unescaped: jobs) GROUP BY state
            """, logger: logger
        ).collect()
        for row in stateRows {
            let (state, count, attempts, rescues, failures) = try row.decode((String, Int64, Int64, Int64, Int64).self)
            let n = Int(count)
            counts.enqueued += n
            runs.attempts += Int(attempts)
            runs.rescued += Int(rescues)
            runs.failed += Int(failures)
            switch state {
            case "available": counts.available = n
            case "scheduled": counts.scheduled = n
            case "running": counts.running = n
            case "completed": counts.completed = n
            case "discarded": counts.discarded = n
            case "cancelled": counts.cancelled = n
            default: break
            }
        }
        let nodeRows = try await connection.query(
            """
            SELECT id, name, pid, host, state, workers, busy, keyed,
                   extract(epoch FROM clock_timestamp() - heartbeat_at)::float8, completed, failed, stale_completions
            FROM \(unescaped: nodes)
            WHERE \(unescaped: includeStopped ? "true" : "state IN ('alive', 'draining')")
            ORDER BY id
            """, logger: logger
        ).collect()
        var list: [ClusterStatus.Node] = []
        for row in nodeRows {
            let (id, name, pid, host, state, workers, busy, keyed, age, completed, failed, stale) = try row.decode(
                (Int64, String, Int32, String, String, Int32, Int32, Bool, Double, Int64, Int64, Int64).self)
            runs.staleCompletions += Int(stale)
            list.append(
                ClusterStatus.Node(
                    id: id, name: name, pid: Int(pid), host: host, state: state, workers: Int(workers), busy: Int(busy),
                    keyed: keyed, heartbeatAgeSeconds: (age * 10).rounded() / 10, completed: Int(completed),
                    failed: Int(failed), staleCompletions: Int(stale)))
        }
        let version =
            try await connection.query(
                "SELECT coalesce(max(version), 0) FROM \(unescaped: migrations)",
                logger: logger
            ).collect().first?.decode(Int32.self) ?? 0
        return ClusterStatus(schemaVersion: Int(version), jobs: counts, runs: runs, nodes: list)
    }

    /// Discarded jobs, newest first.
    public func deadLetters(limit: Int = 100) async throws(ClusterError) -> [DeadLetter] {
        let rows = try await rows(
            """
            SELECT id, kind, key, attempt, max_attempts, errors::text, finished_at FROM \(unescaped: table("jobs"))
            WHERE state = 'discarded' ORDER BY id DESC LIMIT \(Int64(max(1, limit)))
            """)
        return try decoding {
            try rows.map { row in
                let (id, kind, key, attempts, maxAttempts, errors, finished) = try row.decode(
                    (Int64, String, String?, Int32, Int32, String, Date?).self)
                return DeadLetter(
                    id: id, kind: kind, key: key, attempts: Int(attempts), maxAttempts: Int(maxAttempts), errors: errors,
                    finishedAt: finished)
            }
        }
    }

    /// Makes discarded jobs available again with a fresh set of attempts: `max_attempts` grows by its
    /// original value, and the attempts already spent and their errors are kept, so the run counts stay true.
    /// `ids == nil` retries every dead letter. Returns how many were retried.
    /// Returns the ids retried.
    @discardableResult
    public func retryDeadLetters(ids: [Int64]?) async throws(ClusterError) -> [Int64] {
        let jobs = table("jobs")
        let everything = ids == nil
        let rows = try await rows(
            """
            WITH retried AS (
                UPDATE \(unescaped: jobs) SET state = 'available', max_attempts = attempt + max_attempts, run_at = clock_timestamp(),
                    finished_at = NULL, node_id = NULL, token = NULL
                WHERE state = 'discarded' AND (\(everything) OR id = ANY(\(ids ?? [])))
                RETURNING id
            ), notified AS (SELECT pg_notify(\(schema.channel), '') AS n)
            SELECT retried.id FROM retried CROSS JOIN notified ORDER BY retried.id
            """)
        return try decoding { try rows.map { try $0.decode(Int64.self) } }
    }
}

/// End-to-end latency (enqueue to finish) of jobs completed recently.
public struct RecentLatency: Sendable, Equatable {
    /// p50, p99 and max in milliseconds; nil when no job finished in the window.
    public var summary: (p50: Double, p99: Double, max: Double)? {
        values.count == 3 ? (values[0], values[1], values[2]) : nil
    }
    var values: [Double]
    /// Counts by power of two: bucket 0 under 1 ms, bucket i in [2^(i-1), 2^i) ms.
    public var buckets: [Int]
}

extension ClusterDatabase {
    /// Latency of the jobs completed within `window` (a scan of the jobs table: meant for a view refreshed
    /// about once a second, not for a hot path).
    public func recentLatency(window: Duration) async throws(ClusterError) -> RecentLatency {
        let jobs = table("jobs")
        let rows = try await rows(
            """
            WITH recent AS (
                SELECT extract(epoch FROM finished_at - enqueued_at)::float8 * 1000 AS ms FROM \(unescaped: jobs)
                WHERE state = 'completed' AND finished_at > clock_timestamp() - \(window.seconds) * interval '1 second'
            )
            SELECT CASE WHEN ms < 1 THEN 0 ELSE least(floor(log(2, ms::numeric))::int + 1, 40) END AS bucket, count(*),
                   (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM recent),
                   (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM recent),
                   (SELECT max(ms) FROM recent)
            FROM recent GROUP BY 1 ORDER BY 1
            """)
        return try decoding {
            var buckets: [Int] = []
            var values: [Double] = []
            for row in rows {
                let (bucket, count, p50, p99, maximum) = try row.decode((Int32, Int64, Double?, Double?, Double?).self)
                let index = Int(max(bucket, 0))
                if buckets.count <= index { buckets += Array(repeating: 0, count: index + 1 - buckets.count) }
                buckets[index] = Int(count)
                if values.isEmpty, let p50, let p99, let maximum { values = [p50, p99, maximum] }
            }
            return RecentLatency(values: values, buckets: buckets)
        }
    }
}

/// The jobs of one producer's run (an id range): counts by state and latencies.
public struct RunSummary: Sendable, Codable, Equatable {
    public var jobs: ClusterStatus.Jobs
    /// Attempts started, and rescues, over the range.
    public var attempts: Int
    public var rescued: Int
    /// Milliseconds: enqueue to first start (queue wait) and enqueue to finish (end to end), completed jobs.
    public var queueWaitMs: Percentiles?
    public var endToEndMs: Percentiles?

    public struct Percentiles: Sendable, Codable, Equatable {
        public var mean: Double, p50: Double, p90: Double, p99: Double, max: Double
    }

    public init(jobs: ClusterStatus.Jobs = ClusterStatus.Jobs(), attempts: Int = 0, rescued: Int = 0) {
        self.jobs = jobs
        self.attempts = attempts
        self.rescued = rescued
    }

    enum CodingKeys: String, CodingKey {
        case jobs, attempts, rescued
        case queueWaitMs = "queue_wait_ms"
        case endToEndMs = "end_to_end_ms"
    }
}

extension ClusterDatabase {
    /// Counts and latencies of the jobs with ids in `ids`.
    public func summary(ids: ClosedRange<Int64>) async throws(ClusterError) -> RunSummary {
        let jobs = table("jobs")
        let counts = try await rows(
            """
            SELECT state, count(*), coalesce(sum(attempt), 0)::bigint, coalesce(sum(rescues), 0)::bigint
            FROM \(unescaped: jobs) WHERE id BETWEEN \(ids.lowerBound) AND \(ids.upperBound) GROUP BY state
            """)
        let latencies = try await rows(
            """
            WITH done AS (
                SELECT extract(epoch FROM started_at - enqueued_at)::float8 * 1000 AS wait,
                       extract(epoch FROM finished_at - enqueued_at)::float8 * 1000 AS total
                FROM \(unescaped: jobs) WHERE id BETWEEN \(ids.lowerBound) AND \(ids.upperBound) AND state = 'completed'
            )
            SELECT avg(wait), percentile_cont(0.5) WITHIN GROUP (ORDER BY wait),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY wait), percentile_cont(0.99) WITHIN GROUP (ORDER BY wait), max(wait),
                   avg(total), percentile_cont(0.5) WITHIN GROUP (ORDER BY total),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY total), percentile_cont(0.99) WITHIN GROUP (ORDER BY total), max(total)
            FROM done
            """)
        return try decoding {
            var summary = RunSummary(jobs: ClusterStatus.Jobs(), attempts: 0, rescued: 0)
            for row in counts {
                let (state, count, attempts, rescues) = try row.decode((String, Int64, Int64, Int64).self)
                summary.jobs.enqueued += Int(count)
                summary.attempts += Int(attempts)
                summary.rescued += Int(rescues)
                switch state {
                case "available": summary.jobs.available = Int(count)
                case "scheduled": summary.jobs.scheduled = Int(count)
                case "running": summary.jobs.running = Int(count)
                case "completed": summary.jobs.completed = Int(count)
                case "discarded": summary.jobs.discarded = Int(count)
                case "cancelled": summary.jobs.cancelled = Int(count)
                default: break
                }
            }
            if let row = latencies.first {
                let v = try row.decode((Double?, Double?, Double?, Double?, Double?, Double?, Double?, Double?, Double?, Double?).self)
                func round(_ x: Double?) -> Double { ((x ?? 0) * 1000).rounded() / 1000 }
                if v.0 != nil {
                    summary.queueWaitMs = .init(mean: round(v.0), p50: round(v.1), p90: round(v.2), p99: round(v.3), max: round(v.4))
                    summary.endToEndMs = .init(mean: round(v.5), p50: round(v.6), p90: round(v.7), p99: round(v.8), max: round(v.9))
                }
            }
            return summary
        }
    }
}

extension ClusterDatabase {
    /// Whether any job is still available, scheduled or running: cheap (partial indexes), for polling.
    public func hasOpenJobs() async throws(ClusterError) -> Bool {
        let jobs = table("jobs")
        let rows = try await rows(
            """
            SELECT EXISTS (SELECT 1 FROM \(unescaped: jobs) WHERE state = 'available' AND key IS NULL)
                OR EXISTS (SELECT 1 FROM \(unescaped: jobs) WHERE state = 'available' AND key IS NOT NULL)
                OR EXISTS (SELECT 1 FROM \(unescaped: jobs) WHERE state = 'running')
                OR EXISTS (SELECT 1 FROM \(unescaped: jobs) WHERE state = 'scheduled')
            """)
        return try decoding { try rows.first?.decode(Bool.self) ?? false }
    }
}
