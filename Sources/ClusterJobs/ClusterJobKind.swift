// The job side of the cluster that needs no database: kinds, handlers, payload decoding, the simulated kind.
// Its own module (PoolCluster re-exports it) so the payload decoding can be fuzzed without PostgresNIO.

/// A kind of cluster job: its name, shared by producers and handlers, and the `Codable` payload it carries.
///
/// ```swift
/// let resize = ClusterJobKind<ResizeRequest>("resize")
/// try await producer.enqueue(resize, ResizeRequest(path: "a.png", width: 640))
/// handlers.register(resize) { request, context in try await resizeImage(request) }
/// ```
public struct ClusterJobKind<Payload: Codable & Sendable>: Sendable, Hashable {
    public let name: String
    public init(_ name: String) { self.name = name }
}
