/// What happens to a submission, in order: a pool shutting down refuses it, an open circuit breaker refuses
/// it, a full queue applies the overflow policy, and otherwise it is queued.
enum AdmissionDecision: Equatable {
    case enqueue
    case reject(RejectionReason)
    /// Make room by dropping the oldest waiting job (it ends as rejected), then queue this one.
    case dropOldestThenEnqueue
    /// The caller waits for space (``OverflowPolicy/wait`` through ``WorkerPool/submit(_:)``).
    case block
    /// The caller runs the job itself (``OverflowPolicy/runInCaller`` through ``WorkerPool/submit(_:)``).
    case runInCaller
}

/// The pool's admission rules: its capacity and overflow policy.
struct AdmissionRule: Sendable {
    let capacity: Int?
    let overflow: OverflowPolicy

    init(capacity: Int?, overflow: OverflowPolicy) {
        self.capacity = capacity
        self.overflow = overflow
    }

    /// The fate of one submission. `breakerAdmits` is asked only when the pool accepts jobs (asking may move
    /// an open breaker to half-open); `canWait` and `callerMayRun` say what the submitting call allows.
    func decide(
        accepting: Bool, breakerAdmits: @autoclosure () -> Bool, queued: Int, canWait: Bool, callerMayRun: Bool
    ) -> AdmissionDecision {
        guard accepting else { return .reject(.shuttingDown) }
        guard breakerAdmits() else { return .reject(.circuitOpen) }
        guard !hasRoom(queued: queued) else { return .enqueue }
        switch overflow {
        case .reject: return .reject(.queueFull)
        case .dropOldest: return .dropOldestThenEnqueue
        case .wait: return canWait ? .block : .reject(.queueFull)
        case .runInCaller: return callerMayRun ? .runInCaller : .reject(.queueFull)
        }
    }

    /// Whether one more job fits in a queue holding `queued`.
    func hasRoom(queued: Int) -> Bool { capacity.map { queued < $0 } ?? true }
}
