public import PoolEngine

extension PoolSnapshot {
    /// The snapshot a monitor sent, as the dashboard draws snapshots. Times are on the remote pool's clock,
    /// counted from its start; what the document does not carry (fault injection, stopped workers) is empty.
    public init(_ document: SnapshotDocument) {
        // Numbers from the network are clamped before any conversion: a hostile or broken server cannot trap us.
        let now = PoolInstant(nanoseconds: Self.nanoseconds(document.uptimeS))
        func ago(_ seconds: Double?) -> PoolInstant { now - .nanoseconds(Self.nanoseconds(seconds ?? 0)) }
        let workers = document.workers.map { worker -> WorkerSnapshot in
            let state: WorkerState =
                switch worker.state {
                case "busy": .busy(job: JobID(worker.job ?? 0), since: ago(worker.runningForS))
                case "draining": .draining(job: JobID(worker.job ?? 0), since: ago(worker.runningForS))
                case "starting": .starting
                case "stopped": .stopped(at: now)
                default: .idle(since: now)
                }
            return WorkerSnapshot(
                id: WorkerID(worker.id), state: state, completed: worker.completed, failed: worker.failed,
                busyTime: .nanoseconds(Self.nanoseconds(worker.busyS)), startedAt: .zero)
        }
        var perWorker: [WorkerID: Int] = [:]
        for (id, depth) in document.perWorkerQueues { if let number = Int(id) { perWorker[WorkerID(number)] = depth } }
        let c = document.counters
        var counters = JobCounters()
        counters.submitted = c.submitted
        counters.completed = c.completed
        counters.failed = c.failed
        counters.rejected = c.rejected
        counters.cancelled = c.cancelled
        counters.retried = c.retried
        counters.timedOut = c.timedOut
        let buckets = document.latencyBuckets
        let latencies =
            buckets.isEmpty
            ? nil
            : LatencyHistograms(
                queueWait: buckets["queue_wait"] ?? [], service: buckets["service"] ?? [], endToEnd: buckets["end_to_end"] ?? [])
        let seconds = document.throughputSeconds.compactMap { triple -> Throughput.Second? in
            guard triple.count == 3 else { return nil }
            return Throughput.Second(t: triple[0], completed: Self.count(triple[1]), failed: Self.count(triple[2]))
        }
        let events = document.recentEvents.map { event -> PoolEvent in
            let time = PoolInstant(nanoseconds: Self.nanoseconds(event.tS))
            if let from = event.from, let to = event.to {
                let reason = event.reason ?? ""
                return PoolEvent(
                    time: time,
                    kind: event.type == "scaled_up"
                        ? .scaledUp(from: from, to: to, reason: reason) : .scaledDown(from: from, to: to, reason: reason))
            }
            return PoolEvent(time: time, kind: .reported(event.text))
        }
        self.init(
            name: document.name, takenAt: now, uptime: .nanoseconds(Self.nanoseconds(document.uptimeS)),
            phase: PoolPhase(rawValue: document.phase) ?? .running, strategy: Self.strategy(named: document.strategy),
            settings: ScalingSettings(
                minWorkers: document.settings.minWorkers, maxWorkers: document.settings.maxWorkers,
                scaleUpThreshold: document.settings.scaleUpThreshold, mode: Self.scalingMode(document.settings)),
            queueCapacity: document.queueCapacity, overflowPolicy: .reject, workers: workers,
            queue: QueueDepths(shared: document.sharedQueue, perWorker: perWorker), inFlight: document.inFlight,
            awaitingRetry: document.awaitingRetry, blockedSubmitters: document.blockedSubmitters, counters: counters,
            latencies: latencies,
            throughput: Throughput(
                seconds: seconds, last1s: document.throughputNowPerS, last10s: document.throughputTenSecondsPerS,
                last60s: document.throughputTenSecondsPerS, peakPerSecond: document.throughputPeakPerS),
            recentEvents: events, deadLetterCount: document.deadLetters,
            breaker: document.breaker.map { $0 == "closed" ? .closed : $0 == "half-open" ? .halfOpen : .open(until: now) },
            rateLimit: document.rateLimitPerS.flatMap { $0 > 0 && $0.isFinite ? RateLimit(perSecond: $0) : nil })
    }

    /// Seconds as nanoseconds, within 0 and about 115 days (NaN is 0).
    private static func nanoseconds(_ seconds: Double) -> Int64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return Int64(min(seconds, 1e7) * 1e9)
    }

    /// A count from JSON, within 0 and 2^53.
    private static func count(_ value: Double) -> Int {
        guard value.isFinite, value > 0 else { return 0 }
        return Int(min(value, 9_007_199_254_740_992))
    }

    private static func scalingMode(_ settings: SnapshotDocument.Settings) -> ScalingMode {
        guard let target = settings.targetWaitMs, target > 0 else { return .queueThreshold }
        let window = settings.targetWaitWindowMs.map { Duration.nanoseconds(nanoseconds($0 / 1000)) } ?? .seconds(3)
        return .targetWait(TargetWait(target: .nanoseconds(nanoseconds(target / 1000)), window: window))
    }

    private static func strategy(named name: String) -> QueueStrategyKind {
        if name == "lifo" { return .lifo }
        if name == "keyed" { return .keyed }
        if name.hasPrefix("priority") { return .priority(aging: nil) }
        if name.hasPrefix("per-worker") {
            return .perWorker(name.contains("least-loaded") ? .leastLoaded : .roundRobin, stealing: name.contains("stealing"))
        }
        return name == "fifo" || name.isEmpty ? .sharedFIFO : .custom(.readBack(named: name))
    }
}
