import ArgumentParser
import AsyncHTTPClient
import Dashboard
import Foundation
import NIOCore
import NIOHTTP1
import PoolEngine
import PoolMonitor
import Synchronization
import Workload

struct Attach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the dashboard on a pool served by an application (PoolMonitor) or by `poolscope run --serve`.",
        discussion:
            "Keys that need control (thresholds, workers, kill, shutdown) work when the application enabled it and --token matches; bursts, rates and speed belong to scenarios and are shown as unavailable."
    )

    @Argument(help: "The monitor's address, like http://127.0.0.1:9464.")
    var url: String

    @Option(help: "Which pool, when the application serves several (default: the first).")
    var pool: String?

    @Option(help: "The application's control token, to steer the pool.")
    var token: String?

    @Option(help: "Frames per second (1-30).")
    var fps: Int = 10

    @Flag(help: "Draw with plain ASCII instead of Unicode block characters.")
    var ascii = false

    func validate() throws {
        guard url.hasPrefix("http://"), URL(string: url)?.host != nil else {
            throw ValidationError("the address must be an http:// URL with a host, like http://127.0.0.1:9464; got '\(url)'")
        }
        guard (1...30).contains(fps) else { throw ValidationError("--fps must lie within 1...30, got \(fps)") }
    }

    @MainActor
    func run() async throws {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let client = RemotePoolSource.makeClient()
        let chosen: String
        var names: [String] = []
        do {
            let list = try await RemotePoolSource.pools(at: base, client: client)
            names = list
            guard !list.isEmpty else { throw AttachError("\(base) serves no pools") }
            if let pool {
                guard list.contains(pool) else {
                    throw AttachError("\(base) has no pool named '\(pool)'; it serves: \(list.joined(separator: ", "))")
                }
                chosen = pool
            } else {
                chosen = list[0]
            }
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
        guard isTerminal(1) else {
            printError("poolscope: the dashboard needs a terminal, and standard output is not one.")
            printError("Read the pool without one: curl \(base)/v1/pools/\(chosen)/snapshot")
            terminate(2)
        }
        let source = RemotePoolSource(
            base: base, pools: names, pool: chosen, token: token, client: client, interval: .milliseconds(1_000 / fps))
        let app = DashboardApp(source: source, fps: fps, burst: 0, ascii: ascii)
        app.state.notice = "attached to \(chosen) at \(base)\(names.count > 1 ? " (\(names.count) pools: > and < switch)" : "")"
        let signal = await app.run()
        try? await client.shutdown()
        if let number = signal { terminate(128 + number) }
    }
}

struct AttachError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A pool watched over the network: polls its snapshot (one request per frame), keeps the last picture
/// when the connection is lost, and reconnects by itself. When the monitor serves several pools, `>` and
/// `<` switch between them; the list is read again every few seconds, so pools started later appear.
final class RemotePoolSource: DashboardSource {
    private struct State {
        /// The pools the monitor serves, and the one watched.
        var pools: [String]
        var pool: String
        var frame: DashboardFrame?
        var lostSince: ContinuousClock.Instant?
        var lastError: String?
        var lastSubmitted: (uptime: Double, submitted: Int)?
        var arrivalRate = 0.0
        var commandProblem: String?
        var refusals: [(Command, String)] = []
    }

    let base: String
    let token: String?
    /// Scenario keys: a watched pool has no arrival stream, speed or pause to steer.
    var unavailableKeys: Set<DashboardKeyAction> {
        [.burst, .rateUp, .rateDown, .pause, .failureUp, .failureDown, .faster, .slower]
    }
    let client: HTTPClient
    let interval: Duration
    private let state: Mutex<State>

