/// Where a worker of a pool on its own threads runs its jobs: on those threads, or, while its jobs keep
/// suspending, on Swift's shared pool (``PoolConfiguration/movesAwaitingWorkers``).
///
/// A job on the pool's threads that awaits is resumed by the runtime on a thread of the shared pool and
/// then handed to one of the pool's threads: one more thread woken per `await`. A worker whose jobs
/// mostly await is cheaper on the shared pool, where a resumed job runs where it was woken. Jobs that
/// compute or block never suspend, so their workers stay where they cannot starve the rest of the
/// process. On the shared pool nothing tells whether a job suspends, so a worker comes back now and then
/// to look again.
struct WorkerHomeRule: Sendable, Equatable {
    enum Home: Sendable, Equatable {
        case ownThreads
        case sharedPool
    }

    /// Jobs a worker on the pool's threads looks at before it decides.
    static let window = 4
    /// Of a window's jobs, this many suspended moves the worker to the shared pool.
    static let movesAt = 3
    /// Jobs a worker runs on the shared pool before it comes back to look again.
    static let looksAgainAfter = 256

    /// Whether workers may move at all: the pool runs its own threads and the configuration allows it.
    let enabled: Bool
    private(set) var home = Home.ownThreads
    /// Jobs looked at since the window (or the stay on the shared pool) began.
    private var seen = 0
    /// Of those, how many suspended (counted on the pool's threads only).
    private var suspended = 0

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Whether the worker should tell its thread when each job starts, so that it learns which suspend.
    var watchesJobs: Bool { enabled && home == .ownThreads }

    /// Records a run of `jobs` jobs, `suspended` of which were seen to suspend (meaningless, and ignored, on
    /// the shared pool); returns where the worker runs next.
    mutating func ran(jobs: Int, suspended: Int) -> Home {
        guard enabled, jobs > 0 else { return home }
        seen += jobs
        switch home {
        case .ownThreads:
            self.suspended += suspended
            guard seen >= Self.window else { return home }
            // A run longer than the window weighs as the window would: the share of jobs that suspended.
            if self.suspended * Self.window >= Self.movesAt * seen { home = .sharedPool }
        case .sharedPool:
            guard seen >= Self.looksAgainAfter else { return home }
            home = .ownThreads
        }
        seen = 0
        self.suspended = 0
        return home
    }
}
