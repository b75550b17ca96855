import Foundation
import PoolEngine
import Testing

/// The example of docs/ARCHITECTURE.md ("A strategy of your own"), written against the public API only:
/// jobs wait in one first-in first-out line per key (tenant), and workers serve the tenants in turn, so a
/// tenant with a thousand jobs queued does not hold up one with a single job.
struct TenantRoundRobin: QueueStrategy {
    private var lines: [String: [QueuedJob]] = [:]
    /// Tenants with jobs waiting, in serving order.
    private var turn: [String] = []
    private(set) var count = 0

    mutating func enqueue(_ job: QueuedJob) -> DispatchTarget {
        let tenant = job.job.key ?? ""
        if lines[tenant, default: []].isEmpty { turn.append(tenant) }
        lines[tenant, default: []].append(job)
        count += 1
        return .anyWorker
    }

    mutating func dequeue(for worker: WorkerID) -> QueuedJob? {
        guard !turn.isEmpty else { return nil }
        let tenant = turn.removeFirst()
        let job = lines[tenant]?.removeFirst()
        if lines[tenant]?.isEmpty == false { turn.append(tenant) } else { lines[tenant] = nil }
        count -= 1
        return job
    }

    /// The tenant with the longest line gives up its newest job.
    mutating func evict() -> QueuedJob? {
        guard let tenant = lines.max(by: { $0.value.count < $1.value.count })?.key, let job = lines[tenant]?.popLast() else { return nil }
        if lines[tenant]?.isEmpty == true {
            lines[tenant] = nil
            turn.removeAll { $0 == tenant }
        }
        count -= 1
        return job
    }

    mutating func removeAll() -> [QueuedJob] {
        let all = turn.flatMap { lines[$0] ?? [] }
        (lines, turn, count) = ([:], [], 0)
        return all
    }

    func depths() -> QueueDepths { QueueDepths(shared: count) }
}

@Suite("A queue strategy of the user's (.custom)", .timeLimit(.minutes(2)))
struct CustomStrategyTests {
    @Test("a custom strategy runs in the live pool in its own order, under its own name, and every job is accounted for")
    func customOrder() async throws {
        var configuration = PoolConfiguration()
        (configuration.minWorkers, configuration.maxWorkers) = (1, 1)
        configuration.queueStrategy = .custom(CustomQueueStrategy(name: "round-robin by tenant") { TenantRoundRobin() })
        let pool = try WorkerPool(configuration: configuration)
        let started = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        pool.trySubmit {
            started.continuation.yield()
            for await _ in release.stream { break }
        }
        for await _ in started.stream { break }
        let order = Locked<[String]>([])
        for (tenant, number) in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c", 1)] {
            pool.trySubmit(key: tenant) { order.withLock { $0.append("\(tenant)\(number)") } }
        }
        #expect(pool.snapshot().strategy.description == "round-robin by tenant")
        release.continuation.yield()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(order.withLock { $0 } == ["a1", "b1", "c1", "a2", "b2", "a3"], "the tenants in turn")
        #expect(report.counters.submitted == 7 && report.counters.completed == 7 && report.counters.isBalanced)
    }

    @Test("a custom strategy read back from a document keeps its name, and a pool cannot be made from it")
    func readBack() throws {
        let strategy = QueueStrategyKind.custom(CustomQueueStrategy(name: "mine") { TenantRoundRobin() })
        let data = try JSONEncoder().encode(strategy)
        let decoded = try JSONDecoder().decode(QueueStrategyKind.self, from: data)
        #expect(decoded == strategy && decoded.description == "mine")
        var configuration = PoolConfiguration()
        configuration.queueStrategy = decoded
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.queueStrategy = strategy
        #expect(throws: Never.self) { try configuration.validate() }
    }
}
