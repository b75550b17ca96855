import Synchronization
import Testing

@testable import PoolEngine

@Suite("The typed pool's keys, retries, timeouts, dead letters and latencies", .timeLimit(.minutes(3)))
struct TypedPoolFeatureTests {
    @Test("keyed jobs: one at a time per key, in order, all on the key's worker; the counts balance")
    func keyedOrderAndExclusivity() async {
        struct KeyState {
            var running = false
            var last = -1
        }
        let keys = (0..<50).map { "key-\($0)" }
        let state = Locked([String: KeyState]())
        let violations = Counter()
        let perKey = scaledForSanitizer(400)
        let pool = TypedPool<Int>(workers: 3, batchSize: 8) { value in
            let key = keys[value % keys.count]
            let entered = state.withLock { all -> Bool in
                var this = all[key, default: KeyState()]
                defer { all[key] = this }
                guard !this.running, this.last < value else { return false }
                this.running = true
                this.last = value
                return true
            }
            if !entered { violations.add() }
            if value % 7 == 0 { await Task.yield() }
            state.withLock { $0[key]?.running = false }
        }
        var offered = 0
        let total = keys.count * perKey
        for value in 0..<total {
            if value % 3 == 0 || (value % 3 == 1 && value == total - 1) {
                offered += pool.trySubmit(value, key: keys[value % keys.count]) ? 1 : 0
            } else if value % 3 == 2 {
                // The two values before this one went singly and in this batch, in order.
                let batch = [value - 1, value]
                offered += pool.trySubmit(contentsOf: batch, keyedBy: { keys[$0 % keys.count] })
            }
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(offered == total)
        #expect(violations.value == 0, "two jobs of a key overlapped, or one ran before an earlier one")
        #expect(counters.completed == offered && counters.isBalanced, "\(counters)")
    }

    @Test("a keyed batch is laid out by worker, in order within each; a full queue rejects only the end of its worker's share")
    func keyedLayOutAndCapacity() async throws {
        let (byWorker, shares) = TypedPool<Int>.layOut(0..<10, count: 10, workers: 3) { $0 % 3 }
        #expect(shares == [4, 3, 3] && byWorker == [0, 3, 6, 9, 1, 4, 7, 2, 5, 8])
        let gate = Gate()
        let ran = Locked<[Int]>([])
        let pool = TypedPool<Int>(workers: 2, capacityPerWorker: 3, batchSize: 1) { id in
            await gate.wait()
            ran.withLock { $0.append(id) }
        }
        let keys = (0..<64).map { "k\($0)" }
        let first = try #require(keys.first { pool.worker(forKey: $0) == 0 })
        let second = try #require(keys.first { pool.worker(forKey: $0) == 1 })
        // Even jobs to worker 0, odd ones to worker 1: each share is pushed under one lock, 3 fit.
        #expect(pool.trySubmit(contentsOf: 0..<20, keyedBy: { $0 % 2 == 0 ? first : second }) == 6)
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(counters.completed == 6 && counters.rejected == 14 && counters.isBalanced, "\(counters)")
        let order = ran.withLock { $0 }
        #expect(order.filter { $0 % 2 == 0 } == [0, 2, 4] && order.filter { $0 % 2 == 1 } == [1, 3, 5])
    }

    @Test("a keyed job waits for its own worker: an idle worker does not take it")
    func keyedJobsAreNotStolen() async {
        let gate = Gate()
        let holding = Locked(true)
        let ranWhileHeld = Counter()
        let pool = TypedPool<Int>(workers: 2, batchSize: 1) { value in
            if value == 0 { await gate.wait() } else if holding.withLock({ $0 }) { ranWhileHeld.add() }
        }
        let key = "held"
        let owner = pool.worker(forKey: key)
        #expect(pool.trySubmit(0, key: key))
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.trySubmit(contentsOf: 1...20, keyedBy: { _ in key }) == 20)
        // The other worker is idle and steals unkeyed jobs: these it must leave.
        #expect(pool.trySubmit(contentsOf: 100..<110) == 10)
        #expect(await eventually { ranWhileHeld.value == 10 }, "the unkeyed jobs ran on the idle worker")
        #expect(pool.queueDepths[owner] == 20 && pool.queueDepths.reduce(0, +) == 20, "the keyed ones wait for theirs")
        try? await Task.sleep(for: .milliseconds(100))
        #expect(ranWhileHeld.value == 10, "and still do")
        holding.withLock { $0 = false }
        gate.open()
        let counters = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(counters.completed == 31 && counters.isBalanced, "\(counters)")
    }

