import Dashboard
import PoolEngine
import Workload

/// What a recording's numbers may be. A recording is read from anywhere (a file someone sent, one edited by
/// hand), and the dashboard and the summary add counts and convert times: numbers no run produces (a count
/// of 2^63, an instant 292 years away) would overflow there, so the reader stops at them as at damage.
enum Plausible {
    /// Counts up to 2^50 (10^15 jobs: far beyond any run, far from overflowing a sum of several).
    static let largestCount = 1 << 50
    /// Times within 2^62 ns (146 years) of the start.
    static let largestNanoseconds: Int64 = 1 << 62

    static func count(_ value: Int, _ name: String) -> String? {
        (0...largestCount).contains(value) ? nil : "\(name) \(value)"
    }

    static func instant(_ value: PoolInstant, _ name: String) -> String? {
        (-largestNanoseconds...largestNanoseconds).contains(value.nanoseconds) ? nil : "\(name) \(value.nanoseconds) ns"
    }

    static func duration(_ value: Duration, _ name: String) -> String? {
        value >= .zero && value <= .nanoseconds(largestNanoseconds) ? nil : "\(name) \(value)"
    }

    static func number(_ value: Double, _ name: String, within range: ClosedRange<Double>) -> String? {
        value.isFinite && range.contains(value) ? nil : "\(name) \(value)"
    }

    static func counters(_ counters: JobCounters, _ name: String) -> String? {
        [
            count(counters.submitted, "\(name).submitted"), count(counters.completed, "\(name).completed"),
            count(counters.failed, "\(name).failed"), count(counters.rejected, "\(name).rejected"),
            count(counters.cancelled, "\(name).cancelled"), count(counters.retried, "\(name).retried"),
            count(counters.timedOut, "\(name).timed_out"),
        ].compactMap { $0 }.first
    }
}

extension RecordedEntry {
    /// The first number in this entry that no run produces, in words, or nil when all are plausible.
    var implausibility: String? {
        if let problem = Plausible.number(t, "t", within: 0...Double(1 << 40)) { return problem }
        switch message {
        case .tick(let frame): return frame.implausibility
        case .shutdownFinished(let report):
            return Plausible.counters(report.counters, "report")
                ?? Plausible.count(report.cancelledWhileQueued, "report.cancelled_while_queued")
                ?? Plausible.count(report.cancelledWhileRunning, "report.cancelled_while_running")
                ?? Plausible.duration(report.duration, "report.duration")
        case .key, .refused: return nil
        }
    }
}

extension DashboardFrame {
    var implausibility: String? {
        let snapshot = self.snapshot
        var problems: [String?] = [
            Plausible.instant(snapshot.takenAt, "taken_at"), Plausible.duration(snapshot.uptime, "uptime"),
            latenciesTakenAt.flatMap { Plausible.instant($0, "latencies_taken_at") },
            Plausible.counters(snapshot.counters, "counters"), Plausible.count(snapshot.inFlight, "in_flight"),
            Plausible.count(snapshot.awaitingRetry, "awaiting_retry"),
            Plausible.count(snapshot.blockedSubmitters, "blocked_submitters"),
            Plausible.count(snapshot.deadLetterCount, "dead_letters"),
            snapshot.queueCapacity.flatMap { Plausible.count($0, "queue_capacity") },
            Plausible.count(snapshot.queue.shared, "queue.shared"), Plausible.count(snapshot.queue.takenAhead, "queue.taken_ahead"),
            Plausible.count(snapshot.workers.count, "workers"),
            Plausible.duration(status.scenarioTime, "scenario_time"), Plausible.duration(status.duration, "duration"),
            Plausible.duration(status.extraLatency, "extra_latency"),
            Plausible.number(status.arrivalRate, "arrival_rate", within: 0...1e12),
            Plausible.number(status.speed, "speed", within: 0...1e6),
            Plausible.number(status.failureRate, "failure_rate", within: 0...1),
        ]
        for worker in snapshot.workers + snapshot.stoppedWorkers {
            problems += [
                Plausible.count(worker.completed, "worker.completed"), Plausible.count(worker.failed, "worker.failed"),
                Plausible.duration(worker.busyTime, "worker.busy"), Plausible.instant(worker.startedAt, "worker.started"),
            ]
        }
        for second in snapshot.throughput.seconds {
            problems += [
                Plausible.number(second.t, "throughput.t", within: -1e12...1e12),
                Plausible.count(second.completed, "throughput.completed"), Plausible.count(second.failed, "throughput.failed"),
            ]
        }
        let rates = [snapshot.throughput.last1s, snapshot.throughput.last10s, snapshot.throughput.last60s]
        problems += rates.map { Plausible.number($0, "throughput", within: 0...1e15) }
        for depth in snapshot.queue.perWorker.values { problems.append(Plausible.count(depth, "queue.per_worker")) }
        if snapshot.queue.perWorker.count > Plausible.largestCount {
            problems.append("queue.per_worker \(snapshot.queue.perWorker.count) entries")
        }
        for event in snapshot.recentEvents { problems.append(Plausible.instant(event.time, "event.time")) }
        return problems.compactMap { $0 }.first
    }
}
