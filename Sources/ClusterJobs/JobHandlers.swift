import Foundation

/// What a handler knows about the attempt it runs.
public struct ClusterJobContext: Sendable {
    /// The job's id in the cluster.
    public let id: Int64
    public let kind: String
    public let key: String?
    /// This attempt's number, from 1.
    public let attempt: Int
    public let maxAttempts: Int
    /// The name of the node running the attempt.
    public let node: String

    package init(id: Int64, kind: String, key: String?, attempt: Int, maxAttempts: Int, node: String) {
        self.id = id
        self.kind = kind
        self.key = key
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.node = node
    }
}

/// The handlers a node runs: one per job kind, each taking the decoded payload.
///
/// A job whose kind has no handler here, or whose payload does not decode as the kind's payload type,
/// fails its attempt with an error saying so (then is retried or discarded like any failure); it never
/// crashes the node.
public struct ClusterJobHandlers: Sendable {
    package typealias Erased = @Sendable (_ payload: String, _ context: ClusterJobContext) async throws -> Void
    private(set) var handlers: [String: Erased] = [:]

    public init() {}

    /// Registers the handler of `kind`, replacing any earlier one.
    public mutating func register<Payload>(
        _ kind: ClusterJobKind<Payload>,
        _ handler: @escaping @Sendable (Payload, ClusterJobContext) async throws -> Void
    ) {
        handlers[kind.name] = { payload, context in
            let value: Payload
            do {
                value = try JSONDecoder().decode(Payload.self, from: Data(payload.utf8))
            } catch {
                throw ClusterJobError.undecodablePayload(
                    kind: kind.name, type: String(describing: Payload.self), detail: describeDecodingError(error))
            }
            try await handler(value, context)
        }
    }

    /// The kinds with a handler, sorted.
    public var kinds: [String] { handlers.keys.sorted() }

    package func handler(for kind: String) -> Erased? { handlers[kind] }
}

/// Why an attempt failed before its handler ran.
public enum ClusterJobError: Error, CustomStringConvertible, Sendable {
    case unknownKind(String, node: String, known: [String])
    case undecodablePayload(kind: String, type: String, detail: String)

    public var description: String {
        switch self {
        case .unknownKind(let kind, let node, let known):
            "no handler for job kind '\(kind)' on node \(node) (it handles: \(known.joined(separator: ", ")))"
        case .undecodablePayload(let kind, let type, let detail):
            "the payload of a '\(kind)' job does not decode as \(type): \(detail)"
        }
    }
}

private func describeDecodingError(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let text = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return text.isEmpty ? "" : " at '\(text)'"
    }
    switch error {
    case .keyNotFound(let key, let context): return "missing field '\(key.stringValue)'\(path(context))"
    case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
    case .valueNotFound(let type, let context): return "missing \(type)\(path(context))"
    case .dataCorrupted(let context): return context.debugDescription + path(context)
    @unknown default: return "\(error)"
    }
}
