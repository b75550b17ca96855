public import PoolEngine

/// Turns a ``JobSpec`` into real work for the pool: sleeping, spinning, or both.
public enum SimulatedWork {
    /// The closure a simulated job runs. `speed` below 1 stretches service times (slow motion).
    /// `onSuccess` is called when an attempt succeeds, with nothing else.
    /// `onStart` is called when the first attempt starts.
    public static func job(
        for spec: JobSpec, kind: JobKind, speed: Double = 1, onStart: (@Sendable () -> Void)? = nil,
        onSuccess: (@Sendable () -> Void)? = nil
    ) -> Job {
        let service = Duration.nanoseconds(Int64(Double(spec.service.nanoseconds) / max(speed, 0.001)))
        let attempts = AttemptCounter()
        return Job(key: spec.key, priority: spec.priority) {
            let attempt = attempts.next()
            if attempt == 1 { onStart?() }
            switch kind {
            case .sleep:
                try await Task.sleep(for: service)
            case .cpu:
                try spin(for: service)
            case .mixed(let fraction):
                let cpu = Duration.nanoseconds(Int64(Double(service.nanoseconds) * fraction))
                try spin(for: cpu)
                try await Task.sleep(for: service - cpu)
            }
            if spec.fails(attempt: attempt) { throw SimulatedFailure(index: spec.index, attempt: attempt) }
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
    func next() -> Int { count.withLock { value in value += 1; return value } }
}
