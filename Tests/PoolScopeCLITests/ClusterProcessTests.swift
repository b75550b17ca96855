import Foundation
import Logging
import Testing

@testable import PoolCluster

/// A `poolscope node` child process, its output in a file.
final class NodeProcess {
    let name: String
    let process = Process()
    let log: URL

    init(_ name: String, url: String, schema: String, extra: [String] = []) throws {
        self.name = name
        log = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-node-\(name)-\(UUID().uuidString.prefix(6)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = poolscopeBinary
        process.arguments =
            [
                "node", "--database", url, "--schema", schema, "--name", name, "--heartbeat", "200ms", "--rescue-horizon", "10s",
            ] + extra
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func kill(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    /// Waits for the process to end (bounded); returns its exit status, or nil if it did not end in time.
    func waitForExit(upTo timeout: Duration = .seconds(30)) async -> Int32? {
        let end = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: log)
    }
}

enum ClusterTestServer {
    static let url = ProcessInfo.processInfo.environment["POOLSCOPE_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static var isAvailable: Bool {
        if url == nil {
            FileHandle.standardError.write(Data("SKIPPED: cluster process tests (POOLSCOPE_TEST_DATABASE_URL is not set)\n".utf8))
        }
        return url != nil
    }

    static func fresh(_ label: String, url: String) async throws -> ClusterDatabase {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let schema = try ClusterSchema("p_\(label)_\(String(UInt32.random(in: 0...UInt32.max), radix: 36))")
        return try await ClusterDatabase.connect(DatabaseURL(url), schema: schema, maximumConnections: 4, logger: logger)
    }

    static func drop(_ database: ClusterDatabase) async {
        try? await database.execute("DROP SCHEMA IF EXISTS \(unescaped: database.schema.quoted) CASCADE")
        await database.close()
    }

    static func simulated(_ count: Int, service: Duration, keys: Int = 0) throws -> [NewClusterJob] {
        try (0..<count).map { index in
            try NewClusterJob(
                SimulatedJob.kind, SimulatedJob.Payload(serviceMicroseconds: Int(service / .microseconds(1))),
                options: EnqueueOptions(key: keys > 0 ? "k\(index % keys)" : nil))
        }
    }
}

/// Polls until `condition` holds or `timeout` passes.
func until(_ timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

@Suite(
    "Cluster nodes as processes against a real PostgreSQL", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: ClusterTestServer.isAvailable, "skipped: POOLSCOPE_TEST_DATABASE_URL is not set (.ci/run starts PostgreSQL)"))
struct ClusterProcessTests {
    @Test(
        "three nodes, 20,000 jobs, one killed with SIGKILL and one stopped gracefully: nothing lost; only the killed node's running jobs ran twice, as many as the rescues recorded"
    )
    func killAndStop() async throws {
        let url = try #require(ClusterTestServer.url)
        let database = try await ClusterTestServer.fresh("kill", url: url)
        defer { Task { await ClusterTestServer.drop(database) } }
        let schema = database.schema.name
        try await ClusterProducer(database: database).enqueue(batch: ClusterTestServer.simulated(20_000, service: .milliseconds(2)))
        let nodes = try ["alpha", "beta", "gamma"].map { try NodeProcess($0, url: url, schema: schema, extra: ["--workers", "8"]) }
        #expect(try await until(.seconds(60)) { try await database.status().jobs.completed >= 4_000 }, "no progress:\n\(nodes[0].output)")
        nodes[0].kill(SIGKILL)
        #expect(try await until(.seconds(60)) { try await database.status().jobs.completed >= 8_000 })
        nodes[1].kill(SIGTERM)
        let graceful = await nodes[1].waitForExit()
        #expect(graceful == 0, "the gracefully stopped node exits 0:\n\(nodes[1].output)")
        #expect(try await until(.seconds(120)) { try await database.status().jobs.completed == 20_000 }, "\(nodes[2].output)")
        nodes[2].kill(SIGTERM)
        #expect(await nodes[2].waitForExit() == 0)

        let status = try await database.status()
        #expect(status.jobs.isBalanced && status.jobs.enqueued == 20_000 && status.jobs.completed == 20_000)
        #expect(status.jobs.discarded == 0 && status.runs.failed == 0)
        #expect(status.runs.rescued > 0, "the killed node was running jobs")
        let jobs = database.table("jobs")
        let rows = try await database.rows(
            """
            SELECT count(*) FILTER (WHERE attempt > 1),
                   count(*) FILTER (WHERE attempt > 1 AND rescues = 0),
                   coalesce(sum(attempt - 1), 0)::bigint,
                   count(*) FILTER (WHERE rescues > 0 AND NOT (errors @> '[{"node": "alpha", "reason": "rescued"}]'))
            FROM \(unescaped: jobs)
            """)
        let (ranTwice, twiceWithoutRescue, extraRuns, rescuedElsewhere) = try #require(rows.first).decode((Int64, Int64, Int64, Int64).self)
        #expect(ranTwice == Int64(status.runs.rescued), "jobs that ran more than once == rescues recorded")
        #expect(extraRuns == Int64(status.runs.rescued))
        #expect(twiceWithoutRescue == 0 && rescuedElsewhere == 0, "only the killed node's jobs were rescued")
        #expect(status.runs.attempts == 20_000 + status.runs.rescued)
        let states = Dictionary(uniqueKeysWithValues: status.nodes.map { ($0.name, $0.state) })
        #expect(states == ["alpha": "dead", "beta": "stopped", "gamma": "stopped"])
    }

    @Test("keyed: 200 keys x 50 jobs while nodes join and leave: one attempt of a key at a time, first attempts in enqueue order")
    func keyedJoinLeave() async throws {
        let url = try #require(ClusterTestServer.url)
        let database = try await ClusterTestServer.fresh("keyed", url: url)
        defer { Task { await ClusterTestServer.drop(database) } }
        let schema = database.schema.name
        try await ClusterProducer(database: database).enqueue(
            batch: ClusterTestServer.simulated(10_000, service: .milliseconds(1), keys: 200))
        var nodes = try ["k1", "k2"].map { try NodeProcess($0, url: url, schema: schema, extra: ["--workers", "8", "--keyed"]) }
        #expect(try await until(.seconds(60)) { try await database.status().jobs.completed >= 2_000 })
        nodes.append(try NodeProcess("k3", url: url, schema: schema, extra: ["--workers", "8", "--keyed"]))
        #expect(try await until(.seconds(60)) { try await database.status().jobs.completed >= 4_500 })
        nodes[0].kill(SIGTERM)
        #expect(await nodes[0].waitForExit() == 0)
        nodes.append(try NodeProcess("k4", url: url, schema: schema, extra: ["--workers", "8", "--keyed"]))
        #expect(try await until(.seconds(60)) { try await database.status().jobs.completed >= 7_000 })
        nodes[1].kill(SIGTERM)
        #expect(await nodes[1].waitForExit() == 0)
        #expect(try await until(.seconds(120)) { try await database.status().jobs.completed == 10_000 }, "\(nodes[3].output)")
        for node in nodes.dropFirst(2) { node.kill(SIGTERM) }
        for node in nodes.dropFirst(2) { #expect(await node.waitForExit() == 0) }

        let rows = try await database.rows(
            """
            SELECT key, id, attempt, extract(epoch FROM ran_from)::float8, extract(epoch FROM ran_until)::float8
            FROM \(unescaped: database.table("jobs")) ORDER BY key, id
            """)
        var byKey: [String: [(id: Int64, from: Double, until: Double)]] = [:]
        for row in rows {
            let (key, id, attempt, from, until) = try row.decode((String, Int64, Int32, Double, Double).self)
            #expect(attempt == 1, "job \(id) ran \(attempt) times with no failure or death")
            byKey[key, default: []].append((id, from, until))
        }
        #expect(byKey.count == 200 && byKey.values.allSatisfy { $0.count == 50 })
        var overlaps = 0
        var outOfOrder = 0
        for runs in byKey.values {
            for (earlier, later) in zip(runs, runs.dropFirst()) {
                if later.from < earlier.until { overlaps += 1 }
                if later.from < earlier.from { outOfOrder += 1 }
            }
        }
        #expect(overlaps == 0, "attempts of one key overlapped")
        #expect(outOfOrder == 0, "first attempts ran out of enqueue order")
        let status = try await database.status()
        #expect(status.jobs.isBalanced && status.runs.rescued == 0)
    }

    @Test("the server restarted mid-run: nodes say the database is unreachable, resume, and nothing is lost")
    func serverRestart() async throws {
        let server = try await EmbeddedPostgres.start()
        defer { server.stop() }
        let database = try await ClusterTestServer.fresh("restart", url: server.url)
        defer { Task { await database.close() } }
        let schema = database.schema.name
        try await ClusterProducer(database: database).enqueue(batch: ClusterTestServer.simulated(5_000, service: .milliseconds(4)))
        let nodes = try ["r1", "r2"].map {
            try NodeProcess($0, url: server.url, schema: schema, extra: ["--workers", "8", "--rescue-horizon", "30s"])
        }
        #expect(await until(.seconds(60)) { ((try? await database.status().jobs.completed) ?? 0) >= 1_500 })
        try server.restart()
        let finished = await until(.seconds(120)) { ((try? await database.status().jobs.completed) ?? 0) == 5_000 }
        if !finished {
            // What each node said and what the database holds: this failed once in CI after a restart.
            let status = try? await database.status()
            let said = nodes.map { "--- \($0.name):\n\($0.output)" }.joined(separator: "\n")
            Issue.record("not every job completed after the restart; status: \(String(describing: status))\n\(said)")
        }
        for node in nodes { node.kill(SIGTERM) }
        for node in nodes { #expect(await node.waitForExit() == 0, "\(node.output)") }
        let status = try await database.status()
        #expect(status.jobs.isBalanced && status.jobs.completed == 5_000 && status.jobs.discarded == 0)
        let outputs = nodes.map(\.output).joined()
        #expect(outputs.contains("database unreachable since"), "\(outputs)")
        #expect(outputs.contains("database reachable again"))
    }

    @Test(
        "run --cluster drives a scenario into the queue and waits for the nodes; with no node it says so at once; SIGINT prints the partial summary, exit 130"
    )
    func runIntoCluster() async throws {
        let url = try #require(ClusterTestServer.url)
        let database = try await ClusterTestServer.fresh("run", url: url)
        defer { Task { await ClusterTestServer.drop(database) } }
        let schema = database.schema.name
        let lonely = try runPoolscope(["run", "burst", "--cluster", url, "--schema", schema, "--duration", "1s", "--drain-timeout", "1s"])
        #expect(lonely.status == 1)
        #expect(lonely.error.contains("no live node in cluster \(schema): the jobs will wait"), "\(lonely.error)")
        let node = try NodeProcess("runner", url: url, schema: schema, extra: ["--workers", "16"])
        #expect(try await until(.seconds(30)) { try await database.status().nodes.contains { $0.state == "alive" } })
        let result = try runPoolscope(["run", "burst", "--cluster", url, "--schema", schema, "--duration", "2s", "--json"])
        #expect(result.status == 0, "\(result.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let summary = try #require(object["summary"] as? [String: Any])
        let jobs = try #require(summary["jobs"] as? [String: Int])
        #expect(object["drained"] as? Bool == true && object["balanced"] as? Bool == true)
        #expect((jobs["enqueued"] ?? 0) > 100 && jobs["completed"] == jobs["enqueued"], "\(jobs)")
        #expect((object["warnings"] as? [String])?.isEmpty == true, "burst's timeline only shapes arrivals")

        let (status, data) = try await runPoolscope(
            ["run", "burst", "--cluster", url, "--schema", schema, "--duration", "20s", "--json"], signal: SIGINT, after: .seconds(2))
        #expect(status == 130)
        let partial = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(partial["interrupted"] as? Bool == true)
        node.kill(SIGTERM)
        #expect(await node.waitForExit() == 0)
    }

    @Test(
        "dead letters from the command line: listed with each attempt's error, retried by id; an id that is not a dead letter is an error")
    func deadLettersCommand() async throws {
        let url = try #require(ClusterTestServer.url)
        let database = try await ClusterTestServer.fresh("dead", url: url)
        defer { Task { await ClusterTestServer.drop(database) } }
        let schema = database.schema.name
        let enqueue = try runPoolscope([
            "cluster", "enqueue", "--database", url, "--schema", schema, "--count", "3", "--service", "0", "--fail-rate", "1",
            "--max-attempts", "2",
        ])
        #expect(enqueue.status == 0, "\(enqueue.error)")
        let node = try NodeProcess("doomed", url: url, schema: schema, extra: ["--workers", "2"])
        #expect(try await until(.seconds(60)) { try await database.status().jobs.discarded == 3 })
        let listed = try runPoolscope(["cluster", "dead-letters", "--database", url, "--schema", schema, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any])
        let letters = try #require(object["dead_letters"] as? [[String: Any]])
        #expect(letters.count == 3 && object["total"] as? Int == 3)
        let errors = try #require(letters.first?["errors"] as? [[String: Any]])
        #expect(errors.count == 2 && (errors.first?["error"] as? String)?.contains("simulated failure (attempt 1)") == true)
        let id = try #require(letters.first?["id"] as? Int)
        let retried = try runPoolscope(["cluster", "dead-letters", "--database", url, "--schema", schema, "--retry", "\(id)"])
        #expect(retried.status == 0 && retried.output.contains("retried 1 dead letter(s): \(id)"))
        let missing = try runPoolscope(["cluster", "dead-letters", "--database", url, "--schema", schema, "--retry", "999999"])
        #expect(missing.status == 1 && missing.error.contains("not dead letters (no such job, or not discarded): 999999"))
        #expect(try await until(.seconds(60)) { try await database.status().runs.attempts == 8 }, "the retried job got two more attempts")
        node.kill(SIGTERM)
        #expect(await node.waitForExit() == 0)
    }

    @Test("an unreachable database: exit 1 and one line naming host, port and cause")
    func unreachable() throws {
        for arguments in [["node"], ["cluster", "status"], ["cluster", "enqueue", "--count", "1"]] {
            let result = try runPoolscope(arguments + ["--database", "postgres://postgres@127.0.0.1:1/none"])
            #expect(result.status == 1)
            let lines = result.error.split(separator: "\n")
            #expect(lines.count == 1, "\(result.error)")
            #expect(result.error.contains("cannot reach PostgreSQL at 127.0.0.1:1: connection refused"), "\(result.error)")
        }
        let missing = try runPoolscope(["cluster", "status"], environment: ["DATABASE_URL": ""])
        #expect(missing.status == 2 && missing.error.contains("no database"))
    }
}
