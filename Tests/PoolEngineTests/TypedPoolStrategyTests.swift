import Synchronization
import Testing

@testable import PoolEngine

@Suite("The typed pool's shared queue orders: FIFO, LIFO, priority with aging")
struct TypedJobOrderTests {
    func entries(_ order: inout TypedJobOrder<Int>, max: Int = .max) -> [Int] {
        var batch: [TypedEntry<Int>] = []
        _ = order.take(max: max, into: &batch)
        return batch.map(\.input)
    }

    @Test("FIFO gives the oldest first, LIFO the newest; a take moves at most `max` and says how many")
    func fifoAndLifo() {
        var fifo = TypedJobOrder<Int>(.sharedFIFO)
        var lifo = TypedJobOrder<Int>(.lifo)
        for id in 0..<5 {
            fifo.push(TypedEntry(id, at: 0), priority: 9 - id)
            lifo.push(TypedEntry(id, at: 0), priority: 9 - id)
        }
        var batch: [TypedEntry<Int>] = []
        #expect(fifo.take(max: 2, into: &batch) == 2 && batch.map(\.input) == [0, 1])
        #expect(entries(&fifo) == [2, 3, 4] && fifo.count == 0)
        #expect(entries(&lifo) == [4, 3, 2, 1, 0], "priorities count only for the priority queue")
        #expect(fifo.take(max: 4, into: &batch) == 0)
    }

    @Test("strict priority: higher first, equals in arrival order, whatever the stamps")
    func strictPriority() {
        var order = TypedJobOrder<Int>(.priority(aging: nil))
        #expect(!order.needsStamps)
        for (id, priority) in [(0, 1), (1, 5), (2, 1), (3, -2), (4, 5), (5, 0)] {
            order.push(TypedEntry(id, at: Int64(1_000 - id)), priority: priority)
        }
        #expect(entries(&order) == [1, 4, 0, 2, 5, 3])
    }

    @Test("aging: a job is never overtaken by a more urgent one that arrived more than (q - p) x aging after it")
    func aging() {
        let aging = Duration.milliseconds(10)
        var order = TypedJobOrder<Int>(.priority(aging: aging))
        #expect(order.needsStamps)
        let millisecond: Int64 = 1_000_000
        order.push(TypedEntry(0, at: 0), priority: 0)
        // Priority 2, 19 ms later: within its 20 ms head start, it goes first.
        order.push(TypedEntry(1, at: 19 * millisecond), priority: 2)
        // Priority 2, 21 ms later: past it, it waits for job 0.
        order.push(TypedEntry(2, at: 21 * millisecond), priority: 2)
        // Priority 1, 5 ms later: ahead of jobs 0 and 1 (rank -5 ms against 0 and -1 ms).
        order.push(TypedEntry(3, at: 5 * millisecond), priority: 1)
        #expect(entries(&order) == [3, 1, 0, 2])
    }

    @Test("huge priorities saturate instead of overflowing or trapping, with aging and without")
    func prioritiesSaturate() {
        var order = TypedJobOrder<Int>(.priority(aging: .seconds(1)))
        order.push(TypedEntry(0, at: 0), priority: 0)
        order.push(TypedEntry(1, at: .max), priority: .max)
        order.push(TypedEntry(2, at: .min), priority: .min)
        // The head start fits in Int64 but the arrival minus it does not: still last, not first.
        order.push(TypedEntry(3, at: 2_000_000_000), priority: -9_223_372_036)
        #expect(entries(&order) == [1, 0, 3, 2])
        var strict = TypedJobOrder<Int>(.priority(aging: nil))
        for (id, priority) in [(0, Int.min), (1, 0), (2, Int.max), (3, Int.min + 1)] {
            strict.push(TypedEntry(id, at: 0), priority: priority)
        }
        #expect(entries(&strict) == [2, 1, 3, 0])
    }

    @Test("removeAll says how many it removed, and the order is empty after")
    func removeAll() {
        for strategy in [TypedQueueStrategy.sharedFIFO, .lifo, .priority(aging: .seconds(1))] {
            var order = TypedJobOrder<Int>(strategy)
            for id in 0..<7 { order.push(TypedEntry(id, at: Int64(id)), priority: id % 3) }
            #expect(order.removeAll() == 7 && order.count == 0, "\(strategy)")
            #expect(entries(&order).isEmpty)
        }
    }
}

@Suite("The typed pool with one shared queue", .timeLimit(.minutes(3)))
struct TypedPoolStrategyTests {
    func configuration(_ strategy: TypedQueueStrategy, workers: Int = 1, batch: Int = 1) -> TypedPoolConfiguration {
        var configuration = TypedPoolConfiguration(workers: workers)
        configuration.strategy = strategy
        configuration.batchSize = batch
        return configuration
    }

