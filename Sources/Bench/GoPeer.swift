import Foundation

/// Go's channel pool (`bench/go/main.go`: W goroutines reading one buffered channel), built and run when
/// `go` is installed, so its rows stand beside ours from the same run on the same machine.
public struct GoPeer: Sendable {
    /// The built peer.
    let binary: String

    /// Where the peer's source is: beside this package's sources (a checkout; `swift run` builds from one).
    static let sourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../bench/go").standardizedFileURL.path

    /// Builds the peer, or says why there is none (no `go`, no source, a failed build).
    public static func build() -> Result<GoPeer, HelperUnavailable> {
        guard let go = which("go") else { return .failure(HelperUnavailable(reason: "go is not installed (apt-get install golang-go)")) }
        guard FileManager.default.fileExists(atPath: sourceDirectory + "/main.go") else {
            return .failure(HelperUnavailable(reason: "no Go source at \(sourceDirectory)"))
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-go-peer-\(getpid())").path
        let (status, text) = ChildProcess.run(go, ["build", "-o", output, "."], in: sourceDirectory)
        guard status == 0 else { return .failure(HelperUnavailable(reason: "go build failed: \(text.prefix(400))")) }
        return .success(GoPeer(binary: output))
    }

    /// One measurement: the peer's JSON line decoded.
    struct Measurement: Decodable {
        var nsPerJob: Double?
        var cpuUsPerJob: Double?
        var cpuPercent: Double?
        var jobs: Int
        var exactlyOnce: Bool
    }

    func measure(_ arguments: [String]) -> Measurement? {
        let (status, text) = ChildProcess.run(binary, arguments)
        guard status == 0 else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(Measurement.self, from: Data(text.utf8))
    }

    /// Seconds for `n` jobs on `workers` goroutines (`job`: noop or 1us), and whether each ran once.
    func throughput(n: Int, workers: Int, job: BenchJob) -> (Double, Bool)? {
        guard job == .noop || job == .spin1us,
            let result = measure(["-mode", "throughput", "-n", "\(n)", "-workers", "\(workers)", "-job", job.rawValue]),
            let ns = result.nsPerJob
        else { return nil }
        return (ns * Double(n) / 1e9, result.exactlyOnce)
    }

    func io(workers: Int, rate: Double, seconds: Double) -> IOWorkload.Row? {
        guard let result = measure(["-mode", "io", "-workers", "\(workers)", "-rate", "\(rate)", "-seconds", "\(seconds)"]),
            let cpu = result.cpuUsPerJob
        else { return nil }
        return IOWorkload.Row(
            runner: "go", workers: workers, ratePerS: rate, seconds: seconds, jobs: result.jobs, cpuUsPerJob: (cpu * 10).rounded() / 10,
            exactlyOnce: result.exactlyOnce)
    }

    func idle(workers: Int, seconds: Double) -> IOWorkload.IdleRow? {
        guard let result = measure(["-mode", "idle", "-workers", "\(workers)", "-seconds", "\(seconds)"]), let cpu = result.cpuPercent
        else {
            return nil
        }
        return IOWorkload.IdleRow(runner: "go", workers: workers, seconds: seconds, cpuPercentOfCore: (cpu * 10).rounded() / 10)
    }

    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map { "\($0)/\(name)" } + ["/usr/lib/go/bin/\(name)"])
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Why a helper program (the Go peer, the allocation probe) is not in this run.
public struct HelperUnavailable: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
