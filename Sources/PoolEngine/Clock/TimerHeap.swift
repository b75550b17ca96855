import HeapModule
import Synchronization

/// What waits in a ``TimerHeap``: a task's sleep (``Sleeper``), or a wait the pool owns (`OwnedWait`).
protocol TimerTarget: AnyObject, Sendable {
    /// Called once its deadline has passed: ends the wait, or puts it back in the timers. `false` exactly
    /// when its entry was counted as cancelled (``TimerHeap/noteCancelled()``).
    func end() -> Bool
    /// Whether it was cancelled (a sweep drops it).
    var isCancelled: Bool { get }
}

extension Atomic where Value == UInt8 {
    /// Moves a phase kept as its raw value from `expected` to `desired`, acquiring and releasing; `false` if
    /// it was elsewhere. The timers' waits (``Sleeper``, `OwnedWait`) order their ends with it.
    func exchange<Phase: RawRepresentable<UInt8>>(_ expected: Phase, _ desired: Phase) -> Bool {
        compareExchange(expected: expected.rawValue, desired: desired.rawValue, ordering: .acquiringAndReleasing).exchanged
    }
}

/// One sleep's state, shared by the sleeping task, its cancellation handler and whichever thread ends it.
///
/// `@unchecked Sendable`: the one mutable field, `continuation`, is written once by the sleeping task before
/// the phase moves from pending to waiting (a releasing exchange), and read only by whoever then moves the
/// phase from waiting to done or cancelled (an acquiring exchange, which exactly one side wins). The phase
/// itself is an `Atomic`, which ThreadSanitizer sees.
final class Sleeper: TimerTarget, @unchecked Sendable {
    private enum Phase: UInt8 {
        case pending, waiting, cancelled, done
    }

    private let phase = Atomic<UInt8>(Phase.pending.rawValue)
    private var continuation: UnsafeContinuation<Void, any Error>?

    /// A sleep for a task to wait on (``wait(register:cancelled:)``).
    init() {}

    private func exchange(_ expected: Phase, _ desired: Phase) -> Bool { phase.exchange(expected, desired) }

    var isCancelled: Bool { phase.load(ordering: .relaxed) == Phase.cancelled.rawValue }

    /// Cancels a sleep that is not waiting yet (it will not wait); `false` if it already waits or ended.
    func cancelBeforeWaiting() -> Bool { exchange(.pending, .cancelled) }

    /// Ends the sleep if it is still waiting; `false` when it was cancelled first (or never waited).
    func end() -> Bool {
        guard exchange(.waiting, .done), let continuation else { return false }
        continuation.resume()
        return true
    }

    /// Suspends the current task until ``end()`` or cancellation. `register` is called once the
    /// continuation is stored (never for a task cancelled before it could wait); `cancelled` is called
    /// when cancellation ends a registered sleep, before it is resumed.
    nonisolated(nonsending) static func wait(register: (Sleeper) -> Void, cancelled: @Sendable (Sleeper) -> Void) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                sleeper.continuation = continuation
                guard sleeper.exchange(.pending, .waiting) else {
                    continuation.resume(throwing: CancellationError())  // cancelled before it could wait
                    return
                }
                register(sleeper)
            }
        } onCancel: {
            if sleeper.cancelBeforeWaiting() { return }
            guard sleeper.exchange(.waiting, .cancelled), let continuation = sleeper.continuation else { return }
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

    /// The timers' resolution: a sleep ends at the first tick of 1 ms (on the monotonic clock) at or after its
    /// deadline, so one wake-up ends every sleep due within the same millisecond. Tokio's timer wheel has
    /// the same resolution, and Go's timers on Linux wait in whole milliseconds.
    static let tick: UInt64 = 1_000_000

    /// When to look next: the first tick at or after the earliest deadline. Every sleep due then ends then,
    /// so none ends early and none more than a tick late.
    var wakeTime: UInt64? {
        heap.min.map { entry in
            let (time, overflow) = entry.deadline.addingReportingOverflow(Self.tick - 1)
            return overflow ? .max : time / Self.tick * Self.tick
        }
    }

    /// Adds a sleep that ends at the first tick at or after `deadline`; `true` when it is now the earliest.
    @discardableResult
    mutating func insert(deadline: UInt64, sleeper: any TimerTarget) -> Bool {
        let earliest = heap.min.map { deadline < $0.deadline } ?? true
        sequence &+= 1
        heap.insert(Entry(deadline: deadline, sequence: sequence, sleeper: sleeper))
        return earliest
    }

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
