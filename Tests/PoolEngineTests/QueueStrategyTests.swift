import Testing

@testable import PoolEngine

/// A queued job for strategy tests, with the id, key, priority and arrival given.
func queued(_ id: UInt64, key: String? = nil, priority: Int = 0, at milliseconds: Int64 = 0) -> QueuedJob {
    let at = PoolInstant(nanoseconds: milliseconds * 1_000_000)
    return QueuedJob(
        id: JobID(id), job: Job(key: key, priority: priority) {}, attempt: 1, submittedAt: at, enqueuedAt: at,
        outcome: nil)
}

func drain(_ queue: inout some QueueStrategy, for worker: WorkerID = WorkerID(1)) -> [UInt64] {
    var ids: [UInt64] = []
    while let job = queue.dequeue(for: worker) { ids.append(job.id.rawValue) }
    return ids
}

@Suite("Queue strategies keep their ordering promises")
struct QueueStrategyTests {
    @Test("FIFO runs in arrival order and evicts the oldest")
    func fifo() {
        var queue = SharedQueue(order: .fifo)
        for id in 1...5 { _ = queue.enqueue(queued(UInt64(id))) }
        #expect(queue.evict()?.id == JobID(1))
        #expect(drain(&queue) == [2, 3, 4, 5])
    }

    @Test("LIFO runs the newest first and evicts the oldest")
    func lifo() {
        var queue = SharedQueue(order: .lifo)
        for id in 1...5 { _ = queue.enqueue(queued(UInt64(id))) }
        #expect(queue.evict()?.id == JobID(1))
        #expect(drain(&queue) == [5, 4, 3, 2])
    }

    @Test("FIFO and LIFO keep their order across many segments, and put-back jobs return to their places")
    func segmentsAndPutBack() {
        let total = SegmentedDeque<QueuedJob>.segmentSize * 3 + 7
        var fifo = SharedQueue(order: .fifo)
        var lifo = SharedQueue(order: .lifo)
        for id in 1...total {
            _ = fifo.enqueue(queued(UInt64(id)))
            _ = lifo.enqueue(queued(UInt64(id)))
        }
        // Two workers take runs from the front; the second run goes back first, then the first.
        let first = (0..<10).compactMap { _ in fifo.dequeue(for: WorkerID(1)) }
        let second = (0..<10).compactMap { _ in fifo.dequeue(for: WorkerID(2)) }
        _ = fifo.putBack(second)
        _ = fifo.putBack(first)
        #expect(fifo.count == total)
        #expect(drain(&fifo) == (1...total).map(UInt64.init))
        let newest = (0..<5).compactMap { _ in lifo.dequeue(for: WorkerID(1)) }
        _ = lifo.putBack(newest)
        #expect(drain(&lifo) == (1...total).reversed().map(UInt64.init))
        for id in 1...total { _ = fifo.enqueue(queued(UInt64(id))) }
        #expect(fifo.removeAll().map(\.id.rawValue) == (1...total).map(UInt64.init) && fifo.count == 0)
    }

    @Test("strict priority runs higher first, FIFO among equals, and evicts the least urgent")
    func strictPriority() {
        var queue = AgingPriorityQueue(agingInterval: nil)
        let jobs = [(1, 0), (2, 5), (3, 1), (4, 5), (5, 0)]
        for (id, priority) in jobs { _ = queue.enqueue(queued(UInt64(id), priority: priority, at: Int64(id))) }
        #expect(queue.evict()?.id == JobID(5))
        #expect(drain(&queue) == [2, 4, 3, 1])
    }

    @Test("without aging, a steady stream of urgent jobs starves a low-priority one")
    func starvationWithoutAging() {
        var queue = AgingPriorityQueue(agingInterval: nil)
        _ = queue.enqueue(queued(0, priority: 0, at: 0))
        var served: [UInt64] = []
        for step in 1...1_000 {
            _ = queue.enqueue(queued(UInt64(step), priority: 10, at: Int64(step)))
            if let job = queue.dequeue(for: WorkerID(1)) { served.append(job.id.rawValue) }
        }
        #expect(!served.contains(0), "the low-priority job never ran")
    }

    @Test("with aging, no job of priority q arriving more than (q - p) x aging after a job of priority p overtakes it")
    func agingBound() {
        let aging = Duration.milliseconds(10)
        var queue = AgingPriorityQueue(agingInterval: aging)
        // Job 0 (priority 0) at t=0; then one priority-10 job every ms, and one dequeue every ms.
        _ = queue.enqueue(queued(0, priority: 0, at: 0))
        var servedAt: Int64?
        var overtakers: [Int64] = []
        for step in Int64(1)...1_000 {
            _ = queue.enqueue(queued(UInt64(step), priority: 10, at: step))
            guard let job = queue.dequeue(for: WorkerID(1)) else { continue }
            if job.id == JobID(0) {
                servedAt = step
                break
            }
            overtakers.append(job.enqueuedAt.nanoseconds / 1_000_000)
        }
        let bound: Int64 = 10 * 10  // (q - p) x aging, in ms
        #expect(servedAt != nil, "the low-priority job ran")
        #expect(overtakers.allSatisfy { $0 <= bound }, "overtaken by jobs that arrived after \(bound) ms")
        #expect(overtakers.count >= 50, "urgent jobs did overtake it while inside the bound")
    }

