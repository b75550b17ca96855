public import PoolEngine

extension RunResult {
    /// The run summary rebuilt from what a dashboard saw: its frames (snapshot and session status, oldest
    /// first) and the shutdown report if the run got that far. `poolscope replay --json` prints it for a
    /// recording. Figures the frames carry only as samples (workers min/max/mean, scale events, captions)
    /// are as the frames saw them; latencies are those of the last frame that carried them. `nil` with no
    /// frame at all.
    public static func summarising(
        scenario: String, seed: UInt64, frames: [(snapshot: PoolSnapshot, status: SessionStatus)], report: ShutdownReport?,
        warnings: [String] = []
    ) -> RunResult? {
        guard let last = frames.last else { return nil }
        let counters = report?.counters ?? last.snapshot.counters
        let latencies = frames.last { $0.snapshot.latencies != nil }?.snapshot.latencies ?? LatencyHistograms()
        let running = frames.filter { $0.snapshot.phase == .running }.map(\.snapshot.workers.count)
        let seconds = max(last.status.scenarioTime.seconds, 1e-9)
        var scaleEvents: [ScaleEvent] = []
        var seenEvents = Set<String>()
        var captions: [Caption] = []
        for frame in frames {
            let start = frame.snapshot.takenAt - frame.snapshot.uptime
            for event in frame.snapshot.recentEvents {
                let from: Int
                let to: Int
                let reason: String
                switch event.kind {
                case .scaledUp(let f, let t, let r), .scaledDown(let f, let t, let r): (from, to, reason) = (f, t, r)
                default: continue
                }
                let tS = rounded((event.time - start).seconds)
                guard seenEvents.insert("\(event.time.nanoseconds) \(from) \(to)").inserted else { continue }
                scaleEvents.append(ScaleEvent(tS: tS, from: from, to: to, reason: reason))
            }
            if let caption = frame.status.caption, caption != captions.last?.text {
                captions.append(Caption(tS: rounded(frame.status.scenarioTime.seconds), text: caption))
            }
        }
        var result = RunResult(
            scenario: scenario, seed: seed, durationS: rounded(seconds), jobs: counters,
            latencyMs: Latencies(
                queueWait: LatencySummary(latencies.queueWait).rounded, service: LatencySummary(latencies.service).rounded,
                endToEnd: LatencySummary(latencies.endToEnd).rounded),
            throughput: ThroughputResult(
                meanPerS: rounded(Double(counters.completed) / seconds), peakPerS: Double(last.snapshot.throughput.peakPerSecond)),
            workers: WorkerCounts(
                minSeen: running.min() ?? last.snapshot.workers.count, maxSeen: running.max() ?? last.snapshot.workers.count,
                final: running.last ?? last.snapshot.workers.count,
                meanSeen: running.isEmpty ? nil : rounded(Double(running.reduce(0, +)) / Double(running.count))),
            scaleEvents: scaleEvents, theory: last.status.theory.map { Theory(model: $0, latencies: latencies) },
            balanced: counters.isBalanced, strategy: last.snapshot.strategy.description,
            deadLetters: last.snapshot.deadLetterCount, captions: captions, warnings: warnings)
        if report == nil { result.interrupted = true }
        return result
    }
}

extension RunResult.Theory {
    /// Erlang C's prediction beside the measured waits.
    init(model: ErlangC.Model, latencies: LatencyHistograms) {
        let rate = model.arrivalRate
        let mean = model.meanService
        let servers = model.servers
        let measuredService = latencies.service.mean / 1e9
        self.init(
            model: "M/M/c", predictedMeanWaitMs: rounded(model.predictedMeanWait * 1e3),
            measuredMeanWaitMs: rounded(latencies.queueWait.mean / 1e6), servers: servers, arrivalRatePerS: rate,
            meanServiceMs: rounded(mean.seconds * 1e3), utilisation: rounded(rate * mean.seconds / Double(servers)),
            measuredMeanServiceMs: rounded(measuredService * 1e3),
            predictedWithMeasuredServiceMs: ErlangC.meanWait(servers: servers, arrivalRate: rate, meanService: measuredService)
                .map { rounded($0 * 1e3) })
    }
}
