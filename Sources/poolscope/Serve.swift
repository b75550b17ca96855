import ArgumentParser
import Foundation
import PoolEngine
import PoolMonitor

/// `--serve [HOST:]PORT [--control-token T]` on run and watch: the scenario's pool through the monitor
/// endpoint (the library call an application makes), under the scenario's name.
struct ServeOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Serve the pool's monitor endpoint on [HOST:]PORT (loopback unless a host is given); `poolscope attach` and Prometheus read it.",
            valueName: "[host:]port"))
    var serve: String?

    @Option(help: ArgumentHelp("With --serve: allow commands from clients that send this bearer token.", valueName: "token"))
    var controlToken: String?

    func validate() throws {
        if serve == nil, controlToken != nil { throw ValidationError("--control-token goes with --serve") }
        if let serve, Self.address(serve) == nil {
            throw ValidationError("--serve takes PORT or HOST:PORT with a port within 0...65535, got '\(serve)'")
        }
        if let controlToken, controlToken.isEmpty || controlToken.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--control-token must be non-empty, without spaces")
        }
    }

    /// "9464" → 127.0.0.1:9464; "0.0.0.0:9464" → that host; "[::1]:9464" → ::1.
    static func address(_ text: String) -> (host: String, port: Int)? {
        var host = "127.0.0.1"
        var portText = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            portText = text[text.index(after: colon)...]
            if host.isEmpty { return nil }
        }
        guard let port = Int(portText), (0...65_535).contains(port) else { return nil }
        return (host, port)
    }

    /// A pool name the monitor accepts, from a scenario's name.
    static func poolName(_ scenario: String) -> String {
        let allowed = scenario.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "-" }
        let name = String(allowed.prefix(64))
        return name.isEmpty ? "pool" : name
    }

    /// Starts serving `pool`, or ends the process with exit 1 and one line saying why.
    func start(_ pool: WorkerPool, name: String) async -> RunningMonitor? {
        guard let serve, let (host, port) = Self.address(serve) else { return nil }
        do {
            return try await PoolMonitor.start(
                pools: [Self.poolName(name): pool],
                configuration: MonitorConfiguration(host: host, port: port, controlToken: controlToken))
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
    }
}
