import Foundation
import Logging
import PostgresNIO

/// A job a node has claimed: one attempt, fenced by `token`.
struct ClaimedJob: Sendable {
    let id: Int64
    let kind: String
    let key: String?
    let payload: String
    let attempt: Int
    let maxAttempts: Int
    let token: Int64
    let timeout: Duration?
}

/// How one attempt ended, as the completer writes it.
struct AttemptOutcome: Sendable {
    enum Result: Int32 {
        case completed = 0
        case failed = 1
        case timedOut = 2
        case interrupted = 3
    }
    let id: Int64
    let token: Int64
    let result: Result
    let error: String
    /// Seconds to wait before the next attempt, when there is one.
    let backoff: Double
    /// When the handler started and ended (seconds since 1970, this machine's clock).
    let ranFrom: Double
    let ranUntil: Double
}

/// What a rescue pass did.
struct RescueResult: Sendable {
    var deadNodes: [String] = []
    var rescuedJobs = 0
}

/// The statements a node runs. Every one is a single round trip.
extension ClusterDatabase {
    func registerNode(name: String, host: String, pid: Int, workers: Int, keyed: Bool) async throws(ClusterError) -> Int64 {
        let rows = try await rows(
            """
            INSERT INTO \(unescaped: table("nodes")) (name, host, pid, workers, keyed)
            VALUES (\(name), \(host), \(Int32(clamping: pid)), \(Int32(clamping: workers)), \(keyed)) RETURNING id
            """)
        return try decoding { try rows.first?.decode(Int64.self) ?? -1 }
    }

    /// Records a heartbeat; returns the node's state as the cluster sees it ("dead" if it was declared dead).
    func heartbeat(node: Int64, busy: Int, draining: Bool) async throws(ClusterError) -> String {
        let rows = try await rows(
            """
            UPDATE \(unescaped: table("nodes")) SET heartbeat_at = clock_timestamp(), busy = \(Int32(clamping: busy)),
                state = CASE WHEN state IN ('dead', 'stopped') THEN state WHEN \(draining) THEN 'draining' ELSE 'alive' END
            WHERE id = \(node) RETURNING state
            """)
        return try decoding { try rows.first?.decode(String.self) ?? "dead" }
    }

    func setNodeState(_ node: Int64, _ state: String) async throws(ClusterError) {
        try await execute(
            """
            UPDATE \(unescaped: table("nodes")) SET state = \(state), busy = 0,
                stopped_at = CASE WHEN \(state) = 'stopped' THEN clock_timestamp() END
            WHERE id = \(node) AND state <> 'dead'
            """)
    }

    /// Live keyed nodes in joining order: the list key ownership is computed over.
    func liveKeyedNodes() async throws(ClusterError) -> [Int64] {
        let rows = try await rows(
            "SELECT id FROM \(unescaped: table("nodes")) WHERE state = 'alive' AND keyed ORDER BY id")
        return try decoding { try rows.map { try $0.decode(Int64.self) } }
    }

    /// Claims up to `limit` due jobs without a key, highest priority first, then oldest.
    func claimUnkeyed(node: Int64, limit: Int) async throws(ClusterError) -> [ClaimedJob] {
        let jobs = table("jobs")
        return try await claimed(
            """
            WITH picked AS (
                SELECT id FROM \(unescaped: jobs)
                WHERE state = 'available' AND key IS NULL
                ORDER BY priority DESC, id
                LIMIT \(Int64(limit))
                FOR UPDATE SKIP LOCKED
            )
            UPDATE \(unescaped: jobs) j SET state = 'running', attempt = j.attempt + 1, node_id = \(node),
                token = (SELECT nextval('\(unescaped: schema.quoted).tokens')), started_at = clock_timestamp()
            FROM picked WHERE j.id = picked.id
            RETURNING j.id, j.kind, j.key, j.payload::text, j.attempt, j.max_attempts, j.token, j.timeout_ms
            """)
    }

