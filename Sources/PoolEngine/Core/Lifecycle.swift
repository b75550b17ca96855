/// The pool's phases and who waits on them: running, draining (admission closed, accepted jobs finish),
/// cancelling (what is left is cancelled), stopped. A shutdown waits twice: for the drain, then for every
/// worker (and every caller running a job) to stop. The rules only; `Waiter` is whatever the owner
/// resumes (a continuation in the pool, a plain value in tests).
struct Lifecycle<Waiter> {
    private(set) var phase: PoolPhase = .running
    /// Once set, every worker stops as soon as it has no job in hand.
    private(set) var workersReleased = false
    private var drainedWaiter: Waiter?
    private var stoppedWaiter: Waiter?

    /// Whether submissions are admitted.
    var isAccepting: Bool { phase == .running }
    var isCancelling: Bool { phase == .cancelling }
    /// Whether the scaler may still act: while running, and while draining until the workers are released
    /// (they stop as their hands empty: no reason then to start new ones for the minimum).
    var scales: Bool { phase == .running || (phase == .draining && !workersReleased) }
    /// Whether a crash may still be injected.
    var workersRun: Bool { phase == .running || phase == .draining }

    /// Closes admission. Only the first shutdown counts: returns `false` if one began already.
    mutating func beginShutdown() -> Bool {
        guard phase == .running else { return false }
        phase = .draining
        return true
    }

    /// Whether a drain is under way that an immediate shutdown would escalate.
    var isDraining: Bool { phase == .draining }

    /// Cancels what is left: returns the drain's waiter, which has nothing more to wait for.
    mutating func cancel() -> Waiter? {
        phase = .cancelling
        defer { drainedWaiter = nil }
        return drainedWaiter
    }

    /// Registers the wait for the drain; `false` (keeping nothing) if there is nothing to wait for.
    mutating func waitForDrain(_ waiter: Waiter, drained: Bool) -> Bool {
        if drained || phase == .cancelling { return false }
        drainedWaiter = waiter
        return true
    }

    /// The drain's waiter, once the pool is drained.
    mutating func drainWaiterIfDone(drained: Bool) -> Waiter? {
        guard phase == .draining, drained, let waiter = drainedWaiter else { return nil }
        drainedWaiter = nil
        return waiter
    }

    /// Tells the workers to stop when their hands are empty.
    mutating func releaseWorkers() { workersReleased = true }

    /// Registers the wait for every worker and caller to stop; `false` if none is left.
    mutating func waitForStop(_ waiter: Waiter, nothingRunning: Bool) -> Bool {
        if nothingRunning { return false }
        stoppedWaiter = waiter
        return true
    }

    /// The stop's waiter, once the workers are released and nothing runs.
    mutating func stopWaiterIfDone(nothingRunning: Bool) -> Waiter? {
        guard workersReleased, nothingRunning, let waiter = stoppedWaiter else { return nil }
        stoppedWaiter = nil
        return waiter
    }

    mutating func markStopped() { phase = .stopped }
}

extension Lifecycle: Sendable where Waiter: Sendable {}