    /// The order one worker runs jobs 1... in, offered (with `priority(id)`) while job 0 holds it.
    func runOrder(_ strategy: TypedQueueStrategy, ids: Range<Int>, priority: (Int) -> Int = { _ in 0 }) async throws -> [Int] {
        let gate = Gate()
        let order = Locked<[Int]>([])
        let pool = try TypedPool<Int>(configuration(strategy)) { id in
            if id == 0 { await gate.wait() }
            order.withLock { $0.append(id) }
        }
        #expect(pool.trySubmit(0))
        #expect(await eventually { gate.arrived == 1 })
        for id in ids { #expect(pool.trySubmit(id, priority: priority(id))) }
        #expect(pool.sharedQueueDepth == ids.count)
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == ids.count + 1 && counters.isBalanced, "\(counters)")
        return Array(order.withLock { $0 }.dropFirst())
    }

    @Test("one worker runs a shared FIFO queue in submission order, a LIFO queue newest first")
    func fifoAndLifoOrder() async throws {
        #expect(try await runOrder(.sharedFIFO, ids: 1..<40) == Array(1..<40))
        #expect(try await runOrder(.lifo, ids: 1..<40) == Array((1..<40).reversed()))
    }

    @Test("one worker runs a priority queue most urgent first, equals in submission order")
    func priorityOrder() async throws {
        let order = try await runOrder(.priority(aging: nil), ids: 1..<31) { $0 % 3 }
        let expected = (1..<31).filter { $0 % 3 == 2 } + (1..<31).filter { $0 % 3 == 1 } + (1..<31).filter { $0 % 3 == 0 }
        #expect(order == expected)
    }

    @Test("the priority strategy is the only one that honours priorities; per-worker queues ignore them")
    func perWorkerIgnoresPriority() async {
        let order = Locked<[Int]>([])
        let gate = Gate()
        let pool = TypedPool<Int>(workers: 1, batchSize: 1) { id in
            if id == 0 { await gate.wait() }
            order.withLock { $0.append(id) }
        }
        #expect(pool.trySubmit(0, priority: 0))
        #expect(await eventually { gate.arrived == 1 })
        for id in 1..<10 { #expect(pool.trySubmit(id, priority: id)) }
        #expect(pool.sharedQueueDepth == 0 && pool.queueDepths == [9])
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(order.withLock { $0 } == Array(0..<10) && counters.isBalanced)
    }

    @Test("a batch offered at once is shared: a worker takes its fair share, not the whole batch, so every worker takes part")
    func sharedAmongWorkers() async throws {
        let runs = Locked<[Int: Int]>([:])
        let gate = Gate()
        let pool = try TypedPool<Int>(configuration(.sharedFIFO, workers: 2, batch: 64)) { id in
            await gate.wait()
            runs.withLock { $0[id, default: 0] += 1 }
        }
        #expect(pool.trySubmit(contentsOf: 0..<8) == 8)
        // Had one worker taken all eight, it would hold them behind its first, alone at the gate.
        #expect(await eventually { gate.arrived == 2 })
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 8 && counters.isBalanced, "\(counters)")
        #expect(runs.withLock { $0.count == 8 && $0.values.allSatisfy { $0 == 1 } })
    }

    @Test("keyed jobs still run one at a time per key and in order on their worker beside a shared queue")
    func keyedBesideShared() async throws {
        let runs = Locked<[String: [Int]]>([:])
        let busy = Locked<Set<String>>([])
        let overlapped = Flag()
        let pool = try TypedPool<Int>(configuration(.priority(aging: .milliseconds(5)), workers: 3, batch: 8)) { id in
            let key = "k\(id % 7)"
            if id >= 0 {
                if !busy.withLock({ $0.insert(key).inserted }) { overlapped.set() }
                await Task.yield()
                busy.withLock { _ = $0.remove(key) }
                runs.withLock { $0[key, default: []].append(id) }
            }
        }
        for id in 0..<700 {
            #expect(pool.trySubmit(id, key: "k\(id % 7)"))
            #expect(pool.trySubmit(-1 - id, priority: id % 4))
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 1_400 && counters.isBalanced, "\(counters)")
        #expect(!overlapped.isSet, "two jobs of one key ran at once")
        #expect(runs.withLock { $0.allSatisfy { key, ids in ids == ids.sorted() && ids.count == 100 } })
    }

