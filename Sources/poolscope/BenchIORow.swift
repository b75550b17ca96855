import ArgumentParser
import Bench
import Foundation

/// One runner of the waiting workload in a process of its own: `poolscope bench` runs each Swift runner
/// this way, so that no row pays for the rows before it (see
/// ``IOComparison/run(workers:rate:seconds:rounds:idleSeconds:only:isolate:progress:)``). Its options are named
/// apart from `bench`'s own (`--workers`), which the parser would otherwise take for `bench`.
struct BenchIORow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "io-row",
        abstract: "One row of the waiting workload, printed as one line of JSON (what 'poolscope bench' runs in a fresh process).",
        shouldDisplay: false)

    @Option(help: "The runner, e.g. asyncstream, poolscope.")
    var runner: String

    @Option(help: "Workers.")
    var workerCount: Int = 200

    @Option(help: "Arrivals per second.")
    var rate: Double = 1_800

    @Option(help: "Seconds of arrivals.")
    var seconds: Double = 20

    func validate() throws {
        guard let runner = IOComparison.Runner(rawValue: runner), runner != .go else {
            let names = IOComparison.Runner.allCases.filter { $0 != .go }.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown runner '\(runner)' (Go's row comes from its own peer program); runners: \(names)")
        }
        if !(1...100_000).contains(workerCount) { throw ValidationError("--worker-count must lie within 1...100000") }
        if !(1...1_000_000).contains(rate) { throw ValidationError("--rate must lie within 1...1000000 arrivals per second") }
        if !(0.1...3_600).contains(seconds) { throw ValidationError("--seconds must lie within 0.1...3600") }
    }

    func run() async throws {
        guard let runner = IOComparison.Runner(rawValue: runner),
            let row = await IOComparison.row(of: runner, workers: workerCount, rate: rate, seconds: seconds)
        else { throw ValidationError("no row for runner '\(runner)'") }
        print(String(decoding: try JSONEncoder().encode(row), as: UTF8.self))
    }
}
