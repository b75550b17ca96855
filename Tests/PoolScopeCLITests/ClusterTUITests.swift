import Foundation
import PoolCluster
import Testing

/// Whether a throwaway PostgreSQL can be started here (server binaries installed).
let postgresBinariesAvailable: Bool = {
    do {
        _ = try EmbeddedPostgres.findBinaries()
        return true
    } catch {
        FileHandle.standardError.write(Data("SKIPPED: cluster demo in tmux (\(error))\n".utf8))
        return false
    }
}()

@Suite(
    "The cluster demo, driven in tmux", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: tmuxAvailable && postgresBinariesAvailable, "skipped: needs tmux and PostgreSQL's server binaries (.ci/run installs both)")
)
struct ClusterTUITests {
    @Test("cluster demo opens; k kills a node, shown dead within the horizon with its jobs rescued; q leaves no process or server behind")
    func demoKillAndQuit() async throws {
        let tmux = try TmuxSession("\(poolscopeBinary.path) cluster demo", width: 130, height: 40)
        // Up to two minutes: the demo runs initdb and starts a server and three nodes, and in CI it does so
        // beside every other suite (one run did not come up within 60 s; alone it takes about 5).
        // The caption tells what the demo is for its first 15 s, then how to kill a node: a demo slow to come
        // up on a loaded machine shows the second.
        let opened = await tmux.wait(upTo: .seconds(120)) {
            $0.contains("Nodes (3 alive of 3;")
                && ($0.contains("Three nodes share one durable queue") || $0.contains("press k to kill -9 it"))
        }
        try #require(opened != nil, "the demo did not come up:\n\(tmux.screen)")
        let port = try #require(opened.flatMap { number(after: "throwaway PostgreSQL on 127.0.0.1:", in: $0) })
        // Let the nodes get busy, then kill the selected one.
        #expect(await tmux.wait { (number(after: "done      ", in: $0) ?? 0) > 200 } != nil)
        try tmux.press("k")
        let killed = await tmux.wait { $0.contains("kill -9 n") && $0.contains("(pid ") }
        #expect(killed != nil, "no kill notice:\n\(tmux.screen)")
        // The horizon is 5 s; allow for a loaded machine.
        let dead = await tmux.wait(upTo: .seconds(40)) { $0.contains("declared DEAD") && $0.contains("rescued") }
        #expect(dead != nil, "the killed node was not shown dead with its jobs rescued:\n\(tmux.screen)")
        #expect(dead?.contains("Nodes (2 alive of 3;") == true)
        try tmux.press("q")
        let exited = await tmux.wait(upTo: .seconds(40)) { $0.contains("EXITED 0") }
        #expect(exited != nil, "the demo did not exit 0:\n\(tmux.screen)")
        let processes = allCommandLines()
        let demoStillRunning = processes.split(separator: "\n").contains { $0.hasPrefix(poolscopeBinary.path + " cluster demo") }
        #expect(!demoStillRunning, "the demo process is still running")
        #expect(!processes.contains("127.0.0.1:\(port)/"), "a node of the demo is still running:\n\(processes)")
        #expect(!processes.contains("-p \(port)"), "the demo's PostgreSQL is still running:\n\(processes)")
    }
}

/// Every process's command line, one per line (from /proc).
func allCommandLines() -> String {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid -> String? in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }.joined(separator: "\n")
}
