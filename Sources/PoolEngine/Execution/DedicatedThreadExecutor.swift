import DequeModule
import Dispatch
import Foundation

/// A task executor backed by threads of its own.
///
/// Jobs that spin or block occupy these threads only, so Swift's shared cooperative pool, where timers,
/// the scaler and a dashboard run, keeps its threads. The road not taken: one thread per worker, which
/// isolates workers from each other too but costs a thread stack per worker and cannot reach thousands of
/// mostly sleeping workers.
final class DedicatedThreadExecutor: TaskExecutor {
    private struct Queue {
        var jobs = Deque<UnownedJob>()
        var stopping = false
    }

    private let queue = Locked(Queue())
    /// Counts the jobs in `queue` (plus one per thread once stopping), so each wake finds work or the end.
    private let available = DispatchSemaphore(value: 0)
    let threadCount: Int

    init(threadCount: Int, name: String) {
        self.threadCount = threadCount
        for index in 0..<threadCount {
            let thread = Thread { [self] in runLoop() }
            thread.name = "\(name)-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        queue.withLock { $0.jobs.append(unownedJob) }
        available.signal()
    }

    /// Lets the threads end once the jobs already queued have run.
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
            case .some(let job?): job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
    }
}