    init(base: String, pools: [String], pool: String, token: String?, client: HTTPClient, interval: Duration) {
        self.base = base
        state = Mutex(State(pools: pools.isEmpty ? [pool] : pools, pool: pool))
        self.token = token
        self.client = client
        self.interval = interval
    }

    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(5))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// The pools a monitor serves; a clear error for a refused connection or a protocol this tool does not speak.
    static func pools(at base: String, client: HTTPClient) async throws -> [String] {
        let (status, body) = try await get("\(base)/v1/pools", client: client)
        guard status == 200 else { throw AttachError("\(base)/v1/pools answered HTTP \(status); is this a PoolScope monitor?") }
        guard let list = try? MonitorJSON.decoder().decode(PoolListDocument.self, from: body) else {
            throw AttachError("\(base) did not answer as a PoolScope monitor (no pool list at /v1/pools)")
        }
        guard list.protocolVersion == monitorProtocolVersion else {
            throw AttachError("\(base) speaks monitor protocol \(list.protocolVersion); this poolscope speaks \(monitorProtocolVersion)")
        }
        return list.pools.map(\.name)
    }

    static func get(_ url: String, client: HTTPClient) async throws -> (Int, Data) {
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 32 << 20)
            return (Int(response.status.code), Data(buffer: body))
        } catch {
            throw AttachError("cannot reach \(url): \(oneLine(error))")
        }
    }

    static func oneLine(_ error: any Error) -> String {
        switch error {
        case let error as IOError where error.errnoCode == ECONNREFUSED: return "connection refused"
        case let error as IOError: return "\(error.description)"
        case let error as HTTPClientError: return "\(error)"
        case let error as AttachError: return error.description
        default: return "\(error)"
        }
    }

    /// Reads the pool's snapshot stream (`/v1/pools/NAME/snapshots`: one snapshot a frame, pushed by the
    /// server, the latency histograms once a second) until it breaks or another pool is chosen; then
    /// reconnects, every frame interval, for as long as the dashboard runs.
    func drive() async -> ShutdownReport? {
        while !Task.isCancelled {
            let pool = state.withLock { $0.pool }
            do {
                try await stream(pool)
            } catch {
                lost(Self.oneLine(error))
            }
            try? await Task.sleep(for: interval)
        }
        return nil
    }

    /// Watches the pool `offset` places on in the monitor's list (wrapping around); says which, or why not.
    private func switchPool(by offset: Int) -> String {
        let switched: String? = state.withLock { state in
            guard state.pools.count > 1 else { return nil }
            let index = state.pools.firstIndex(of: state.pool) ?? 0
            state.pool = state.pools[((index + offset) % state.pools.count + state.pools.count) % state.pools.count]
            state.frame = nil
            state.lastSubmitted = nil
            state.arrivalRate = 0
            state.commandProblem = nil
            return state.pool
        }
        guard let switched else { return "this monitor serves one pool" }
        return "watching pool \(switched)"
    }

    private let lastListed = Mutex(ContinuousClock.now)

    /// One stream: every `snapshot` event becomes the frame. Returns when another pool is chosen.
    private func stream(_ pool: String) async throws {
        let milliseconds = max(Int(interval.seconds * 1_000), 50)
        let url =
            "\(base)/v1/pools/\(Self.escaped(pool))/snapshots?interval_ms=\(milliseconds)&latencies_every=\(max(1_000 / milliseconds, 1))"
        let response: HTTPClientResponse
        do {
            response = try await client.execute(HTTPClientRequest(url: url), timeout: .hours(24 * 365))
        } catch {
            throw AttachError("cannot reach \(base): \(Self.oneLine(error))")
        }
        if response.status == .notFound, state.withLock({ $0.pools.contains(pool) }) {
            // A monitor from before the stream (same protocol): poll its snapshot instead.
            try await poll(pool)
            return
        }
        guard response.status == .ok else { throw AttachError("HTTP \(response.status.code) for the snapshot stream") }
        var pending = ByteBuffer()
        for try await chunk in response.body {
            pending.writeImmutableBuffer(chunk)
            while let end = pending.readableBytesView.firstRange(of: [UInt8(ascii: "\n"), UInt8(ascii: "\n")]) {
                let length = end.upperBound - pending.readerIndex
                guard let event = pending.readSlice(length: length) else { break }
                try absorb(event: event, pool: pool)
            }
            pending.discardReadBytes()
            guard pending.readableBytes < 64 << 20 else { throw AttachError("a snapshot event over 64 MB: not a PoolScope monitor") }
            if state.withLock({ $0.pool != pool }) { return }
            refreshListNow()
        }
        throw AttachError("the application closed the stream")
    }

    /// Polls `/snapshot` once a frame, for a monitor without the stream; returns when another pool is chosen.
    private func poll(_ pool: String) async throws {
        var frames = 0
        while !Task.isCancelled, state.withLock({ $0.pool == pool }) {
            let everySecond = max(Int(1 / max(interval.seconds, 0.001)), 1)
            let (code, body) = try await Self.get(
                "\(base)/v1/pools/\(Self.escaped(pool))/snapshot\(frames % everySecond == 0 ? "" : "?latencies=0")", client: client)
            guard code == 200 else { throw AttachError("HTTP \(code) for the snapshot") }
            absorb(try MonitorJSON.decoder().decode(SnapshotDocument.self, from: body), pool: pool)
            frames += 1
            refreshListNow()
            try await Task.sleep(for: interval)
        }
    }

    /// Reads the monitor's list of pools again every 5 s, so pools started later appear.
    private func refreshListNow() {
        let due = lastListed.withLock { last in
            guard ContinuousClock.now - last > .seconds(5) else { return false }
            last = .now
            return true
        }
        guard due else { return }
        Task { [self] in
            guard let list = try? await Self.pools(at: base, client: client), !list.isEmpty else { return }
            state.withLock { state in
                state.pools = list
                // The watched pool is gone from the application: watch its first one.
                if !list.contains(state.pool) {
                    state.commandProblem = "pool \(state.pool) is no longer served; watching \(list[0])"
                    state.pool = list[0]
                    state.frame = nil
                    state.lastSubmitted = nil
                }
            }
        }
    }

    /// One server-sent event: its `data:` line is a snapshot document.
    private func absorb(event: ByteBuffer, pool: String) throws {
        let bytes = event.readableBytesView
        let prefix = Array("data: ".utf8)
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            let line = bytes[lineStart..<lineEnd]
            if line.starts(with: prefix) {
                let document = try MonitorJSON.decoder().decode(SnapshotDocument.self, from: Data(line.dropFirst(prefix.count)))
                absorb(document, pool: pool)
            }
            lineStart = lineEnd + 1
        }
    }

    private func absorb(_ document: SnapshotDocument, pool: String) {
        var snapshot = PoolSnapshot(document)
        var latenciesTakenAt: PoolInstant?
        state.withLock { state in
            guard state.pool == pool else { return }  // another pool was chosen meanwhile
            // The server shares one histogram document a second between its clients, so it may be older
            // than the last frame: keep the fresher frame and take only the latencies from it.
            if snapshot.latencies != nil, let last = state.frame?.snapshot, last.uptime > snapshot.uptime,
                last.uptime - snapshot.uptime < .seconds(2)
            {
                latenciesTakenAt = snapshot.takenAt
                snapshot = last.replacingLatencies(with: snapshot.latencies)
            }
            if latenciesTakenAt != nil {
                // An older document: it says nothing new about arrivals.
            } else if let last = state.lastSubmitted, document.uptimeS > last.uptime + 0.5 {
                state.arrivalRate = Double(document.counters.submitted - last.submitted) / (document.uptimeS - last.uptime)
                state.lastSubmitted = (document.uptimeS, document.counters.submitted)
            } else if state.lastSubmitted == nil || document.uptimeS < (state.lastSubmitted?.uptime ?? 0) {
                state.lastSubmitted = (document.uptimeS, document.counters.submitted)  // first, or the application restarted
            }
            state.lostSince = nil
            state.lastError = nil
            state.frame = DashboardFrame(snapshot: snapshot, status: status(for: snapshot, state), latenciesTakenAt: latenciesTakenAt)
        }
    }

    /// The connection broke: the last picture stays, and the caption says since when and why.
    private func lost(_ reason: String) {
        state.withLock { state in
            state.lostSince = state.lostSince ?? .now
            state.lastError = reason
            if let frame = state.frame {
                state.frame = DashboardFrame(
                    snapshot: frame.snapshot, status: status(for: frame.snapshot, state), latenciesTakenAt: frame.latenciesTakenAt)
            }
        }
    }

    private func status(for snapshot: PoolSnapshot, _ state: State) -> SessionStatus {
        let caption: String
        let pool = state.pool
        let others =
            state.pools.count > 1
            ? " (\((state.pools.firstIndex(of: pool) ?? 0) + 1) of \(state.pools.count): \(state.pools.joined(separator: " · ")); > and < switch)"
            : ""
        if let lost = state.lostSince {
            let seconds = Int((ContinuousClock.now - lost).seconds)
            if snapshot.phase != .running {
                caption =
                    "the application stopped \(seconds)s ago after its pool shut down (\(snapshot.phase.rawValue) when last seen): showing the last picture; reconnecting if it comes back..."
            } else {
                caption = "connection lost \(seconds)s ago (\(state.lastError ?? "no answer")): showing the last picture; reconnecting..."
            }
        } else if let problem = state.commandProblem {
            caption = "attached to \(base), pool \(pool)\(others): \(problem)"
        } else {
            caption = "attached to \(base), pool \(pool)\(others)\(token == nil ? " (read-only: no --token)" : "")"
        }
        return SessionStatus(
            scenarioName: "\(pool) @ \(base.replacingOccurrences(of: "http://", with: ""))", scenarioTime: snapshot.uptime,
            duration: .zero, caption: caption, arrivalRate: state.arrivalRate, paused: false, speed: 1, failureRate: 0,
            extraLatency: .zero, finished: snapshot.phase == .stopped)
    }

    func frame(includingLatencies: Bool) -> DashboardFrame? {
        state.withLock { $0.frame }
    }

    func execute(_ command: Command) -> String? {
        let document: CommandDocument
        switch command {
        case .session(.changeThreshold(let by)): document = CommandDocument(command: "change_threshold", by: by)
        case .session(.changeMinWorkers(let by)): document = CommandDocument(command: "change_min_workers", by: by)
        case .session(.changeMaxWorkers(let by)): document = CommandDocument(command: "change_max_workers", by: by)
        case .session(.crashWorker(let worker)): document = CommandDocument(command: "crash_worker", worker: worker)
        case .session(let action):
            return "\(Self.name(of: action)): unavailable on an attached pool"
        case .setSpeed, .changeSpeed, .togglePause:
            return "speed and pause: unavailable on an attached pool"
        case .switchPool(let offset):
            return switchPool(by: offset)
        case .shutdown, .quit:
            return nil
        }
        guard token != nil else { return "read-only: attach with --token to steer this pool" }
        let pool = state.withLock { $0.pool }
        Task { await send(document, for: command, to: pool) }
        return nil
    }

    func takeRefusals() -> [(Command, String)] {
        state.withLock { state in
            defer { state.refusals.removeAll() }
            return state.refusals
        }
    }

    private static func name(of action: ScenarioAction) -> String {
        switch action {
        case .burst: "burst"
        case .scaleRate, .setRate: "arrival rate"
        case .changeFailureRate, .setFailureRate: "failure rate"
        default: "this key"
        }
    }

    /// A pool's name as a URL path segment.
    static func escaped(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
    }

    /// Sends a command; a refusal is kept for the dashboard (``takeRefusals()``) and shown in the caption.
    private func send(_ document: CommandDocument, for command: Command, to pool: String) async {
        var request = HTTPClientRequest(url: "\(base)/v1/pools/\(Self.escaped(pool))/commands")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            request.body = .bytes(ByteBuffer(bytes: try MonitorJSON.encoder().encode(document)))
            let response = try await client.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            let reply = try? MonitorJSON.decoder().decode(ReplyDocument.self, from: Data(buffer: body))
            let problem: String? =
                switch response.status.code {
                case 200: nil
                case 401: "refused: the --token is not the application's control token (HTTP 401)"
                case 403: "refused: the application did not enable control (HTTP 403)"
                default: "refused (HTTP \(response.status.code)): \(reply?.message ?? "")"
                }
            state.withLock { state in
                guard state.pool == pool else { return }  // about a pool no longer watched
                state.commandProblem = problem
                if let problem { state.refusals.append((command, problem)) }
            }
        } catch {
            let problem = "not sent: \(Self.oneLine(error))"
            state.withLock { state in
                guard state.pool == pool else { return }
                state.commandProblem = problem
                state.refusals.append((command, problem))
            }
        }
    }

    func shutdown(_ mode: ShutdownMode) async -> ShutdownReport? {
        let document: CommandDocument =
            switch mode {
            case .immediate: CommandDocument(command: "shutdown", mode: "immediate")
            case .graceful(let deadline): CommandDocument(command: "shutdown", mode: "graceful", deadlineS: deadline.seconds)
            }
        if token == nil {
            state.withLock { $0.refusals.append((.shutdown(mode), "read-only: attach with --token to shut this pool down")) }
        } else {
            await send(document, for: .shutdown(mode), to: state.withLock { $0.pool })
        }
        return nil
    }

    func quit() async {}
}
