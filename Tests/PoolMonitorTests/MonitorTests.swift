import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PoolEngine
import Synchronization
import Testing

@testable import PoolMonitor

/// A pool and a monitor serving it on a free loopback port, for one test.
struct Served {
    let pool: WorkerPool
    let monitor: RunningMonitor

    init(token: String? = nil, name: String = "images", min: Int = 1, max: Int = 4, threshold: Int = 4) async throws {
        var configuration = PoolConfiguration()
        configuration.minWorkers = min
        configuration.maxWorkers = max
        configuration.scaleUpThreshold = threshold
        configuration.cooldown = .zero
        configuration.logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        pool = try WorkerPool(configuration: configuration)
        var settings = MonitorConfiguration(port: 0, controlToken: token)
        settings.maxRequestBytes = 1_024
        monitor = try await PoolMonitor.start(
            pools: [name: pool], configuration: settings, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func stop() async {
        await monitor.stop()
        _ = await pool.shutdown(.immediate)
    }

    /// Status and body of a request.
    func request(_ path: String, method: HTTPMethod = .GET, body: String? = nil, headers: [(String, String)] = []) async throws -> (
        Int, String
    ) {
        var request = HTTPClientRequest(url: "\(monitor.url)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 4 << 20))
        return (Int(response.status.code), text)
    }
}

@Suite("The monitor endpoint, against a real server on loopback", .timeLimit(.minutes(2)))
struct MonitorTests {
    @Test("GET /v1/pools lists the pools; the snapshot JSON carries workers (id, state), queue_depth and the counters")
    func snapshot() async throws {
        let served = try await Served()
        for _ in 0..<20 { served.pool.trySubmit {} }
        let (status, list) = try await served.request("/v1/pools")
        #expect(status == 200)
        #expect(list.contains(#""pools":[{"name":"images"}]"#))
        let (snapshotStatus, text) = try await served.request("/v1/pools/images/snapshot")
        #expect(snapshotStatus == 200)
        let document = try MonitorJSON.decoder().decode(SnapshotDocument.self, from: Data(text.utf8))
        #expect(document.protocolVersion == monitorProtocolVersion && document.name == "images")
        #expect(!document.workers.isEmpty && document.workers.allSatisfy { $0.id > 0 && !$0.state.isEmpty })
        #expect(document.counters.submitted == 20)
        for key in [#""queue_depth":"#, #""workers":[{"#, #""counters":{"#, #""cancelled":"#, #""rejected":"#] {
            #expect(text.contains(key), "\(key) missing in \(text)")
        }
        await served.stop()
    }

    @Test("GET /v1/pools/NAME/events streams the pool's events as they happen: a scale-up arrives")
    func events() async throws {
        let served = try await Served(min: 1, max: 8, threshold: 2)
        var request = HTTPClientRequest(url: "\(served.monitor.url)/v1/pools/images/events")
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.headers.first(name: "content-type") == "text/event-stream")
        let reader = Task { () -> String? in
            var text = ""
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if text.contains("event: scaled_up") { return text }
            }
            return nil
        }
        // Wait until the stream is open (its comment line), then make the pool grow.
        try await Task.sleep(for: .milliseconds(200))
        let gate = Gate()
        for _ in 0..<40 { served.pool.trySubmit { await gate.wait() } }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            reader.cancel()
        }
        let text = try? await reader.value
        timeout.cancel()
        #expect(text?.contains(#""type":"scaled_up""#) == true, "no scale event in: \(text ?? "nothing")")
        gate.open()
        await served.stop()
    }

