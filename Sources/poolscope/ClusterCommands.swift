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
            print(
                from == to
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

    @Option(parsing: .unconditional, help: "Seed for the failure draws (0 to 2^64-1).", transform: parseSeed)
    var seed: UInt64 = 1

    func validate() throws {
        guard (0...100_000_000).contains(count) else { throw ValidationError("--count must lie within 0...100000000, got \(count)") }
        guard (0...10_000_000).contains(keys) else { throw ValidationError("--keys must lie within 0...10000000, got \(keys)") }
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must lie within 0...1, got \(failRate)") }
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must lie within 1...100000, got \(batch)") }
        guard (1...100).contains(maxAttempts) else { throw ValidationError("--max-attempts must lie within 1...100, got \(maxAttempts)") }
        _ = try parseDuration(service, option: "--service")
    }

    func run() async throws {
        let service = try parseDuration(service, option: "--service")
        let database = await connection.connect()
        let producer = ClusterProducer(database: database)
        let started = ContinuousClock.now
        var enqueued = 0
        var first: Int64?
        var last: Int64?
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
        print(
            "enqueued \(enqueued) jobs\(range) in \(String(format: "%.2f", seconds)) s (\(Int(Double(enqueued) / max(seconds, 1e-9))) jobs/s)"
        )
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
        let jobs = status.jobs
        let runs = status.runs
        var lines = [
            "cluster \(schema) at \(url) (schema version \(status.schemaVersion))",
            "jobs: enqueued \(jobs.enqueued) = completed \(jobs.completed) + discarded \(jobs.discarded) + cancelled \(jobs.cancelled) + available \(jobs.available) + scheduled \(jobs.scheduled) + running \(jobs.running)\(jobs.isBalanced ? "" : "  (NOT BALANCED)")",
            "runs: \(runs.attempts) attempts, \(runs.failed) failed, \(runs.rescued) rescued, \(runs.staleCompletions) stale completions",
        ]
        if status.nodes.isEmpty {
            lines.append(
                "nodes: none yet (start one with: poolscope node --database URL\(schema == "poolscope" ? "" : " --schema \(schema)"))")
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

    @Option(help: ArgumentHelp("Retry this discarded job (repeatable).", valueName: "id"))
    var retry: [Int64] = []

    @Flag(help: "Retry every discarded job.")
    var retryAll = false

    @Option(help: "List at most this many (newest first).")
    var limit: Int = 50

    @Flag(help: "Print one JSON document.")
    var json = false

    func validate() throws {
        if retryAll && !retry.isEmpty { throw ValidationError("--retry and --retry-all do not go together") }
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must lie within 1...100000, got \(limit)") }
    }

    func run() async throws {
        let database = await connection.connect(maximumConnections: 2)
        do {
            if retryAll || !retry.isEmpty {
                let retried = try await database.retryDeadLetters(ids: retryAll ? nil : retry)
                let missing = retry.filter { !retried.contains($0) }
                await database.close()
                if json {
                    printJSON(["retried": retried, "not_dead_letters": missing])
                } else {
                    print(
                        "retried \(retried.count) dead letter(s)\(retried.isEmpty ? "" : ": " + retried.map(String.init).joined(separator: ", "))"
                    )
                }
                if !missing.isEmpty {
                    printError(
                        "poolscope: not dead letters (no such job, or not discarded): \(missing.map(String.init).joined(separator: ", "))")
                    terminate(1)
                }
                return
            }
            let letters = try await database.deadLetters(limit: limit)
            let total = try await database.status().jobs.discarded
            await database.close()
            if json {
                printJSON(["dead_letters": letters.map(Self.object), "total": total, "shown": letters.count])
            } else if letters.isEmpty {
                print("no dead letters")
            } else {
                for letter in letters {
                    print(
                        "#\(letter.id) \(letter.kind)\(letter.key.map { " key \($0)" } ?? ""): \(letter.attempts) of \(letter.maxAttempts) attempt(s)"
                    )
                    for entry in Self.errors(letter) {
                        let attempt = entry["attempt"].map { "\($0)" } ?? "?"
                        let reason = entry["reason"] as? String ?? "failed"
                        let node = entry["node"] as? String ?? "?"
                        print("    attempt \(attempt) on \(node), \(reason): \(entry["error"] as? String ?? "")")
                    }
                }
                print(
                    "\(letters.count) of \(total) shown, newest first; retry with: poolscope cluster dead-letters\(connection.schemaArgument) --retry ID (or --retry-all)"
                )
            }
        } catch {
            printError("poolscope: \(error)")
            await database.close()
            terminate(1)
        }
    }

    /// The recorded errors, parsed (an empty list when they do not parse).
    static func errors(_ letter: DeadLetter) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(letter.errors.utf8)) as? [[String: Any]]) ?? []
    }

    static func object(_ letter: DeadLetter) -> [String: Any] {
        var object: [String: Any] = [
            "id": letter.id, "kind": letter.kind, "attempts": letter.attempts, "max_attempts": letter.maxAttempts,
            "errors": errors(letter),
        ]
        object["key"] = letter.key ?? NSNull()
        object["finished_at"] = letter.finishedAt.map { ISO8601DateFormatter().string(from: $0) } ?? NSNull()
        return object
    }
}

/// Prints one JSON document (sorted keys) on standard output.
func printJSON(_ object: Any) {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
    print(String(decoding: data, as: UTF8.self))
}
