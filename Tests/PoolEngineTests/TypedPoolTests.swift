import Synchronization
import Testing

@testable import PoolEngine

@Suite("The typed pool: plain values, one handler", .timeLimit(.minutes(3)))
struct TypedPoolTests {
    @Test("every job runs exactly once, singly and in batches, and the counts balance")
    func exactlyOnce() async {
        let runs = Locked([UInt8](repeating: 0, count: 100_000))
        let pool = TypedPool<Int>(workers: 3, batchSize: 32) { index in runs.withLock { $0[index] &+= 1 } }
        for index in 0..<1_000 { #expect(pool.trySubmit(index)) }
        #expect(pool.trySubmit(contentsOf: 1_000..<100_000) == 99_000)
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(runs.withLock { $0.allSatisfy { $0 == 1 } })
        #expect(counters.submitted == 100_000 && counters.completed == 100_000 && counters.isBalanced, "\(counters)")
    }

    @Test("a synchronous handler and an async one count alike: every job once, a throw a failure, all balanced")
    func synchronousAndAsynchronous() async {
        for synchronous in [true, false] {
            let runs = Locked([UInt8](repeating: 0, count: 20_000))
            let body: @Sendable (Int) throws -> Void = { index in
                runs.withLock { $0[index] &+= 1 }
                if index % 1_000 == 0 { throw TestFailure() }
            }
            let pool =
                synchronous
                ? TypedPool<Int>(workers: 2, batchSize: 16, synchronousHandler: body)
                : TypedPool<Int>(workers: 2, batchSize: 16, handler: { try body($0) })
            #expect(pool.trySubmit(contentsOf: 0..<20_000) == 20_000)
            let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
            #expect(runs.withLock { $0.allSatisfy { $0 == 1 } }, "synchronous: \(synchronous)")
            #expect(counters.completed == 19_980 && counters.failed == 20 && counters.isBalanced, "\(counters)")
        }
    }

    @Test("a handler that throws fails its job; a full queue rejects; after shutdown everything is rejected; all balance")
    func failuresAndRejections() async {
        let gate = Gate()
        let pool = TypedPool<Int>(workers: 1, capacityPerWorker: 10, batchSize: 1) { value in
            if value == 0 { await gate.wait() }
            if value % 2 == 1 { throw TestFailure() }
        }
        #expect(pool.trySubmit(0))
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.trySubmit(contentsOf: 1...15) == 10, "ten fit in the queue while the worker is held")
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(counters.completed == 6 && counters.failed == 5 && counters.rejected == 5, "\(counters)")
        #expect(!pool.trySubmit(99))
        #expect(pool.counters.rejected == 6 && pool.counters.isBalanced, "\(pool.counters)")
    }

    @Test("an idle worker takes half of a held worker's queue: the others' jobs all finish while one job blocks")
    func stealing() async {
        let gate = Gate()
        let done = Counter()
        // Batches of one: a job that blocks holds its worker's batch, and nothing else.
        let pool = TypedPool<Int>(workers: 2, batchSize: 1) { value in
            if value == 0 { await gate.wait() }
            done.add()
        }
        // One at a time, so they alternate between the two queues: the held worker's queue gets half.
        for value in 0..<400 { pool.trySubmit(value) }
        #expect(await eventually { done.value == 399 }, "stolen from the held worker's queue")
        #expect(pool.queueDepths.reduce(0, +) == 0)
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(counters.completed == 400 && counters.isBalanced)
    }

    @Test("jobs that land in one queue in one call are shared: a sleeping worker is woken to take them")
    func oneCallIsShared() async {
        let gate = Gate()
        let done = Counter()
        let pool = TypedPool<Int>(workers: 2, batchSize: 1) { value in
            if value == 0 { await gate.wait() }
            done.add()
        }
        try? await Task.sleep(for: .milliseconds(50))  // both workers asleep (or about to be)
        #expect(pool.trySubmit(contentsOf: 0..<4) == 4, "one chunk: all four go to one worker's queue")
        #expect(await eventually { done.value == 3 }, "the other worker took them while the first job blocks")
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(counters.completed == 4 && counters.isBalanced)
    }

    @Test("an immediate shutdown during a graceful one's long wait cancels what is left at once")
    func escalation() async {
        let pool = TypedPool<Int>(workers: 1, batchSize: 1) { _ in try await Task.sleep(for: .seconds(600)) }
        pool.trySubmit(contentsOf: 0..<5)
        let graceful = Task { await pool.shutdown(.graceful(deadline: .seconds(600))) }
        try? await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        let counters = await pool.shutdown(.immediate)
        #expect(ContinuousClock.now - started < .seconds(60), "not the graceful deadline's ten minutes")
        #expect(counters.cancelled == 5 && counters.isBalanced, "\(counters)")
        #expect(await graceful.value.isBalanced)
    }

    @Test("stress: four submitters at once, singly and in batches, and a shutdown in the middle: every job is counted once")
    func concurrentSubmittersAndShutdown() async {
        // 60,000 offers; a fifth under ThreadSanitizer, where the full count took 38 s and starved the
        // suites beside it.
        let rounds = scaledForSanitizer(200)
        let ran = Counter()
        let pool = TypedPool<Int>(workers: 3, capacityPerWorker: 5_000, batchSize: 16) { value in
            if value % 97 == 0 { await Task.yield() }
            ran.add()
        }
        let accepted = await withTaskGroup(of: Int.self) { group in
            for submitter in 0..<4 {
                group.addTask {
                    var accepted = 0
                    for round in 0..<rounds {
                        if round % 2 == 0 {
                            for value in 0..<50 where pool.trySubmit(submitter * 100_000 + round * 100 + value) { accepted += 1 }
                        } else {
                            accepted += pool.trySubmit(contentsOf: (0..<100).map { submitter * 100_000 + round * 100 + $0 })
                        }
                        if round == rounds * 3 / 5 && submitter == 0 { _ = await pool.shutdown(.graceful(deadline: .seconds(60))) }
                    }
                    return accepted
                }
            }
            return await group.reduce(0, +)
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.submitted == 4 * 75 * rounds, "every offer counted: \(counters)")
        #expect(counters.completed + counters.cancelled == accepted && counters.rejected == counters.submitted - accepted)
        #expect(counters.completed == ran.value && counters.failed == 0 && counters.isBalanced, "\(counters)")
    }

    @Test("an immediate shutdown cancels what waits and tells the running job; a graceful one's deadline does the same")
    func cancellation() async {
        for mode in [ShutdownMode.immediate, .graceful(deadline: .milliseconds(200))] {
            let started = Counter()
            let pool = TypedPool<Int>(workers: 2, batchSize: 1) { _ in
                started.add()
                try await Task.sleep(for: .seconds(600))
            }
            pool.trySubmit(contentsOf: 0..<50)
            #expect(await eventually { started.value == 2 })
            let counters = await pool.shutdown(mode)
            #expect(counters.cancelled == 50 && counters.completed == 0 && counters.isBalanced, "\(mode): \(counters)")
        }
    }
}
