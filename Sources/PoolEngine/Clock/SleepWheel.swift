import Dispatch
import Foundation

/// One timer for many sleeps: every sleep waits in one heap ordered by deadline, and one thread sleeps
/// until the earliest and resumes every sleep that is due, instead of a runtime timer per sleep.
///
/// Made for simulated waits, where thousands of jobs sleep at once and each `Task.sleep` costs a timer
/// source set up and torn down by the runtime: here a sleep costs a heap insertion under a lock, and a
/// wake-up is shared by every sleep due at once. A sleep never ends before its deadline; it ends later by
/// a thread's wake-up latency, as `Task.sleep` does.
///
/// Called from a job running on a pool's own threads (``WorkerExecutor/dedicatedThreads(_:)``, the
/// default), a sleep waits in *that pool's* timers instead: the pool's idle threads wait for its earliest
/// deadline and run the woken job themselves, so ending a sleep costs no hand-over between threads. Such a
/// sleep ends when one of the pool's threads is free to notice it, which is also when the woken job could
/// run at the earliest. Sleeps end on the timers' 1 ms ticks (``TimerHeap/tick``), the resolution of tokio's
/// timers and of Go's on Linux, so that one wake-up ends every sleep due within the same millisecond.
///
/// Cancellation ends a sleep at once with `CancellationError`.
public final class SleepWheel: Sendable {
    /// The wheel the engine's and the scenarios' simulated sleeps share.
    public static let shared = SleepWheel()

    private struct State {
        var timers = TimerHeap()
        var threadStarted = false
    }

    private let state = Locked(State())
    /// Wakes the thread when a sleep earlier than every other arrives (extra signals only cost a look).
    private let wake = DispatchSemaphore(value: 0)

    /// Internal: a wheel's thread lives as long as the process, so there is one shared wheel (and tests'
    /// own).
    init() {}

    /// Sleeps for `duration` (at least), or until the task is cancelled (`CancellationError`).
    nonisolated(nonsending) public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        guard duration > .zero else { return }
        if let executor = DedicatedThreadExecutor.current {
            try await executor.sleep(for: duration)
        } else {
            try await sleep(untilUptime: Self.uptimeDeadline(after: duration))
        }
    }

    /// Sleeps for `duration` in the timers of the pool whose thread runs the caller (a job on a pool's
    /// ``WorkerExecutor/dedicatedThreads(_:)``); anywhere else, a `Task.sleep`. For simulated waits that
    /// must cost little inside a pool and must not depend on one more thread outside it.
    nonisolated(nonsending) public static func sleepOnCurrentPool(for duration: Duration) async throws {
        try Task.checkCancellation()
        guard duration > .zero else { return }
        if let executor = DedicatedThreadExecutor.current {
            try await executor.sleep(for: duration)
        } else {
            try await Task.sleep(for: duration)
        }
    }

    /// `duration` in nanoseconds, saturating.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (whole, overflow) = UInt64(clamping: duration.components.seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (total, partOverflow) = whole.addingReportingOverflow(UInt64(clamping: duration.components.attoseconds / 1_000_000_000))
        return overflow || partOverflow ? .max : total
    }

    /// The monotonic clock's reading (`DispatchTime`'s uptime, in nanoseconds) `duration` from now;
    /// saturating, so a duration beyond what the clock holds sleeps until cancelled.
    static func uptimeDeadline(after duration: Duration) -> UInt64 {
        let (deadline, overflow) = DispatchTime.now().uptimeNanoseconds.addingReportingOverflow(nanoseconds(duration))
        return overflow ? .max : deadline
    }

    /// Sleeps on this wheel's own thread until the monotonic clock reads `deadline` nanoseconds.
    nonisolated(nonsending) func sleep(untilUptime deadline: UInt64) async throws {
        try await Sleeper.wait { sleeper in
            let (earliest, startThread) = state.withLock { state -> (Bool, Bool) in
                let earliest = state.timers.insert(deadline: deadline, sleeper: sleeper)
                defer { state.threadStarted = true }
                return (earliest, !state.threadStarted)
            }
            if startThread { start() }
            if earliest { wake.signal() }
        } cancelled: { [self] _ in
            state.withLock { $0.timers.noteCancelled() }
        }
    }

    /// Sleeps waiting now (cancelled ones included until swept).
    var waiting: Int { state.withLock { $0.timers.count } }

    private func start() {
        let thread = Thread { [self] in runLoop() }
        thread.name = "poolscope-sleep-wheel"
        thread.stackSize = 1 << 18
        thread.start()
    }

    /// The wheel's thread: resume what is due, then sleep until the next deadline or a new earliest sleep.
    /// It lives as long as the process, idle on its semaphore when nothing sleeps.
    private func runLoop() {
        var due: [any TimerTarget] = []
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            let next = state.withLock { state -> UInt64? in
                state.timers.popDue(now: now, into: &due)
                return state.timers.wakeTime
            }
            for sleeper in due where !sleeper.end() {
                state.withLock { $0.timers.noteCancelledEntryLeft() }
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
