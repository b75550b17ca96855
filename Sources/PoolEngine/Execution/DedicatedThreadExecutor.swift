import DequeModule
import Dispatch
import Foundation
import Synchronization

/// A task executor backed by threads of its own, which also keep the timers of the sleeps its jobs take
/// through ``SleepWheel``.
///
/// Jobs that spin or block occupy these threads only, so Swift's shared cooperative pool, where timers,
/// the scaler and a dashboard run, keeps its threads. The road not taken: one thread per worker, which
/// isolates workers from each other too but costs a thread stack per worker and cannot reach thousands of
/// mostly sleeping workers.
///
/// Timers: a thread with nothing to run waits until the earliest deadline (the *keeper*), ends every sleep
/// then due, and runs the jobs those sleeps resume itself. One other thread, the *watcher*, waits until
/// ``watchInterval`` (and half a tick) past the earliest timer's tick (the rest wait without one): a keeper that wakes to a job
/// may be held up by it, as nothing interrupts a job, and the watcher then ends the sleeps at most that much
/// late. So a thread that starts a job, or sets a timer from one, wakes no one for the timers while a
/// watcher covers them (as Go's `sysmon` covers a busy thread's timers); it wakes a thread when more jobs
/// are queued. A sleep taken on one of these threads never needs a wake-up to be registered: the thread
/// returns to its loop as the task suspends, and looks at the timers there. A job that arrives
/// after every thread has ended (``stop()``) runs on a thread of its own rather than never.
@usableFromInline
final class DedicatedThreadExecutor: TaskExecutor {
    private struct State {
        var jobs = Deque<UnownedJob>()
        var timers = TimerHeap()
        /// Threads waiting with no deadline, most recent last, each at most once (``isIdle``).
        var idle: [Int] = []
        var isIdle: [Bool]
        /// The thread waiting until ``keeperDeadline`` (the earliest timer when it began to wait).
        var keeper: Int?
        var keeperDeadline = UInt64.max
        /// A thread that waits until ``watcherDeadline`` in case whoever keeps the timers is held up by a
        /// long job: the earliest timer's tick when it began to wait, plus ``watchSpan``.
        var watcher: Int?
        var watcherDeadline = UInt64.max
        var stopping = false
        /// Threads that have not ended (see ``stop()``).
        var live: Int
    }

    /// What one of this executor's threads is (read by the thread itself only).
    private final class ThreadContext {
        unowned let executor: DedicatedThreadExecutor
        let index: Int
        /// Set while the thread ends due sleeps in its loop: the jobs they resume are its to run next.
        var endingSleeps = false

        init(executor: DedicatedThreadExecutor, index: Int) {
            self.executor = executor
            self.index = index
        }
    }

    private let state: Locked<State>
    /// One per thread, so a wake-up reaches the thread meant (an idle one, or the keeper).
    private let parkers: [DispatchSemaphore]
    /// Told which worker's job suspended (see ``markJobRunning(_:)``); set once by the pool.
    private let suspensionHandler = Locked<(@Sendable (WorkerID) -> Void)?>(nil)
    private let wakeUpsSent = Atomic<Int>(0)
    let threadCount: Int
    /// How late a timer may end when the thread that would keep the timers runs a long job instead and
    /// another thread watches (see ``State/watcher``). 10 ms by default, the bound Go's `sysmon` keeps for a
    /// busy thread's timers: the watcher wakes about once per interval while timers are set, and each of
    /// those wake-ups costs CPU (5 ms cost about 5% more CPU per job in the waiting workload; BENCHMARKS.md).
    let watchInterval: UInt64
    /// How far past the earliest tick the watcher waits: ``watchInterval`` and half a tick, so that it
    /// does not wake on the keeper's tick (both would, and trade places).
    private let watchSpan: UInt64

