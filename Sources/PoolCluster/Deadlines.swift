import Synchronization

/// Waits for `task` to end, at most `limit`; returns whether it ended. (Awaiting a task's value cannot be
/// cancelled, so a loop stuck in a call that never returns must not hold a stop forever.)
func finished(_ task: Task<Void, Never>, within limit: Duration) async -> Bool {
    await firstOf(limit: limit, onTimeout: { false }) {
        await task.value
        return true
    }
}

/// Runs `body`, giving up after `limit`: then `body`'s task is cancelled and left to end on its own, and
/// `timeout()` answers instead. For calls that must never hang their caller (a database call on a
/// connection that died without saying so).
func firstOf<T: Sendable>(
    limit: Duration, onTimeout timeout: @escaping @Sendable () -> T, _ body: @escaping @Sendable () async -> T
) async -> T {
    let pending = Once<T>()
    return await withCheckedContinuation { continuation in
        pending.slot.withLock { $0 = continuation }
        let work = Task {
            let value = await body()
            pending.take()?.resume(returning: value)
        }
        Task {
            try? await Task.sleep(for: limit)
            if let waiting = pending.take() {
                work.cancel()
                waiting.resume(returning: timeout())
            }
        }
    }
}

/// A continuation resumed by whichever side comes first.
private final class Once<T>: Sendable {
    let slot = Mutex<CheckedContinuation<T, Never>?>(nil)
    func take() -> CheckedContinuation<T, Never>? { slot.withLock { $0.take() } }
}
