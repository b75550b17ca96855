import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PoolEngine
import PoolMonitor

struct BenchMonitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "What watching a pool costs it: throughput with 1 and 5 attached clients at 10 fps against none, in one run.",
        discussion: """
            A pool of 2 workers runs 1 µs jobs as fast as a producer keeps it fed, with the monitor serving it on \
            loopback. Each client reads the snapshot stream at 10 fps, as 'poolscope attach' does. Each round \
            measures none, 1, 5 and none again (the noise floor) for --seconds each; ratios are taken within a round \
            and their medians reported. Results: BENCHMARKS.md.
            """)

    @Option(help: "Seconds per measurement.")
    var seconds: Int = 3

    @Option(help: "Rounds; each measures none, 1 client, 5 clients and none again.")
    var rounds: Int = 9

    @Option(help: "Each job's CPU time in microseconds (1: the worst case, where any other work shows).")
    var jobMicroseconds: Int = 1

    func validate() throws {
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must lie within 1...600, got \(seconds)") }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must lie within 1...100, got \(rounds)") }
        guard (0...1_000_000).contains(jobMicroseconds) else {
            throw ValidationError("--job-microseconds must lie within 0...1000000, got \(jobMicroseconds)")
        }
    }

    func run() async throws {
        // Each round measures "none" twice (the second is the noise floor: the same pool, unwatched) and
        // each client count once, in turn; a variant is compared with the first "none" of its own round,
        // so drift of the machine between rounds cancels out.
        let variants: [(label: String, clients: Int)] = [("none", 0), ("1", 1), ("5", 5), ("none again", 0)]
        var ratios: [String: [Double]] = [:]
        var baseline: [Double] = []
        for round in 1...rounds {
            var none = 0.0
            for (label, clients) in variants {
                let rate = try await measure(clients: clients)
                if label == "none" {
                    none = rate
                    baseline.append(rate)
                } else {
                    ratios[label, default: []].append(rate / none)
                }
                printError("bench monitor: round \(round)/\(rounds), clients \(label): \(Int(rate)) jobs/s")
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        print("jobs of \(jobMicroseconds) µs CPU, 2 workers; \(seconds) s per measurement, \(rounds) rounds")
        print("unwatched: \(Int(median(baseline))) jobs/s (median)")
        print("clients       vs unwatched in the same round: median (lowest..highest)")
        for (label, _) in variants.dropFirst() {
            let values = ratios[label] ?? [1]
            let row = String(format: "%.3fx (%.3f..%.3f)", median(values), values.min() ?? 0, values.max() ?? 0)
            print("\(label.padding(toLength: 14, withPad: " ", startingAt: 0))\(row)")
        }
    }

    private func measure(clients: Int) async throws -> Double {
        var configuration = PoolConfiguration()
        configuration.minWorkers = 2
        configuration.maxWorkers = 2
        configuration.queueCapacity = nil
        configuration.logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let pool = try WorkerPool(configuration: configuration)
        let monitor = try await PoolMonitor.start(
            pools: ["bench": pool], configuration: MonitorConfiguration(port: 0),
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let watchers = (0..<clients).map { _ in
            Task {
                // As `poolscope attach` does: the snapshot stream at 10 fps, the latency histograms once a second.
                while !Task.isCancelled {
                    let url = "\(monitor.url)/v1/pools/bench/snapshots?interval_ms=100&latencies_every=10"
                    guard let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(3_600)) else {
                        try? await Task.sleep(for: .milliseconds(100))
                        continue
                    }
                    do {
                        for try await _ in response.body where Task.isCancelled { break }
                    } catch {}
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let spin = Duration.microseconds(jobMicroseconds)
        let work: @Sendable () async throws -> Void = { spinFor(spin) }
        let batch = (0..<1_000).map { _ in Job(work) }
        let start = ContinuousClock.now
        let completedAtStart = pool.snapshot(includingLatencies: false).counters.completed
        while ContinuousClock.now - start < .seconds(seconds) {
            if pool.snapshot(includingLatencies: false).queue.total < 20_000 {
                _ = pool.trySubmit(batch: batch)
            } else {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let completed = pool.snapshot(includingLatencies: false).counters.completed - completedAtStart
        for watcher in watchers { watcher.cancel() }
        await monitor.stop()
        _ = await pool.shutdown(.immediate)
        return Double(completed) / elapsed
    }
}

/// Keeps the CPU busy for `duration`.
@inline(never)
func spinFor(_ duration: Duration) {
    let end = ContinuousClock.now + duration
    while ContinuousClock.now < end {}
}
