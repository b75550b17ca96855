import ArgumentParser
import Logging
import PoolEngine

/// A short headless run of the built-in demo, printing what the pool does twice a second.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the built-in demo headless: steady load, a burst, scaling up and down, a graceful shutdown.")

    @Option(help: "How long to run, in seconds.")
    var seconds: Double = 4

    func validate() throws {
        guard seconds > 0, seconds <= 3_600 else {
            throw ValidationError("--seconds must lie within 0...3600, got \(seconds)")
        }
    }

    func run() async throws {
        var configuration = PoolConfiguration()
        configuration.name = "demo"
        configuration.minWorkers = 2
        configuration.maxWorkers = 16
        configuration.scaleUpThreshold = 8
        configuration.idleTimeout = .milliseconds(800)
        configuration.cooldown = .milliseconds(250)
        configuration.queueCapacity = 5_000
        configuration.logger = Logger(label: "poolscope.demo", factory: { _ in SwiftLogNoOpLogHandler() })
        let pool = try WorkerPool(configuration: configuration)
        let events = pool.events()
        let printer = Task {
            for await event in events {
                if case .deadLettered = event.kind { continue }
                print("  event  \(event.kind)")
            }
        }
        print("poolscope demo: 2..16 workers, scale up when > 8 jobs wait per worker (the live dashboard is coming)")
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .seconds(seconds)
        var nextReport = start + .milliseconds(500)
        var burstDone = false
        while clock.now < end {
            pool.trySubmit { try await Task.sleep(for: .milliseconds(10)) }
            if !burstDone && clock.now - start > .seconds(seconds / 4) {
                burstDone = true
                print("  burst  +400 jobs")
                for _ in 0..<400 { pool.trySubmit { try await Task.sleep(for: .milliseconds(10)) } }
            }
            if clock.now >= nextReport {
                nextReport = nextReport + .milliseconds(500)
                let snapshot = pool.snapshot(includingLatencies: false)
                print(
                    "  t=\(formatted(snapshot.uptime))  workers \(snapshot.workers.count)  queue \(snapshot.queue.total)  "
                        + "in flight \(snapshot.inFlight)  completed \(snapshot.counters.completed)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let report = await pool.shutdown(.graceful(deadline: .seconds(5)))
        await printer.value
        let c = report.counters
        print(
            "done: submitted \(c.submitted) = completed \(c.completed) + failed \(c.failed) + rejected \(c.rejected)"
                + " + cancelled \(c.cancelled)  (\(c.isBalanced ? "balanced" : "NOT BALANCED"))")
        if let latencies = pool.snapshot().latencies {
            let e2e = LatencySummary(latencies.endToEnd)
            print("end-to-end latency: p50 \(milliseconds(e2e.p50))  p99 \(milliseconds(e2e.p99))  max \(milliseconds(e2e.max))")
        }
    }
}

/// A latency in milliseconds as "12.34ms".
func milliseconds(_ value: Double) -> String {
    formatted(.nanoseconds(Int64((value * 1e6).rounded())))
}
