
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

    func record(worker: WorkerID?, queueWait: Duration, service: Duration, endToEnd: Duration?) {
        let shard = shards[(worker?.rawValue ?? 0) % shards.count]
        shard.histograms.withLock {
            $0.record(queueWait: queueWait.nanoseconds, service: service.nanoseconds, endToEnd: endToEnd?.nanoseconds)
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
