import Foundation
import Hummingbird
public import Logging
import NIOCore
public import PoolEngine
import ServiceLifecycle
import Synchronization

/// Where and how a ``PoolMonitor`` serves.
public struct MonitorConfiguration: Sendable {
    /// The address to listen on: loopback unless another is asked for explicitly.
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one (``RunningMonitor/port`` says which).
    public var port: Int = 9464
    /// With a token, `POST /v1/pools/NAME/commands` steers the pools for clients sending
    /// `Authorization: Bearer TOKEN`; without one, commands answer 403.
    public var controlToken: String?
    /// Request bodies above this many bytes answer 413.
    public var maxRequestBytes: Int = 16 * 1024
    /// How old a pool's shared snapshot may be before a request takes a new one: many clients polling
    /// at 10 fps cost the pool one snapshot per interval, not one per client.
    public var snapshotInterval: Duration = .milliseconds(100)
    /// The same for the snapshot with latency histograms (tens of KB to encode): clients ask for them about
    /// once a second, each at its own moment, and share one document a second between them.
    public var latencySnapshotInterval: Duration = .seconds(1)

    public init(host: String = "127.0.0.1", port: Int = 9464, controlToken: String? = nil) {
        self.host = host
        self.port = port
        self.controlToken = controlToken
    }
}

/// Why a monitor could not start.
public struct MonitorError: Error, CustomStringConvertible {
    public var description: String
}

/// Serves named pools over HTTP, so `poolscope attach` and Prometheus can watch an application's pools:
/// `GET /metrics`, `GET /v1/pools`, `GET /v1/pools/NAME/snapshot`, `GET /v1/pools/NAME/events` (server-sent
/// events) and `POST /v1/pools/NAME/commands` (only with a control token). One call from the application:
///
/// ```swift
/// let monitor = try await PoolMonitor.start(pools: ["images": pool])
/// // ... later
/// await monitor.stop()
/// ```
public enum PoolMonitor {
    /// Starts serving `pools` (name to pool; names of letters, digits, `.`, `_` and `-`) in the background
    /// and returns once the server listens.
    public static func start(
        pools: [String: WorkerPool], configuration: MonitorConfiguration = MonitorConfiguration(),
        logger: Logger = Logger(label: "poolscope.monitor")
    ) async throws -> RunningMonitor {
        for name in pools.keys where !isValidName(name) {
            throw MonitorError(description: "pool name '\(name)' must be 1 to 64 letters, digits, '.', '_' or '-'")
        }
        guard (0...65_535).contains(configuration.port) else {
            throw MonitorError(description: "port \(configuration.port) is outside 0...65535")
        }
        let state = MonitorState(pools: pools, configuration: configuration)
        var quiet = logger
        if quiet.logLevel < .warning { quiet.logLevel = .warning }  // Hummingbird says "Server started" at info
        let (ports, bound) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: MonitorRoutes.router(state),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                bound.yield(channel.localAddress?.port ?? configuration.port)
                bound.finish()
            },
            logger: quiet)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: quiet)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        let task = Task {
            defer { bound.finish() }
            try await group.run()
        }
        guard let port = await ports.first(where: { _ in true }) else {
            do {
                try await task.value
            } catch {
                throw MonitorError(description: "cannot listen on \(configuration.host):\(configuration.port): \(error)")
            }
            throw MonitorError(description: "the monitor stopped before it listened on \(configuration.host):\(configuration.port)")
        }
        let listeners = state.startListening()
        return RunningMonitor(host: configuration.host, port: port, group: group, task: task, listeners: listeners)
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }
    }
}

/// A monitor that is serving; ``stop()`` ends it.
public final class RunningMonitor: Sendable {
    public let host: String
    /// The port it listens on (the one picked, when asked for port 0).
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let listeners: [Task<Void, Never>]

    init(host: String, port: Int, group: ServiceGroup, task: Task<Void, any Error>, listeners: [Task<Void, Never>]) {
        self.host = host
        self.port = port
        self.group = group
        self.task = task
        self.listeners = listeners
    }

    /// `http://HOST:PORT`.
    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// Stops serving: open event streams end, the listener closes.
    public func stop() async {
        for listener in listeners { listener.cancel() }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// What the routes share: the pools, their cached snapshots, the metrics.
final class MonitorState: Sendable {
    let pools: [String: WorkerPool]
    let configuration: MonitorConfiguration
    let metrics = MonitorMetrics()
    private let cache = Mutex<[String: (takenAt: ContinuousClock.Instant, body: ByteBuffer)]>([:])

    init(pools: [String: WorkerPool], configuration: MonitorConfiguration) {
        self.pools = pools
        self.configuration = configuration
    }

    /// The pool's snapshot as JSON, shared between requests within ``MonitorConfiguration/snapshotInterval``.
    /// The pool's lock is held only while the pool takes its snapshot; encoding happens outside any lock.
    /// Without latencies the document is about 1 KB instead of tens (the histograms' buckets), and the pool
    /// does not copy its histograms: clients ask for them about once a second.
    func snapshotJSON(_ name: String, latencies: Bool) throws -> ByteBuffer? {
        guard let pool = pools[name] else { return nil }
        let key = latencies ? name + "\u{1}latencies" : name
        let now = ContinuousClock.now
        let interval = latencies ? configuration.latencySnapshotInterval : configuration.snapshotInterval
        if let cached = cache.withLock({ $0[key] }), now - cached.takenAt < interval {
            return cached.body
        }
        let document = SnapshotDocument(pool.snapshot(includingLatencies: latencies), name: name)
        let body = ByteBuffer(bytes: try MonitorJSON.encoder().encode(document))
        cache.withLock { $0[key] = (now, body) }
        return body
    }

    /// Counts every pool's scale events for `/metrics`, from the pools' event streams.
    func startListening() -> [Task<Void, Never>] {
        pools.map { name, pool in
            let events = pool.events()
            return Task { [metrics] in
                for await event in events {
                    switch event.kind {
                    case .scaledUp: metrics.scaled(pool: name, up: true)
                    case .scaledDown: metrics.scaled(pool: name, up: false)
                    default: break
                    }
                }
            }
        }
    }
}