    @usableFromInline
    init(threadCount: Int, name: String, watchInterval: Duration = .milliseconds(10)) {
        self.threadCount = threadCount
        self.watchInterval = SleepWheel.nanoseconds(watchInterval)
        let (span, overflow) = self.watchInterval.addingReportingOverflow(TimerHeap.tick / 2)
        watchSpan = overflow ? .max : span
        state = Locked(State(isIdle: Array(repeating: false, count: threadCount), live: threadCount))
        parkers = (0..<threadCount).map { _ in DispatchSemaphore(value: 0) }
        for index in 0..<threadCount {
            let thread = Thread { [self] in runLoop(index: index) }
            thread.name = "\(name)-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// The executor whose thread this is, if any.
    static var current: DedicatedThreadExecutor? { currentContext?.executor }

    private static var currentContext: ThreadContext? {
        guard let raw = pthread_getspecific(contextKey) else { return nil }
        return Unmanaged<ThreadContext>.fromOpaque(raw).takeUnretainedValue()
    }

    @usableFromInline
    func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let context = Self.currentContext
        let ownThread = context?.executor === self
        let endingSleeps = ownThread && context?.endingSleeps == true
        let (wake, noThreadLeft) = state.withLock { state -> (Int?, Bool) in
            // Every thread has ended (a task resumed after stop(): cancelled late, or run here by a
            // caller): it runs on a thread of its own rather than wait forever.
            if state.live == 0 { return (nil, true) }
            state.jobs.append(unownedJob)
            // A job resumed by a sleep this thread is ending: this thread runs it next (see runLoop).
            if endingSleeps { return (nil, false) }
            return (Self.takeParkedThread(&state), false)
        }
        if let wake { signal(wake) }
        if noThreadLeft {
            let thread = Thread { [self] in unownedJob.runSynchronously(on: asUnownedTaskExecutor()) }
            thread.name = "poolscope-late-job"
            thread.start()
        }
    }

    /// An idle thread (waiting with no deadline) to wake, if any.
    private static func takeIdleThread(_ state: inout State) -> Int? {
        guard let idle = state.idle.popLast() else { return nil }
        state.isIdle[idle] = false
        return idle
    }

    /// An idle thread, else the watcher, to help with queued work.
    private static func takeHelper(_ state: inout State) -> Int? {
        if let idle = takeIdleThread(&state) { return idle }
        guard let watcher = state.watcher else { return nil }
        state.watcher = nil
        state.watcherDeadline = .max
        return watcher
    }

    /// Whether timers fall due before the keeper's tick (any tick, when no thread keeps them) and no watcher
    /// covers them.
    private func areTimersUncovered(_ state: borrowing State) -> Bool {
        guard let wakeTime = state.timers.wakeTime else { return false }
        return wakeTime < state.keeperDeadline && !isWatched(state, wakeTime: wakeTime)
    }

    /// Whether a watching thread will look at the timers no later than ``watchSpan`` after they wake
    /// at `wakeTime`: then a thread that runs a job meanwhile need not wake anyone to keep them.
    private func isWatched(_ state: borrowing State, wakeTime: UInt64) -> Bool {
        guard state.watcher != nil else { return false }
        let (bound, overflow) = wakeTime.addingReportingOverflow(watchSpan)
        return overflow || state.watcherDeadline <= bound
    }

    /// A parked thread to wake for new work: an idle one first, else the watcher, else the keeper (who
    /// will wait for the timers again once the work is done).
    private static func takeParkedThread(_ state: inout State) -> Int? {
        if let helper = takeHelper(&state) { return helper }
        if let keeper = state.keeper {
            state.keeper = nil
            state.keeperDeadline = .max
            return keeper
        }
        return nil
    }

    /// Sleeps in this executor's timers for `duration` (ending on the timers' next tick, ``TimerHeap/tick``).
    nonisolated(nonsending) func sleep(for duration: Duration) async throws {
        try await sleep(untilUptime: SleepWheel.uptimeDeadline(after: duration))
    }

    /// Sleeps in this executor's timers until the monotonic clock reads `deadline` nanoseconds (ending on the
    /// timers' next tick).
    nonisolated(nonsending) func sleep(untilUptime deadline: UInt64) async throws {
        let mark = pthread_getspecific(Self.runningWorkerKey)
        try await Sleeper.wait { [self] sleeper in
            // On its own thread the sleeping task suspends now, and the thread goes back to its loop.
            let ownThread = Self.currentContext?.executor === self
            insert(sleeper, deadline: deadline, seenInLoop: ownThread, fromOwnThread: ownThread)
        } cancelled: { [self] _ in
            noteTimerCancelled()
        }
        // A wait in these timers ends on these threads, with no hand-over from another: the job's worker is
        // where such waits are cheapest, so the wait does not count as a suspension (``WorkerHomeRule``).
        if let mark, Self.currentContext?.executor === self { pthread_setspecific(Self.runningWorkerKey, mark) }
    }

    /// Ends `target` after `duration` (on the timers' next tick) on one of these threads; whoever cancels it
    /// calls ``noteTimerCancelled()``.
    func schedule(_ target: any TimerTarget, after duration: Duration) {
        // Whoever schedules it goes on running (a worker's run, a submitter), so only a thread ending sleeps
        // is sure to look at the timers again before long.
        let context = Self.currentContext
        let ownThread = context?.executor === self
        insert(
            target, deadline: SleepWheel.uptimeDeadline(after: duration),
            seenInLoop: ownThread && context?.endingSleeps == true, fromOwnThread: ownThread)
    }

    /// Notes that a sleep in these timers was cancelled (its entry stays until due or swept).
    func noteTimerCancelled() {
        state.withLock { $0.timers.noteCancelled() }
    }

    /// Adds `sleeper` to the timers. `seenInLoop`: the calling thread is one of these and goes back to its
    /// loop at once, where it looks at the timers. `fromOwnThread`: the caller is one of these threads,
    /// running a job; it looks at the timers when the job returns or suspends.
    private func insert(_ sleeper: any TimerTarget, deadline: UInt64, seenInLoop: Bool, fromOwnThread: Bool = false) {
        let wake = state.withLock { state -> Int? in
            state.timers.insert(deadline: deadline, sleeper: sleeper)
            guard let wakeTime = state.timers.wakeTime, wakeTime < state.keeperDeadline else { return nil }
            // Seen as the thread goes back to its loop, with nothing else queued before it; otherwise the
            // keeper (or an idle thread, to become one) must look again.
            if seenInLoop && state.jobs.isEmpty { return nil }
            // One of these threads, running a job, sees it when the job is done; a watcher covers a long job.
            if fromOwnThread && state.jobs.isEmpty && isWatched(state, wakeTime: wakeTime) { return nil }
            return Self.takeParkedThread(&state)
        }
        if let wake { signal(wake) }
    }

    /// Wakes thread `index`, parked or about to be.
    private func signal(_ index: Int) {
        wakeUpsSent.add(1, ordering: .relaxed)
        parkers[index].signal()
    }

    /// Wake-ups one thread has sent another so far (for tests: the timers need few).
    var wakeUps: Int { wakeUpsSent.load(ordering: .relaxed) }

    /// Sleeps waiting in this executor's timers (cancelled ones included until swept).
    var sleeping: Int { state.withLock { $0.timers.count } }
    /// Threads that have not ended.
    var liveThreads: Int { state.withLock { $0.live } }

    /// Calls `handler` on this executor's thread whenever a worker's job suspends (awaits something that
    /// is not ready) between ``markJobRunning(_:)`` and ``markJobReturned()``.
    func onJobSuspended(_ handler: @escaping @Sendable (WorkerID) -> Void) {
        suspensionHandler.withLock { $0 = handler }
    }

    /// Notes, for this thread, that `worker` is about to run a job. If the thread comes back to the
    /// executor before ``markJobReturned()``, the job suspended mid-run, and with `reclaimsBuffer` the
    /// suspension handler is told (see ``onJobSuspended(_:)``).
    static func markJobRunning(_ worker: WorkerID, reclaimsBuffer: Bool = true) {
        pthread_setspecific(runningWorkerKey, UnsafeRawPointer(bitPattern: worker.rawValue << 1 | (reclaimsBuffer ? 1 : 0)))
    }

    /// Notes that the job started by ``markJobRunning(_:reclaimsBuffer:)`` returned (on whichever thread it
    /// resumed); answers whether it returned without suspending. (A thread clears the mark when a job leaves
    /// it mid-run, and before it runs anything, so a job that suspended finds no mark wherever it resumed.)
    @discardableResult
    static func markJobReturned() -> Bool {
        let wasMarked = pthread_getspecific(runningWorkerKey) != nil
        pthread_setspecific(runningWorkerKey, nil)
        return wasMarked
    }

    /// The thread-local slot behind ``markJobRunning(_:reclaimsBuffer:)``: a worker id shifted left by one, with
    /// the low bit set when the buffer is to be reclaimed (never zero: ids start at 1).
    private static let runningWorkerKey = makeKey()
    /// The thread-local slot behind ``current``: the thread's `ThreadContext`, unretained (the thread's
    /// loop holds it for the thread's life).
    private static let contextKey = makeKey()

    private static func makeKey() -> pthread_key_t {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }

    /// Lets the threads end once the jobs already queued have run and the sleeps taken here have ended.
    @usableFromInline
    func stop() {
        let parked = state.withLock { state -> [Int] in
            state.stopping = true
            var parked = state.idle
            state.idle.removeAll()
            for index in parked { state.isIdle[index] = false }
            if let keeper = state.keeper { parked.append(keeper) }
            if let watcher = state.watcher { parked.append(watcher) }
            state.keeper = nil
            state.keeperDeadline = .max
            state.watcher = nil
            state.watcherDeadline = .max
            return parked
        }
        for index in parked { signal(index) }
    }

    private enum Step {
        case run(UnownedJob)
        case endSleeps
        case park(until: UInt64?)
        case exit
    }

    private func runLoop(index: Int) {
        let context = ThreadContext(executor: self, index: index)
        pthread_setspecific(Self.contextKey, Unmanaged.passUnretained(context).toOpaque())
        defer { pthread_setspecific(Self.contextKey, nil) }
        var due: [any TimerTarget] = []
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            var replacedKeeper: Int?
            var helper: Int?
            let step = state.withLock { state -> Step in
                if state.isIdle[index] {
                    // Woken by a signal meant for an earlier wait (a keeper's, a replaced keeper's).
                    state.isIdle[index] = false
                    state.idle.removeAll { $0 == index }
                }
                state.timers.popDue(now: now, into: &due)
                if !due.isEmpty { return .endSleeps }
                if let job = state.jobs.popFirst() {
                    // While this thread runs it (a job may run long, and nothing interrupts it), another
                    // helps with what else is queued; and if timers fall due before the keeper's tick with
                    // no watcher to cover them (set from a job, or the watcher taken for work), a parked
                    // thread looks at them: the keeper, if no other, to wait for the earlier tick.
                    if !state.jobs.isEmpty { helper = Self.takeHelper(&state) }
                    if helper == nil && areTimersUncovered(state) { helper = Self.takeParkedThread(&state) }
                    return .run(job)
                }
                // Stopping, cancelled sleeps do not hold a thread back (swept only when some were cancelled
                // since the last sweep: sweeping is a pass over the heap).
                if state.stopping && state.timers.cancelledCount > 0 { state.timers.sweepCancelled() }
                let next = state.timers.wakeTime
                // Keep the timers unless a thread already waits for this deadline or an earlier one.
                if let next, state.keeper == nil || next < state.keeperDeadline {
                    replacedKeeper = state.keeper  // it goes idle when it looks again
                    state.keeper = index
                    state.keeperDeadline = next
                    return .park(until: next)
                }
                // Someone keeps them: watch, in case the keeper wakes to a long job. Half a tick off the
                // timers' ticks, so as not to wake with the keeper (both would, and trade places).
                if let next, state.watcher == nil, !state.stopping {
                    let (deadline, overflow) = next.addingReportingOverflow(watchSpan)
                    state.watcher = index
                    state.watcherDeadline = overflow ? .max : deadline
                    return .park(until: state.watcherDeadline)
                }
                // Stopping: one thread stays while sleeps taken here wait, the others end.
                if state.stopping {
                    state.live -= 1
                    return .exit
                }
                state.isIdle[index] = true
                state.idle.append(index)
                return .park(until: nil)
            }
            if let replacedKeeper { signal(replacedKeeper) }
            if let helper { signal(helper) }
            switch step {
            case .exit:
                return
            case .run(let job):
                Self.markJobReturned()
                job.runSynchronously(on: asUnownedTaskExecutor())
                if let raw = pthread_getspecific(Self.runningWorkerKey) {
                    // The task left this thread in the middle of a job: it suspended.
                    Self.markJobReturned()
                    let bits = Int(bitPattern: raw)
                    if bits & 1 == 1 {
                        let handler = suspensionHandler.withLock { $0 }
                        handler?(WorkerID(bits >> 1))
                    }
                }
            case .endSleeps:
                context.endingSleeps = true
                var cancelled = 0
                for sleeper in due where !sleeper.end() { cancelled += 1 }
                context.endingSleeps = false
                due.removeAll(keepingCapacity: true)
                // This thread runs what the sleeps resumed; taking the first, it wakes a helper if more wait.
                if cancelled > 0 {
                    state.withLock { state in
                        for _ in 0..<cancelled { state.timers.noteCancelledEntryLeft() }
                    }
                }
            case .park(let deadline):
                if let deadline {
                    _ = parkers[index].wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
                    state.withLock { state in
                        if state.keeper == index {
                            state.keeper = nil
                            state.keeperDeadline = .max
                        }
                        if state.watcher == index {
                            state.watcher = nil
                            state.watcherDeadline = .max
                        }
                    }
                } else {
                    parkers[index].wait()
                }
            }
        }
    }
}
