import Foundation
import PostgresNIO

/// What can go wrong in the cluster, each with a message fit to print as one line.
public enum ClusterError: Error, CustomStringConvertible, Sendable {
    /// A URL, schema name, option or payload the caller gave was not acceptable.
    case invalidArgument(String)
    /// The database could not be reached: host, port and the cause.
    case unreachable(host: String, port: Int, cause: String)
    /// The database answered with an error.
    case database(String)
    /// The schema is newer than this build understands.
    case schemaTooNew(found: Int, supported: Int)

    public var description: String {
        switch self {
        case .invalidArgument(let message): message
        case .unreachable(let host, let port, let cause): "cannot reach PostgreSQL at \(host):\(port): \(cause)"
        case .database(let message): "database error: \(message)"
        case .schemaTooNew(let found, let supported):
            "the cluster schema is at version \(found), newer than this build supports (\(supported)); upgrade poolscope"
        }
    }
}

/// A one-line account of an error from postgres-nio or the connection pool, without the query text.
func describeDatabaseError(_ error: any Error) -> String {
    if let error = error as? ClusterError { return error.description }
    if let error = error as? PSQLError {
        if let info = error.serverInfo {
            let message = info[.message] ?? "server error"
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        }
        if let underlying = error.underlying { return describeUnderlying(underlying) }
        return "\(error.code)"
    }
    if let error = error as? PostgresTransactionError {
        if let inner = error.closureError { return describeDatabaseError(inner) }
        if let inner = error.beginError { return describeDatabaseError(inner) }
        if let inner = error.commitError { return describeDatabaseError(inner) }
        return "transaction failed"
    }
    return describeUnderlying(error)
}

private func describeUnderlying(_ error: any Error) -> String {
    let text = String(describing: error)
    if text.contains("connectionCreationCircuitBreakerTripped") { return "connections keep failing (server down?)" }
    if text.contains("Connection refused") || text.contains("connectionRefused") || text.contains("ECONNREFUSED") {
        return "connection refused"
    }
    if text.contains("connectTimeout") || text.contains("timed out") { return "connection timed out" }
    if let range = text.range(of: "description: \"") {
        let rest = text[range.upperBound...]
        if let end = rest.firstIndex(of: "\"") { return String(rest[..<end]) }
    }
    return text.count > 200 ? String(text.prefix(200)) + "…" : text
}

/// The SQLSTATE of a server error, if it is one.
func sqlState(of error: any Error) -> String? {
    if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
    if let error = error as? PostgresTransactionError, let inner = error.closureError ?? error.commitError {
        return sqlState(of: inner)
    }
    return nil
}
