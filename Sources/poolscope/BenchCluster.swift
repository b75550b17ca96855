import ArgumentParser
import Foundation
import PoolCluster

struct BenchCluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "The cluster's throughput on PostgreSQL, side by side with pgqueuer on the same server.",
        discussion: """
            Enqueues --jobs no-op jobs in one batched call (the enqueue rate), runs ANALYZE, then times the \
            burn-down with 1 and 2 'poolscope node' processes, from the first claim to the last completion \
            (server clock). Then the same on the same server with pgqueuer 1.6.0 (bench/pgqueuer/peer.py; \
            install it with 'python3 -m pip install -r bench/pgqueuer/requirements.txt'): 1 consumer at its \
            default batch of 10, and 2 consumers at batch 100. With no --database, a throwaway PostgreSQL is \
            started and removed. Results: BENCHMARKS.md.
            """)

    @Option(help: "Jobs per run.")
    var jobs: Int = 100_000

    @Option(help: "Workers per node.")
    var workers: Int = 32

    @Option(help: ArgumentHelp("Use this database (pgqueuer's tables in it are dropped and recreated).", valueName: "url"))
    var database: String?

    @Flag(help: "Do not run the pgqueuer peer.")
    var skipPeer = false

    @Flag(help: "Print one JSON document.")
    var json = false

    func validate() throws {
        guard (1_000...5_000_000).contains(jobs) else { throw ValidationError("--jobs must lie within 1000...5000000, got \(jobs)") }
        guard (1...1_000).contains(workers) else { throw ValidationError("--workers must lie within 1...1000, got \(workers)") }
    }

    struct Row: Encodable {
        var system: String
        var configuration: String
        var enqueuePerS: Double?
        var jobsPerS: Double?
        var seconds: Double?
        var note: String?
    }

    func run() async throws {
        #if DEBUG
            printError(
                "poolscope bench cluster: this is a debug build; numbers mean little. Use: swift run -c release poolscope bench cluster")
        #endif
        let (url, server) = await databaseOrThrowawayServer(database, announce: "bench cluster: starting a throwaway PostgreSQL")
        defer { server?.stop() }
        let parsed: DatabaseURL
        do { parsed = try DatabaseURL(url) } catch {
            printError("poolscope: \(error)")
            terminate(2)
        }
        var rows: [Row] = []
        for nodes in [1, 2] {
            do {
                rows.append(try await measure(nodes: nodes, url: parsed))
            } catch {
                printError("poolscope: \(error)")
                terminate(1)
            }
        }
        if !skipPeer {
            for (consumers, batch) in [(1, 10), (2, 100)] {
                rows.append(peer(url: url, consumers: consumers, batch: batch))
            }
        }
        let bestPeer = rows.filter { $0.system == "pgqueuer" }.compactMap(\.jobsPerS).max()
        let bestPeerEnqueue = rows.filter { $0.system == "pgqueuer" }.compactMap(\.enqueuePerS).max()
        if json {
            struct Document: Encodable {
                let jobs: Int
                let rows: [Row]
                let cores: Int
            }
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(
                String(
                    decoding: try encoder.encode(Document(jobs: jobs, rows: rows, cores: ProcessInfo.processInfo.activeProcessorCount)),
                    as: UTF8.self))
            return
        }
        print("cluster burn-down of \(jobs) no-op jobs, PostgreSQL on this machine (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
        print("system     configuration                  enqueue/s   burn-down jobs/s   vs best pgqueuer")
        for row in rows {
            func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
                let padding = String(repeating: " ", count: max(width - text.count, 0))
                return right ? padding + text : text + padding
            }
            let ratio = row.jobsPerS.flatMap { ours in bestPeer.map { String(format: "%.2fx", ours / $0) } }
            print(
                pad(row.system, 10) + " " + pad(row.configuration, 28)
                    + pad(row.enqueuePerS.map { String(format: "%.0f", $0) } ?? "-", 12, right: true)
                    + pad(row.jobsPerS.map { String(format: "%.0f", $0) } ?? "-", 19, right: true) + pad(ratio ?? "-", 19, right: true)
                    + (row.note.map { "  (\($0))" } ?? ""))
        }
        if let bestPeerEnqueue, let ours = rows.first?.enqueuePerS {
            print(String(format: "enqueue: poolscope %.0f/s vs pgqueuer %.0f/s (%.2fx)", ours, bestPeerEnqueue, ours / bestPeerEnqueue))
        }
    }

    /// Enqueues, analyses, and burns down with `nodes` node processes, on a schema of its own.
    private func measure(nodes: Int, url: DatabaseURL) async throws -> Row {
        let schema = try ClusterSchema("bench_\(nodes)")
        let database = try await ClusterDatabase.connect(url, schema: schema, maximumConnections: 2, migrate: false, logger: quietLogger)
        defer { Task { await database.close() } }
        try await database.dropSchema()
        try await database.migrate()
        let payload = SimulatedJob.Payload(serviceMicroseconds: 0)
        let batch = try [NewClusterJob](repeating: NewClusterJob(SimulatedJob.kind, payload), count: jobs)
        printError("bench cluster: enqueueing \(jobs) jobs (one call)")
        let enqueueStart = ContinuousClock.now
        try await ClusterProducer(database: database).enqueue(batch: batch)
        let enqueueSeconds = (ContinuousClock.now - enqueueStart).seconds
        try await database.analyze()
        printError("bench cluster: burn-down with \(nodes) node process(es), \(workers) workers each")
        let processes = try (0..<nodes).map { index in
            let process = Process()
            process.executableURL = poolscopeExecutable
            process.arguments = [
                "node", "--schema", schema.name, "--name", "bench-\(index)", "--workers", "\(workers)", "--quiet",
            ]
            let address = "postgres://\(url.username)\(url.password.map { ":\($0)" } ?? "")@\(url.host):\(url.port)/\(url.database)"
            process.environment = ProcessInfo.processInfo.environment.merging(["DATABASE_URL": address]) { $1 }
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        defer { for process in processes where process.isRunning { process.terminate() } }
        let deadline = ContinuousClock.now + .seconds(900)
        // Polls only what partial indexes answer cheaply, so the poll does not slow the server it measures.
        while try await database.hasOpenJobs() {
            guard ContinuousClock.now < deadline, processes.allSatisfy(\.isRunning) else {
                throw ClusterError.database("the burn-down did not finish (a node exited, or 900 s passed)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard try await database.status().jobs.completed == jobs else {
            throw ClusterError.database("the burn-down ended with jobs not completed")
        }
        let seconds = try await database.processingSpan() ?? .nan
        for process in processes { process.terminate() }
        for process in processes { process.waitUntilExit() }
        try await database.dropSchema()
        return Row(
            system: "poolscope", configuration: "\(nodes) node\(nodes > 1 ? "s" : ""), \(workers) workers each",
            enqueuePerS: Double(jobs) / enqueueSeconds, jobsPerS: Double(jobs) / seconds, seconds: seconds)
    }

    /// Runs bench/pgqueuer/peer.py; a row with a note when it cannot.
    private func peer(url: String, consumers: Int, batch: Int) -> Row {
        let configuration = "\(consumers) consumer\(consumers > 1 ? "s" : ""), batch \(batch)"
        let script = ["bench/pgqueuer/peer.py", "../bench/pgqueuer/peer.py"].first { FileManager.default.fileExists(atPath: $0) }
        guard let script else {
            return Row(
                system: "pgqueuer", configuration: configuration, note: "bench/pgqueuer/peer.py not found: run from the repository root")
        }
        printError("bench cluster: pgqueuer, \(configuration)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--dsn", url, "--jobs", "\(jobs)", "--consumers", "\(consumers)", "--batch", "\(batch)"]
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return Row(system: "pgqueuer", configuration: configuration, note: "cannot run python3: \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        struct PeerResult: Decodable {
            let enqueue_per_s: Double
            let jobs_per_s: Double?
            let burn_down_s: Double?
        }
        guard process.terminationStatus == 0, let result = try? JSONDecoder().decode(PeerResult.self, from: data) else {
            let reason = errorText.split(separator: "\n").last.map(String.init) ?? "exit \(process.terminationStatus)"
            return Row(
                system: "pgqueuer", configuration: configuration,
                note: "\(reason); install: python3 -m pip install -r bench/pgqueuer/requirements.txt")
        }
        return Row(
            system: "pgqueuer", configuration: configuration, enqueuePerS: result.enqueue_per_s, jobsPerS: result.jobs_per_s,
            seconds: result.burn_down_s)
    }
}
