import Dashboard
import Foundation
import PoolCluster
import Synchronization

/// The cluster view's source, as `DashboardSource` is the pool dashboard's: frames in (read from the
/// database), actions out (start, kill or stop a child `poolscope node`, enqueue a burst), with an optional
/// steady load. A cluster frame is nodes and one shared queue, not one pool's workers, so it has its own
/// frame type and view (`ClusterFrame`, `clusterView`).
final class ClusterSource: @unchecked Sendable {
    // @unchecked: `localNodes` and `nextNodeNumber` are touched only from the main actor (the view's loop);
    // the load task only reads the immutable `database`, `producer` and `loadRate`, and `burstJobs` is atomic.
    let database: ClusterDatabase
    let producer: ClusterProducer
    let horizon: Duration
    /// The heartbeat of the nodes started here: a sixth of the horizon, at most 500 ms.
    var heartbeat: Duration { min(.milliseconds(500), horizon / 6) }
    let started = ContinuousClock.now
    let logDirectory: URL
    var localNodes: [Int32: Process] = [:]
    private var nextNodeNumber = 1
    private let burstJobs = Atomic<Int>(0)
    private var loadTask: Task<Void, Never>?
    private var latency: (ClusterLatency?, [Int]) = (nil, [])
    private var lastLatencyRead = ContinuousClock.now - .seconds(10)

    init(database: ClusterDatabase, horizon: Duration) {
        self.database = database
        self.producer = ClusterProducer(database: database)
        self.horizon = horizon
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-cluster-\(getpid())")
        try? FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    /// Starts a `poolscope node` child process; returns its pid, or an error message.
    @MainActor
    func startNode(workers: Int = 4) -> Result<Int32, ClusterError> {
        // Unique across views and sessions on one schema: this view's pid, then a count.
        let name = "n\(getpid() % 100_000)-\(nextNodeNumber)"
        nextNodeNumber += 1
        let log = logDirectory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        guard let handle = try? FileHandle(forWritingTo: log) else { return .failure(.invalidArgument("cannot write \(log.path)")) }
        let process = Process()
        process.executableURL = poolscopeExecutable
        process.arguments = [
            "node", "--schema", database.schema.name, "--name", name, "--workers", "\(workers)",
            "--heartbeat", "\(heartbeat / .milliseconds(1))ms", "--rescue-horizon", "\(horizon / .milliseconds(1))ms",
            "--drain-deadline", "5s",
        ]
        // The URL (with any password) goes through the environment, not the command line that ps shows.
        process.environment = ProcessInfo.processInfo.environment.merging(["DATABASE_URL": databaseURLWithPassword]) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .failure(.invalidArgument("cannot start a node: \(error)"))
        }
        localNodes[process.processIdentifier] = process
        return .success(process.processIdentifier)
    }

    /// The URL to hand to child nodes (with the password, which `DatabaseURL.description` hides).
    var databaseURLWithPassword: String {
        let url = database.url
        let credentials = url.password.map { "\(url.username):\($0)" } ?? url.username
        return "postgres://\(credentials)@\(url.host):\(url.port)/\(url.database)"
    }

    @MainActor
    func signal(pid: Int32, _ number: Int32) -> Bool {
        guard localNodes[pid]?.isRunning == true else { return false }
        return kill(pid, number) == 0
    }