    @Test(
        "a failed attempt is retried after its backoff; the last failure is dead-lettered with its input",
        arguments: [TypedQueueStrategy.perWorker, .priority(aging: .milliseconds(1))])
    func retriesAndDeadLetters(_ strategy: TypedQueueStrategy) async throws {
        for maxAttempts in [3, 2] {
            let attempts = Locked([Int: Int]())
            var configuration = TypedPoolConfiguration(workers: 2)
            configuration.strategy = strategy
            configuration.retry = RetryPolicy(maxAttempts: maxAttempts, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(5))
            configuration.batchSize = 4
            let pool = try TypedPool<Int>(configuration) { (value: Int) async throws in
                let attempt = attempts.withLock { all in
                    all[value, default: 0] += 1
                    return all[value, default: 0]
                }
                // Every tenth job fails its first two attempts.
                if value % 10 == 0 && attempt <= 2 { throw TestFailure() }
            }
            #expect(pool.trySubmit(contentsOf: 0..<200) == 200)
            let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
            #expect(counters.isBalanced, "\(counters)")
            if maxAttempts == 3 {
                #expect(counters.completed == 200 && counters.failed == 0 && counters.retried == 40, "\(counters)")
                #expect(pool.deadLetters.isEmpty && pool.deadLetterTotal == 0)
            } else {
                #expect(counters.completed == 180 && counters.failed == 20 && counters.retried == 20, "\(counters)")
                let letters = pool.deadLetters
                #expect(Set(letters.map(\.input)) == Set(stride(from: 0, to: 200, by: 10)))
                #expect(letters.allSatisfy { $0.attempts == 2 && !$0.timedOut && !$0.lastError.isEmpty })
                #expect(pool.deadLetterTotal == 20)
            }
            #expect(attempts.withLock { $0.values.reduce(0, +) } == counters.completed + counters.failed + counters.retried)
        }
    }

    @Test("an attempt over its timeout is cancelled, counted as timed out and failed; the others are not held")
    func timeouts() async throws {
        var configuration = TypedPoolConfiguration(workers: 2)
        // Generous: every quick job races this timer too, and a starved machine must not time them out.
        configuration.timeout = .seconds(5)
        configuration.batchSize = 1
        let pool = try TypedPool<Int>(configuration) { (value: Int) async throws in
            if value == 0 { try await Task.sleep(for: .seconds(600)) }
        }
        let started = ContinuousClock.now
        #expect(pool.trySubmit(contentsOf: 0..<20) == 20)
        let counters = await pool.shutdown(.graceful(deadline: .seconds(300)))
        #expect(ContinuousClock.now - started < .seconds(120), "the 600 s job was cut short")
        #expect(counters.completed == 19 && counters.failed == 1 && counters.timedOut == 1 && counters.isBalanced, "\(counters)")
        let letter = try #require(pool.deadLetters.first)
        #expect(letter.input == 0 && letter.timedOut && letter.lastError.contains("timed out"))
    }

