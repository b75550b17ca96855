import AsyncHTTPClient
import Foundation
import NIOCore
import PoolEngine
import PoolMonitor
import Testing

@Suite("poolscope run --serve: the scenario's pool through the monitor endpoint", .timeLimit(.minutes(2)))
struct ServeTests {
    @Test("run --serve 127.0.0.1:0 serves the pool under the scenario's name while it runs; SIGINT still ends the run")
    func runServes() async throws {
        let process = Process()
        process.executableURL = poolscopeBinary
        process.arguments = ["run", "Tests/PoolScopeCLITests/Fixtures/tui.yaml", "--serve", "127.0.0.1:0", "--json"]
        process.currentDirectoryURL = repositoryRoot
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The line naming the address comes first on standard error.
        var seen = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while !seen.contains("\n"), ContinuousClock.now < deadline {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let line = try #require(seen.split(separator: "\n").first { $0.contains("serving pool") }, "no serving line in: \(seen)")
        #expect(line.contains("serving pool 'tui-test' on http://127.0.0.1:"))
        let url = try #require(line.split(separator: " ").first { $0.hasPrefix("http://") })
        let pools = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(url)/v1/pools"), timeout: .seconds(10))
        #expect(String(buffer: try await pools.body.collect(upTo: 1 << 20)).contains(#"{"name":"tui-test"}"#))
        let snapshot = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "\(url)/v1/pools/tui-test/snapshot"), timeout: .seconds(10))
        #expect(snapshot.status == .ok)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
    }

    @Test("--serve on a port already taken: exit 1 with one line; a malformed --serve is a usage error (exit 2)")
    func serveErrors() async throws {
        let pool = try WorkerPool(configuration: PoolConfiguration())
        let taken = try await PoolMonitor.start(pools: ["x": pool], configuration: MonitorConfiguration(port: 0))
        let busy = try runPoolscope(["run", "burst", "--serve", "127.0.0.1:\(taken.port)", "--duration", "1s"])
        #expect(busy.status == 1)
        #expect(busy.error.contains("cannot listen on 127.0.0.1:\(taken.port)"), "\(busy.error)")
        #expect(!busy.error.contains("Fatal error"))
        await taken.stop()
        _ = await pool.shutdown(.immediate)
        let malformed = try runPoolscope(["run", "burst", "--serve", "localhost:notaport"])
        #expect(malformed.status == 2)
        #expect(malformed.error.contains("--serve takes PORT or HOST:PORT"))
        let tokenAlone = try runPoolscope(["run", "burst", "--control-token", "t"])
        #expect(tokenAlone.status == 2 && tokenAlone.error.contains("--control-token goes with --serve"))
    }
}
