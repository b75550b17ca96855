#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point on a ``PoolClock``'s monotonic time line, in nanoseconds from the clock's own origin.
public struct PoolInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = PoolInstant(nanoseconds: 0)

    public static func < (lhs: PoolInstant, rhs: PoolInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: PoolInstant, rhs: Duration) -> PoolInstant {
        PoolInstant(nanoseconds: lhs.nanoseconds &+ rhs.nanoseconds)
    }

    public static func - (lhs: PoolInstant, rhs: Duration) -> PoolInstant {
        PoolInstant(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
    }

    public static func - (lhs: PoolInstant, rhs: PoolInstant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

/// The time source of a pool: scaling, cooldowns, backoff and latencies all read it, so tests can drive
/// time by hand with ``ManualClock``.
public protocol PoolClock: Sendable {
    /// The current instant; never goes backwards.
    func now() -> PoolInstant
    /// Suspends until `deadline`, or throws `CancellationError` if the task is cancelled first.
    func sleep(until deadline: PoolInstant) async throws
    /// How long, in real time, until this clock reads `deadline` as things stand (`.zero` once it does), or
    /// at most how long to wait before asking again (a clock that can change pace or stop); `nil` when the
    /// clock cannot say (a ``ManualClock``). Lets the pool keep the waits of
    /// ``Job/waiting(for:key:priority:timeout:start:then:)`` in its own timers.
    func wallDelay(until deadline: PoolInstant) -> Duration?
}

extension PoolClock {
    /// By default a clock cannot say: the pool's waits on it run as sleeps on the clock.
    public func wallDelay(until deadline: PoolInstant) -> Duration? { nil }
}

extension PoolClock {
    /// Suspends for `duration` from now.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now() + duration)
    }
}

/// The machine's monotonic clock.
public struct SystemPoolClock: PoolClock {
    public init() {}

    public func now() -> PoolInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return PoolInstant(nanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }

    public func sleep(until deadline: PoolInstant) async throws {
        let remaining = deadline - now()
        if remaining > .zero { try await Task.sleep(for: remaining) }
    }

    public func wallDelay(until deadline: PoolInstant) -> Duration? { max(deadline - now(), .zero) }
}