    /// Enqueues `perSecond` simulated jobs a second, in batches every 100 ms, plus any burst asked for.
    func startLoad(perSecond: Int, service: Duration) {
        loadTask = Task { [self] in
            var second = 0
            while !Task.isCancelled {
                let steady = perSecond / 10 + (second % 10 < perSecond % 10 ? 1 : 0)
                let burst = burstJobs.exchange(0, ordering: .relaxed)
                second += 1
                if steady + burst > 0 {
                    let payload = SimulatedJob.Payload(serviceMicroseconds: Int(service / .microseconds(1)))
                    let jobs = (0..<(steady + burst)).compactMap { _ in try? NewClusterJob(SimulatedJob.kind, payload) }
                    _ = try? await producer.enqueue(batch: jobs)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func burst(_ count: Int, service: Duration) {
        if loadTask != nil {
            burstJobs.add(count, ordering: .relaxed)
        } else {
            Task { [producer] in
                let payload = SimulatedJob.Payload(serviceMicroseconds: Int(service / .microseconds(1)))
                _ = try? await producer.enqueue(batch: (0..<count).compactMap { _ in try? NewClusterJob(SimulatedJob.kind, payload) })
            }
        }
    }

    /// Carries out one of the cluster view's actions; says what was done, or why not.
    @MainActor
    func execute(_ action: ClusterAction, nodes: [ClusterFrame.Node], burst count: Int, service: Duration) -> String? {
        switch action {
        case .quit:
            return nil
        case .startNode:
            switch startNode() {
            case .success(let pid): return "started a node (pid \(pid))"
            case .failure(let error): return error.description
            }
        case .killNode(let id), .stopNode(let id):
            guard let node = nodes.first(where: { $0.id == id }) else { return nil }
            let kill = { if case .killNode = action { return true } else { return false } }()
            let sent = signal(pid: Int32(node.pid), kill ? SIGKILL : SIGTERM)
            return sent
                ? (kill ? "kill -9 \(node.name) (pid \(node.pid))" : "SIGTERM \(node.name): graceful stop")
                : "\(node.name) is not running here"
        case .burst:
            burst(count, service: service)
            return "burst: \(count) jobs"
        }
    }

    /// Reads one frame from the database (latency at most once a second).
    @MainActor
    func frame(title: String, caption: String?) async -> Result<ClusterFrame, ClusterError> {
        let status: ClusterStatus
        do {
            status = try await database.status()
        } catch {
            return .failure(error)
        }
        if ContinuousClock.now - lastLatencyRead >= .seconds(1) {
            lastLatencyRead = .now
            if let read = try? await database.recentLatency(window: .seconds(10)) {
                latency = (read.summary.map { ClusterLatency(p50: $0.p50, p99: $0.p99, max: $0.max) }, read.buckets)
            }
        }
        let local = Set(localNodes.keys)
        var frame = ClusterFrame(
            time: (ContinuousClock.now - started).seconds, title: title,
            nodes: ClusterSource.ordered(status.nodes).map { node in
                ClusterFrame.Node(
                    id: node.id, name: node.name, pid: node.pid, state: node.state, workers: node.workers, busy: node.busy,
                    keyed: node.keyed, heartbeatAge: node.heartbeatAgeSeconds, completed: node.completed,
                    local: local.contains(Int32(node.pid)) && node.host == ProcessInfo.processInfo.hostName)
            },
            horizon: horizon.seconds)
        let jobs = status.jobs
        let runs = status.runs
        frame.available = jobs.available
        frame.scheduled = jobs.scheduled
        frame.running = jobs.running
        frame.completed = jobs.completed
        frame.discarded = jobs.discarded
        frame.cancelled = jobs.cancelled
        frame.enqueued = jobs.enqueued
        frame.attempts = runs.attempts
        frame.failed = runs.failed
        frame.rescued = runs.rescued
        frame.staleCompletions = runs.staleCompletions
        frame.latency = latency.0
        frame.latencyBuckets = latency.1
        frame.caption = caption
        return .success(frame)
    }

    /// Live nodes first (in joining order), then dead ones, then stopped ones, the most recent first.
    static func ordered(_ nodes: [ClusterStatus.Node]) -> [ClusterStatus.Node] {
        func rank(_ state: String) -> Int {
            switch state {
            case "alive", "draining": 0
            case "dead": 1
            default: 2
            }
        }
        return nodes.sorted { a, b in
            rank(a.state) != rank(b.state) ? rank(a.state) < rank(b.state) : (rank(a.state) == 0 ? a.id < b.id : a.id > b.id)
        }
    }

    /// Stops the load, stops every local node gracefully (SIGKILL after `grace`), removes the logs.
    @MainActor
    func shutdown(grace: Duration = .seconds(8)) async {
        loadTask?.cancel()
        await loadTask?.value
        for (pid, process) in localNodes where process.isRunning { kill(pid, SIGTERM) }
        let end = ContinuousClock.now + grace
        while localNodes.values.contains(where: \.isRunning) && ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for (pid, process) in localNodes where process.isRunning { kill(pid, SIGKILL) }
        for process in localNodes.values { process.waitUntilExit() }
        try? FileManager.default.removeItem(at: logDirectory)
    }
}
