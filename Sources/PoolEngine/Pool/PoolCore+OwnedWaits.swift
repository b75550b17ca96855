/// Waits the pool owns (``Job/waiting(for:key:priority:timeout:start:then:)``): the core's side. A worker
/// handed such a job while parked stays parked; its owner keeps the wait in a timer, and when the timer ends
/// it the core records the job as a run of one and hands the worker its next step.
extension PoolCore {
    /// Notes `worker`'s owned wait; `false` when the pool is already cancelling or the worker crashed since
    /// it was handed the job (neither could cancel a wait not yet noted), and the owner then ends the wait as
    /// cancelled at once.
    mutating func attach(ownedWait wait: OwnedWait, to worker: WorkerID) -> Bool {
        guard !lifecycle.isCancelling, workers.attach(wait: wait, to: worker) else { return false }
        ownedWaitsTotal += 1
        return true
    }

    /// `worker`'s owned wait for `job` ended with `result`. Records it as a run of one job, then: parks the
    /// worker again (`continuation` is its parked task), or hands it its next step. A next job that is an
    /// owned wait too comes back to the owner through `effects` (``Effects/resumeWorkers``) like any other.
    mutating func ownedWaitEnded(
        _ job: QueuedJob, result: AttemptResult, on worker: WorkerID, continuation: UnsafeContinuation<WorkerStep, Never>,
        now: PoolInstant, effects: inout Effects
    ) {
        switch singleJobFinished(job, result: result, on: worker, now: now, effects: &effects) {
        case .park:
            workers.park(worker, continuation)
        case let step:
            effects.resumeWorkers.append((worker, continuation, step))
        }
    }
}
