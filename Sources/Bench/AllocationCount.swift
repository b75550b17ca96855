import Foundation
import PoolEngine

/// The no-op workload `poolscope-allocations` counts allocations of: `jobs` jobs on 2 workers, submitted
/// 1,024 at a time, for each pool that takes jobs (the typed pool's plain values, the closure pool's
/// closures). `start` and `stop` bracket submitting and running, not making or shutting the pool.
public enum AllocationCount {
    public static let pools: [BenchPool] = [.poolscopeTyped, .poolscopeTypedAsync, .poolscopeFIFO]

    /// Runs the workload; returns whether every job completed.
    public static func run(_ pool: BenchPool, jobs: Int, between start: () -> Void, and stop: () -> Void) async -> Bool {
        let done = SharedCount()
        switch pool {
        case .poolscopeTyped, .poolscopeTypedAsync:
            let typed =
                pool == .poolscopeTyped
                ? TypedPool<Int>(workers: 2, capacityPerWorker: jobs, synchronousHandler: { _ in done.add() })
                : TypedPool<Int>(workers: 2, capacityPerWorker: jobs, handler: { _ in done.add() })
            start()
            var next = 0
            while next < jobs {
                let end = min(next + 1_024, jobs)
                typed.trySubmit(contentsOf: next..<end)
                next = end
            }
            waitWithoutAllocating { done.count >= jobs }
            stop()
            return await typed.shutdown(.immediate).completed == jobs
        default:
            var configuration = PoolConfiguration()
            (configuration.minWorkers, configuration.maxWorkers) = (2, 2)
            configuration.queueCapacity = nil
            guard let closures = try? WorkerPool(configuration: configuration) else { return false }
            var batch: [Job] = []
            batch.reserveCapacity(1_024)
            start()
            for index in 0..<jobs {
                batch.append(Job { done.add() })
                if batch.count == 1_024 || index == jobs - 1 {
                    _ = closures.trySubmit(batch: batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            waitWithoutAllocating { done.count >= jobs }
            stop()
            return await closures.shutdown(.immediate).counters.completed == jobs
        }
    }

    /// Waits for `condition` by yielding the thread, not the task: a task's yield can allocate, and it would
    /// be counted. The pools run on threads of their own, so holding this one costs them nothing.
    private static func waitWithoutAllocating(until condition: () -> Bool) {
        while !condition() { sched_yield() }
    }
}
