extension TypedPool {
    /// Offers one job with a key: it runs on the worker `key` hashes to, after that key's earlier jobs and
    /// never beside them. `false` if it was rejected.
    @inlinable @discardableResult
    public func trySubmit(_ input: Input, key: String) -> Bool {
        trySubmit(contentsOf: CollectionOfOne(input), keyedBy: { _ in key }) == 1
    }

    /// Offers jobs in order, each with the key `key` gives it (see ``trySubmit(_:key:)``); returns how many
    /// were accepted. Jobs are grouped by worker, and a full worker queue rejects the end of its group: the
    /// jobs accepted are a prefix of each worker's share, so those of any one key are a prefix of that key's.
    @inlinable @discardableResult
    public func trySubmit<Inputs: Collection>(contentsOf inputs: Inputs, keyedBy key: (Input) -> String) -> Int
    where Inputs.Element == Input {
        offer(inputs.count, waiting: false) { push(inputs, keyedBy: key) }.taken
    }

    /// Pushes each job to its key's worker's queue (pinned), a worker's share under one lock; returns how
    /// many were taken.
    @inlinable
    func push<Inputs: Collection>(_ inputs: Inputs, keyedBy key: (Input) -> String) -> Int where Inputs.Element == Input {
        let stamp = recordsLatencies ? Self.monotonicStamp() : 0
        if coreWorkers == 1 { return queues[0].push(inputs, at: stamp, capacity: capacityPerWorker, pinned: true).taken }
        var accepted = 0
        let (byWorker, shares) = Self.layOut(inputs, count: inputs.count, workers: coreWorkers) { worker(forKey: key($0)) }
        var start = 0
        for (index, share) in shares.enumerated() where share > 0 {
            accepted += queues[index].push(byWorker[start..<start + share], at: stamp, capacity: capacityPerWorker, pinned: true).taken
            start += share
        }
        return accepted
    }

    /// `inputs` grouped by the worker `place` gives each, in order within a group (a counting sort: one
    /// array for all, no array per worker and no check of one per job), and each worker's share.
    @inlinable
    static func layOut<Inputs: Collection>(
        _ inputs: Inputs, count: Int, workers: Int, place: (Input) -> Int
    ) -> (byWorker: [Input], shares: [Int]) where Inputs.Element == Input {
        var shares = [Int](repeating: 0, count: workers)
        let owners = [Int32](unsafeUninitializedCapacity: count) { owners, initialized in
            shares.withUnsafeMutableBufferPointer { shares in
                for input in inputs where initialized < count {
                    let owner = place(input)
                    owners[initialized] = Int32(truncatingIfNeeded: owner)
                    shares[owner] += 1
                    initialized += 1
                }
            }
        }
        var next = [Int](repeating: 0, count: workers)
        for index in 1..<max(workers, 1) { next[index] = next[index - 1] + shares[index - 1] }
        let byWorker = [Input](unsafeUninitializedCapacity: owners.count) { buffer, initialized in
            next.withUnsafeMutableBufferPointer { next in
                for (input, owner) in zip(inputs, owners) {
                    let slot = next[Int(owner)]
                    (buffer.baseAddress.unsafelyUnwrapped + slot).initialize(to: input)
                    next[Int(owner)] = slot + 1
                }
            }
            initialized = owners.count
        }
        return (byWorker, shares)
    }

    /// The worker (0-based) whose queue takes jobs with `key`: always a core worker, so a key's place does
    /// not change as the pool grows and shrinks.
    @inlinable
    public func worker(forKey key: String) -> Int { placements.worker(forHash: stableKeyHash(key)) }
}
