import CoreMetrics
import MetricsTestKit
import Testing

@testable import PoolEngine

/// swift-metrics can be bootstrapped once per process; every test that reads metrics shares this.
enum SharedTestMetrics {
    static let metrics: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()
}

@Suite("Snapshots, latencies, throughput, events and swift-metrics", .timeLimit(.minutes(3)))
struct ObservationTests {
    @Test("the counts reach swift-metrics, labelled by pool and outcome")
    func swiftMetrics() async throws {
        let metrics = SharedTestMetrics.metrics
        var configuration = makeConfiguration(min: 1, max: 1, capacity: 5)
        configuration.name = "metrics-test"
        let pool = try WorkerPool(configuration: configuration)
        let gate = Gate()
        pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        for _ in 0..<5 { pool.trySubmit {} }
        pool.trySubmit {}
        pool.trySubmit { throw TestFailure() }
        gate.open()
        _ = await pool.shutdown(.graceful(deadline: .seconds(30)))
        func total(_ outcome: String) -> Int64 {
            metrics.counterTotal(
                label: "poolscope_jobs_total", dimensions: [("pool", "metrics-test"), ("outcome", outcome)])
        }
        #expect(total("submitted") == 8)
        #expect(total("completed") == 6)
        #expect(total("rejected") == 2)
        #expect(total("failed") == 0)
    }

    @Test("a typed pool's counts and gauges reach swift-metrics while it runs and at shutdown, labelled as a closure pool's")
    func typedPoolMetrics() async throws {
        let metrics = SharedTestMetrics.metrics
        var configuration = TypedPoolConfiguration(workers: 1)
        configuration.capacityPerWorker = 5
        configuration.metricsName = "typed-metrics-test"
        configuration.metricsInterval = .milliseconds(10)
        let gate = Gate()
        let pool = try TypedPool<Int>(configuration) { input in
            if input == 0 { await gate.wait() }
            if input == 5 { throw TestFailure() }
        }
        let dimensions = [("pool", "typed-metrics-test")]
        func total(_ outcome: String) -> Int64 {
            metrics.counterTotal(label: "poolscope_jobs_total", dimensions: dimensions + [("outcome", outcome)])
        }
        func gauge(_ label: String) -> Double? { try? metrics.expectGauge(label, dimensions).lastValue }
        pool.trySubmit(0)
        #expect(await eventually { gate.arrived == 1 })
        #expect(pool.trySubmit(contentsOf: 1...7) == 5, "the only worker's queue holds 5")
        // Published by the pool's reporter while job 0 holds the only worker: 5 wait, 1 runs.
        // Up to a minute: the reporter ticks on Swift's shared threads, which suites beside it can keep busy.
        let published = await eventually(timeout: .seconds(60)) {
            total("submitted") == 8 && total("rejected") == 2 && gauge("poolscope_queue_depth") == 5
                && gauge("poolscope_jobs_in_flight") == 1 && gauge("poolscope_workers") == 1
        }
        #expect(published, "submitted \(total("submitted")), queue \(String(describing: gauge("poolscope_queue_depth")))")
        gate.open()
        let report = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(report.completed == 5 && report.failed == 1 && report.rejected == 2)
        #expect(total("submitted") == 8 && total("completed") == 5 && total("failed") == 1 && total("rejected") == 2)
        #expect(gauge("poolscope_workers") == 0 && gauge("poolscope_queue_depth") == 0 && gauge("poolscope_jobs_in_flight") == 0)
    }

    @Test("latency histograms count every attempt and order their percentiles")
    func latencies() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 2, max: 2))
        for _ in 0..<200 { pool.trySubmit { try await Task.sleep(for: .milliseconds(1)) } }
        _ = await pool.shutdown(.graceful(deadline: .seconds(60)))
        let snapshot = pool.snapshot()
        let latencies = try #require(snapshot.latencies)
        #expect(latencies.service.totalCount == 200)
        #expect(latencies.queueWait.totalCount == 200)
        #expect(latencies.endToEnd.totalCount == 200)
        let service = LatencySummary(latencies.service)
        #expect(service.p50 >= 1, "a 1 ms sleep takes at least 1 ms")
        #expect(service.p50 <= service.p99 && service.p99 <= service.max)
        let endToEnd = LatencySummary(latencies.endToEnd)
        #expect(endToEnd.mean >= service.mean)
    }

    @Test("a snapshot shows each worker's state, current job and counts")
    func workerStates() async throws {
        let pool = try WorkerPool(configuration: makeConfiguration(min: 2, max: 2))
        let gate = Gate()
        let admission = pool.trySubmit { await gate.wait() }
        #expect(await eventually { gate.arrived == 1 })
        let snapshot = pool.snapshot()
        #expect(snapshot.workers.count == 2)
        let busy = snapshot.workers.filter { if case .busy = $0.state { true } else { false } }
        #expect(busy.count == 1)
        if case .accepted(let id) = admission, case .busy(let job, _)? = busy.first?.state {
            #expect(job == id)
        } else {
            Issue.record("expected the busy worker to show the job")
        }
        #expect(snapshot.inFlight == 1)
        #expect(snapshot.phase == .running)
        gate.open()
        _ = await pool.shutdown(.graceful(deadline: .seconds(30)))
        #expect(pool.snapshot().phase == .stopped)
        #expect(pool.snapshot().stoppedWorkers.map(\.completed).reduce(0, +) == 1)
    }

    @Test("throughput is counted per whole second")
    func throughputSeconds() {
        var tracker = ThroughputTracker(origin: .zero)
        var counters = JobCounters()
        counters.completed = 120
        counters.failed = 3
        tracker.sample(now: PoolInstant(nanoseconds: 500_000_000), counters: counters)
        #expect(tracker.current.seconds.isEmpty)
        tracker.sample(now: PoolInstant(nanoseconds: 1_000_000_000), counters: counters)
        counters.completed = 200
        tracker.sample(now: PoolInstant(nanoseconds: 2_100_000_000), counters: counters)
        let throughput = tracker.current
        #expect(throughput.seconds.map(\.completed) == [120, 80])
        #expect(throughput.seconds.map(\.failed) == [3, 0])
        #expect(throughput.last1s == 80 && throughput.last10s == 100 && throughput.peakPerSecond == 120)
    }
}
