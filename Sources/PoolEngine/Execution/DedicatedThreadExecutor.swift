import DequeModule
import Dispatch
import Foundation

/// A task executor backed by threads of its own.
///
/// Jobs that spin or block occupy these threads only, so Swift's shared cooperative pool, where timers,
/// the scaler and a dashboard run, keeps its threads. The road not taken: one thread per worker, which
/// isolates workers from each other too but costs a thread stack per worker and cannot reach thousands of
/// mostly sleeping workers.
@usableFromInline
final class DedicatedThreadExecutor: TaskExecutor {
    private struct Queue {
        var jobs = Deque<UnownedJob>()
        var stopping = false
    }

    private let queue = Locked(Queue())
    /// Told which worker's job suspended (see ``markJobRunning(_:)``); set once by the pool.
    private let suspensionHandler = Locked<(@Sendable (WorkerID) -> Void)?>(nil)
    /// Counts the jobs in `queue` (plus one per thread once stopping), so each wake finds work or the end.
    private let available = DispatchSemaphore(value: 0)
    let threadCount: Int

    @usableFromInline
    init(threadCount: Int, name: String) {
        self.threadCount = threadCount
        for index in 0..<threadCount {
            let thread = Thread { [self] in runLoop() }
            thread.name = "\(name)-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    @usableFromInline
    func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        queue.withLock { $0.jobs.append(unownedJob) }
        available.signal()
    }

    /// Calls `handler` on this executor's thread whenever a worker's job suspends (awaits something that
    /// is not ready) between ``markJobRunning(_:)`` and ``markJobReturned()``.
    func onJobSuspended(_ handler: @escaping @Sendable (WorkerID) -> Void) {
        suspensionHandler.withLock { $0 = handler }
    }

    /// Notes, for this thread, that `worker` is about to run a job. If the thread comes back to the
    /// executor before ``markJobReturned()``, the job suspended mid-run.
    static func markJobRunning(_ worker: WorkerID) {
        pthread_setspecific(runningWorkerKey, UnsafeRawPointer(bitPattern: worker.rawValue))
    }

    /// Notes that the job started by ``markJobRunning(_:)`` returned (on whichever thread it resumed).
    static func markJobReturned() {
        pthread_setspecific(runningWorkerKey, nil)
    }

    /// The thread-local slot behind ``markJobRunning(_:)``: a worker id, as pointer bits (ids start at 1).
    private static let runningWorkerKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// Lets the threads end once the jobs already queued have run.
    @usableFromInline
    func stop() {
        queue.withLock { $0.stopping = true }
        for _ in 0..<threadCount { available.signal() }
    }

    private func runLoop() {
        while true {
            available.wait()
            let next: UnownedJob?? = queue.withLock { queue in
                if let job = queue.jobs.popFirst() { return .some(job) }
                return queue.stopping ? .none : .some(nil)
            }
            switch next {
            case .none: return
            case .some(nil): continue
            case .some(let job?):
                Self.markJobReturned()
                job.runSynchronously(on: asUnownedTaskExecutor())
                if let raw = pthread_getspecific(Self.runningWorkerKey) {
                    // The task left this thread in the middle of a job: it suspended.
                    Self.markJobReturned()
                    let handler = suspensionHandler.withLock { $0 }
                    handler?(WorkerID(Int(bitPattern: raw)))
                }
            }
        }
    }
}
