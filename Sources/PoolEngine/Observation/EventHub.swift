import DequeModule

/// Fans the pool's events out to every subscriber and keeps the latest for snapshots.
final class EventHub: Sendable {
    private struct State {
        var subscribers: [Int: AsyncStream<PoolEvent>.Continuation] = [:]
        var nextID = 0
        var recent = Deque<PoolEvent>()
        var finished = false
    }

    private let state = Locked(State())
    static let recentCapacity = 64
    static let subscriberBuffer = 4_096

    func subscribe() -> AsyncStream<PoolEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: PoolEvent.self, bufferingPolicy: .bufferingNewest(Self.subscriberBuffer))
        let id: Int? = state.withLock { state in
            guard !state.finished else { return nil }
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ events: [PoolEvent]) {
        let subscribers = state.withLock { state in
            for event in events {
                state.recent.append(event)
                if state.recent.count > Self.recentCapacity { state.recent.removeFirst() }
            }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            for event in events { subscriber.yield(event) }
        }
    }

    var recent: [PoolEvent] { state.withLock { Array($0.recent) } }

    func finish() {
        let subscribers = state.withLock { state in
            state.finished = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}
