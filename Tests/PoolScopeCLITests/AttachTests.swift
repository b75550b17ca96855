import AsyncHTTPClient
import Foundation
import NIOCore
import PoolEngine
import PoolMonitor
import Testing

/// `poolscope run FIXTURE --serve 127.0.0.1:PORT` in the background, as an application serving its pool.
final class ServedRun {
    let process = Process()

    init(port: Int) throws {
        process.executableURL = poolscopeBinary
        process.arguments = ["run", "Tests/PoolScopeCLITests/Fixtures/tui.yaml", "--serve", "127.0.0.1:\(port)", "--json"]
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until the monitor answers.
    func ready(_ port: Int) async -> Bool {
        for _ in 0..<300 {
            if let response = try? await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/pools"), timeout: .seconds(2)),
                response.status == .ok
            {
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { kill() }
}

@Suite("poolscope attach, in tmux, on a served pool", .serialized, .timeLimit(.minutes(3)))
struct AttachTests {
    /// A port free a moment ago (the monitor that found it has stopped).
    func freePort() async throws -> Int {
        let pool = try WorkerPool(configuration: PoolConfiguration())
        let probe = try await PoolMonitor.start(pools: ["probe": pool], configuration: MonitorConfiguration(port: 0))
        let port = probe.port
        await probe.stop()
        _ = await pool.shutdown(.immediate)
        return port
    }

    @Test("attach shows the served pool's workers and queue; the served process killed shows 'connection lost'; restarted, it reconnects")
    func attachLoseReconnect() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let port = try await freePort()
        var served = try ServedRun(port: port)
        try #require(await served.ready(port), "the served run did not answer on port \(port)")
        let tmux = try TmuxSession("\(poolscopeBinary.path) attach http://127.0.0.1:\(port)", width: 160, height: 40)
        let attached = await tmux.wait { $0.contains("tui-test @ 127.0.0.1:\(port)") && $0.contains("Workers (") && $0.contains("Queues") }
        #expect(attached != nil, "not attached:\n\(tmux.screen)")
        try tmux.press("b")
        #expect(
            await tmux.wait { $0.contains("burst: unavailable on an attached pool") } != nil, "a burst is refused in words:\n\(tmux.screen)"
        )
        served.kill()
        #expect(await tmux.wait { $0.contains("connection lost") } != nil, "no 'connection lost':\n\(tmux.screen)")
        #expect(tmux.screen.contains("Workers ("), "the last picture stays")
        served = try ServedRun(port: port)
        try #require(await served.ready(port))
        #expect(
            await tmux.wait { !$0.contains("connection lost") && $0.contains("attached to http://127.0.0.1:\(port)") } != nil,
            "did not reconnect:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
        served.kill()
    }

    @Test("with several pools served, attach lists them and > / < switch between them")
    func switchesPools() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        var small = PoolConfiguration()
        small.minWorkers = 2
        small.maxWorkers = 2
        var large = PoolConfiguration()
        large.minWorkers = 7
        large.maxWorkers = 7
        let alpha = try WorkerPool(configuration: small)
        let beta = try WorkerPool(configuration: large)
        let monitor = try await PoolMonitor.start(pools: ["alpha": alpha, "beta": beta], configuration: MonitorConfiguration(port: 0))
        let tmux = try TmuxSession("\(poolscopeBinary.path) attach http://127.0.0.1:\(monitor.port)", width: 160, height: 40)
        let first = await tmux.wait { $0.contains("alpha @ 127.0.0.1") && $0.contains("Workers (2") }
        #expect(first != nil, "not attached to the first pool:\n\(tmux.screen)")
        #expect(tmux.screen.contains("alpha · beta"), "the pools are listed:\n\(tmux.screen)")
        try tmux.press(">")
        #expect(
            await tmux.wait { $0.contains("beta @ 127.0.0.1") && $0.contains("Workers (7") } != nil, "> did not switch:\n\(tmux.screen)")
        try tmux.press("<")
        #expect(
            await tmux.wait { $0.contains("alpha @ 127.0.0.1") && $0.contains("Workers (2") } != nil,
            "< did not switch back:\n\(tmux.screen)")
        // Read-only (no --token): a shutdown is refused in words and the dashboard goes on steering.
        try tmux.press("s")
        #expect(await tmux.wait { $0.contains("read-only: attach with --token to shut this pool down") } != nil, "\(tmux.screen)")
        try tmux.press("+")
        #expect(
            await tmux.wait { $0.contains("read-only: attach with --token to steer this pool") } != nil,
            "after a refused shutdown, keys still reach the source:\n\(tmux.screen)")
        #expect(!tmux.screen.contains("you: graceful shutdown"), "a refused shutdown is not logged as done:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
        await monitor.stop()
        _ = await alpha.shutdown(.immediate)
        _ = await beta.shutdown(.immediate)
    }

    @Test("attach to nothing: one line naming the address and the cause, exit 1")
    func refused() async throws {
        let port = try await freePort()
        let result = try runPoolscope(["attach", "http://127.0.0.1:\(port)"])
        #expect(result.status == 1)
        #expect(result.error == "poolscope: cannot reach http://127.0.0.1:\(port)/v1/pools: connection refused\n", "\(result.error)")
    }
}
