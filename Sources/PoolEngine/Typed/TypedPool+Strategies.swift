public import Synchronization

extension TypedPool {
    /// Offers one job with a priority: under ``TypedQueueStrategy/priority(aging:)`` more urgent jobs run
    /// first; the other strategies ignore it. `false` if it was rejected (the queue is full, or the pool is
    /// shutting down).
    @inlinable @discardableResult
    public func trySubmit(_ input: Input, priority: Int) -> Bool {
        trySubmit(contentsOf: CollectionOfOne(input), priority: priority) == 1
    }

    /// Offers jobs in order, all with one priority (see ``trySubmit(_:priority:)``); returns how many were
    /// accepted (the rest were rejected and counted).
    @inlinable @discardableResult
    public func trySubmit<Inputs: Collection>(contentsOf inputs: Inputs, priority: Int) -> Int where Inputs.Element == Input {
        offer(inputs, priority: priority, waiting: false).taken
    }

    /// Jobs waiting in the queue every worker takes from (0 under ``TypedQueueStrategy/perWorker``); keyed
    /// jobs wait in their workers' queues, ``queueDepths``.
    @inlinable
    public var sharedQueueDepth: Int { shared?.count ?? 0 }

    /// Pushes jobs to the shared queue (what fits, in order), then wakes a sleeping worker (who wakes the
    /// next if more wait), or, with none asleep and more than a batch waiting, starts a worker if the pool
    /// may grow; returns how many were taken.
    @inlinable
    func push<Inputs: Collection>(_ inputs: Inputs, priority: Int, to shared: TypedSharedQueue<Input>) -> Int
    where Inputs.Element == Input {
        let stamp = recordsLatencies || shared.needsStamps ? Self.monotonicStamp() : 0
        let accepted = shared.push(inputs, priority: priority, at: stamp)
        if accepted > 0 && !wakeASleeper(besides: nil) && active.load(ordering: .relaxed) < maxWorkers
            && shared.count > batchSize
        {
            startWorker()
        }
        return accepted
    }
}
