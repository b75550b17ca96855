/// A value that arrives once, for any number of waiters.
final class Completion<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [CheckedContinuation<Value, Never>] = []
    }

    private let state = Locked(State())

    init() {}

    /// Delivers the value; a second delivery is a bug in the pool and stops the process.
    func complete(_ value: Value) {
        let waiters: [CheckedContinuation<Value, Never>] = state.withLock { state in
            precondition(state.value == nil, "completed twice, the second time with \(value)")
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    func wait() async -> Value {
        await withCheckedContinuation { continuation in
            let ready: Value? = state.withLock { state in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// Where a job's terminal outcome is left for the caller who asked for it.
typealias OutcomeBox = Completion<JobOutcome>

/// A submitted job whose outcome the caller can wait for.
public struct JobHandle: Sendable {
    /// The job's number.
    public let id: JobID
    let box: OutcomeBox

    /// Waits for the job's terminal state.
    public func outcome() async -> JobOutcome { await box.wait() }
}

/// A job that exhausted its attempts, kept for inspection.
public struct DeadLetter: Sendable, Equatable, Codable {
    public let id: JobID
    public let key: String?
    public let attempts: Int
    public let lastError: String
    public let timedOut: Bool
    public let at: PoolInstant
}
