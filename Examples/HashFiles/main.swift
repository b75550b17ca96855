// An application that does real work on a PoolEngine pool and serves it for `poolscope attach`:
// it hashes every file under a directory (FNV-1a, 64 bits), round after round, until Ctrl-C.
//
//   swift run hash-files [DIRECTORY] [PORT] [CONTROL-TOKEN]
//   swift run poolscope attach http://127.0.0.1:9464          (in another terminal)
import Foundation
import PoolEngine
import PoolMonitor
import Synchronization

/// A line on standard output, written at once (print buffers when the output is a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let arguments = CommandLine.arguments.dropFirst()
let directory = arguments.first ?? "."
let port = arguments.dropFirst().first.flatMap { Int($0) } ?? 9464
let token = arguments.dropFirst(2).first

/// The regular files under `directory`, or a clear message and exit 1.
func files(under directory: String) -> [URL] {
    let root = URL(fileURLWithPath: directory)
    guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
        FileHandle.standardError.write(Data("hash-files: cannot read \(directory)\n".utf8))
        exit(1)
    }
    return walker.compactMap { $0 as? URL }.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
}

/// FNV-1a over the file's bytes, read in 64 KiB pieces.
func hash(_ file: URL) throws -> UInt64 {
    let handle = try FileHandle(forReadingFrom: file)
    defer { try? handle.close() }
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    while let chunk = try handle.read(upToCount: 65_536), !chunk.isEmpty {
        for byte in chunk {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
    }
    return value
}

let found = files(under: directory)
guard !found.isEmpty else {
    FileHandle.standardError.write(Data("hash-files: no files under \(directory)\n".utf8))
    exit(1)
}

var configuration = PoolConfiguration()
configuration.name = "hash-files"
configuration.minWorkers = 1
configuration.maxWorkers = 8
configuration.scaleUpThreshold = 16
configuration.queueCapacity = 10_000
configuration.overflowPolicy = .wait  // the producer waits when the queue is full: backpressure
// Hashing keeps a thread busy for a whole job: a thread per worker, so every worker the pool grows to runs.
configuration.executor = .dedicatedThreads(configuration.maxWorkers)
let pool = try WorkerPool(configuration: configuration)
let monitor: RunningMonitor
do {
    monitor = try await PoolMonitor.start(
        pools: ["hash-files": pool], configuration: MonitorConfiguration(port: port, controlToken: token))
} catch {
    FileHandle.standardError.write(Data("hash-files: \(error)\n".utf8))
    exit(1)
}
say("hashing \(found.count) files under \(directory), round after round; Ctrl-C stops")
say("watch it: swift run poolscope attach \(monitor.url)\(token.map { " --token \($0)" } ?? "")")
say("metrics:  curl \(monitor.url)/metrics")

signal(SIGINT, SIG_IGN)
let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
let stopping = Mutex(false)
interrupt.setEventHandler { stopping.withLock { $0 = true } }
interrupt.resume()

var round = 0
var lastReport = ContinuousClock.now
while !stopping.withLock({ $0 }) {
    round += 1
    for file in found {
        if stopping.withLock({ $0 }) { break }
        // Shut down from outside (a monitor's shutdown command): stop producing.
        if case .rejected(.shuttingDown) = await pool.submit(Job { _ = try hash(file) }) { stopping.withLock { $0 = true } }
    }
    if ContinuousClock.now - lastReport >= .seconds(5) {
        lastReport = .now
        let counts = pool.snapshot(includingLatencies: false).counters
        say("round \(round): \(counts.completed) files hashed, \(counts.failed) failed")
    }
}
let report = await pool.shutdown(.graceful(deadline: .seconds(10)))
await monitor.stop()
say("stopped: \(report.counters.completed) completed, \(report.counters.failed) failed, \(report.counters.cancelled) cancelled")
