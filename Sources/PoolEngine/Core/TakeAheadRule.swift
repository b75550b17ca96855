/// When a worker may take jobs ahead of the one it runs (runs of short jobs through one trip to the
/// pool's lock; see ``PoolConfiguration/takeAhead``), how many, and when a worker's run counts as stalled
/// so that what it took goes back to the queue.
struct TakeAheadRule: Sendable {
    /// The strategy allows it (taking order is running order), the pool runs its own threads (which say
    /// when a job suspends), and the configuration asks for it.
    let enabled: Bool

    /// Above this many workers nobody takes ahead: each take looks at every worker's buffer.
    static let workerLimit = 256

    /// 1 ms, about an operating-system time slice. Shorter, and workers merely descheduled for a slice lose
    /// their buffers over and over (at 100 µs a no-op job cost 650 ns instead of 500 on 2 cores); longer,
    /// and a job behind a stalled worker waits longer.
    static let stalledAfterNanoseconds: Int64 = 1_000_000

    init(strategyAllows: Bool, ownThreads: Bool, takeAhead: Int) {
        enabled = strategyAllows && ownThreads && takeAhead > 0
    }

    /// How many jobs a worker about to run one takes ahead: up to `limit`, never more than its share of
    /// the `queued` jobs (the rest stay for the other workers), and none while a rate limit or breaker
    /// decides job by job.
    func count(limit: Int, queued: Int, activeWorkers: Int, decidesEachJob: Bool) -> Int {
        guard enabled, limit > 0, activeWorkers <= Self.workerLimit, !decidesEachJob else { return 0 }
        return max(min(limit, queued / max(activeWorkers, 1)), 0)
    }

    /// Whether a worker whose run last made progress at `lastProgress` (machine nanoseconds; 0: no run) has
    /// stalled by `now`: its job is long, blocks, or its thread is not running.
    static func isStalled(lastProgress: Int64, now: Int64) -> Bool {
        lastProgress != 0 && lastProgress <= now - stalledAfterNanoseconds
    }
}
