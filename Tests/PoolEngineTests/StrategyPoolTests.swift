import Testing

@testable import PoolEngine

@Suite("Strategies in the live pool", .timeLimit(.minutes(3)))
struct StrategyPoolTests {
    /// Four workers, round-robin: worker 1's first job blocks, then 400 quick jobs are dispatched, 100 to
    /// each queue. Returns the share of the waiting jobs that sit in the blocked worker's queue once the
    /// others have had time to finish, and then releases everything.
    func skewedLoad(stealing: Bool) async throws -> (blockedShare: Double, completedWhileBlocked: Int) {
        var configuration = makeConfiguration(min: 4, max: 4, capacity: nil)
        configuration.queueStrategy = .perWorker(.roundRobin, stealing: stealing)
        let pool = try WorkerPool(configuration: configuration)
        #expect(await eventually { pool.snapshot().workers.allSatisfy { $0.state != .starting } })
        let gate = Gate()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        let log = RunLog()
        for index in 0..<399 { pool.trySubmit { log.ran(index) } }
        // Wait until the unblocked workers have nothing left of their own; with stealing, until they have run
        // everything (the blocked worker's queue included), so a loaded machine cannot cut the test short.
        let blockedID = try #require(pool.snapshot().workers.first { if case .busy = $0.state { true } else { false } }?.id)
        #expect(
            await eventually {
                let queue = pool.snapshot(includingLatencies: false).queue
                if stealing { return queue.total == 0 && log.total == 399 }
                return queue.perWorker.filter { $0.key != blockedID }.values.allSatisfy { $0 == 0 }
            })
        try await Task.sleep(for: .milliseconds(50))
        let snapshot = pool.snapshot()
        let blockedDepth = snapshot.queue.perWorker[blockedID] ?? 0
        let share = snapshot.queue.total == 0 ? 0 : Double(blockedDepth) / Double(snapshot.queue.total)
        let completed = log.total
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(report.counters.completed == 400)
        expectBalanced(report.counters)
        return (share, completed)
    }

    @Test("without stealing one blocked worker holds most of the queue; with stealing the others take it")
    func stealingBalancesSkewedLoad() async throws {
        let without = try await skewedLoad(stealing: false)
        #expect(without.blockedShare > 0.9, "the blocked worker's queue holds \(without.blockedShare) of the waiting jobs")
        #expect(without.completedWhileBlocked < 310)
        let with = try await skewedLoad(stealing: true)
        #expect(with.blockedShare == 0)
        #expect(with.completedWhileBlocked == 399, "the other workers stole and ran everything")
    }

    @Test("LIFO and priority run in their order in the pool")
    func orderingInPool() async throws {
        for (kind, expected) in [(QueueStrategyKind.lifo, [3, 2, 1]), (.priority(aging: nil), [2, 3, 1])] {
            var configuration = makeConfiguration(min: 1, max: 1)
            configuration.queueStrategy = kind
            let pool = try WorkerPool(configuration: configuration)
            let gate = Gate()
            pool.trySubmit { await gate.wait() }
            #expect(await eventually { gate.arrived == 1 })
            let sequence = Locked<[Int]>([])
            for (index, priority) in [(1, 0), (2, 9), (3, 5)] {
                pool.trySubmit(priority: priority) {
                    sequence.withLock { $0.append(index) }
                }
            }
            gate.open()
            let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
            #expect(sequence.withLock { $0 } == expected, "\(kind)")
            expectBalanced(report.counters)
        }
    }

    @Test(
        "keyed: 100,000 jobs over 1,000 keys, submitted concurrently under scaling churn, never overlap per key and keep order"
    )
    func keyedExclusivityAndOrder() async throws {
        var configuration = makeConfiguration(min: 1, max: 12, capacity: nil, threshold: 16)
        configuration.queueStrategy = .keyed
        configuration.cooldown = .milliseconds(2)
        configuration.idleTimeout = .milliseconds(10)
        configuration.scalingInterval = .milliseconds(5)
        let pool = try WorkerPool(configuration: configuration)
        let keys = 1_000
        let producers = 4
        let perProducer = 25_000
        // Per key: is a job running, how many overlaps, the last sequence number started.
        let running = Locked<[Int: Bool]>([:])
        let lastStarted = Locked<[Int: Int]>([:])
        let violations = Locked<[String]>([])
        let churn = Task {
            var step = 0
            while !Task.isCancelled {
                step += 1
                try? pool.updateScaling {
                    $0.minWorkers = 1 + step % 4
                    $0.maxWorkers = 4 + (step % 3) * 4
                }
                try? await Task.sleep(for: .milliseconds(4))
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    // Each producer owns the keys k with k % producers == producer, so per key the submission
                    // order is this producer's order.
                    for index in 0..<perProducer {
                        let key = (index % (keys / producers)) * producers + producer
                        let sequence = index
                        pool.trySubmit(key: "key-\(key)") {
                            let overlapped = running.withLock { state in
                                defer { state[key] = true }
                                return state[key] == true
                            }
                            let previous = lastStarted.withLock { state in
                                defer { state[key] = sequence }
                                return state[key] ?? -1
                            }
                            if overlapped || previous >= sequence {
                                violations.withLock { $0.append("key \(key): seq \(sequence) after \(previous), overlap \(overlapped)") }
                            }
                            if sequence % 7 == 0 { await Task.yield() }
                            running.withLock { $0[key] = false }
                        }
                        if index % 500 == 0 { await Task.yield() }
                    }
                }
            }
        }
        churn.cancel()
        let report = await pool.shutdown(.graceful(deadline: .seconds(300)))
        #expect(violations.withLock { $0 }.isEmpty, "\(violations.withLock { $0.prefix(5) })")
        #expect(pool.core.withLock { $0.takenAheadTotal } > 0, "no keyed job was taken ahead: the run-at-a-time path went untested")
        #expect(report.counters.submitted == producers * perProducer)
        #expect(report.counters.completed == producers * perProducer)
        expectBalanced(report.counters)
        #expect(lastStarted.withLock { $0.count } == keys)
    }
}
