public import PoolEngine
import Synchronization

/// One clock for a whole scenario: wall time multiplied by a speed, frozen while paused.
///
/// The scenario's arrivals and timeline, its jobs' service times, and the pool itself (idle timeout,
/// cooldown, scaling interval, breaker cool-off, retry backoff, rate limit, latencies) all read it, so slow
/// motion (speed 0.25) shows the same behaviour four times slower, and a pause stops everything at once:
/// no arrival, no timeline step, no scale-down, no job finishing its simulated service.
public final class ScenarioClock: PoolClock {
    private struct State {
        /// Wall and scenario time at the last change of speed or pause.
        var wallBase: Int64
        var scenarioBase: Int64
        var speed: Double
        var paused: Bool

        func scenario(atWall wall: Int64) -> Int64 {
            paused ? scenarioBase : scenarioBase &+ Int64(Double(wall &- wallBase) * speed)
        }

        mutating func rebase(atWall wall: Int64) {
            scenarioBase = scenario(atWall: wall)
            wallBase = wall
        }
    }

    /// The slowest and fastest speeds a scenario may run at.
    public static let speeds: ClosedRange<Double> = 0.05...20

    /// The longest a sleeper waits before looking again at the speed and the pause (wall time).
    static let recheck: Duration = .milliseconds(50)

    private let state: Mutex<State>
    private let wall: @Sendable () -> Int64

    /// A clock at scenario time zero, running at `speed`. `wall` is the machine's monotonic time in
    /// nanoseconds; tests pass their own.
    public init(speed: Double = 1, wall: @escaping @Sendable () -> Int64 = { SystemPoolClock().now().nanoseconds }) {
        self.wall = wall
        let speed = min(max(speed, Self.speeds.lowerBound), Self.speeds.upperBound)
        state = Mutex(State(wallBase: wall(), scenarioBase: 0, speed: speed, paused: false))
    }

    /// Reads the wall clock inside the lock, so a change of speed or pause in between cannot make scenario
    /// time go backwards.
    public func now() -> PoolInstant {
        PoolInstant(nanoseconds: state.withLock { $0.scenario(atWall: wall()) })
    }

    /// Scenario time since the clock started.
    public var elapsed: Duration { .nanoseconds(now().nanoseconds) }

    public var speed: Double { state.withLock { $0.speed } }
    public var isPaused: Bool { state.withLock { $0.paused } }

    /// Sets the speed (clamped to ``speeds``); scenario time so far is kept.
    public func setSpeed(_ speed: Double) {
        state.withLock { state in
            state.rebase(atWall: wall())
            state.speed = min(max(speed, Self.speeds.lowerBound), Self.speeds.upperBound)
        }
    }

    /// Freezes or resumes scenario time.
    public func setPaused(_ paused: Bool) {
        state.withLock { state in
            state.rebase(atWall: wall())
            state.paused = paused
        }
    }

    /// How long in wall time `duration` of scenario time takes at the current speed (paused: forever).
    public func wallTime(for duration: Duration) -> Duration? {
        state.withLock { state in state.paused ? nil : duration / state.speed }
    }

    /// How long in wall time until scenario time reaches `deadline` at the current speed, at most
    /// ``recheck`` (the speed may change meanwhile); ``recheck`` while paused, `.zero` once it is reached. The
    /// pool keeps the waits of its jobs in timers set by it (``Job/waiting(for:key:priority:timeout:start:then:)``),
    /// looking again when one fires early.
    public func wallDelay(until deadline: PoolInstant) -> Duration? {
        let remaining = deadline - now()
        guard remaining > .zero else { return .zero }
        return min(wallTime(for: remaining) ?? Self.recheck, Self.recheck)
    }

    /// Sleeps until scenario time reaches `deadline`, following changes of speed and pauses as they come
    /// (looking again at least every ``recheck``). In a job on a pool's own threads the waits are that
    /// pool's timers (``SleepWheel/sleepOnCurrentPool(for:)``), elsewhere `Task.sleep`.
    public func sleep(until deadline: PoolInstant) async throws {
        while true {
            try Task.checkCancellation()
            let remaining = deadline - now()
            if remaining <= .zero { return }
            let wait = wallTime(for: remaining).map { min($0, Self.recheck) } ?? Self.recheck
            try await SleepWheel.sleepOnCurrentPool(for: max(wait, .microseconds(1)))
        }
    }
}
