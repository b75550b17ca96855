import ArgumentParser
import Dashboard
import Foundation
import PoolCluster
import TerminalBackend

struct ClusterWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "The dashboard's cluster view: nodes, the shared queue, throughput, latency, events.",
        discussion: "Keys: n start a local node, k kill -9 one started here, t stop one gracefully, b burst, ? help, q quit.")

    @OptionGroup var connection: ClusterConnectionOptions

    @Option(help: "Jobs enqueued by the b key.")
    var burst: Int = 2_000

    @Option(help: ArgumentHelp("Service time of the jobs b enqueues.", valueName: "duration"))
    var service: String = "20ms"

    @Option(help: ArgumentHelp("Rescue horizon given to the nodes n starts.", valueName: "duration"))
    var rescueHorizon: String = "10s"

    @Flag(help: "Draw with plain ASCII.")
    var ascii = false

    func validate() throws {
        _ = try parseDuration(service, option: "--service")
        _ = try parseDuration(rescueHorizon, option: "--rescue-horizon")
        guard (1...1_000_000).contains(burst) else { throw ValidationError("--burst must lie within 1...1000000, got \(burst)") }
    }

    @MainActor
    func run() async throws {
        requireTerminal("poolscope cluster status --database URL")
        let database = await connection.connect(maximumConnections: 3)
        let source = ClusterSource(database: database, horizon: try parseDuration(rescueHorizon, option: "--rescue-horizon"))
        let app = ClusterApp(
            source: source, title: "cluster \(database.schema) at \(database.url)", burst: burst,
            service: try parseDuration(service, option: "--service"), ascii: ascii, captions: nil)
        await app.run()
        await source.shutdown()
        await database.close()
    }
}

struct ClusterDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "A cluster lesson: three nodes under steady load, with captions; kill one and watch its jobs rescued.",
        discussion: """
            With no --database, starts a throwaway PostgreSQL (initdb into a temporary directory, a free port on \
            127.0.0.1), removed again on every exit. Needs PostgreSQL's server binaries (initdb, pg_ctl) on PATH \
            or under /usr/lib/postgresql/*/bin.
            """)

    @Option(help: ArgumentHelp("Use this database instead of a throwaway one.", valueName: "url"))
    var database: String?

    @Option(help: "Steady load, jobs per second.")
    var rate: Int = 400

    @Flag(help: "Draw with plain ASCII.")
    var ascii = false

    func validate() throws {
        guard (1...100_000).contains(rate) else { throw ValidationError("--rate must lie within 1...100000, got \(rate)") }
    }

    @MainActor
    func run() async throws {
        requireTerminal("poolscope node, poolscope cluster enqueue and poolscope cluster status (docs/CLUSTER.md)")
        let (url, server) = await databaseOrThrowawayServer(database, announce: "starting a throwaway PostgreSQL...")
        let parsed: DatabaseURL
        do {
            parsed = try DatabaseURL(url)
        } catch {
            server?.stop()
            printError("poolscope: \(error)")
            terminate(2)
        }
        let clusterDatabase: ClusterDatabase
        do {
            clusterDatabase = try await ClusterDatabase.connect(
                parsed, schema: try ClusterSchema(database == nil ? "poolscope" : "poolscope_demo"), maximumConnections: 3,
                logger: quietLogger)
        } catch {
            server?.stop()
            printError("poolscope: \(error)")
            terminate(1)
        }
        let source = ClusterSource(database: clusterDatabase, horizon: .seconds(5))
        for _ in 0..<3 { _ = source.startNode(workers: 4) }
        source.startLoad(perSecond: rate, service: .milliseconds(20))
        let app = ClusterApp(
            source: source, title: "cluster demo (\(server == nil ? "\(parsed)" : "throwaway PostgreSQL on 127.0.0.1:\(parsed.port)"))",
            burst: 1_500, service: .milliseconds(20), ascii: ascii, captions: ClusterLesson())
        await app.run()
        await source.shutdown()
        await clusterDatabase.close()
        server?.stop()
    }
}

/// Exits 2 with the headless alternative when standard output is not a terminal.
func requireTerminal(_ alternative: String) {
    guard isTerminal(1) else {
        printError("poolscope: the dashboard needs a terminal, and standard output is not one.")
        printError("Without a terminal use: \(alternative)")
        terminate(2)
    }
}

/// The demo's captions: what to watch, then what just happened.
struct ClusterLesson {
    private var lastDeadCount = 0
    private var lastRescued = 0
    private var message: String?

    mutating func caption(for frame: ClusterFrame) -> String {
        let dead = frame.nodes.filter { $0.state == "dead" }
        if dead.count > lastDeadCount, let node = dead.last {
            message =
                "\(node.name) was declared dead (no heartbeat for \(Int(frame.horizon)) s): the jobs it was running go back to the queue, the attempt counted. n starts a new node."
        }
        if frame.rescued > lastRescued {
            message =
                "\(frame.rescued) job(s) rescued so far: they ran on a dead node and were made available again. enqueued = the sum of the states, always."
        }
        lastDeadCount = dead.count
        lastRescued = frame.rescued
        if let draining = frame.nodes.first(where: { $0.state == "draining" }) {
            return "\(draining.name) stops gracefully: running jobs finish; claimed jobs not yet started go back with no attempt charged."
        }
        if let message { return message }
        if frame.time < 15 {
            return
                "Three nodes share one durable queue in PostgreSQL: each claims batches (FOR UPDATE SKIP LOCKED) and heartbeats every 0.5 s."
        }
        return
            "Select a node (arrows) and press k to kill -9 it: its heartbeat stops, and after \(Int(frame.horizon)) s the rescuer declares it dead."
    }
}

/// The cluster view as a screen: frames from a `ClusterSource` (the database, and the nodes started here),
/// keys through `clusterUpdate`, drawn by `clusterView`.
@MainActor
final class ClusterApp: Screen {
    let source: ClusterSource
    let title: String
    let burst: Int
    let service: Duration
    let ascii: Bool
    var captions: ClusterLesson?
    var state = ClusterViewState(canStartNodes: true)

    init(source: ClusterSource, title: String, burst: Int, service: Duration, ascii: Bool, captions: ClusterLesson?) {
        self.source = source
        self.title = title
        self.burst = burst
        self.service = service
        self.ascii = ascii
        self.captions = captions
    }

    func run() async {
        _ = await runScreen(self, ascii: ascii)
    }

    /// A status query a frame: four a second is plenty for nodes whose heartbeat is half a second.
    var frameInterval: Duration { .milliseconds(250) }

    func start(glyphs: Glyphs) { state.glyphs = glyphs }

    func refresh() async {
        switch await source.frame(title: title, caption: nil) {
        case .success(var frame):
            if captions != nil { frame.caption = captions?.caption(for: frame) }
            (state, _) = clusterUpdate(state, .tick(frame))
        case .failure(let error):
            (state, _) = clusterUpdate(state, .notice("database: \(error)"))
        }
    }

    func press(_ key: Key) async -> Bool {
        let (next, commands) = clusterUpdate(state, .key(key))
        state = next
        var quit = false
        for command in commands {
            if command == .quit {
                quit = true
            } else if let notice = source.execute(command, nodes: state.frame?.nodes ?? [], burst: burst, service: service) {
                state.notice = notice
            }
        }
        return quit
    }

    func render(width: Int, height: Int) -> Canvas { clusterView(state, width: width, height: height) }

    func finish(_ terminal: Terminal) async {
        state.notice = "stopping the nodes started here..."
        let size = terminal.size
        terminal.draw(clusterView(state, width: size.width, height: size.height))
    }
}
