import ArgumentParser
import Foundation
import PoolCluster

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "One pool across processes and machines: a durable shared queue on PostgreSQL.",
        discussion: "Start nodes with 'poolscope node'. Guarantees, schema and deployment: docs/CLUSTER.md.",
        subcommands: [
            ClusterMigrate.self, ClusterEnqueue.self, ClusterStatusCommand.self, ClusterDeadLetters.self,
            ClusterWatch.self, ClusterDemo.self,
        ])
}

struct ClusterMigrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the cluster's schema (idempotent).")

    @OptionGroup var connection: ClusterConnectionOptions

    func run() async throws {
        let url = connection.resolvedURL()
        let database: ClusterDatabase
        do {
            database = try await ClusterDatabase.connect(
                url, schema: connection.resolvedSchema(), maximumConnections: 2, migrate: false, logger: quietLogger)
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
        defer { Task { await database.close() } }
        do {
            let (from, to) = try await database.migrate()
            print(from == to
                ? "schema \(connection.schema) is at version \(to) (up to date)"
                : "schema \(connection.schema) migrated from version \(from) to \(to)")
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
        await database.close()
    }
}

struct ClusterEnqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue", abstract: "Enqueue simulated jobs (one batched statement per --batch jobs).")

    @OptionGroup var connection: ClusterConnectionOptions

    @Option(help: "How many jobs.")
    var count: Int

    @Option(help: ArgumentHelp("Each job's service time (0 for no-op jobs).", valueName: "duration"))
    var service: String = "1ms"

    @Flag(help: "Spin on the CPU for the service time instead of sleeping.")
    var spin = false

    @Option(help: "Spread the jobs over keys k0..k(K-1) (0: no keys).")
    var keys: Int = 0

    @Option(help: "The probability (0...1) that an attempt fails.")
    var failRate: Double = 0

    @Option(help: "Attempts per job before it is discarded.")
    var maxAttempts: Int = 3

    @Option(help: "Jobs per statement.")
    var batch: Int = 1_000

    @Option(help: "Seed for the failure draws.")
    var seed: UInt64 = 1

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must not be negative, got \(count)") }
        guard keys >= 0 else { throw ValidationError("--keys must not be negative, got \(keys)") }
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must lie within 0...1, got \(failRate)") }
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must lie within 1...100000, got \(batch)") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1, got \(maxAttempts)") }
        _ = try parseDuration(service, option: "--service")
    }

    func run() async throws {
        let service = try parseDuration(service, option: "--service")
        let database = await connection.connect()
        let producer = ClusterProducer(database: database)
        let started = ContinuousClock.now
        var enqueued = 0
        var first: Int64?, last: Int64?
        do {
            while enqueued < count {
                let size = min(batch, count - enqueued)
                let jobs = try (enqueued..<(enqueued + size)).map { index throws(ClusterError) in
                    try NewClusterJob(
                        SimulatedJob.kind,
                        SimulatedJob.Payload(
                            serviceMicroseconds: Int(service.nanoseconds / 1_000), spin: spin, failRate: failRate,
                            seed: seed &+ UInt64(index)),
                        options: EnqueueOptions(key: keys > 0 ? "k\(index % keys)" : nil, maxAttempts: maxAttempts))
                }
                let ids = try await producer.enqueue(batch: jobs)
                first = first ?? ids.first
                last = ids.last ?? last
                enqueued += size
            }
        } catch {
            printError("poolscope: \(error) (after \(enqueued) of \(count) jobs were enqueued)")
            await database.close()
            terminate(1)
        }
        let seconds = (ContinuousClock.now - started).seconds
        await database.close()
        let range = first.flatMap { f in last.map { " (ids \(f)..\($0))" } } ?? ""
        print("enqueued \(enqueued) jobs\(range) in \(String(format: "%.2f", seconds)) s (\(Int(Double(enqueued) / max(seconds, 1e-9))) jobs/s)")
    }
}

struct ClusterStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Jobs by state, runs and rescues, and nodes, from the database.")

    @OptionGroup var connection: ClusterConnectionOptions

    @Flag(help: "Print exactly one JSON document.")
    var json = false

    func run() async throws {
        let database = await connection.connect(maximumConnections: 2)
        let status: ClusterStatus
        do {
            status = try await database.status()
        } catch {
            printError("poolscope: \(error)")
            await database.close()
            terminate(1)
        }
        await database.close()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(ClusterStatusFormatter.human(status, url: database.url, schema: connection.schema))
        }
    }
}

enum ClusterStatusFormatter {
    static func human(_ status: ClusterStatus, url: DatabaseURL, schema: String) -> String {
        let jobs = status.jobs, runs = status.runs
        var lines = [
            "cluster \(schema) at \(url) (schema version \(status.schemaVersion))",
            "jobs: enqueued \(jobs.enqueued) = completed \(jobs.completed) + discarded \(jobs.discarded) + cancelled \(jobs.cancelled) + available \(jobs.available) + scheduled \(jobs.scheduled) + running \(jobs.running)\(jobs.isBalanced ? "" : "  (NOT BALANCED)")",
            "runs: \(runs.attempts) attempts, \(runs.failed) failed, \(runs.rescued) rescued, \(runs.staleCompletions) stale completions",
        ]
        if status.nodes.isEmpty {
            lines.append("nodes: none yet (start one with: poolscope node --database URL)")
        } else {
            lines.append("nodes:")
            lines.append("  " + pad("NAME", 22) + pad("PID", 8) + pad("STATE", 10) + pad("BUSY", 10) + pad("HEARTBEAT", 11) + "COMPLETED")
            for node in status.nodes {
                lines.append(
                    "  " + pad(node.name, 22) + pad("\(node.pid)", 8) + pad(node.state, 10)
                        + pad("\(node.busy)/\(node.workers)", 10) + pad(String(format: "%.1fs", node.heartbeatAgeSeconds), 11)
                        + "\(node.completed)")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}

struct ClusterDeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters", abstract: "List discarded jobs with their errors, or retry them.")

    @OptionGroup var connection: ClusterConnectionOptions

    @Option(help: "Retry this discarded job (repeatable).")
    var retry: [Int64] = []

    @Flag(help: "Retry every discarded job.")
    var retryAll = false

    @Option(help: "List at most this many.")
    var limit: Int = 50

    @Flag(help: "Print the list as one JSON document.")
    var json = false

    func run() async throws {
        let database = await connection.connect(maximumConnections: 2)
        do {
            if retryAll || !retry.isEmpty {
                let count = try await database.retryDeadLetters(ids: retryAll ? nil : retry)
                print("retried \(count) dead letter(s)")
            } else {
                let letters = try await database.deadLetters(limit: limit)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    encoder.dateEncodingStrategy = .iso8601
                    print(String(decoding: try encoder.encode(["dead_letters": letters]), as: UTF8.self))
                } else if letters.isEmpty {
                    print("no dead letters")
                } else {
                    for letter in letters {
                        print("#\(letter.id) \(letter.kind)\(letter.key.map { " key \($0)" } ?? ""): \(letter.attempts) attempt(s)")
                        print("    errors: \(letter.errors)")
                    }
                    print("retry with: poolscope cluster dead-letters --retry ID (or --retry-all)")
                }
            }
        } catch {
            printError("poolscope: \(error)")
            await database.close()
            terminate(1)
        }
        await database.close()
    }
}
