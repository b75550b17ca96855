/// The cluster's tables, created and upgraded by versioned, idempotent migrations inside a PostgreSQL schema
/// of the user's choosing, so several clusters can share one database.
///
/// Migrations run in one transaction under a transaction-level advisory lock, so nodes started together
/// never race to create the same tables; each applied version is recorded in `schema_migrations`.
public struct ClusterSchema: Sendable, Hashable, CustomStringConvertible {
    /// The schema's name, validated as a plain lower-case SQL identifier (so it can be quoted safely).
    public let name: String

    /// The default schema, `poolscope`.
    public static let `default` = ClusterSchema(validated: "poolscope")

    /// The latest version the migrations below reach.
    public static var latestVersion: Int { migrations.count }

    /// Validates a schema name: 1 to 48 characters of `a-z`, `0-9` and `_`, starting with a letter or `_`.
    public init(_ name: String) throws(ClusterError) {
        let valid =
            !name.isEmpty && name.count <= 48
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            && !(name.unicodeScalars.first.map { ("0"..."9").contains($0) } ?? true)
        guard valid else {
            throw ClusterError.invalidArgument(
                "schema name '\(name)' is not a plain identifier (1-48 of a-z, 0-9, _; not starting with a digit)")
        }
        // The cluster's tables (jobs, nodes, ...) must not land among an application's own or PostgreSQL's.
        guard name != "public", name != "information_schema", !name.hasPrefix("pg_") else {
            throw ClusterError.invalidArgument(
                "schema name '\(name)' is reserved (PostgreSQL's, or shared with the application's own tables); choose a schema of the cluster's own, such as 'poolscope'"
            )
        }
        self.name = name
    }

    private init(validated name: String) { self.name = name }

    public var description: String { name }

    /// The quoted schema, for use in SQL text (the name was validated, so quoting is enough).
    var quoted: String { "\"\(name)\"" }

    /// `schema.table`, quoted.
    func table(_ table: String) -> String { "\(quoted).\(table)" }

    /// The LISTEN/NOTIFY channel woken on enqueue.
    var channel: String { "\(name)_jobs" }

    /// The advisory-lock key of the rescuer (one node at a time per schema).
    var rescuerLockKey: Int64 { Int64(bitPattern: stableHash("rescuer:" + name)) }
    /// The advisory-lock key that serialises migrations of this schema.
    var migrationLockKey: Int64 { Int64(bitPattern: stableHash("migrate:" + name)) }

    /// The migrations, in order: version `i + 1` is `migrations[i]`. Never edit one that has shipped; add one.
    static let migrations: [@Sendable (ClusterSchema) -> [String]] = [
        { schema in
            let s = schema.quoted
            return [
                """
                CREATE TABLE \(s).nodes (
                    id bigserial PRIMARY KEY,
                    name text NOT NULL,
                    host text NOT NULL,
                    pid integer NOT NULL,
                    workers integer NOT NULL,
                    keyed boolean NOT NULL DEFAULT false,
                    state text NOT NULL DEFAULT 'alive'
                        CHECK (state IN ('alive', 'draining', 'stopped', 'dead')),
                    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    stopped_at timestamptz,
                    busy integer NOT NULL DEFAULT 0,
                    completed bigint NOT NULL DEFAULT 0,
                    failed bigint NOT NULL DEFAULT 0,
                    stale_completions bigint NOT NULL DEFAULT 0,
                    handed_back bigint NOT NULL DEFAULT 0,
                    note text
                )
                """,
                """
                CREATE TABLE \(s).jobs (
                    id bigserial PRIMARY KEY,
                    kind text NOT NULL,
                    key text,
                    key_slot integer,
                    priority integer NOT NULL DEFAULT 0,
                    payload jsonb NOT NULL,
                    state text NOT NULL DEFAULT 'available'
                        CHECK (state IN ('available', 'scheduled', 'running', 'completed', 'discarded', 'cancelled')),
                    attempt integer NOT NULL DEFAULT 0,
                    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
                    errors jsonb NOT NULL DEFAULT '[]'::jsonb,
                    rescues integer NOT NULL DEFAULT 0,
                    timeout_ms bigint,
                    run_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    node_id bigint,
                    token bigint,
                    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    started_at timestamptz,
                    finished_at timestamptz,
                    ran_from timestamptz,
                    ran_until timestamptz
                )
                """,
                "CREATE SEQUENCE \(s).tokens",
                "CREATE INDEX jobs_claim ON \(s).jobs (priority DESC, id) WHERE state = 'available' AND key IS NULL",
                "CREATE INDEX jobs_claim_keyed ON \(s).jobs (key_slot, key, id) WHERE state = 'available' AND key IS NOT NULL",
                "CREATE INDEX jobs_scheduled ON \(s).jobs (run_at) WHERE state = 'scheduled'",
                "CREATE INDEX jobs_running_node ON \(s).jobs (node_id) WHERE state = 'running'",
                "CREATE INDEX jobs_discarded ON \(s).jobs (id) WHERE state = 'discarded'",
                // The database, not convention, keeps two attempts of one key from running at once anywhere.
                "CREATE UNIQUE INDEX jobs_one_running_attempt_per_key ON \(s).jobs (key) WHERE state = 'running' AND key IS NOT NULL",
            ]
        }
    ]
}

/// FNV-1a, 64 bits: stable across processes (unlike `Hasher`).
func stableHash(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
}
