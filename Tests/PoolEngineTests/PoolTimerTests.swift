import Dispatch
import Testing

@testable import PoolEngine

@Suite("Timers: the rule (TimerHeap) and the pool's threads keeping them")
struct TimerHeapTests {
    private func sleeper(cancelled: Bool = false) -> Sleeper {
        let sleeper = Sleeper()
        if cancelled { _ = sleeper.cancelBeforeWaiting() }
        return sleeper
    }

    @Test("due entries come out earliest first, ties in the order they went in, later ones stay")
    func dueInOrder() {
        var heap = TimerHeap()
        let a = sleeper()
        let b = sleeper()
        let c = sleeper()
        let d = sleeper()
        let earliest = [
            heap.insert(deadline: 30, sleeper: a), heap.insert(deadline: 10, sleeper: b),
            heap.insert(deadline: 10, sleeper: c), heap.insert(deadline: 50, sleeper: d),
        ]
        #expect(earliest == [true, true, false, false], "a tie is not earlier")
        var due: [any TimerTarget] = []
        heap.popDue(now: 9, into: &due)
        #expect(due.isEmpty)
        heap.popDue(now: 30, into: &due)
        #expect(due.map { ObjectIdentifier($0) } == [b, c, a].map { ObjectIdentifier($0) })
        #expect(heap.count == 1)
        #expect(heap.earliest == 50)
    }

    @Test("the next look is the first 1 ms tick at or after the earliest deadline, and ends every sleep due by then")
    func ticks() {
        var heap = TimerHeap()
        #expect(heap.wakeTime == nil)
        heap.insert(deadline: 5_000_100, sleeper: sleeper())
        heap.insert(deadline: 5_900_000, sleeper: sleeper())
        heap.insert(deadline: 6_000_001, sleeper: sleeper())
        #expect(heap.wakeTime == 6_000_000)
        var due: [any TimerTarget] = []
        heap.popDue(now: 6_000_000, into: &due)
        #expect(due.count == 2, "one look ends both sleeps due within the millisecond, neither early")
        #expect(heap.wakeTime == 7_000_000, "the next tick after 6,000,001 ns")
        heap.insert(deadline: 4_000_000, sleeper: sleeper())
        #expect(heap.wakeTime == 4_000_000, "a deadline on a tick is its own tick")
        heap.insert(deadline: .max - 1, sleeper: sleeper())
        heap.popDue(now: 7_000_000, into: &due)
        #expect(heap.wakeTime == .max, "saturates")
    }

    @Test("cancelled entries are swept once they pass the threshold and half the heap, and on demand")
    func sweeping() {
        var heap = TimerHeap(sweepThreshold: 3)
        let live = (0..<3).map { _ in sleeper() }
        let dead = (0..<4).map { _ in sleeper(cancelled: true) }
        for (index, entry) in (live + dead).enumerated() { heap.insert(deadline: UInt64(index), sleeper: entry) }
        for _ in 0..<3 { heap.noteCancelled() }
        #expect(heap.count == 7, "3 cancelled is not over the threshold")
        heap.noteCancelled()
        #expect(heap.count == 3 && heap.cancelledCount == 0, "4 of 7 cancelled: swept")
        let late = sleeper(cancelled: true)
        heap.insert(deadline: 1, sleeper: late)
        heap.sweepCancelled()
        #expect(heap.count == 3 && heap.earliest == 0)
    }
}

@Suite("Sleeps on a pool's own threads", .timeLimit(.minutes(2)))
struct PoolThreadTimerTests {
    /// How long a sleep of `duration` took, measured on the executor's thread (the test's own tasks may
    /// wait for the shared pool).
    private func timedSleep(_ duration: Duration, on executor: DedicatedThreadExecutor) async throws -> Duration {
        try await Task(executorPreference: executor) { () -> Duration in
            let start = ContinuousClock.now
            try await SleepWheel.shared.sleep(for: duration)
            return ContinuousClock.now - start
        }.value
    }