    @Test("a shared queue's capacity is the per-worker queues' in all; more is rejected and counted")
    func capacity() async throws {
        var configuration = configuration(.lifo, workers: 2)
        configuration.capacityPerWorker = 5
        let gate = Gate()
        let pool = try TypedPool<Int>(configuration) { _ in await gate.wait() }
        #expect(pool.trySubmit(contentsOf: 0..<2) == 2)
        #expect(await eventually { gate.arrived == 2 })
        #expect(pool.trySubmit(contentsOf: 2..<20) == 10)
        #expect(!pool.trySubmit(99, priority: 3))
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 12 && counters.rejected == 9 && counters.isBalanced, "\(counters)")
    }

    @Test("a shared queue grows the pool under a backlog and shrinks it when idle")
    func scales() async throws {
        var configuration = configuration(.sharedFIFO, workers: 1)
        configuration.maxWorkers = 3
        configuration.idleTimeout = .milliseconds(30)
        let gate = Gate()
        let runs = RunLog()
        let pool = try TypedPool<Int>(configuration) { id in
            await gate.wait()
            runs.ran(id)
        }
        for id in 0..<60 { #expect(pool.trySubmit(id)) }
        #expect(await eventually { gate.arrived == 3 })
        #expect(pool.workerCount == 3 && pool.sharedQueueDepth == 57)
        gate.open()
        #expect(await eventually { runs.total == 60 })
        #expect(await eventually { pool.workerCount == 1 }, "\(pool.workerCount) workers after idling")
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 60 && counters.isBalanced && (0..<60).allSatisfy { runs.count($0) == 1 }, "\(counters)")
    }

    @Test(
        "stress: submitters, failures and a shutdown in the middle: every job ends once, in every shared order",
        arguments: [
            (TypedQueueStrategy.sharedFIFO, false), (.lifo, true), (.priority(aging: .milliseconds(1)), false),
            (.priority(aging: nil), true),
        ])
    func stress(_ strategy: TypedQueueStrategy, immediate: Bool) async throws {
        let rounds = scaledForSanitizer(150)
        let ran = Counter()
        var configuration = configuration(strategy, workers: 2, batch: 16)
        configuration.maxWorkers = 4
        configuration.idleTimeout = .milliseconds(1)
        configuration.capacityPerWorker = 2_000
        let pool = try TypedPool<Int>(configuration) { value in
            if value % 89 == 0 { await Task.yield() }
            ran.add()
            if value % 101 == 0 { throw TestFailure() }
        }
        let accepted = await withTaskGroup(of: Int.self) { group in
            for submitter in 0..<3 {
                group.addTask {
                    var accepted = 0
                    for round in 0..<rounds {
                        let base = submitter * 100_000 + round * 100
                        if round % 2 == 0 {
                            for value in 0..<50 where pool.trySubmit(base + value, priority: value % 5) { accepted += 1 }
                        } else {
                            accepted += pool.trySubmit(contentsOf: (0..<100).map { base + $0 }, priority: round % 3)
                        }
                        if round == rounds * 3 / 5 && submitter == 0 {
                            _ = await pool.shutdown(immediate ? .immediate : .graceful(deadline: .seconds(60)))
                        }
                    }
                    return accepted
                }
            }
            return await group.reduce(0, +)
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.submitted == 3 * 75 * rounds, "every offer counted: \(counters)")
        #expect(counters.completed + counters.failed + counters.cancelled == accepted, "\(counters)")
        #expect(counters.isBalanced && counters.failed == pool.deadLetterTotal, "\(counters)")
        if immediate {
            // A job told of the shutdown as it threw counts as cancelled, though it ran.
            #expect(counters.completed + counters.failed <= ran.value && ran.value <= accepted, "\(counters), ran \(ran.value)")
        } else {
            #expect(counters.completed + counters.failed == ran.value && counters.cancelled == 0, "\(counters)")
        }
    }

    @Test("an immediate shutdown cancels what waits in the shared queue and tells the running jobs")
    func immediateShutdown() async throws {
        let started = Counter()
        let pool = try TypedPool<Int>(configuration(.priority(aging: nil), workers: 2)) { _ in
            started.add()
            try await Task.sleep(for: .seconds(600))
        }
        pool.trySubmit(contentsOf: 0..<50, priority: 1)
        #expect(await eventually { started.value == 2 })
        let counters = await pool.shutdown(.immediate)
        #expect(counters.cancelled == 50 && counters.completed == 0 && counters.isBalanced, "\(counters)")
        #expect(pool.sharedQueueDepth == 0)
    }

    @Test("a priority aging of zero is refused, naming the field")
    func refused() {
        do {
            _ = try TypedPool<Int>(configuration(.priority(aging: .zero)), handler: { _ in })
            Issue.record("accepted an aging of zero")
        } catch {
            #expect(error.field == "strategy")
        }
    }
}
