import Synchronization
import Testing

@testable import PoolEngine

@Suite("One timer for many sleeps (SleepWheel)", .timeLimit(.minutes(2)))
struct SleepWheelTests {
    @Test("sleeps end no earlier than asked, all of them, whatever order they were started in")
    func neverEarly() async throws {
        let wheel = SleepWheel()
        let early = Locked<[Int]>([])
        let ended = Counter()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                // Deadlines from 1 to 40 ms, started out of order.
                let milliseconds = 1 + (index * 37) % 40
                group.addTask {
                    let clock = ContinuousClock()
                    let start = clock.now
                    do {
                        try await wheel.sleep(for: .milliseconds(milliseconds))
                    } catch {
                        return
                    }
                    if clock.now - start < .milliseconds(milliseconds) { early.withLock { $0.append(index) } }
                    ended.add()
                }
            }
        }
        #expect(ended.value == 200)
        #expect(early.withLock { $0 }.isEmpty, "ended early: \(early.withLock { $0.prefix(5) })")
        #expect(wheel.waiting == 0)
    }

    @Test("a cancelled sleep ends at once with CancellationError, and one cancelled before it starts never waits")
    func cancellation() async throws {
        let wheel = SleepWheel()
        let clock = ContinuousClock()
        let start = clock.now
        let long = Task { try await wheel.sleep(for: .seconds(600)) }
        #expect(await eventually(timeout: .seconds(30)) { wheel.waiting == 1 })
        long.cancel()
        await #expect(throws: CancellationError.self) { try await long.value }
        let already = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await wheel.sleep(for: .seconds(600))
        }
        await #expect(throws: CancellationError.self) { try await already.value }
        #expect(clock.now - start < .seconds(60), "neither waited out its 600 s")
        // A later sleep still ends: the cancelled entry does not hold up the wheel.
        try await wheel.sleep(for: .milliseconds(5))
    }

    @Test("ten thousand sleeps at once each end exactly once")
    func many() async throws {
        let wheel = SleepWheel()
        let ended = Counter()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<10_000 {
                group.addTask {
                    if (try? await wheel.sleep(for: .microseconds(100 + index % 2_000))) != nil { ended.add() }
                }
            }
        }
        #expect(ended.value == 10_000)
        #expect(wheel.waiting == 0)
    }
}