    @Test("without a configuration, a job that throws is still dead-lettered with its input")
    func plainDeadLetters() async {
        let pool = TypedPool<Int>(workers: 2, synchronousHandler: { value in if value % 10 == 3 { throw TestFailure() } })
        #expect(pool.trySubmit(contentsOf: 0..<100) == 100)
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.failed == 10 && counters.isBalanced, "\(counters)")
        #expect(Set(pool.deadLetters.map(\.input)) == Set(stride(from: 3, to: 100, by: 10)) && pool.deadLetterTotal == 10)
        #expect(pool.deadLetters.allSatisfy { $0.attempts == 1 && !$0.timedOut })
    }

    @Test("a configuration the pool cannot honour is refused, naming the field")
    func refusedConfigurations() {
        var configuration = TypedPoolConfiguration(workers: 2)
        configuration.timeout = .seconds(1)
        #expect(throws: ConfigurationError.self) { try TypedPool<Int>(configuration, synchronousHandler: { _ in }) }
        do {
            _ = try TypedPool<Int>(configuration, synchronousHandler: { _ in })
        } catch {
            #expect(error.field == "timeout" && error.message.contains("async handler"))
        }
        configuration = TypedPoolConfiguration(workers: 0)
        #expect(throws: ConfigurationError.self) { try TypedPool<Int>(configuration, handler: { _ in }) }
        configuration = TypedPoolConfiguration(workers: 1)
        configuration.retry.maxAttempts = 0
        #expect(throws: ConfigurationError.self) { try TypedPool<Int>(configuration, handler: { _ in }) }
        for (name, interval) in [("", Duration.seconds(1)), ("named", .zero), ("named", .microseconds(999))] {
            configuration = TypedPoolConfiguration(workers: 1)
            configuration.metricsName = name
            configuration.metricsInterval = interval
            do {
                _ = try TypedPool<Int>(configuration, handler: { _ in })
                Issue.record("metricsName '\(name)' with an interval of \(interval) was accepted")
            } catch {
                #expect(error.field == (name.isEmpty ? "metricsName" : "metricsInterval"), "\(error)")
            }
        }
    }

    @Test(
        "latencies: one service sample per attempt, one end-to-end per job; none unless asked for",
        arguments: [TypedQueueStrategy.perWorker, .lifo])
    func latencies(_ strategy: TypedQueueStrategy) async throws {
        var configuration = TypedPoolConfiguration(workers: 2)
        configuration.strategy = strategy
        configuration.recordsLatencies = true
        configuration.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(1))
        let failedOnce = Locked(Set<Int>())
        let pool = try TypedPool<Int>(
            configuration,
            synchronousHandler: { value in
                if value % 50 == 0, failedOnce.withLock({ $0.insert(value).inserted }) { throw TestFailure() }
            })
        #expect(pool.trySubmit(contentsOf: 0..<1_000) == 1_000)
        let counters = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(counters.completed == 1_000 && counters.retried == 20 && counters.isBalanced, "\(counters)")
        let latencies = pool.latencies
        #expect(latencies.service.totalCount == 1_020 && latencies.queueWait.totalCount == 1_020)
        #expect(latencies.endToEnd.totalCount == 1_000)
        let plain = TypedPool<Int>(workers: 1) { _ in }
        plain.trySubmit(contentsOf: 0..<10)
        _ = await plain.shutdown(.graceful(deadline: .seconds(60)))
        #expect(plain.latencies.service.totalCount == 0)
    }

    @Test("a shutdown's cancellation ends a retry's backoff: the job is cancelled, not failed")
    func cancelledInBackoff() async throws {
        var configuration = TypedPoolConfiguration(workers: 1)
        configuration.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .seconds(300), maxBackoff: .seconds(300))
        let attempted = Counter()
        let pool = try TypedPool<Int>(configuration) { (_: Int) async throws in
            attempted.add()
            throw TestFailure()
        }
        #expect(pool.trySubmit(0))
        #expect(await eventually { attempted.value == 1 })
        let started = ContinuousClock.now
        let counters = await pool.shutdown(.immediate)
        #expect(ContinuousClock.now - started < .seconds(60), "not the 300 s backoff")
        // Retried once if the first attempt's failure was counted before the shutdown began (the usual case),
        // none if the shutdown came between the attempt and its count: cancelled either way, never failed.
        #expect(counters.cancelled == 1 && counters.failed == 0 && counters.retried <= 1 && counters.isBalanced, "\(counters)")
    }
}