    /// Runs `body` while a 600 s sleep waits in `executor`'s timers (they are never empty meanwhile), then
    /// cancels that sleep.
    private func withFarTimer(on executor: DedicatedThreadExecutor, _ body: () async throws -> Void) async throws {
        let far = Task(executorPreference: executor) { try await SleepWheel.shared.sleep(for: .seconds(600)) }
        #expect(await eventually { executor.sleeping == 1 })
        do {
            try await body()
        } catch {
            far.cancel()
            throw error
        }
        far.cancel()
        _ = try? await far.value
    }

    @Test("sleeps taken on the pool's threads wait in its timers and end no earlier than asked")
    func neverEarly() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test")
        defer { executor.stop() }
        let early = Counter()
        let ended = Counter()
        let peak = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                let milliseconds = 1 + (index * 37) % 40
                group.addTask(executorPreference: executor) {
                    #expect(DedicatedThreadExecutor.current === executor)
                    let start = DispatchTime.now().uptimeNanoseconds
                    guard (try? await SleepWheel.shared.sleep(for: .milliseconds(milliseconds))) != nil else { return }
                    let slept = DispatchTime.now().uptimeNanoseconds - start
                    if slept < UInt64(milliseconds) * 1_000_000 { early.add() }
                    let waiting = executor.sleeping
                    peak.withLock { $0 = max($0, waiting) }
                    ended.add()
                }
            }
        }
        #expect(ended.value == 300)
        #expect(early.value == 0)
        #expect(peak.withLock { $0 } > 0, "the sleeps waited in the executor's own timers")
        #expect(executor.sleeping == 0)
    }

    @Test("a cancelled sleep ends at once; later sleeps still end")
    func cancellation() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test")
        defer { executor.stop() }
        let start = ContinuousClock.now
        let long = Task(executorPreference: executor) { try await SleepWheel.shared.sleep(for: .seconds(600)) }
        #expect(await eventually { executor.sleeping == 1 })
        long.cancel()
        await #expect(throws: CancellationError.self) { try await long.value }
        #expect(ContinuousClock.now - start < .seconds(60))
        let short = Task(executorPreference: executor) { try await SleepWheel.shared.sleep(for: .milliseconds(5)) }
        try await short.value
    }

    @Test("a thread spinning in a job does not hold up a sleep: another thread keeps the timers")
    func spinningThreadDoesNotDelaySleeps() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test")
        defer { executor.stop() }
        let stopSpinning = Flag()
        let spinner = Task(executorPreference: executor) { spin(until: stopSpinning) }
        let slept = try await timedSleep(.milliseconds(20), on: executor)
        stopSpinning.set()
        await spinner.value
        #expect(slept < .seconds(20), "the sleep waited for the spinning job: \(slept)")
    }

    @Test("the keeper itself starting a long job after its timer hands the timers to an idle thread")
    func keeperStartingALongJobHandsOver() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test")
        defer { executor.stop() }
        let bDone = Flag()
        // A sleeps 5 ms, then spins until B is done (at most 60 s); B sleeps 50 ms. Whichever thread ends
        // A's sleep runs A's spin: B's sleep must still end on time.
        let a = Task(executorPreference: executor) {
            try await SleepWheel.shared.sleep(for: .milliseconds(5))
            spin(until: bDone)
        }
        let slept = try await timedSleep(.milliseconds(50), on: executor)
        bDone.set()
        try await a.value
        #expect(slept < .seconds(20), "B's sleep waited for A's spin: \(slept)")
    }

    @Test("a thread that wakes to short jobs keeps the timers itself while another watches: no wake-up per job")
    func watcherSparesWakeUps() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test", watchInterval: .milliseconds(5))
        defer { executor.stop() }
        // The far timer keeps the heap from emptying, so every job below starts while timers wait.
        try await withFarTimer(on: executor) {
            try await Task(executorPreference: executor) {
                for _ in 0..<200 { try await SleepWheel.shared.sleep(for: .microseconds(500)) }
            }.value
        }
        // Each of the 200 sleeps ends in a job started with timers waiting and no keeper: a helper woken per
        // job would be about 200 wake-ups (215 measured with the watcher taken out). With it, under 40 on an
        // idle machine and 43 once under ThreadSanitizer beside other suites: half of 200 tells them apart.
        #expect(executor.wakeUps < 100, "wake-ups: \(executor.wakeUps)")
    }

    @Test("a timer set by a job that then spins ends within the watch interval, kept by the watching thread")
    func watcherEndsTimersOfASpinningThread() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test", watchInterval: .milliseconds(5))
        defer { executor.stop() }
        try await withFarTimer(on: executor) {
            // Short sleeps first, so that one thread keeps the timers and the other watches.
            try await Task(executorPreference: executor) {
                for _ in 0..<5 { try await SleepWheel.shared.sleep(for: .milliseconds(1)) }
            }.value
            let ended = Flag()
            // The job sets a 10 ms timer from its own thread (no wake-up) and spins until the timer has ended.
            let spinner = Task(executorPreference: executor) { () -> Bool in
                executor.schedule(FlagTimer(flag: ended), after: .milliseconds(10))
                spin(until: ended)
                return ended.isSet
            }
            #expect(await spinner.value, "the timer never ended while its thread spun")
        }
    }

    @Test("a job that arrives after every thread has ended still runs")
    func lateJobRuns() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 1, name: "timer-test")
        executor.stop()
        #expect(await eventually { executor.liveThreads == 0 })
        let ran = try await Task(executorPreference: executor) { () -> Bool in
            try await Task.sleep(for: .milliseconds(1))  // suspends and comes back to the executor
            return true
        }.value
        #expect(ran)
    }

    @Test("a thread that kept a far timer is free again for work once another keeps an earlier one")
    func replacedKeeperComesBack() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test")
        defer { executor.stop() }
        try await withFarTimer(on: executor) {
            try await Task(executorPreference: executor) { try await SleepWheel.shared.sleep(for: .milliseconds(5)) }.value
            // Two jobs that each block their thread until both run: they need both threads at once.
            let arrived = Counter()
            let bothRan = Locked(0)
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask(executorPreference: executor) {
                        arrived.add()
                        let end = ContinuousClock.now + .seconds(30)
                        while arrived.value < 2 && ContinuousClock.now < end {}
                        if arrived.value == 2 { bothRan.withLock { $0 += 1 } }
                    }
                }
            }
            #expect(bothRan.withLock { $0 } == 2, "the two threads did not run at once")
        }
    }

    @Test("stopping lets a sleep taken on the threads end before they go")
    func stopWaitsForSleeps() async throws {
        let executor = DedicatedThreadExecutor(threadCount: 2, name: "timer-test")
        let started = Flag()
        let task = Task(executorPreference: executor) { () -> Bool in
            let onExecutor = DedicatedThreadExecutor.current === executor
            started.set()
            try await SleepWheel.shared.sleep(for: .seconds(1))
            return onExecutor
        }
        #expect(await eventually { started.isSet })
        // Whether the sleep is registered yet or not, the threads must not all go while it waits.
        executor.stop()
        #expect(try await task.value, "the sleep was taken on the executor's thread")
    }

    @Test("simulated sleeps of a pool's jobs: every job ends once and the counts balance")
    func poolJobsSleepOnTheirThreads() async throws {
        var configuration = makeConfiguration(min: 50, max: 50)
        configuration.queueCapacity = nil
        let pool = try WorkerPool(configuration: configuration)
        let ran = Counter()
        for index in 0..<2_000 {
            pool.trySubmit(
                Job {
                    try await SleepWheel.sleepOnCurrentPool(for: .microseconds(200 + (index * 7919) % 3_000))
                    ran.add()
                })
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(60)))
        #expect(ran.value == 2_000)
        #expect(report.counters.completed == 2_000)
        expectBalanced(report.counters)
    }
}

/// A timer that sets a flag when it ends.
private final class FlagTimer: TimerTarget {
    let flag: Flag
    init(flag: Flag) { self.flag = flag }
    func end() -> Bool {
        flag.set()
        return true
    }
    var isCancelled: Bool { false }
}