    /// Claims, for keys in `slots` that have no running attempt anywhere, each key's oldest due job.
    /// The unique index over running keys backs this up: two attempts of a key can never both be running.
    func claimKeyed(node: Int64, slots: [Int32], limit: Int) async throws(ClusterError) -> [ClaimedJob] {
        guard !slots.isEmpty else { return [] }
        let jobs = table("jobs")
        return try await claimed(
            """
            WITH heads AS (
                SELECT DISTINCT ON (key) id, key FROM \(unescaped: jobs)
                WHERE state = 'available' AND key IS NOT NULL AND key_slot = ANY(\(slots))
                ORDER BY key, id
            ), free AS (
                SELECT h.id FROM heads h
                WHERE NOT EXISTS (SELECT 1 FROM \(unescaped: jobs) r WHERE r.key = h.key AND r.state = 'running')
                ORDER BY h.id LIMIT \(Int64(limit))
            ), picked AS (
                SELECT j.id FROM \(unescaped: jobs) j JOIN free ON j.id = free.id
                WHERE j.state = 'available'
                FOR UPDATE OF j SKIP LOCKED
            )
            UPDATE \(unescaped: jobs) j SET state = 'running', attempt = j.attempt + 1, node_id = \(node),
                token = (SELECT nextval('\(unescaped: schema.quoted).tokens')), started_at = clock_timestamp()
            FROM picked WHERE j.id = picked.id
            RETURNING j.id, j.kind, j.key, j.payload::text, j.attempt, j.max_attempts, j.token, j.timeout_ms
            """)
    }

    private func claimed(_ query: PostgresQuery) async throws(ClusterError) -> [ClaimedJob] {
        let rows = try await rows(query)
        return try decoding {
            try rows.map { row in
                let (id, kind, key, payload, attempt, maxAttempts, token, timeout) = try row.decode(
                    (Int64, String, String?, String, Int32, Int32, Int64, Int64?).self)
                return ClaimedJob(
                    id: id, kind: kind, key: key, payload: payload, attempt: Int(attempt), maxAttempts: Int(maxAttempts),
                    token: token, timeout: timeout.map { .milliseconds($0) })
            }
        }
    }

    /// Makes due scheduled jobs (delayed, or waiting out a retry backoff) available; returns how many.
    func promoteScheduled(limit: Int = 5_000) async throws(ClusterError) -> Int {
        let jobs = table("jobs")
        let rows = try await rows(
            """
            WITH due AS (
                SELECT id FROM \(unescaped: jobs) WHERE state = 'scheduled' AND run_at <= clock_timestamp()
                ORDER BY run_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
            ), promoted AS (
                UPDATE \(unescaped: jobs) j SET state = 'available' FROM due WHERE j.id = due.id RETURNING j.id
            )
            SELECT count(*) FROM promoted
            """)
        return try decoding { Int(try rows.first?.decode(Int64.self) ?? 0) }
    }

    /// Writes many outcomes in one statement. Each is fenced by its attempt's token: an outcome for an
    /// attempt the node no longer owns changes nothing and is counted as a stale completion on the node.
    /// Returns how many outcomes were stale.
    func complete(_ outcomes: [AttemptOutcome], node: Int64, nodeName: String) async throws(ClusterError) -> Int {
        guard !outcomes.isEmpty else { return 0 }
        let jobs = table("jobs")
        let nodes = table("nodes")
        let ids = outcomes.map(\.id)
        let tokens = outcomes.map(\.token)
        let results = outcomes.map(\.result.rawValue)
        let errors = outcomes.map(\.error)
        let backoffs = outcomes.map(\.backoff)
        let froms = outcomes.map(\.ranFrom)
        let untils = outcomes.map(\.ranUntil)
        let rows = try await rows(
            """
            WITH o AS (
                SELECT * FROM unnest(\(ids), \(tokens), \(results), \(errors), \(backoffs), \(froms), \(untils))
                    AS o(id, token, result, error, backoff, ran_from, ran_until)
            ), done AS (
                UPDATE \(unescaped: jobs) j SET
                    state = CASE WHEN o.result = 0 THEN 'completed'
                                 WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'scheduled' END,
                    finished_at = CASE WHEN o.result = 0 OR j.attempt >= j.max_attempts THEN clock_timestamp() END,
                    run_at = CASE WHEN o.result <> 0 AND j.attempt < j.max_attempts
                                  THEN clock_timestamp() + o.backoff * interval '1 second' ELSE j.run_at END,
                    ran_from = to_timestamp(o.ran_from), ran_until = to_timestamp(o.ran_until),
                    errors = CASE WHEN o.result = 0 THEN j.errors ELSE j.errors || jsonb_build_array(jsonb_build_object(
                        'attempt', j.attempt, 'node', \(nodeName),
                        'reason', CASE o.result WHEN 1 THEN 'failed' WHEN 2 THEN 'timed_out' ELSE 'interrupted' END,
                        'error', o.error, 'ran_from', to_timestamp(o.ran_from), 'ran_until', to_timestamp(o.ran_until),
                        'at', clock_timestamp())) END
                FROM o WHERE j.id = o.id AND j.token = o.token AND j.state = 'running'
                RETURNING o.result
            ), counts AS (
                SELECT count(*) FILTER (WHERE result = 0) AS completed, count(*) FILTER (WHERE result <> 0) AS failed,
                       count(*) AS applied FROM done
            ), noted AS (
                UPDATE \(unescaped: nodes) n SET completed = n.completed + counts.completed,
                    failed = n.failed + counts.failed,
                    stale_completions = n.stale_completions + (\(Int64(outcomes.count)) - counts.applied)
                FROM counts WHERE n.id = \(node)
                RETURNING 1
            )
            SELECT \(Int64(outcomes.count)) - applied FROM counts LEFT JOIN noted ON true
            """)
        return try decoding { Int(try rows.first?.decode(Int64.self) ?? 0) }
    }

