import Synchronization
import Testing

@testable import PoolEngine

@Suite("The typed pool's submit: waiting for room (backpressure)", .timeLimit(.minutes(3)))
struct TypedPoolBackpressureTests {
    /// A pool of one worker held by job 0 until `gate` opens, with room for `capacity` waiting jobs.
    static func heldPool(
        _ strategy: TypedQueueStrategy, capacity: Int, gate: Gate, log: RunLog? = nil, order: Locked<[Int]>? = nil
    ) throws -> TypedPool<Int> {
        var configuration = TypedPoolConfiguration(workers: 1)
        configuration.strategy = strategy
        configuration.capacityPerWorker = capacity
        configuration.batchSize = 1
        return try TypedPool<Int>(configuration) { value in
            if value == 0 { await gate.wait() }
            log?.ran(value)
            order?.withLock { $0.append(value) }
        }
    }

    @Test(
        "submit waits while the queue is full and goes on as room is made: nothing rejected, every job once, in order",
        arguments: [TypedQueueStrategy.perWorker, .sharedFIFO])
    func waitsForRoom(strategy: TypedQueueStrategy) async throws {
        let gate = Gate()
        let order = Locked<[Int]>([])
        let pool = try Self.heldPool(strategy, capacity: 4, gate: gate, order: order)
        #expect(pool.trySubmit(0))
        #expect(await eventually { gate.arrived == 1 })
        let returned = Flag()
        let submitter = Task {
            var accepted = 0
            for value in 1...10 where await pool.submit(value) { accepted += 1 }
            accepted += await pool.submit(contentsOf: 11...30)
            returned.set()
            return accepted
        }
        // Four fit while the worker is held; the fifth submit waits, and nothing is rejected.
        #expect(await eventually { (pool.queueDepths.first ?? 0) + pool.sharedQueueDepth == 4 })
        try await Task.sleep(for: .milliseconds(50))
        #expect(!returned.isSet && pool.counters.rejected == 0 && pool.counters.submitted == 5, "\(pool.counters)")
        gate.open()
        #expect(await submitter.value == 30)
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.submitted == 31 && counters.completed == 31 && counters.rejected == 0 && counters.isBalanced, "\(counters)")
        #expect(order.withLock { $0 } == Array(0...30))
    }

    @Test("a submit waiting when the pool shuts down returns what was taken; the rest is rejected, in the report")
    func shutdownEndsTheWait() async throws {
        let gate = Gate()
        let pool = try Self.heldPool(.perWorker, capacity: 2, gate: gate)
        #expect(pool.trySubmit(0))
        #expect(await eventually { gate.arrived == 1 })
        let submitter = Task { await pool.submit(contentsOf: 1...10) }
        #expect(await eventually { pool.queueDepths == [2] })
        let shutdown = Task { await pool.shutdown(.graceful(deadline: .seconds(60))) }
        #expect(await submitter.value == 2)
        gate.open()
        let counters = await shutdown.value
        #expect(counters.submitted == 11 && counters.completed == 3 && counters.rejected == 8 && counters.isBalanced, "\(counters)")
        #expect(await pool.submit(99) == false)
        #expect(pool.counters.rejected == 9 && pool.counters.isBalanced)
    }

    @Test("cancelling the task of a waiting submit ends the wait; its job is rejected and counted")
    func cancellationEndsTheWait() async throws {
        let gate = Gate()
        let log = RunLog()
        let pool = try Self.heldPool(.perWorker, capacity: 1, gate: gate, log: log)
        #expect(pool.trySubmit(0))
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.trySubmit(1))
        let submitter = Task { await pool.submit(2) }
        // Parked, so that the cancellation handler must end the wait (not the check before it).
        #expect(await eventually { pool.room.parked.withLock { $0.count } == 1 })
        submitter.cancel()
        #expect(await submitter.value == false)
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.submitted == 3 && counters.completed == 2 && counters.rejected == 1 && counters.isBalanced, "\(counters)")
        #expect(log.count(2) == 0)
    }

    @Test("a keyed submit waits for its key's worker, not another's, and the key's jobs keep their order")
    func keyedWaitsForItsWorker() async {
        let gate = Gate()
        let order = Locked<[Int]>([])
        let pool = TypedPool<Int>(workers: 2, capacityPerWorker: 2, batchSize: 1) { value in
            if value == 0 { await gate.wait() }
            order.withLock { $0.append(value) }
        }
        let key = "held"
        #expect(pool.trySubmit(0, key: key))
        #expect(await eventually { gate.arrived == 1 })
        let submitter = Task {
            var accepted = 0
            for value in 1...8 where await pool.submit(value, key: key) { accepted += 1 }
            return accepted
        }
        let worker = pool.worker(forKey: key)
        // Up to a minute: under ThreadSanitizer beside the other suites the submitter once took over 20 s.
        #expect(await eventually(timeout: .seconds(60)) { pool.queueDepths[worker] == 2 })
        #expect(pool.queueDepths[1 - worker] == 0, "the other worker's room is not the key's")
        gate.open()
        #expect(await submitter.value == 8)
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 9 && counters.rejected == 0 && counters.isBalanced, "\(counters)")
        #expect(order.withLock { $0 } == Array(0...8))
    }

    @Test("with one worker held for good, a waiting submit takes the room the other worker makes")
    func roomInAnotherQueue() async {
        let held = Gate()
        let busy = Gate()
        let pool = TypedPool<Int>(workers: 2, capacityPerWorker: 1, batchSize: 1) { value in
            if value == 0 { await held.wait() }
            if value == 1 { await busy.wait() }
        }
        let keys = (0..<64).map { "k\($0)" }
        guard let heldKey = keys.first(where: { pool.worker(forKey: $0) == 0 }),
            let busyKey = keys.first(where: { pool.worker(forKey: $0) == 1 })
        else {
            Issue.record("no keys for both workers among 64")
            return
        }
        // Each worker runs a held job, and its queue's one place is taken by a job of the same key.
        #expect(pool.trySubmit(0, key: heldKey) && pool.trySubmit(1, key: busyKey))
        #expect(await eventually { held.arrived == 1 && busy.arrived == 1 })
        #expect(pool.trySubmit(10, key: heldKey) && pool.trySubmit(11, key: busyKey))
        let submitter = Task { await pool.submit(contentsOf: 20..<23) }
        #expect(await eventually { pool.room.parked.withLock { $0.count } == 1 })
        busy.open()
        // Worker 1 takes 11, then the waiting jobs one by one, while worker 0 stays held.
        #expect(await submitter.value == 3)
        #expect(held.arrived == 1 && pool.counters.rejected == 0, "\(pool.counters)")
        held.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.submitted == 7 && counters.completed == 7 && counters.isBalanced, "\(counters)")
    }

    @Test("stress: submitters waiting on a tiny pool never miss their room; with a shutdown midway every job counts once")
    func stress() async {
        for shutdownMidway in [false, true] {
            // Under ThreadSanitizer a 25th: a fifth (1,000 each) kept Swift's shared threads busy for over a
            // minute beside the other suites, and starved a metrics reporter's 10 ms tick past 20 s (CI).
            let perSubmitter = scaledForSanitizer(5_000, dividedBy: 25)
            let ran = Counter()
            let pool = TypedPool<Int>(workers: 2, capacityPerWorker: 3, batchSize: 2) { value in
                if value % 7 == 0 { await Task.yield() }
                ran.add()
            }
            let accepted = await withTaskGroup(of: Int.self) { group in
                for submitter in 0..<4 {
                    group.addTask {
                        var accepted = 0
                        for round in 0..<perSubmitter / 10 {
                            if round % 2 == 0 {
                                for value in 0..<10 where await pool.submit(value) { accepted += 1 }
                            } else {
                                accepted += await pool.submit(contentsOf: 0..<10)
                            }
                            if shutdownMidway && submitter == 0 && round == perSubmitter / 20 {
                                let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
                                #expect(report.isBalanced, "the report taken while submitters still offer: \(report)")
                            }
                        }
                        return accepted
                    }
                }
                return await group.reduce(0, +)
            }
            let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
            #expect(counters.submitted == 4 * perSubmitter && counters.isBalanced, "\(counters)")
            #expect(counters.completed == ran.value && counters.completed + counters.cancelled == accepted)
            #expect(counters.rejected == counters.submitted - accepted)
            if !shutdownMidway { #expect(accepted == 4 * perSubmitter && counters.rejected == 0, "\(counters)") }
        }
    }
}
