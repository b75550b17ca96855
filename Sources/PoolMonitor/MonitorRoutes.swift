import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PoolEngine
import ServiceLifecycle

/// The monitor's routes (the contract in DESIGN.md, "Monitor endpoint"). Every error answers JSON
/// `{"ok": false, "message": ...}` with its status, and the server goes on serving.
enum MonitorRoutes {
    static func router(_ state: MonitorState) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorDocumentMiddleware())
        router.get("/metrics") { _, _ -> Response in
            let text = state.metrics.exposition(state.pools)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/v1/pools") { _, _ -> Response in
            let document = PoolListDocument(
                pools: state.pools.keys.sorted().map { .init(name: $0) }, protocolVersion: monitorProtocolVersion)
            return try json(document)
        }
        router.get("/v1/pools/:name/snapshot") { request, context -> Response in
            let name = try context.parameters.require("name")
            // `?latencies=0` leaves out the latency histograms (most of the document).
            let latencies = request.uri.queryParameters["latencies"].map { $0 != "0" && $0 != "false" } ?? true
            guard let body = try state.snapshotJSON(name, latencies: latencies) else { throw unknownPool(name, state) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
        }
        // The snapshot as a stream (server-sent events, one `snapshot` event per interval): what `poolscope
        // attach` reads. A watcher costs the server one write of the shared document per frame instead of a
        // request to parse, route and answer. `?interval_ms=100` (50...10000), `?latencies_every=10` (the
        // histograms in every Nth snapshot, 1...1000; 0: never).
        router.get("/v1/pools/:name/snapshots") { request, context -> Response in
            let name = try context.parameters.require("name")
            guard state.pools[name] != nil else { throw unknownPool(name, state) }
            let interval = try queryInteger(request, "interval_ms", default: 100, within: 50...10_000)
            let latenciesEvery = try queryInteger(request, "latencies_every", default: 10, within: 0...1_000)
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    // Ticks from a task of their own, so a server stopping gracefully ends the stream at once.
                    let (ticks, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
                    let ticker = Task {
                        while !Task.isCancelled {
                            continuation.yield()
                            try? await Task.sleep(for: .milliseconds(interval))
                        }
                        continuation.finish()
                    }
                    defer { ticker.cancel() }
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        try await writer.write(ByteBuffer(string: ": poolscope monitor, protocol \(monitorProtocolVersion)\n\n"))
                        var frame = 0
                        for await _ in ticks.cancelOnGracefulShutdown() {
                            let latencies = latenciesEvery > 0 && frame % latenciesEvery == 0
                            guard let document = try state.snapshotJSON(name, latencies: latencies) else { break }
                            var event = ByteBuffer(string: "event: snapshot\ndata: ")
                            event.writeImmutableBuffer(document)
                            event.writeString("\n\n")
                            try await writer.write(event)
                            frame += 1
                        }
                    }
                    try await writer.finish(nil)
                })
        }
        router.get("/v1/pools/:name/events") { request, context -> Response in
            let name = try context.parameters.require("name")
            guard let pool = state.pools[name] else { throw unknownPool(name, state) }
            let now = pool.snapshot(includingLatencies: false)
            let origin = now.takenAt - now.uptime
            let events = pool.events()
            let encoder = MonitorJSON.encoder()
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    try await request.body.consumeWithCancellationOnInboundClose { _ in
                        try await writer.write(ByteBuffer(string: ": poolscope monitor, protocol \(monitorProtocolVersion)\n\n"))
                        for await event in events.cancelOnGracefulShutdown() {
                            let document = SnapshotDocument.Event(event, origin: origin)
                            let data = String(decoding: try encoder.encode(document), as: UTF8.self)
                            try await writer.write(ByteBuffer(string: "event: \(document.type)\ndata: \(data)\n\n"))
                        }
                    }
                    try await writer.finish(nil)
                })
        }
        router.post("/v1/pools/:name/commands") { request, context -> Response in
            let name = try context.parameters.require("name")
            guard let pool = state.pools[name] else { throw unknownPool(name, state) }
            guard let token = state.configuration.controlToken else {
                throw HTTPError(.forbidden, message: "control is not enabled by the application (it serves this pool read-only)")
            }
            guard request.headers[.authorization] == "Bearer \(token)" else {
                throw HTTPError(.unauthorized, message: "commands need 'Authorization: Bearer TOKEN' with the application's control token")
            }
            let limit = state.configuration.maxRequestBytes
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                throw HTTPError(.contentTooLarge, message: "a command is at most \(limit) bytes, got \(length)")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                throw HTTPError(.contentTooLarge, message: "a command is at most \(limit) bytes")
            }
            let command: CommandDocument
            do {
                command = try MonitorJSON.decoder().decode(CommandDocument.self, from: Data(buffer: body))
            } catch {
                throw HTTPError(.badRequest, message: "not a command document (JSON with a 'command' field): \(plainWords(error))")
            }
            let done: String
            do throws(CommandError) {
                done = try apply(command, to: pool)
            } catch {
                throw HTTPError(.badRequest, message: error.description)
            }
            return try json(ReplyDocument(ok: true, message: done))
        }
        return router
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try MonitorJSON.encoder().encode(value))))
    }

    /// A decoding error in words, without the decoder's internals.
    static func plainWords(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty: return "the body is not valid JSON"
        case DecodingError.dataCorrupted(let context): return "field '\(path(context))' has a value that does not fit"
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(let type, let context):
            return "field '\(path(context))' must be \(type == String.self ? "text" : "a \(type)")"
        case DecodingError.valueNotFound(_, let context): return "field '\(path(context))' is null"
        default: return "\(error)"
        }
    }

    /// An integer query parameter within bounds; 400 naming it otherwise.
    static func queryInteger(_ request: Request, _ name: String, default value: Int, within bounds: ClosedRange<Int>) throws -> Int {
        guard let text = request.uri.queryParameters[Substring(name)] else { return value }
        guard let number = Int(text), bounds.contains(number) else {
            throw HTTPError(
                .badRequest, message: "?\(name) must be an integer within \(bounds.lowerBound)...\(bounds.upperBound), got '\(text)'")
        }
        return number
    }

    static func unknownPool(_ name: String, _ state: MonitorState) -> HTTPError {
        HTTPError(.notFound, message: "no pool named '\(name)' (serving: \(state.pools.keys.sorted().joined(separator: ", ")))")
    }
}

/// Writes every error as the monitor's JSON reply with its status (404 for unknown paths included).
struct ErrorDocumentMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return try MonitorRoutes.json(ReplyDocument(ok: false, message: error.body ?? "\(error.status)"), status: error.status)
        } catch is NIOTooManyBytesError {
            return try MonitorRoutes.json(ReplyDocument(ok: false, message: "request too large"), status: .contentTooLarge)
        }
    }
}
