import Synchronization
import Testing

@testable import PoolEngine

@Suite("The typed pool grows under load and shrinks when idle", .timeLimit(.minutes(3)))
struct TypedPoolScalingTests {
    func configuration(core: Int, max: Int, idle: Duration = .seconds(60), batch: Int = 1) -> TypedPoolConfiguration {
        var configuration = TypedPoolConfiguration(workers: core)
        configuration.maxWorkers = max
        configuration.idleTimeout = idle
        configuration.batchSize = batch
        return configuration
    }

    @Test("a backlog while every worker is busy starts workers, up to maxWorkers and never past it")
    func grows() async throws {
        let gate = Gate()
        let runs = RunLog()
        let pool = try TypedPool<Int>(configuration(core: 1, max: 3)) { id in
            await gate.wait()
            runs.ran(id)
        }
        #expect(pool.workerCount == 1)
        for id in 0..<60 { #expect(pool.trySubmit(id)) }
        // Each worker holds one job at the gate (batches of one); the other jobs wait in the queues.
        #expect(await eventually { gate.arrived == 3 })
        #expect(pool.workerCount == 3)
        try await Task.sleep(for: .milliseconds(50))
        #expect(gate.arrived == 3, "a fourth worker started")
        #expect(pool.queueDepths.count == 3 && pool.queueDepths.reduce(0, +) == 57)
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 60 && counters.isBalanced, "\(counters)")
        #expect((0..<60).allSatisfy { runs.count($0) == 1 })
    }

    @Test("workers beyond the core that idle for their timeout end, down to the core; a new backlog grows it again")
    func shrinksAndGrowsAgain() async throws {
        let gates = [Gate(), Gate()]
        let runs = RunLog()
        let pool = try TypedPool<Int>(configuration(core: 1, max: 3, idle: .milliseconds(30))) { id in
            await gates[id / 100].wait()
            runs.ran(id)
        }
        for round in 0..<2 {
            let ids = (round * 100)..<(round * 100 + 40)
            for id in ids { #expect(pool.trySubmit(id)) }
            #expect(await eventually { gates[round].arrived == 3 }, "round \(round): \(gates[round].arrived) at the gate")
            #expect(pool.workerCount == 3)
            gates[round].open()
            #expect(await eventually { ids.allSatisfy { runs.count($0) == 1 } })
            #expect(await eventually { pool.workerCount == 1 }, "round \(round): \(pool.workerCount) workers after idling")
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 80 && counters.isBalanced, "\(counters)")
        #expect(runs.total == 80)
    }

    @Test("a shutdown cancels the idle timers: no thread of the pool waits out a long idle timeout")
    func shutdownEndsIdleTimers() async throws {
        let gate = Gate()
        let pool = try TypedPool<Int>(configuration(core: 1, max: 3, idle: .seconds(600))) { _ in await gate.wait() }
        for id in 0..<30 { pool.trySubmit(id) }
        #expect(await eventually { gate.arrived == 3 })
        gate.open()
        // The two workers beyond the core run dry and sleep, each watched by a 10-minute timer.
        #expect(await eventually { pool.counters.completed == 30 && pool.sleepers.load(ordering: .relaxed) == 3 })
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 30 && counters.isBalanced)
        #expect(await eventually(timeout: .seconds(30)) { pool.executor.liveThreads == 0 }, "\(pool.executor.liveThreads) threads left")
    }

