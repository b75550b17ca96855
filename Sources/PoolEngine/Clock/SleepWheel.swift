import Dispatch
import Foundation
import HeapModule

/// One timer for many sleeps: every sleep waits in one heap ordered by deadline, and one thread of its own
/// sleeps until the earliest and resumes every sleep that is due, instead of a runtime timer per sleep.
///
/// Made for the scenarios' simulated waits, where thousands of jobs sleep at once and each `Task.sleep`
/// costs a timer source set up and torn down by the runtime: here a sleep costs a heap insertion under a
/// lock, and the thread's wake-ups are shared by every sleep due at once. A sleep never ends before its
/// deadline; it ends later by the thread's wake-up latency, as `Task.sleep` does.
///
/// Cancellation ends a sleep at once with `CancellationError`. A cancelled sleep's entry stays in the heap
/// until its deadline or until cancelled entries are half of it, when they are swept out.
public final class SleepWheel: Sendable {
    /// The wheel the engine's and the scenarios' simulated sleeps share.
    public static let shared = SleepWheel()

    /// One sleep's state, shared by the sleeping task, its cancellation handler and the wheel's thread.
    final class Sleeper: Sendable {
        enum Phase {
            case pending
            case waiting(UnsafeContinuation<Void, any Error>)
            case cancelled
            case done
        }

        let phase = Locked(Phase.pending)
    }

    struct Entry: Comparable {
        let deadline: UInt64
        let sequence: UInt64
        let sleeper: Sleeper

        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline == rhs.deadline && lhs.sequence == rhs.sequence }
        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence) }
    }

    struct State {
        var heap = Heap<Entry>()
        var sequence: UInt64 = 0
        var cancelledInHeap = 0
        var threadStarted = false
    }

    private let state = Locked(State())
    /// Wakes the thread when a sleep earlier than every other arrives (extra signals only cost a look).
    private let wake = DispatchSemaphore(value: 0)

    /// Internal: a wheel's thread lives as long as the process, so there is one shared wheel (and tests'
    /// own).
    init() {}

    /// Sleeps for `duration` (at least), or until the task is cancelled (`CancellationError`).
    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        guard duration > .zero else { return }
        // Saturating: a duration beyond what the clock can hold sleeps until cancelled.
        let (whole, wholeOverflow) = UInt64(clamping: duration.components.seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (nanoseconds, partOverflow) = whole.addingReportingOverflow(UInt64(clamping: duration.components.attoseconds / 1_000_000_000))
        let (deadline, overflow) = DispatchTime.now().uptimeNanoseconds.addingReportingOverflow(nanoseconds)
        try await sleep(untilUptime: wholeOverflow || partOverflow || overflow ? UInt64.max : deadline)
    }

    /// Sleeps until the monotonic clock (`DispatchTime`'s uptime) reads `deadline` nanoseconds.
    func sleep(untilUptime deadline: UInt64) async throws {
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
                let (earliest, startThread) = state.withLock { state -> (Bool, Bool) in
                    let earliest = state.heap.min.map { deadline < $0.deadline } ?? true
                    state.sequence &+= 1
                    state.heap.insert(Entry(deadline: deadline, sequence: state.sequence, sleeper: sleeper))
                    defer { state.threadStarted = true }
                    return (earliest, !state.threadStarted)
                }
                if startThread { start() }
                if earliest { wake.signal() }
            }
        } onCancel: {
            // Under the heap's lock (then the sleeper's, the order the sweep takes them in), so the count of
            // cancelled entries moves with the cancellation itself.
            let continuation = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
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
                if continuation != nil { state.cancelledInHeap += 1 }
                return continuation
            }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Sleeps waiting now (cancelled ones included until swept).
    var waiting: Int { state.withLock { $0.heap.count } }

    private func start() {
        let thread = Thread { [self] in runLoop() }
        thread.name = "poolscope-sleep-wheel"
        thread.stackSize = 1 << 18
        thread.start()
    }

    /// The wheel's thread: resume what is due, then sleep until the next deadline or a new earliest sleep.
    /// It lives as long as the process, idle on its semaphore when nothing sleeps.
    private func runLoop() {
        var due: [Sleeper] = []
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let next = state.withLock { state -> UInt64? in
                while let first = state.heap.min, first.deadline <= now {
                    due.append(state.heap.removeMin().sleeper)
                }
                if state.cancelledInHeap > 1_024 && state.cancelledInHeap * 2 > state.heap.count {
                    state.heap = Heap(state.heap.unordered.filter { !$0.sleeper.isCancelled })
                    state.cancelledInHeap = 0
                }
                return state.heap.min?.deadline
            }
            for sleeper in due {
                let continuation = sleeper.phase.withLock { phase -> UnsafeContinuation<Void, any Error>? in
                    guard case .waiting(let continuation) = phase else { return nil }
                    phase = .done
                    return continuation
                }
                if let continuation {
                    continuation.resume()
                } else {
                    state.withLock { $0.cancelledInHeap = max($0.cancelledInHeap - 1, 0) }
                }
            }
            due.removeAll(keepingCapacity: true)
            if let next {
                _ = wake.wait(timeout: DispatchTime(uptimeNanoseconds: next))
            } else {
                wake.wait()
            }
        }
    }
}

extension SleepWheel.Sleeper {
    var isCancelled: Bool {
        phase.withLock { phase in
            if case .cancelled = phase { return true }
            return false
        }
    }
}