    @Test("GET /v1/pools/NAME/snapshots pushes a snapshot a frame, with the histograms every Nth; the stream follows the pool")
    func snapshotStream() async throws {
        let served = try await Served()
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "\(served.monitor.url)/v1/pools/images/snapshots?interval_ms=50&latencies_every=3"),
            timeout: .seconds(10))
        #expect(response.status == .ok && response.headers.first(name: "content-type") == "text/event-stream")
        let reader = Task { () -> [SnapshotDocument] in
            var text = ""
            var documents: [SnapshotDocument] = []
            for try await chunk in response.body {
                text += String(buffer: chunk)
                while let end = text.range(of: "\n\n") {
                    let event = text[..<end.lowerBound]
                    text = String(text[end.upperBound...])
                    for line in event.split(separator: "\n") where line.hasPrefix("data: ") {
                        documents.append(try MonitorJSON.decoder().decode(SnapshotDocument.self, from: Data(line.dropFirst(6).utf8)))
                    }
                }
                if documents.count == 7 { served.pool.trySubmit {} }
                if documents.count >= 12 { return documents }
            }
            return documents
        }
        let documents = try await reader.value
        #expect(documents.count == 12)
        #expect(documents.first?.counters.submitted == 0 && documents.last?.counters.submitted == 1, "the stream follows the pool")
        let withLatencies = documents.indices.filter { !documents[$0].latencyBuckets.isEmpty }
        #expect(withLatencies == [0, 3, 6, 9], "histograms in every third snapshot: \(withLatencies)")
        let bad = try await served.request("/v1/pools/images/snapshots?interval_ms=1")
        #expect(bad.0 == 400 && bad.1.contains("interval_ms must be an integer within 50...10000"), "\(bad)")
        #expect(try await served.request("/v1/pools/nope/snapshots").0 == 404)
        await served.stop()
    }

    @Test("/metrics is Prometheus text: counts by terminal state, workers by state, latency histograms")
    func metrics() async throws {
        let served = try await Served()
        for _ in 0..<30 { served.pool.trySubmit {} }
        try await waitWhile { served.pool.snapshot(includingLatencies: false).counters.completed < 30 }
        let (status, text) = try await served.request("/metrics")
        #expect(status == 200)
        let samples = try PrometheusText.parse(text)
        #expect(samples[#"poolscope_jobs_total{pool="images",outcome="completed"}"#] == 30)
        #expect(samples[#"poolscope_jobs_submitted_total{pool="images"}"#] == 30)
        #expect(samples[#"poolscope_queue_depth{pool="images"}"#] == 0)
        #expect((samples[#"poolscope_workers{pool="images",state="idle"}"#] ?? 0) >= 1)
        #expect(samples[#"poolscope_end_to_end_seconds_count{pool="images"}"#] == 30)
        #expect(samples[#"poolscope_end_to_end_seconds_bucket{pool="images",le="+Inf"}"#] == 30)
        let buckets = MonitorMetrics.latencyBuckets.compactMap { samples[#"poolscope_service_seconds_bucket{pool="images",le="\#($0)"}"#] }
        #expect(buckets.count == MonitorMetrics.latencyBuckets.count && buckets == buckets.sorted(), "cumulative buckets")
        // A second scrape advances the counters by what happened in between, no more.
        for _ in 0..<5 { served.pool.trySubmit {} }
        try await waitWhile { served.pool.snapshot(includingLatencies: false).counters.completed < 35 }
        let again = try PrometheusText.parse(try await served.request("/metrics").1)
        #expect(again[#"poolscope_jobs_total{pool="images",outcome="completed"}"#] == 35)
        await served.stop()
    }

    @Test("commands: 403 when control is off, 401 without or with a wrong token, applied with the right one")
    func commandsAndTokens() async throws {
        let readOnly = try await Served()
        let command = #"{"command": "set_threshold", "value": 9}"#
        #expect(try await readOnly.request("/v1/pools/images/commands", method: .POST, body: command).0 == 403)
        await readOnly.stop()

        let served = try await Served(token: "s3cret")
        #expect(try await served.request("/v1/pools/images/commands", method: .POST, body: command).0 == 401)
        let wrong = try await served.request(
            "/v1/pools/images/commands", method: .POST, body: command, headers: [("Authorization", "Bearer nope")])
        #expect(wrong.0 == 401)
        let right = try await served.request(
            "/v1/pools/images/commands", method: .POST, body: command, headers: [("Authorization", "Bearer s3cret")])
        #expect(right.0 == 200, "\(right.1)")
        #expect(served.pool.snapshot().settings.scaleUpThreshold == 9)
        let crash = try await served.request(
            "/v1/pools/images/commands", method: .POST, body: #"{"command": "set_max_workers", "value": 0}"#,
            headers: [("Authorization", "Bearer s3cret")])
        #expect(crash.0 == 400 && crash.1.contains("refused"), "an invalid setting is refused with the pool's reason: \(crash.1)")
        await served.stop()
    }

    @Test("malformed, unknown and oversized requests answer 400, 404 and 413, and the server goes on serving")
    func badRequests() async throws {
        let served = try await Served(token: "t")
        let auth = [("Authorization", "Bearer t")]
        #expect(try await served.request("/v1/pools/images/commands", method: .POST, body: "{not json", headers: auth).0 == 400)
        let unknown = try await served.request("/v1/pools/images/commands", method: .POST, body: #"{"command": "dance"}"#, headers: auth)
        #expect(unknown.0 == 400 && unknown.1.contains("unknown command 'dance'"))
        let missing = try await served.request("/v1/pools/nope/snapshot")
        #expect(missing.0 == 404 && missing.1.contains("no pool named 'nope'"))
        #expect(try await served.request("/v2/whatever").0 == 404)
        let big = String(repeating: "x", count: 5_000)
        #expect(try await served.request("/v1/pools/images/commands", method: .POST, body: big, headers: auth).0 == 413)
        // Numbers that would overflow or trap inside the pool are refused with a reason, never crash it.
        for hostile in [
            #"{"command": "change_threshold", "by": 9223372036854775807}"#, #"{"command": "set_threshold", "value": 9223372036854775807}"#,
            #"{"command": "set_max_workers", "value": 100000000}"#, #"{"command": "set_rate_limit", "per_second": 1e-12}"#,
            #"{"command": "set_rate_limit", "per_second": 10, "burst": 9223372036854775807}"#,
            #"{"command": "shutdown", "mode": "graceful", "deadline_s": 1e300}"#, #"{"command": "shutdown", "deadline_s": -1}"#,
        ] {
            let answer = try await served.request("/v1/pools/images/commands", method: .POST, body: hostile, headers: auth)
            #expect(answer.0 == 400, "\(hostile) -> \(answer)")
        }
        #expect(served.pool.snapshot(includingLatencies: false).phase == .running)
        #expect(try await served.request("/v1/pools").0 == 200, "still serving")
        await served.stop()
    }

    @Test("a snapshot document turns back into a snapshot the dashboard draws: workers, counts, latencies, events")
    func documentRoundTrip() async throws {
        let served = try await Served(min: 1, max: 8, threshold: 2)
        let gate = Gate()
        for _ in 0..<40 { served.pool.trySubmit { await gate.wait() } }
        try await waitWhile { served.pool.snapshot(includingLatencies: false).workers.count < 8 }
        gate.open()
        try await waitWhile { served.pool.snapshot(includingLatencies: false).counters.completed < 40 }
        let original = served.pool.snapshot()
        let text = try await served.request("/v1/pools/images/snapshot").1
        let rebuilt = PoolSnapshot(try MonitorJSON.decoder().decode(SnapshotDocument.self, from: Data(text.utf8)))
        #expect(rebuilt.workers.map(\.id) == original.workers.map(\.id))
        #expect(rebuilt.counters == original.counters)
        #expect(rebuilt.latencies?.endToEnd.totalCount == original.latencies?.endToEnd.totalCount)
        #expect(rebuilt.recentEvents.contains { if case .scaledUp(_, 8, _) = $0.kind { true } else { false } })
        #expect(rebuilt.settings.maxWorkers == 8)
        await served.stop()
    }

    @Test("a bad pool name or port is refused before anything listens")
    func badConfiguration() async throws {
        let pool = try WorkerPool(configuration: PoolConfiguration())
        await #expect(throws: MonitorError.self) { try await PoolMonitor.start(pools: ["no spaces": pool], configuration: .init(port: 0)) }
        await #expect(throws: MonitorError.self) { try await PoolMonitor.start(pools: ["ok": pool], configuration: .init(port: 70_000)) }
        _ = await pool.shutdown(.immediate)
    }
}

/// A job gate: jobs wait until it opens.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { continuation in
            let pass = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if pass { continuation.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A small parser of the Prometheus text exposition format (0.0.4), strict enough to catch malformed
/// output: comments are `# HELP` or `# TYPE`, every sample is `name{labels} value`, each family is
/// declared once.
enum PrometheusText {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// Samples by their name with labels, as written.
    static func parse(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        var declared: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count >= 3, parts[1] == "HELP" || parts[1] == "TYPE" else {
                    throw Malformed(description: "bad comment: \(line)")
                }
                if parts[1] == "TYPE" {
                    guard declared.insert(String(parts[2])).inserted else { throw Malformed(description: "family declared twice: \(line)") }
                }
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw Malformed(description: "bad sample: \(line)")
            }
            let name = String(line[..<space])
            let metric = name.prefix { $0 != "{" }
            guard !metric.isEmpty, metric.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
                throw Malformed(description: "bad metric name: \(line)")
            }
            if name.contains("{") && !name.hasSuffix("}") { throw Malformed(description: "bad labels: \(line)") }
            samples[name] = value
        }
        return samples
    }
}

/// Polls every 10 ms while `condition` holds, for at most 20 s of real time (a loaded 2-core machine can
/// take seconds for what takes milliseconds alone); the test's own expectations then judge the outcome.
func waitWhile(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
}
