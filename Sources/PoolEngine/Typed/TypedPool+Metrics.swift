/// The typed pool's counts and gauges published through swift-metrics, as ``WorkerPool`` publishes its own
/// (the same labels and dimensions), from a task of its own, so that the workers' hot path pays nothing.
@usableFromInline
struct TypedPoolMetricsPublication: Sendable {
    let publisher: MetricsPublisher
    let task: Task<Void, Never>
    /// Set by the shutdown's last report; a tick that comes later publishes nothing.
    var finished = false
}

extension TypedPool {
    /// Starts publishing every ``TypedPoolConfiguration/metricsInterval``, when
    /// ``TypedPoolConfiguration/metricsName`` is set.
    @usableFromInline
    func startPublishingMetrics() {
        guard let name = configuration.metricsName else { return }
        let publisher = MetricsPublisher(poolName: name)
        let interval = configuration.metricsInterval
        // Weak, and it ends with the pool: a reporter must neither keep its pool alive nor tick on after it.
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                self.publishMetrics()
            }
        }
        metricsPublication.withLock { $0 = TypedPoolMetricsPublication(publisher: publisher, task: task) }
    }

    /// Reports the counts' growth since the last report, and the gauges now. In flight here means taken by a
    /// worker and not yet ended: running, waiting in the worker's batch, or between a retry's attempts (the
    /// closure pool counts running jobs only, as it takes few ahead). The counts and the queue are read one
    /// after the other, not at one instant, so a gauge may be off by the jobs that moved in between.
    func publishMetrics() {
        let counters = self.counters
        let queued = queues.reduce(shared?.count ?? 0) { $0 + $1.count }
        let ended = counters.rejected + counters.completed + counters.failed + counters.cancelled
        let workers = workerCount
        metricsPublication.withLock { publication in
            guard let publication, !publication.finished else { return }
            publication.publisher.publish(
                counters: counters, workers: workers, queueDepth: queued, inFlight: max(counters.submitted - ended - queued, 0))
        }
    }

    /// The shutdown's last report: the final counts, and no workers, queue or jobs in flight.
    @usableFromInline
    func finishPublishingMetrics(_ counters: JobCounters) {
        let task: Task<Void, Never>? = metricsPublication.withLock { publication in
            guard var current = publication else { return nil }
            current.publisher.publish(counters: counters, workers: 0, queueDepth: 0, inFlight: 0)
            current.finished = true
            publication = current
            return current.task
        }
        task?.cancel()
    }
}
