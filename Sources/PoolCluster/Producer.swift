public import Foundation
import PoolEngine
public import PostgresNIO

/// How one job is to be run: its key, priority, when, how many attempts and how long each may take.
public struct EnqueueOptions: Sendable, Equatable {
    /// Jobs with the same key run one at a time across the whole cluster, in enqueue order (first attempts),
    /// on the keyed node that owns the key. `nil` (or empty) means no key.
    public var key: String?
    /// Higher runs sooner among jobs that are due.
    public var priority: Int
    /// How long after enqueueing the job becomes due; `nil` means at once.
    public var delay: Duration?
    /// How many attempts before the job is discarded (dead-lettered). At least 1.
    public var maxAttempts: Int
    /// The longest one attempt may run before it is cancelled and counted as timed out.
    public var timeout: Duration?

    public init(
        key: String? = nil, priority: Int = 0, delay: Duration? = nil, maxAttempts: Int = 3, timeout: Duration? = nil
    ) {
        self.key = key
        self.priority = priority
        self.delay = delay
        self.maxAttempts = maxAttempts
        self.timeout = timeout
    }

    /// Options for a job due at `date` (by this machine's clock).
    public static func runAt(_ date: Date, key: String? = nil, priority: Int = 0, maxAttempts: Int = 3) -> EnqueueOptions {
        let seconds = max(0, date.timeIntervalSinceNow)
        return EnqueueOptions(
            key: key, priority: priority, delay: .nanoseconds(Int64(seconds * 1e9)), maxAttempts: maxAttempts)
    }
}

/// A job ready to be enqueued: kind, encoded payload and options. Build it with
/// ``init(_:_:options:)``, which encodes the payload.
public struct NewClusterJob: Sendable {
    public let kind: String
    /// The payload as JSON text.
    public let payload: String
    public let options: EnqueueOptions

    /// Encodes `payload` for `kind`.
    public init<Payload>(_ kind: ClusterJobKind<Payload>, _ payload: Payload, options: EnqueueOptions = EnqueueOptions())
        throws(ClusterError)
    {
        let data: Data
        do {
            data = try JSONEncoder().encode(payload)
        } catch {
            throw .invalidArgument("the payload of a '\(kind.name)' job does not encode as JSON: \(error)")
        }
        self.init(kind: kind.name, payloadJSON: String(decoding: data, as: UTF8.self), options: options)
    }

    /// A job whose payload is already JSON text (for tools; the text must be valid JSON).
    public init(kind: String, payloadJSON: String, options: EnqueueOptions = EnqueueOptions()) {
        self.kind = kind
        self.payload = payloadJSON
        self.options = options
    }
}

/// Puts jobs into the cluster's durable queue. Cheap to create; share the ``ClusterDatabase``.
public struct ClusterProducer: Sendable {
    public let database: ClusterDatabase

    public init(database: ClusterDatabase) { self.database = database }

    /// Enqueues one job; returns its id.
    @discardableResult
    public func enqueue<Payload>(
        _ kind: ClusterJobKind<Payload>, _ payload: Payload, options: EnqueueOptions = EnqueueOptions()
    ) async throws(ClusterError) -> Int64 {
        let ids = try await enqueue(batch: [NewClusterJob(kind, payload, options: options)])
        guard let id = ids.first else { throw .database("the insert returned no id") }
        return id
    }

    /// Enqueues many jobs in one statement (one round trip), in order; returns their ids in the same order.
    @discardableResult
    public func enqueue(batch jobs: [NewClusterJob]) async throws(ClusterError) -> [Int64] {
        guard !jobs.isEmpty else { return [] }
        let query = try Self.insertQuery(jobs, schema: database.schema)
        let rows = try await database.rows(query)
        return try decodeIDs(rows)
    }

    /// Enqueues jobs on a connection the caller holds, typically inside the caller's own transaction, so the
    /// jobs exist if and only if that transaction commits (nodes are notified at commit).
    @discardableResult
    public func enqueue(batch jobs: [NewClusterJob], on connection: PostgresConnection) async throws(ClusterError)
        -> [Int64]
    {
        guard !jobs.isEmpty else { return [] }
        let query = try Self.insertQuery(jobs, schema: database.schema)
        let rows = try await database.run {
            try await connection.query(query, logger: database.logger).collect()
        }
        return try decodeIDs(rows)
    }

    private func decodeIDs(_ rows: [PostgresRow]) throws(ClusterError) -> [Int64] {
        do {
            return try rows.map { try $0.decode(Int64.self) }
        } catch {
            throw .database("unexpected answer to an insert: \(error)")
        }
    }

    /// Number of key slots: keys map to a slot by a stable hash, slots to keyed nodes by jump consistent hash.
    public static let keySlots = 1024

    /// The slot of a key.
    public static func slot(ofKey key: String) -> Int32 { Int32(stableHash(key) % UInt64(keySlots)) }

    static func insertQuery(_ jobs: [NewClusterJob], schema: ClusterSchema) throws(ClusterError) -> PostgresQuery {
        var kinds: [String] = []
        var keys: [String] = []
        var slots: [Int32] = []
        var priorities: [Int32] = []
        var payloads: [String] = []
        var maxAttempts: [Int32] = []
        var timeouts: [Int64] = []
        var delays: [Double] = []
        for job in jobs {
            let options = job.options
            guard options.maxAttempts >= 1, options.maxAttempts <= Int(Int32.max) else {
                throw .invalidArgument("max attempts must be at least 1, got \(options.maxAttempts)")
            }
            guard !job.kind.isEmpty else { throw .invalidArgument("a job's kind must not be empty") }
            let key = options.key ?? ""
            kinds.append(job.kind)
            keys.append(key)
            slots.append(key.isEmpty ? -1 : slot(ofKey: key))
            priorities.append(Int32(clamping: options.priority))
            payloads.append(job.payload)
            maxAttempts.append(Int32(options.maxAttempts))
            timeouts.append(options.timeout.map { max(1, $0.milliseconds) } ?? 0)
            delays.append(options.delay.map { max(0, $0.seconds) } ?? 0)
        }
        let jobsTable = schema.table("jobs")
        return """
            WITH inserted AS (
                INSERT INTO \(unescaped: jobsTable)
                    (kind, key, key_slot, priority, payload, state, max_attempts, timeout_ms, run_at)
                SELECT t.kind, nullif(t.key, ''), nullif(t.slot, -1), t.priority, t.payload::jsonb,
                       CASE WHEN t.delay > 0 THEN 'scheduled' ELSE 'available' END,
                       t.max_attempts, nullif(t.timeout, 0), clock_timestamp() + t.delay * interval '1 second'
                FROM unnest(\(kinds), \(keys), \(slots), \(priorities), \(payloads), \(maxAttempts), \(timeouts), \(delays))
                    WITH ORDINALITY AS t(kind, key, slot, priority, payload, max_attempts, timeout, delay, ord)
                ORDER BY t.ord
                RETURNING id
            ), notified AS (SELECT pg_notify(\(schema.channel), '') AS n)
            SELECT inserted.id FROM inserted CROSS JOIN notified ORDER BY inserted.id
            """
    }
}

extension Duration {
    /// Whole milliseconds, rounded down (saturating).
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
