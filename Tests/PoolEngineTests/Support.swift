import Foundation
import Logging
import Synchronization
import Testing

@testable import PoolEngine

/// A latch that jobs wait on until a test opens it.
final class Gate: Sendable {
    private struct State {
        var open = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var arrived = 0
    }

    private let state = Locked(State())

    /// Jobs that have reached the gate so far.
    var arrived: Int { state.withLock { $0.arrived } }

    func wait() async {
        await withCheckedContinuation { continuation in
            let pass = state.withLock { state in
                state.arrived += 1
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if pass { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// A thread-safe counter of how often each job ran.
final class RunLog: Sendable {
    private let runs = Locked<[Int: Int]>([:])

    func ran(_ id: Int) { runs.withLock { $0[id, default: 0] += 1 } }
    func count(_ id: Int) -> Int { runs.withLock { $0[id] ?? 0 } }
    var all: [Int: Int] { runs.withLock { $0 } }
    var total: Int { runs.withLock { $0.values.reduce(0, +) } }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String { "injected failure" }
}

/// Waits, polling, until `condition` holds or `timeout` of real time passes; returns whether it held.
/// The bound is generous on purpose: these tests run on a loaded two-core machine.
func eventually(
    timeout: Duration = .seconds(20), _ condition: () -> Bool
) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}

/// Keeps the thread busy until `flag` is set, or for at most `limit` (a job that holds its thread).
func spin(until flag: Flag, atMost limit: Duration = .seconds(60)) {
    let end = ContinuousClock.now + limit
    while !flag.isSet && ContinuousClock.now < end {}
}

/// Keeps the thread busy for `duration` (a CPU-bound job).
func spin(for duration: Duration) {
    let until = ContinuousClock.now + duration
    while ContinuousClock.now < until {}
}

func makeConfiguration(
    min: Int = 1, max: Int = 4, initial: Int? = nil, capacity: Int? = 10_000,
    overflow: OverflowPolicy = .reject, threshold: Int = 4
) -> PoolConfiguration {
    var configuration = PoolConfiguration()
    configuration.minWorkers = min
    configuration.maxWorkers = max
    configuration.initialWorkers = initial
    configuration.queueCapacity = capacity
    configuration.overflowPolicy = overflow
    configuration.scaleUpThreshold = threshold
    configuration.executor = .dedicatedThreads(2)
    configuration.logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    return configuration
}

/// Asserts the conservation law on a report's counts.
func expectBalanced(_ counters: JobCounters, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
        counters.submitted == counters.completed + counters.failed + counters.rejected + counters.cancelled,
        "not balanced: \(counters)", sourceLocation: sourceLocation)
}

/// A boolean that jobs and tests share.
final class Flag: Sendable {
    private let value = Atomic(false)
    func set(_ newValue: Bool = true) { value.store(newValue, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Whether these tests run under ThreadSanitizer (`.ci/run` sets POOLSCOPE_UNDER_TSAN): there everything is
/// ~10x slower and the suites run beside each other on 2 cores, so stress tests do less and time bounds
/// that are about the pool, not the machine, are given room.
let underSanitizer = ProcessInfo.processInfo.environment["POOLSCOPE_UNDER_TSAN"] == "1"

/// `work` under ThreadSanitizer divided by `divisor` (see ``underSanitizer``), else `work`.
func scaledForSanitizer(_ work: Int, dividedBy divisor: Int = 5) -> Int {
    underSanitizer ? max(work / divisor, 1) : work
}

/// A count that jobs add to.
final class Counter: Sendable {
    private let count = Atomic(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
