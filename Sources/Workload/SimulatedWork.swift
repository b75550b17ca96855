public import PoolEngine

/// Turns a ``JobSpec`` into real work for the pool: sleeping, spinning, or both.
public enum SimulatedWork {
    /// The closure a simulated job runs. Sleeps are on `clock` (a scenario's clock: slow motion stretches
    /// them, a pause holds them), which must be the pool's clock; a job that only sleeps is a wait the pool
    /// owns (``Job/waiting(for:key:priority:timeout:start:then:)``), on the pool's clock, so it costs the pool a
    /// timer and no task switch. CPU work spins for the service time at the clock's speed when the job
    /// starts. `failureRate`, when given, is read as each attempt ends (the rate in force then); otherwise
    /// the rate when the job was made applies. `onSuccess` is called when an attempt succeeds, with nothing else. `onStart` is called when
    /// the first attempt starts.
    public static func job(
        for spec: JobSpec, kind: JobKind, clock: ScenarioClock? = nil, failureRate: (@Sendable () -> Double)? = nil,
        onStart: (@Sendable () -> Void)? = nil,
        onSuccess: (@Sendable () -> Void)? = nil
    ) -> Job {
        let service = spec.service
        @Sendable func sleep(_ duration: Duration) async throws {
            if let clock { try await clock.sleep(for: duration) } else { try await Task.sleep(for: duration) }
        }
        @Sendable func wall(_ duration: Duration) -> Duration { clock.map { duration / max($0.speed, 0.001) } ?? duration }
        let attempts = AttemptCounter()
        if case .sleep = kind {
            return Job.waiting(
                for: service, key: spec.key, priority: spec.priority,
                start: {
                    if attempts.next() == 1 { onStart?() }
                },
                then: {
                    let attempt = attempts.current
                    if spec.fails(attempt: attempt, rate: failureRate?() ?? spec.failureRate) {
                        throw SimulatedFailure(index: spec.index, attempt: attempt)
                    }
                    onSuccess?()
                })
        }
        return Job(key: spec.key, priority: spec.priority) {
            let attempt = attempts.next()
            if attempt == 1 { onStart?() }
            switch kind {
            case .sleep:
                try await sleep(service)
            case .cpu:
                try spin(for: wall(service))
            case .mixed(let fraction):
                let cpu = Duration.nanoseconds(Int64(Double(service.nanoseconds) * fraction))
                try spin(for: wall(cpu))
                try await sleep(service - cpu)
            }
            if spec.fails(attempt: attempt, rate: failureRate?() ?? spec.failureRate) {
                throw SimulatedFailure(index: spec.index, attempt: attempt)
            }
            onSuccess?()
        }
    }

    /// Keeps a CPU busy for `duration`, checking for cancellation as it goes.
    public static func spin(for duration: Duration) throws {
        let clock = ContinuousClock()
        let end = clock.now + duration
        var rounds = 0
        while clock.now < end {
            rounds &+= 1
            if rounds % 256 == 0 { try Task.checkCancellation() }
        }
    }
}

/// The error a simulated job's failing attempt throws.
public struct SimulatedFailure: Error, CustomStringConvertible {
    public let index: Int
    public let attempt: Int
    public var description: String { "simulated failure (job \(index), attempt \(attempt))" }
}

/// Counts a job's attempts (they never overlap, but may run on different threads).
final class AttemptCounter: Sendable {
    private let count = Locked(0)
    func next() -> Int {
        count.withLock { value in
            value += 1
            return value
        }
    }

    /// The attempt begun last.
    var current: Int { count.withLock { $0 } }
}
