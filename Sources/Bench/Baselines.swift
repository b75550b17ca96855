import DequeModule
import Dispatch
import Foundation
import Logging
import PoolEngine

/// What a benchmark job does.
public enum BenchJob: String, Sendable, CaseIterable {
    /// An atomic increment and nothing else.
    case noop
    /// About 1 µs of calibrated CPU spin.
    case spin1us = "1us"
    /// About 100 µs of calibrated CPU spin.
    case spin100us = "100us"
    /// A 1 ms sleep: `Task.sleep` where the runner is async, `usleep` where it is a thread.
    case sleep1ms
}

/// The pools compared.
public enum BenchPool: String, Sendable, CaseIterable {
    case poolscopeFIFO = "poolscope-fifo"
    /// The shared FIFO with `takeAhead = 0`: one job per trip through the lock, strict start order.
    case poolscopeFIFOStrict = "poolscope-fifo-strict"
    case poolscopeStealing = "poolscope-stealing"
    case poolscopeKeyed = "poolscope-keyed"
    /// ``TypedPool``: one handler, jobs as plain values, per-worker queues; a synchronous handler for the
    /// CPU jobs (as a user writes a closure without `await`), an async one for the sleeping job.
    case poolscopeTyped = "poolscope-typed"
    /// ``TypedPool`` with an async handler for every job: what an async call per job costs.
    case poolscopeTypedAsync = "poolscope-typed-async"
    /// ``TypedPool`` with every job keyed (1,024 keys, as poolscope-keyed): each key's jobs pinned to one
    /// worker, in order; the typed counterpart of the keyed strategy.
    case poolscopeTypedKeyed = "poolscope-typed-keyed"
    /// ``TypedPool`` with one shared FIFO queue (``TypedQueueStrategy/sharedFIFO``) instead of per-worker
    /// queues: what strict start order costs on the typed path.
    case poolscopeTypedFIFO = "poolscope-typed-fifo"
    /// ``TypedPool`` recording each job's queue wait, service and end-to-end time in histograms
    /// (``TypedPoolConfiguration/recordsLatencies``), as the closure pool's rows do with metrics on; the
    /// other typed rows keep exact counts only, the typed pool's default.
    case poolscopeTypedLatencies = "poolscope-typed-latencies"
    case dispatch
    case operationQueue = "operationqueue"
    case taskGroup = "taskgroup"
    case threads
    case asyncStream = "asyncstream"
    /// Go's channel pool (`bench/go`), when `go` is installed; noop and 1us jobs.
    case go
    /// No pool: the job bodies split evenly over `workers` threads up front, each running its share in a
    /// loop. The floor every row sits on, on this machine at this moment (a busy or shared host makes 1 µs of
    /// calibrated spin take longer on two threads at once than on one, which no pool can win back).
    case noPool = "no-pool"

    var isPoolScope: Bool { rawValue.hasPrefix("poolscope") }
}

/// Counts, per job index, how often each job ran: the exactly-once check.
final class RunLedger: @unchecked Sendable {
    // Safety: each job writes only its own index, exactly once per run of that job, and the ledger is read
    // only after every runner has joined (a happens-before edge through the runner's own completion).
    private let counts: UnsafeMutablePointer<UInt8>
    let size: Int

    init(size: Int) {
        self.size = size
        counts = .allocate(capacity: max(size, 1))
        counts.initialize(repeating: 0, count: max(size, 1))
    }

    deinit { counts.deallocate() }

    @inline(__always) func ran(_ index: Int) { counts[index] &+= 1 }

    /// Whether every job ran exactly once.
    var exactlyOnce: Bool {
        for index in 0..<size where counts[index] != 1 { return false }
        return true
    }
}

/// Spins for a calibrated number of loop rounds.
struct Spinner: Sendable {
    let roundsPerMicrosecond: Double

    /// Measures how many rounds of the spin loop take a microsecond on this machine.
    static func calibrate() -> Spinner {
        let rounds = 5_000_000
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<3 {
            let elapsed = clock.measure { _ = spin(rounds: rounds) }
            best = min(best, elapsed.seconds)
        }
        return Spinner(roundsPerMicrosecond: Double(rounds) / (best * 1e6))
    }

    @inline(never)
    static func spin(rounds: Int) -> UInt64 {
        var x: UInt64 = 0x9E37_79B9
        for _ in 0..<rounds { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        return x
    }

    func spin(microseconds: Double) {
        let result = Spinner.spin(rounds: Int(roundsPerMicrosecond * microseconds))
        if result == 42 { print("", terminator: "") }  // keeps the loop from being optimised away
    }
}

/// A job's body for the async runners: `nonisolated(nonsending)`, as Swift 6.2's recommended default
/// (NonisolatedNonsendingByDefault) makes every nonisolated async function, so that calling it costs no
/// executor switch in any runner.
typealias AsyncJobBody = nonisolated(nonsending) @Sendable (Int) async -> Void

/// The runners, each taking `n` jobs through `workers` workers and returning when all have finished.
enum Baselines {
    static func syncBody(_ job: BenchJob, spinner: Spinner, ledger: RunLedger) -> @Sendable (Int) -> Void {
        switch job {
        case .noop: return { ledger.ran($0) }
        case .spin1us:
            return {
                spinner.spin(microseconds: 1)
                ledger.ran($0)
            }
        case .spin100us:
            return {
                spinner.spin(microseconds: 100)
                ledger.ran($0)
            }
        case .sleep1ms:
            return {
                usleep(1_000)
                ledger.ran($0)
            }
        }
    }

