import ArgumentParser
import Foundation
import PoolCluster

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a cluster node with the simulated job kinds until SIGTERM or Ctrl-C (graceful stop).",
        discussion: """
            The node claims jobs from the shared queue in PostgreSQL, runs them on a local pool, heartbeats and \
            takes its turn rescuing the jobs of dead nodes. SIGTERM or SIGINT stops it gracefully: running jobs \
            finish (up to --drain-deadline), claimed jobs that have not started are handed back with no attempt \
            charged, and it exits 0. Guarantees and schema: docs/CLUSTER.md.
            """)

    @OptionGroup var connection: ClusterConnectionOptions

    @Option(help: "Jobs run at once.")
    var workers: Int = 8

    @Option(help: "The node's name (default: host-pid).")
    var name: String?

    @Flag(help: "Take keyed jobs: each key is owned by one live keyed node at a time.")
    var keyed = false

    @Option(help: ArgumentHelp("Declare a node dead after this long without a heartbeat.", valueName: "duration"))
    var rescueHorizon: String = "10s"

    @Option(help: ArgumentHelp("Heartbeat this often.", valueName: "duration"))
    var heartbeat: String = "1s"

    @Option(help: ArgumentHelp("On a graceful stop, let running jobs finish for this long.", valueName: "duration"))
    var drainDeadline: String = "10s"

    @Flag(help: "Log only warnings and errors.")
    var quiet = false

    func validate() throws {
        guard (1...10_000).contains(workers) else { throw ValidationError("--workers must lie within 1...10000, got \(workers)") }
        do {
            try nodeConfiguration().validate()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The node's configuration from the options.
    func nodeConfiguration() throws -> NodeConfiguration {
        var configuration = NodeConfiguration(name: name)
        configuration.workers = workers
        configuration.keyed = keyed
        configuration.rescueHorizon = try parseDuration(rescueHorizon, option: "--rescue-horizon")
        configuration.heartbeatInterval = try parseDuration(heartbeat, option: "--heartbeat")
        configuration.drainDeadline = try parseDuration(drainDeadline, option: "--drain-deadline")
        return configuration
    }

    func run() async throws {
        let configuration = try nodeConfiguration()
        let stop = StopSignal()
        let logger = standardErrorLogger("poolscope.node", level: quiet ? .warning : .info)
        let database = await connection.connect(maximumConnections: 6)
        var handlers = ClusterJobHandlers()
        SimulatedJob.register(on: &handlers)
        let node: ClusterNode
        do {
            node = try ClusterNode(database: database, configuration: configuration, handlers: handlers, logger: logger)
            try await node.start()
        } catch {
            printError("poolscope: \(error)")
            await database.close()
            terminate(1)
        }
        printError(
            "node \(configuration.name) (#\(node.nodeID)) running with \(workers) workers\(keyed ? ", keyed" : ""); SIGTERM or Ctrl-C stops it gracefully"
        )
        let number = await stop.next()
        printError("node \(configuration.name): \(number == SIGINT ? "SIGINT" : "SIGTERM"), stopping gracefully")
        let report = await node.stop()
        await database.close()
        printError("node \(configuration.name) stopped: \(report.handedBack) handed back, \(report.interrupted) interrupted")
        if report.unwrittenOutcomes > 0 { terminate(1) }
    }
}