    @Test("round-robin dispatch spreads jobs over the workers in turn")
    func roundRobin() {
        var queue = PerWorkerQueues(rule: .roundRobin, stealing: false)
        queue.workersChanged(to: [WorkerID(1), WorkerID(2), WorkerID(3)])
        let targets = (1...6).map { queue.enqueue(queued(UInt64($0))) }
        #expect(targets == [1, 2, 3, 1, 2, 3].map { DispatchTarget.worker(WorkerID($0)) })
        #expect(queue.depths().perWorker == [WorkerID(1): 2, WorkerID(2): 2, WorkerID(3): 2])
        #expect(drain(&queue, for: WorkerID(2)) == [2, 5], "without stealing a worker takes only its own")
    }

    @Test("least-loaded dispatch fills the shortest queue")
    func leastLoaded() {
        var queue = PerWorkerQueues(rule: .leastLoaded, stealing: false)
        queue.workersChanged(to: [WorkerID(1), WorkerID(2)])
        _ = queue.enqueue(queued(1))
        _ = queue.enqueue(queued(2))
        _ = queue.dequeue(for: WorkerID(1))
        #expect(queue.enqueue(queued(3)) == .worker(WorkerID(1)))
    }

    @Test("an idle worker steals the newer half of the busiest queue, from the far end, into its own")
    func stealing() {
        var queue = PerWorkerQueues(rule: .roundRobin, stealing: true)
        queue.workersChanged(to: [WorkerID(1), WorkerID(2), WorkerID(3)])
        for id in 1...9 { _ = queue.enqueue(queued(UInt64(id))) }  // w1: 1,4,7  w2: 2,5,8  w3: 3,6,9
        _ = queue.dequeue(for: WorkerID(1))
        _ = queue.dequeue(for: WorkerID(1))
        _ = queue.dequeue(for: WorkerID(1))  // w1 empty now
        let stolen = queue.dequeue(for: WorkerID(1))?.id.rawValue
        #expect(stolen == 5 || stolen == 6, "the older of the newer half (two of three) of a busiest queue")
        #expect(queue.count == 5)
        let victim = stolen == 5 ? WorkerID(2) : WorkerID(3)
        #expect(queue.depths().perWorker == [WorkerID(1): 1, victim: 1, victim == WorkerID(2) ? WorkerID(3) : WorkerID(2): 3])
        #expect(queue.takeAhead(for: WorkerID(1))?.id.rawValue == stolen.map { $0 + 3 }, "the rest is the thief's own")
        #expect(queue.dequeue(for: victim)?.id.rawValue == stolen.map { $0 - 3 }, "the owner keeps its oldest")
        #expect(queue.count == 3)
    }

    @Test("with stealing a worker takes ahead only from its own queue, and put-back jobs are served first by anyone")
    func perWorkerTakeAhead() {
        #expect(!PerWorkerQueues(rule: .roundRobin, stealing: false).allowsTakingAhead, "without stealing: never")
        var queue = PerWorkerQueues(rule: .roundRobin, stealing: true)
        #expect(queue.allowsTakingAhead && queue.allowsMovingTakenJobs)
        queue.workersChanged(to: [WorkerID(1), WorkerID(2)])
        for id in 1...6 { _ = queue.enqueue(queued(UInt64(id))) }
        // Worker 1 holds 1, 3, 5; worker 2 holds 2, 4, 6.
        var taken: [QueuedJob] = []
        while let job = queue.takeAhead(for: WorkerID(1)) { taken.append(job) }
        #expect(taken.map(\.id.rawValue) == [1, 3, 5], "never another worker's jobs")
        #expect(queue.count == 3)
        // Worker 1 ran job 1 and put back the rest: they wait at the head of the shared queue, for anyone.
        #expect(queue.putBack(Array(taken.dropFirst())) == [.anyWorker, .anyWorker])
        #expect(queue.count == 5 && queue.depths().total == 5)
        #expect(drain(&queue, for: WorkerID(2)) == [3, 5, 2, 4, 6])
        #expect(queue.count == 0)
    }

    @Test("a departing worker's queued jobs are dispatched to the others, none lost")
    func perWorkerRebalance() {
        var queue = PerWorkerQueues(rule: .roundRobin, stealing: false)
        queue.workersChanged(to: [WorkerID(1), WorkerID(2)])
        for id in 1...10 { _ = queue.enqueue(queued(UInt64(id))) }
        queue.workersChanged(to: [WorkerID(2)])
        #expect(queue.count == 10)
        #expect(Set(drain(&queue, for: WorkerID(2))) == Set(1...10))
    }
}