    static func asyncBody(_ job: BenchJob, spinner: Spinner, ledger: RunLedger) -> AsyncJobBody {
        switch job {
        case .sleep1ms:
            return {
                try? await Task.sleep(for: .milliseconds(1))
                ledger.ran($0)
            }
        default:
            let body = syncBody(job, spinner: spinner, ledger: ledger)
            return { body($0) }
        }
    }

    static func dispatch(n: Int, workers: Int, body: @escaping @Sendable (Int) -> Void) {
        let queue = DispatchQueue(label: "bench.dispatch", attributes: .concurrent)
        let group = DispatchGroup()
        for index in 0..<n { queue.async(group: group) { body(index) } }
        group.wait()
    }

    static func operationQueue(n: Int, workers: Int, body: @escaping @Sendable (Int) -> Void) {
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = workers
        for index in 0..<n { queue.addOperation { body(index) } }
        queue.waitUntilAllOperationsAreFinished()
    }

    static func taskGroup(n: Int, workers: Int, body: @escaping AsyncJobBody) async {
        await withTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(workers, n) {
                let index = next
                group.addTask { await body(index) }
                next += 1
            }
            while await group.next() != nil, next < n {
                let index = next
                group.addTask { await body(index) }
                next += 1
            }
        }
    }

    static func threads(n: Int, workers: Int, body: @escaping @Sendable (Int) -> Void) {
        let queue = ThreadQueue()
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<workers {
            let thread = Thread {
                while let index = queue.take() { body(index) }
                done.signal()
            }
            thread.start()
        }
        for index in 0..<n { queue.put(index) }
        queue.close()
        for _ in 0..<workers { done.wait() }
    }

    /// Each of `workers` threads runs its contiguous share of the `n` bodies: no queue, no hand-over.
    static func noPool(n: Int, workers: Int, body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchSemaphore(value: 0)
        for worker in 0..<workers {
            let share = n / workers * worker + min(worker, n % workers)..<n / workers * (worker + 1) + min(worker + 1, n % workers)
            let thread = Thread {
                for index in share { body(index) }
                done.signal()
            }
            thread.start()
        }
        for _ in 0..<workers { done.wait() }
    }

    static func asyncStream(n: Int, workers: Int, body: @escaping AsyncJobBody) async {
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask { for await index in stream { await body(index) } }
            }
            for index in 0..<n { continuation.yield(index) }
            continuation.finish()
        }
    }

    /// The keys of the keyed rows (job `i` has key `i % 1024`), made once, outside every row's timing.
    static let benchKeys = (0..<1_024).map { "k\($0)" }

    /// The typed pool: the job is its index, the handler the body (synchronous when given one); submitted
    /// 1,024 at a time.
    static func typedPool(
        n: Int, workers: Int, keyed: Bool = false, strategy: TypedQueueStrategy = .perWorker, latencies: Bool = false,
        body: @escaping AsyncJobBody, synchronousBody: (@Sendable (Int) -> Void)?
    ) async -> Bool {
        var configuration = TypedPoolConfiguration(workers: workers)
        configuration.capacityPerWorker = n
        configuration.strategy = strategy
        configuration.recordsLatencies = latencies
        let made =
            if let synchronousBody {
                try? TypedPool<Int>(configuration, synchronousHandler: { synchronousBody($0) })
            } else {
                try? TypedPool<Int>(configuration, handler: { await body($0) })
            }
        guard let pool = made else { return false }
        let keys = benchKeys
        var start = 0
        while start < n {
            let end = min(start + 1_024, n)
            if keyed {
                pool.trySubmit(contentsOf: start..<end, keyedBy: { keys[$0 & 1_023] })
            } else {
                pool.trySubmit(contentsOf: start..<end)
            }
            start = end
        }
        let counters = await pool.shutdown(.graceful(deadline: .seconds(3_600)))
        return counters.completed == n && counters.isBalanced
    }

    static func poolScope(
        _ pool: BenchPool, metrics: Bool, n: Int, workers: Int, body: @escaping AsyncJobBody
    ) async -> Bool {
        var configuration = PoolConfiguration()
        configuration.name = "bench"
        configuration.minWorkers = workers
        configuration.maxWorkers = workers
        configuration.queueCapacity = nil
        configuration.recordsLatencies = metrics
        if pool == .poolscopeFIFOStrict { configuration.takeAhead = 0 }
        configuration.logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        switch pool {
        case .poolscopeStealing: configuration.queueStrategy = .perWorker(.roundRobin, stealing: true)
        case .poolscopeKeyed: configuration.queueStrategy = .keyed
        default: configuration.queueStrategy = .sharedFIFO
        }
        guard let engine = try? WorkerPool(configuration: configuration) else { return false }
        let keyed = pool == .poolscopeKeyed
        let keys = benchKeys
        var batch: [Job] = []
        batch.reserveCapacity(1_024)
        for index in 0..<n {
            batch.append(Job(key: keyed ? keys[index & 1_023] : nil) { await body(index) })
            if batch.count == 1_024 || index == n - 1 {
                _ = engine.trySubmit(batch: batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        let report = await engine.shutdown(.graceful(deadline: .seconds(3_600)))
        return report.counters.completed == n && report.counters.isBalanced
    }
}

/// The mutex + condition-variable queue of the threads baseline.
final class ThreadQueue: @unchecked Sendable {
    // Safety: `items` and `closed` are touched only with `condition` locked.
    private let condition = NSCondition()
    private var items = Deque<Int>()
    private var closed = false

    func put(_ index: Int) {
        condition.lock()
        items.append(index)
        condition.signal()
        condition.unlock()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func take() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        return items.popFirst()
    }
}