    @Test("keyed jobs stay on the core workers, one at a time per key and in order, while the pool grows and shrinks")
    func keysStayOnTheCore() async throws {
        let pool0 = try TypedPool<Int>(configuration(core: 2, max: 6), handler: { _ in })
        #expect((0..<1_000).allSatisfy { pool0.worker(forKey: "key-\($0)") < 2 })
        _ = await pool0.shutdown(.immediate)

        struct Job: Sendable {
            let key: Int
            let sequence: Int
        }
        // Per key: the last sequence run and whether one runs now.
        let keys = Locked([Int: (last: Int, running: Bool)]())
        let violations = Counter()
        let pool = try TypedPool<Job>(configuration(core: 2, max: 6, idle: .milliseconds(5), batch: 4)) { job in
            guard job.key >= 0 else {
                spin(for: .microseconds(50))
                return
            }
            let fine = keys.withLock { keys in
                let entry = keys[job.key] ?? (last: -1, running: false)
                keys[job.key] = (job.sequence, true)
                return !entry.running && entry.last == job.sequence - 1
            }
            if !fine { violations.add() }
            await Task.yield()
            keys.withLock { $0[job.key]?.running = false }
        }
        var sequences = [Int](repeating: 0, count: 20)
        var submitted = 0
        for round in 0..<scaledForSanitizer(30, dividedBy: 3) {
            // Unkeyed work to make a backlog (the pool grows), keyed jobs beside it, then a pause (it shrinks).
            submitted += pool.trySubmit(contentsOf: (0..<200).map { _ in Job(key: -1, sequence: 0) })
            let keyed = (0..<100).map { index -> Job in
                let key = (index + round) % 20
                defer { sequences[key] += 1 }
                return Job(key: key, sequence: sequences[key])
            }
            submitted += pool.trySubmit(contentsOf: keyed, keyedBy: { "k\($0.key)" })
            if round % 5 == 4 { try await Task.sleep(for: .milliseconds(20)) }
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(violations.value == 0)
        #expect(counters.completed == submitted && counters.isBalanced, "\(counters)")
        #expect(keys.withLock { keys in (0..<20).allSatisfy { keys[$0]?.last == sequences[$0] - 1 } })
    }

    @Test("under churn (many submitters, workers ending after 1 ms idle) every job runs once and the counts balance")
    func churn() async throws {
        let total = scaledForSanitizer(40_000)
        let runs = Locked([UInt8](repeating: 0, count: total))
        let pool = try TypedPool<Int>(configuration(core: 1, max: 4, idle: .milliseconds(1), batch: 8)) { id in
            runs.withLock { $0[id] &+= 1 }
        }
        let seen = Locked(Set<Int>())
        let accepted = await withTaskGroup(of: Int.self) { group in
            for submitter in 0..<4 {
                group.addTask {
                    var accepted = 0
                    var random = SeededRandom(seed: UInt64(submitter + 1))
                    var next = submitter
                    while next < total {
                        var burst: [Int] = []
                        for _ in 0..<Int(random.next() % 300 + 1) where next < total {
                            burst.append(next)
                            next += 4
                        }
                        accepted += pool.trySubmit(contentsOf: burst)
                        let count = pool.workerCount
                        seen.withLock { _ = $0.insert(count) }
                        if random.next() % 4 == 0 { try? await Task.sleep(for: .milliseconds(Int(random.next() % 3))) }
                    }
                    return accepted
                }
            }
            return await group.reduce(0, +)
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(accepted == total, "nothing is rejected: the queues are deep enough")
        #expect(runs.withLock { $0.allSatisfy { $0 == 1 } })
        #expect(counters.submitted == total && counters.completed == total && counters.isBalanced, "\(counters)")
        #expect(seen.withLock { $0.allSatisfy { (1...4).contains($0) } && $0.contains { $0 > 1 } }, "it grew: \(seen.withLock { $0 })")
    }

    @Test("maxWorkers below workers, and an idle timeout of zero, are refused, naming the field")
    func refused() {
        var configuration = configuration(core: 3, max: 2)
        do {
            _ = try TypedPool<Int>(configuration, handler: { _ in })
            Issue.record("accepted maxWorkers 2 with workers 3")
        } catch {
            #expect(error.field == "maxWorkers")
        }
        configuration = self.configuration(core: 1, max: 2, idle: .zero)
        do {
            _ = try TypedPool<Int>(configuration, handler: { _ in })
            Issue.record("accepted an idle timeout of zero")
        } catch {
            #expect(error.field == "idleTimeout")
        }
    }
}
