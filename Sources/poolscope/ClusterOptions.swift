import ArgumentParser
import Foundation
import Logging
import PoolCluster
import PoolEngine
import Workload

/// `--database` and `--schema`, shared by every cluster command.
struct ClusterConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The cluster's database: postgres://user@host:port/database (default: $DATABASE_URL).", valueName: "url"))
    var database: String?

    @Option(help: "The PostgreSQL schema holding the cluster's tables (several clusters can share a database).")
    var schema: String = "poolscope"

    /// ` --schema NAME` when not the default, for hints that name a command.
    var schemaArgument: String { schema == "poolscope" ? "" : " --schema \(schema)" }

    /// The database URL given, or DATABASE_URL, or a usage error (exit 2).
    func resolvedURL() -> DatabaseURL {
        guard let text = database ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !text.isEmpty else {
            printError("poolscope: no database: pass --database postgres://user@host:port/database or set DATABASE_URL")
            terminate(2)
        }
        do {
            return try DatabaseURL(text)
        } catch {
            printError("poolscope: \(error)")
            terminate(2)
        }
    }

    func resolvedSchema() -> ClusterSchema {
        do {
            return try ClusterSchema(schema)
        } catch {
            printError("poolscope: --schema: \(error)")
            terminate(2)
        }
    }

    /// Connects and migrates, or ends the process with one line naming host, port and cause (exit 1).
    func connect(maximumConnections: Int = 4, logger: Logger = quietLogger) async -> ClusterDatabase {
        let url = resolvedURL()
        do {
            return try await ClusterDatabase.connect(
                url, schema: resolvedSchema(), maximumConnections: maximumConnections, logger: logger)
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
    }
}

/// A logger that only reports errors (postgres-nio's background chatter stays quiet).
let quietLogger: Logger = {
    var logger = Logger(label: "poolscope.cluster") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .error
    return logger
}()

/// A logger to standard error at `level`.
func standardErrorLogger(_ label: String, level: Logger.Level) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}

/// Parses a duration option like `1ms`, `250us` or `10s`, or fails validation naming the option.
func parseDuration(_ text: String, option: String) throws -> Duration {
    if text == "0" { return .zero }
    guard let value = Workload.Units.duration(text), value >= .zero else {
        throw ValidationError("\(option) must be a duration like 1ms, 250us or 10s, got '\(text)'")
    }
    return value
}

/// Waits for SIGTERM or SIGINT (the caller's graceful stop), keeping the sources alive while it waits.
///
/// `@unchecked Sendable`: every stored property is a `let` set in `init`; the stream and its continuation are
/// Sendable, and the Dispatch sources are only retained here (Dispatch objects are safe to use from any
/// thread, and nothing calls them after `init`).
final class StopSignal: @unchecked Sendable {
    private let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]
    private let continuation: AsyncStream<Int32>.Continuation

    init() {
        let (stream, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(4))
        self.stream = stream
        self.continuation = continuation
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// The next signal's number.
    func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }
}

/// The database URL given, or a throwaway PostgreSQL started for this command (exit 1 with the reason
/// when it cannot start; the caller stops the server).
func databaseOrThrowawayServer(_ given: String?, announce: String) async -> (url: String, server: EmbeddedPostgres?) {
    if let given { return (given, nil) }
    do {
        writeStandardError(announce + "\r\n")
        let server = try await EmbeddedPostgres.start()
        return (server.url, server)
    } catch {
        printError("poolscope: \(error)")
        terminate(1)
    }
}

/// This poolscope executable, to start `poolscope node` children with.
let poolscopeExecutable = URL(
    fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])

/// SIGINT or SIGTERM ending a headless command early: remembers which arrived, tells the command
/// (`then`), and ends the process with the contract's exit code once the command has printed what it has.
final class Interruption: Sendable {
    private let received = Locked<Int32?>(nil)
    private let watcher: Task<Void, Never>

    init(then onSignal: @escaping @Sendable () -> Void = {}) {
        let stop = StopSignal()
        let received = self.received
        watcher = Task.detached {
            let number = await stop.next()
            received.withLock { $0 = number }
            onSignal()
        }
    }

    deinit { watcher.cancel() }

    /// Whether a signal has arrived.
    var happened: Bool { received.withLock { $0 } != nil }

    /// After a signal: says so, with what became of the work, and exits 130 (SIGINT) or 143 (SIGTERM).
    func exitIfInterrupted(_ outcome: String) {
        guard let number = received.withLock({ $0 }) else { return }
        printError("poolscope: interrupted by \(number == SIGINT ? "SIGINT" : "SIGTERM"); \(outcome)")
        terminate(128 + number)
    }
}
