import Foundation
import Logging
import Testing

@testable import PoolCluster

/// The test server, from `POOLSCOPE_TEST_DATABASE_URL` (set by .ci/run). Without it the suites that need
/// PostgreSQL are skipped, and say so.
enum TestDatabase {
    static let urlText: String? = {
        let value = ProcessInfo.processInfo.environment["POOLSCOPE_TEST_DATABASE_URL"]
        if value == nil || value?.isEmpty == true {
            FileHandle.standardError.write(
                Data(
                    "SKIPPED: PostgreSQL tests (POOLSCOPE_TEST_DATABASE_URL is not set; .ci/run starts a server and sets it)\n".utf8))
            return nil
        }
        return value
    }()

    static var isAvailable: Bool { urlText != nil }

    static let skipNote: Comment = "skipped: POOLSCOPE_TEST_DATABASE_URL is not set (run .ci/run, which starts PostgreSQL)"

    /// Connects to a fresh schema of its own, so tests never see each other's jobs.
    static func fresh(_ label: String = #function) async throws -> ClusterDatabase {
        let text = try #require(urlText)
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let name = "t_" + label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20) + "_" + suffix
        var logger = Logger(label: "test")
        logger.logLevel = .error
        return try await ClusterDatabase.connect(
            DatabaseURL(text), schema: ClusterSchema(name), maximumConnections: 8, logger: logger)
    }

    /// Drops the test's schema and closes the pool.
    static func drop(_ database: ClusterDatabase) async {
        try? await database.execute("DROP SCHEMA IF EXISTS \(unescaped: database.schema.quoted) CASCADE")
        await database.close()
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// A quiet logger for nodes under test.
let testLogger: Logger = {
    var logger = Logger(label: "node-test")
    logger.logLevel = .critical
    return logger
}()

/// A node configuration with short intervals, for tests.
func testNodeConfiguration(_ name: String, workers: Int = 4, keyed: Bool = false) -> NodeConfiguration {
    var configuration = NodeConfiguration(name: name)
    configuration.workers = workers
    configuration.keyed = keyed
    configuration.heartbeatInterval = .milliseconds(200)
    // 150 heartbeats: the loaded 2-core CI starved a node's heartbeat past 2 s twice and past 5 s once (other
    // suites of this process held the cooperative threads; the node was declared dead mid-test and its jobs
    // rescued), which the tests that want no rescue cannot tell from a bug. Rescue itself is tested directly.
    configuration.rescueHorizon = .seconds(30)
    configuration.pollInterval = .milliseconds(100)
    configuration.retryBackoff = .init(maxAttempts: 1, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50))
    configuration.drainDeadline = .seconds(5)
    return configuration
}
