import Foundation
public import Logging
public import PostgresNIO

/// Where the cluster's database is: parsed from a `postgres://user[:password]@host[:port]/database` URL.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `sslmode=require` in the query string; refused for now, since connections are not encrypted yet.
    public var requiresTLS: Bool

    /// Parses a URL, naming what is wrong when it cannot.
    public init(_ text: String) throws(ClusterError) {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql"
        else {
            throw .invalidArgument("database URL '\(text)' is not of the form postgres://user@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw .invalidArgument("database URL '\(text)' names no host")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw .invalidArgument("database URL '\(text)': port \(port) is out of range") }
        self.host = host
        self.port = port
        self.username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? self.username : path
        self.requiresTLS = components.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } ?? false
        if requiresTLS {
            throw .invalidArgument(
                "database URL '\(description)': sslmode=require is not supported yet (connections are unencrypted; use a tunnel or a private network)"
            )
        }
    }

    /// The URL without the password.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

/// A connection pool to the cluster's database and schema, shared by a process's producers, nodes and
/// tools. Create it with ``connect(_:schema:maximumConnections:migrate:logger:)``; ``close()`` when done.
public final class ClusterDatabase: Sendable {
    public let url: DatabaseURL
    public let schema: ClusterSchema
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    private init(url: DatabaseURL, schema: ClusterSchema, maximumConnections: Int, logger: Logger) {
        self.url = url
        self.schema = schema
        self.logger = logger
        var configuration = url.clientConfiguration
        configuration.options.maximumConnections = maximumConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    /// Connects (failing at once, with host, port and cause, when the server cannot be reached), and
    /// migrates the schema to the latest version unless `migrate` is false.
    public static func connect(
        _ url: DatabaseURL, schema: ClusterSchema = .default, maximumConnections: Int = 8, migrate: Bool = true,
        logger: Logger = Logger(label: "poolscope.cluster")
    ) async throws(ClusterError) -> ClusterDatabase {
        try await checkReachable(url, logger: logger)
        let database = ClusterDatabase(url: url, schema: schema, maximumConnections: maximumConnections, logger: logger)
        if migrate {
            do {
                _ = try await database.migrate()
            } catch {
                await database.close()
                throw error
            }
        }
        return database
    }

    /// One direct connection, so an unreachable server is reported at once rather than retried by the pool.
    private static func checkReachable(_ url: DatabaseURL, logger: Logger) async throws(ClusterError) {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database,
            tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try? await connection.close()
        } catch {
            throw .unreachable(host: url.host, port: url.port, cause: describeDatabaseError(error))
        }
    }

    /// Runs `body` in a transaction on one of the pool's connections: committed when `body` returns,
    /// rolled back when it throws. Enqueue with ``ClusterProducer/enqueue(batch:on:)`` inside it, beside your
    /// own writes, and the jobs exist if and only if the transaction commits.
    public func withTransaction<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withTransaction(logger: logger) { connection in try await body(connection) }
    }

    /// Closes every connection. Queries made afterwards fail.
    public func close() async {
        runner.cancel()
        await runner.value
    }

    // MARK: Migrations

    /// The schema's current version (0 when it does not exist yet).
    public func schemaVersion() async throws(ClusterError) -> Int {
        try await run {
            let exists =
                try await self.client.query(
                    "SELECT to_regclass(\(self.schema.name + ".schema_migrations")) IS NOT NULL"
                ).collect().first?.decode(Bool.self) ?? false
            guard exists else { return 0 }
            let rows = try await self.client.query(
                "SELECT coalesce(max(version), 0) FROM \(unescaped: self.schema.table("schema_migrations"))"
            ).collect()
            return Int(try rows.first?.decode(Int32.self) ?? 0)
        }
    }

    /// Creates or upgrades the schema; returns the versions before and after. Idempotent, and safe when
    /// several processes call it at once (they queue on an advisory lock).
    @discardableResult
    public func migrate() async throws(ClusterError) -> (from: Int, to: Int) {
        let schema = self.schema
        let logger = self.logger
        return try await run {
            try await self.client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(schema.migrationLockKey))", logger: logger)
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema.quoted)", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS \(unescaped: schema.table("schema_migrations")) (
                        version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: logger)
                let rows = try await connection.query(
                    "SELECT coalesce(max(version), 0) FROM \(unescaped: schema.table("schema_migrations"))",
                    logger: logger
                ).collect()
                let current = Int(try rows.first?.decode(Int32.self) ?? 0)
                guard current <= ClusterSchema.latestVersion else {
                    throw ClusterError.schemaTooNew(found: current, supported: ClusterSchema.latestVersion)
                }
                for version in (current + 1)..<(ClusterSchema.latestVersion + 1) {
                    for statement in ClusterSchema.migrations[version - 1](schema) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO \(unescaped: schema.table("schema_migrations")) (version) VALUES (\(Int32(version)))",
                        logger: logger)
                }
                return (from: current, to: ClusterSchema.latestVersion)
            }
        }
    }

    // MARK: Running queries

    /// Runs `body`, turning any error into a ``ClusterError`` with a one-line description.
    func run<T: Sendable>(_ body: () async throws -> T) async throws(ClusterError) -> T {
        do {
            return try await body()
        } catch let error as ClusterError {
            throw error
        } catch {
            if let inner = (error as? PostgresTransactionError)?.closureError as? ClusterError { throw inner }
            if let error = error as? PostgresDecodingError {
                throw .database("unexpected answer from the database: \(String(reflecting: error))")
            }
            if sqlState(of: error) == nil {
                throw .unreachable(host: url.host, port: url.port, cause: describeDatabaseError(error))
            }
            throw .database(describeDatabaseError(error))
        }
    }

    /// Decodes fetched rows, turning a decoding error into a ``ClusterError``.
    func decoding<T>(_ body: () throws -> T) throws(ClusterError) -> T {
        do {
            return try body()
        } catch {
            throw .database("unexpected answer from the database: \(error)")
        }
    }

    /// Runs a query and collects its rows; gives up after ``operationTimeout`` (as if the database were
    /// unreachable), so a caller never hangs on a connection that died without saying so.
    func rows(_ query: PostgresQuery) async throws(ClusterError) -> [PostgresRow] {
        try await bounded { try await self.client.query(query, logger: self.logger).collect() }
    }

    /// Runs `body` like ``run(_:)``, giving up after ``operationTimeout``.
    func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws(ClusterError) -> T {
        let limit = operationTimeout
        let result: Result<T, ClusterError> = await firstOf(
            limit: limit,
            onTimeout: { [url] in
                .failure(.unreachable(host: url.host, port: url.port, cause: "no answer within \(limit)"))
            }
        ) {
            do throws(ClusterError) {
                return .success(try await self.run(body))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// How long one database operation may take before it is abandoned as unanswered: long enough for the
    /// heaviest status query on a large table, short enough that an outage is noticed.
    var operationTimeout: Duration { .seconds(30) }

    /// Runs a statement, ignoring any rows.
    func execute(_ query: PostgresQuery) async throws(ClusterError) {
        _ = try await rows(query)
    }

    /// `schema.table`, quoted, for SQL text.
    func table(_ name: String) -> String { schema.table(name) }
}

extension ClusterDatabase {
    /// Drops the schema and everything in it: for tests and benchmarks, never needed in production.
    public func dropSchema() async throws(ClusterError) {
        try await execute("DROP SCHEMA IF EXISTS \(unescaped: schema.quoted) CASCADE")
    }

    /// Refreshes the planner's statistics of the jobs table (after a bulk load).
    public func analyze() async throws(ClusterError) {
        try await execute("ANALYZE \(unescaped: table("jobs"))")
    }

    /// Seconds from the first claim to the last finish over every job (server clock); nil with none.
    public func processingSpan() async throws(ClusterError) -> Double? {
        let rows = try await rows(
            "SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 FROM \(unescaped: table("jobs"))")
        return try decoding { try rows.first?.decode(Double?.self) }
    }
}
