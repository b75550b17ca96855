/// The pool's latency histograms, split into a few independently locked shards so that workers rarely
/// wait for each other to record; a snapshot merges them.
final class LatencyRecorder: Sendable {
    private final class Shard: Sendable {
        let histograms = Locked(LatencyHistograms())
    }

    private let shards: [Shard]

    init(shardCount: Int) {
        shards = (0..<max(shardCount, 1)).map { _ in Shard() }
    }

    func record(_ samples: some Collection<LatencySample>, worker: WorkerID?) {
        guard !samples.isEmpty else { return }
        let shard = shards[(worker?.rawValue ?? 0) % shards.count]
        shard.histograms.withLock { histograms in
            for sample in samples {
                histograms.record(queueWait: sample.queueWait, service: sample.service, endToEnd: sample.endToEnd)
            }
        }
    }

    func merged() -> LatencyHistograms {
        var result = LatencyHistograms()
        for shard in shards {
            let copy = shard.histograms.withLock { $0 }
            result.add(copy)
        }
        return result
    }
}

/// One finished attempt's latencies, in nanoseconds (end to end only for a job's last attempt).
@usableFromInline
struct LatencySample {
    @usableFromInline let queueWait: Int64
    @usableFromInline let service: Int64
    @usableFromInline let endToEnd: Int64?

    @usableFromInline
    init(queueWait: Int64, service: Int64, endToEnd: Int64?) {
        self.queueWait = queueWait
        self.service = service
        self.endToEnd = endToEnd
    }
}
