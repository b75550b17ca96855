import Synchronization

/// Waits the pool owns (``Job/waiting(for:key:priority:timeout:start:then:)``): the owner's side.
///
/// A parked worker handed such a job is not resumed. The wait goes into a timer on the pool's threads; when
/// it ends, the thread that ends it records the job and hands the worker its next step under the pool's
/// lock. The worker's task is resumed only for a job that runs code, so a job that only waits costs a timer
/// and two trips through the lock, and no task switch.
extension WorkerPool {
    /// Starts `job`'s wait for `worker`, whose parked task `continuation` stays parked meanwhile. The clock is
    /// read here, just before `start` runs, so that the wait is never shorter than its length from `start`.
    func startOwnedWait(
        _ job: QueuedJob, wait: PooledWait, worker: WorkerID, continuation: UnsafeContinuation<WorkerStep, Never>
    ) {
        let started = clock.now()
        var length = wait.duration
        var timeout: Duration?
        if let limit = job.job.timeout ?? configuration.defaultTimeout, limit < wait.duration {
            length = limit
            timeout = limit
        }
        let owned = OwnedWait(
            pool: self, job: job, wait: wait, worker: worker, continuation: continuation, started: started,
            deadline: started + length, timeout: timeout)
        wait.start?()
        guard core.withLock({ $0.attach(ownedWait: owned, to: worker) }) else {
            owned.cancel()  // ends it at once, as cancelled
            return
        }
        owned.arm()
    }

    /// `wait` ended with `result` (its `then` has run): measured, recorded, and its worker given its next step.
    func ownedWaitEnded(_ wait: OwnedWait, result: AttemptResult) {
        var effects = Effects(now: clock.now())
        if configuration.recordsLatencies {
            let sample = LatencySample(
                wait.job, result: result, started: wait.started, ended: effects.now,
                maxAttempts: configuration.retry.maxAttempts)
            record(CollectionOfOne(sample), worker: wait.worker)
        }
        core.withLock {
            $0.ownedWaitEnded(
                wait.job, result: result, on: wait.worker, continuation: wait.continuation, now: effects.now,
                effects: &effects)
        }
        perform(effects)
    }
}

/// One job's wait, owned by the pool: its own entry in the pool's threads' timers, put back while the pool's
/// clock says the deadline is still ahead (a scenario's clock may slow down or pause), and ended exactly once:
/// by the timer, or as cancelled (a shutdown's deadline, a crash).
///
/// One object per wait and no lock: a small atomic phase orders the timer against a cancel.
final class OwnedWait: TimerTarget {
    /// Where the wait is. Every change out of made or armed is a compare-and-exchange, so exactly one side
    /// ends it; only the timer leaves firing (and firingCancelled), so it may simply store.
    private enum Phase: UInt8 {
        /// Made, not yet in the timers.
        case made
        /// In the timers (or about to be).
        case armed
        /// The timer is looking at the clock: it ends the wait, or puts it back.
        case firing
        /// A cancel came while firing: the timer ends it as cancelled rather than put it back.
        case firingCancelled
        case ended
    }

    let pool: WorkerPool
    let job: QueuedJob
    let wait: PooledWait
    let worker: WorkerID
    /// The worker's parked task, resumed only when its next step is not another owned wait.
    let continuation: UnsafeContinuation<WorkerStep, Never>
    let started: PoolInstant
    /// When the wait ends on the pool's clock: its length, or its timeout when that is shorter.
    let deadline: PoolInstant
    /// Set when the timeout ends the wait (the attempt then fails as timed out).
    let timeout: Duration?
    private let phase = Atomic<UInt8>(Phase.made.rawValue)

    init(
        pool: WorkerPool, job: QueuedJob, wait: PooledWait, worker: WorkerID,
        continuation: UnsafeContinuation<WorkerStep, Never>, started: PoolInstant, deadline: PoolInstant, timeout: Duration?
    ) {
        self.pool = pool
        self.job = job
        self.wait = wait
        self.worker = worker
        self.continuation = continuation
        self.started = started
        self.deadline = deadline
        self.timeout = timeout
    }

    private func exchange(_ expected: Phase, _ desired: Phase) -> Bool { phase.exchange(expected, desired) }

    /// Puts the wait in the timers (unless a cancel already ended it). The timer always fires on one of the
    /// pool's threads, never inline, so a run of zero-length waits cannot recurse.
    func arm() {
        guard exchange(.made, .armed) else { return }
        schedule()
    }

    private func schedule() {
        guard let threads = pool.ownedThreads else { return }
        let delay = pool.clock.wallDelay(until: deadline) ?? .zero
        threads.schedule(self, after: max(delay, .zero))
    }

    /// Ends the wait now as cancelled, if it has not ended.
    func cancel() {
        while true {
            switch Phase(rawValue: phase.load(ordering: .acquiring)) {
            case .made?:
                if exchange(.made, .ended) { return finish(cancelled: true) }
            case .armed?:
                guard exchange(.armed, .ended) else { continue }
                pool.ownedThreads?.noteTimerCancelled()  // its entry stays until due or swept
                return finish(cancelled: true)
            case .firing?:
                if exchange(.firing, .firingCancelled) { return }
            case .firingCancelled?, .ended?, nil:
                return
            }
        }
    }

    var isCancelled: Bool { Phase(rawValue: phase.load(ordering: .relaxed)) == .ended }

    /// The timer: ends the wait, or puts it back while the pool's clock says it is not due.
    func end() -> Bool {
        guard exchange(.armed, .firing) else { return false }  // cancelled
        if let left = pool.clock.wallDelay(until: deadline), left > .zero {
            if exchange(.firing, .armed) {
                schedule()
                return true
            }
            phase.store(Phase.ended.rawValue, ordering: .releasing)  // cancelled while firing
            finish(cancelled: true)
            return true
        }
        phase.store(Phase.ended.rawValue, ordering: .releasing)
        finish(cancelled: false)
        return true
    }

    private func finish(cancelled: Bool) {
        let result: AttemptResult
        if cancelled {
            result = .failure(error: String(describing: CancellationError()), timedOut: false)
        } else if let timeout {
            result = .failure(error: "timed out after \(formatted(timeout))", timedOut: true)
        } else {
            do {
                try wait.finish()
                result = .success
            } catch {
                result = .failure(error: String(describing: error), timedOut: false)
            }
        }
        pool.ownedWaitEnded(self, result: result)
    }
}
