import HeapModule

/// What waits in a ``TimerHeap``: a task's sleep (``Sleeper``), or a wait the pool owns (`OwnedWait`).
protocol TimerTarget: AnyObject, Sendable {
    /// Ends the wait, called once its deadline has passed; `false` when it had been cancelled (its entry
    /// was counted by ``TimerHeap/noteCancelled()``).
    func end() -> Bool
    /// Whether it was cancelled (a sweep drops it).
    var isCancelled: Bool { get }
}

/// One sleep's state, shared by the sleeping task, its cancellation handler and whichever thread ends it.
final class Sleeper: TimerTarget {
    enum Phase {
        case pending
        case waiting(UnsafeContinuation<Void, any Error>)
        case cancelled
        case done
    }

    let phase: Locked<Phase>

    /// A sleep for a task to wait on (``wait(register:cancelled:)``).
    init() { phase = Locked(.pending) }

    var isCancelled: Bool {
        phase.withLock { phase in
            if case .cancelled = phase { return true }
            return false
        }
    }

    /// Ends the sleep if it is still waiting; `false` when it was cancelled first (or never waited).
    func end() -> Bool {
        let continuation = phase.withLock { phase -> UnsafeContinuation<Void, any Error>? in
            guard case .waiting(let continuation) = phase else { return nil }
            phase = .done
            return continuation
        }
        continuation?.resume()
        return continuation != nil
    }

    /// Suspends the current task until ``end()`` or cancellation. `register` is called once the
    /// continuation is stored (never for a task cancelled before it could wait); `cancelled` is called
    /// under no lock of the sleeper's when cancellation ends a registered sleep, before it is resumed.
    nonisolated(nonsending) static func wait(register: (Sleeper) -> Void, cancelled: @Sendable (Sleeper) -> Void) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let registered = sleeper.phase.withLock { phase -> Bool in
                    guard case .pending = phase else { return false }  // cancelled before it could wait
                    phase = .waiting(continuation)
                    return true
                }
                guard registered else {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                register(sleeper)
            }
        } onCancel: {
            let continuation = sleeper.phase.withLock { phase -> UnsafeContinuation<Void, any Error>? in
                switch phase {
                case .pending:
                    phase = .cancelled
                    return nil
                case .waiting(let continuation):
                    phase = .cancelled
                    return continuation
                case .cancelled, .done:
                    return nil
                }
            }
            guard let continuation else { return }
            cancelled(sleeper)
            continuation.resume(throwing: CancellationError())
        }
    }
}

/// Sleeps ordered by deadline: the rule behind ``SleepWheel`` and the pool's threads' own timers, as a
/// value with no clock and no lock (its owner reads the time and holds the lock).
///
/// A cancelled sleep's entry stays until its deadline comes (it is then dropped, not ended) or until
/// cancelled entries are more than half of the heap and over `sweepThreshold`, when they are swept out.
struct TimerHeap {
    struct Entry: Comparable {
        let deadline: UInt64
        let sequence: UInt64
        /// How much later than `deadline` the sleep may end, so that one wake-up serves several sleeps.
        let slack: UInt64
        let sleeper: any TimerTarget

        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline == rhs.deadline && lhs.sequence == rhs.sequence }
        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence) }
    }

    private var heap = Heap<Entry>()
    private var sequence: UInt64 = 0
    /// Entries whose sleep was cancelled and that are still in the heap: an estimate (a sleep cancelled
    /// just as it falls due may be counted after it left), used only to decide when to sweep.
    private(set) var cancelledCount = 0
    let sweepThreshold: Int

    init(sweepThreshold: Int = 1_024) { self.sweepThreshold = sweepThreshold }

    /// Entries in the heap, cancelled ones included.
    var count: Int { heap.count }
    /// The earliest deadline, if any entry waits.
    var earliest: UInt64? { heap.min?.deadline }

    /// When to look next: the earliest deadline plus its slack. Every sleep due then ends then, so no
    /// sleep ends more than the largest slack late, and none early.
    var wakeTime: UInt64? {
        heap.min.map { entry in
            let (time, overflow) = entry.deadline.addingReportingOverflow(entry.slack)
            return overflow ? .max : time
        }
    }

    /// Adds a sleep that may end up to `slack` after `deadline`; `true` when it is now the earliest.
    @discardableResult
    mutating func insert(deadline: UInt64, slack: UInt64 = 0, sleeper: any TimerTarget) -> Bool {
        let earliest = heap.min.map { deadline < $0.deadline } ?? true
        sequence &+= 1
        heap.insert(Entry(deadline: deadline, sequence: sequence, slack: slack, sleeper: sleeper))
        return earliest
    }

    /// The slack the pool's threads give a sleep of `nanoseconds`: a sixteenth of it, at most 1 ms, as
    /// timer slack in the kernel and leeway in Dispatch let nearby wake-ups merge.
    static func slack(forSleepOf nanoseconds: UInt64) -> UInt64 { min(nanoseconds / 16, 1_000_000) }

    /// Moves every entry due at `now` (deadline <= now) to `due`, earliest first.
    mutating func popDue(now: UInt64, into due: inout [any TimerTarget]) {
        while let first = heap.min, first.deadline <= now {
            due.append(heap.removeMin().sleeper)
        }
    }

    /// Notes that one entry's sleep was cancelled; sweeps cancelled entries out when they dominate.
    mutating func noteCancelled() {
        cancelledCount += 1
        if cancelledCount > sweepThreshold && cancelledCount * 2 > heap.count { sweepCancelled() }
    }

    /// Takes every cancelled entry out now (looking at each sleep's own state, not the estimate).
    mutating func sweepCancelled() {
        heap = Heap(heap.unordered.filter { !$0.sleeper.isCancelled })
        cancelledCount = 0
    }

    /// Notes that a due entry turned out cancelled (it was counted by ``noteCancelled()`` and has left).
    mutating func noteCancelledEntryLeft() {
        cancelledCount = max(cancelledCount - 1, 0)
    }
}