    /// Gives back claimed jobs that never started: available again, with the attempt not charged.
    func handBack(_ jobs: [ClaimedJob], node: Int64) async throws(ClusterError) -> Int {
        guard !jobs.isEmpty else { return 0 }
        let table = table("jobs")
        let rows = try await rows(
            """
            WITH back AS (
                UPDATE \(unescaped: table) j SET state = 'available', attempt = j.attempt - 1, node_id = NULL,
                    token = NULL, started_at = NULL
                FROM unnest(\(jobs.map(\.id)), \(jobs.map(\.token))) AS b(id, token)
                WHERE j.id = b.id AND j.token = b.token AND j.state = 'running'
                RETURNING j.id
            ), noted AS (
                UPDATE \(unescaped: self.table("nodes")) SET handed_back = handed_back + (SELECT count(*) FROM back)
                WHERE id = \(node) RETURNING 1
            ), notified AS (SELECT pg_notify(\(schema.channel), '') AS n)
            SELECT count(*) FROM back CROSS JOIN notified
            """)
        return try decoding { Int(try rows.first?.decode(Int64.self) ?? 0) }
    }

    /// One rescuer at a time (a transaction-level advisory lock): declares dead every node whose heartbeat is
    /// older than `horizon`, and makes the jobs running on dead nodes available again (the attempt counted,
    /// the reason recorded), or discards them when that was their last attempt.
    func rescue(horizon: Duration) async throws(ClusterError) -> RescueResult {
        let jobs = table("jobs")
        let nodes = table("nodes")
        let lock = schema.rescuerLockKey
        let seconds = horizon.seconds
        let logger = self.logger
        let client = self.client
        let channel = schema.channel
        return try await bounded {
            try await client.withTransaction(logger: logger) { connection in
                let locked =
                    try await connection.query("SELECT pg_try_advisory_xact_lock(\(lock))", logger: logger)
                    .collect().first?.decode(Bool.self) ?? false
                guard locked else { return RescueResult() }
                let dead = try await connection.query(
                    """
                    UPDATE \(unescaped: nodes) SET state = 'dead', busy = 0,
                        note = 'no heartbeat for ' || round(extract(epoch FROM clock_timestamp() - heartbeat_at)::numeric, 1) || ' s'
                    WHERE state IN ('alive', 'draining') AND heartbeat_at < clock_timestamp() - \(seconds) * interval '1 second'
                    RETURNING name
                    """, logger: logger
                ).collect().map { try $0.decode(String.self) }
                let rescued =
                    try await connection.query(
                        """
                        WITH r AS (
                            UPDATE \(unescaped: jobs) j SET
                                state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END,
                                finished_at = CASE WHEN j.attempt >= j.max_attempts THEN clock_timestamp() END,
                                rescues = j.rescues + 1, token = NULL,
                                errors = j.errors || jsonb_build_array(jsonb_build_object(
                                    'attempt', j.attempt, 'node', n.name, 'reason', 'rescued',
                                    'error', 'node ' || n.name || ' declared dead (' || coalesce(n.note, n.state) || ')',
                                    'at', clock_timestamp()))
                            FROM \(unescaped: nodes) n
                            WHERE j.state = 'running' AND j.node_id = n.id AND n.state IN ('dead', 'stopped')
                            RETURNING j.id
                        ), notified AS (SELECT pg_notify(\(channel), '') AS n)
                        SELECT count(*) FROM r CROSS JOIN notified
                        """, logger: logger
                    ).collect().first?.decode(Int64.self) ?? 0
                return RescueResult(deadNodes: dead, rescuedJobs: Int(rescued))
            }
        }
    }
}
