import Foundation
import Synchronization

/// A throwaway PostgreSQL server in a temporary directory on a free port of 127.0.0.1, tuned for speed over
/// durability (`fsync`, `synchronous_commit` and `full_page_writes` off), for `poolscope cluster demo` and for
/// tests that must restart a server.
///
/// Call ``stop()`` when done; `deinit` stops the server as a last resort. When the process runs as root,
/// PostgreSQL's tools run as the `postgres` OS user (PostgreSQL refuses to run as root).
public final class EmbeddedPostgres: Sendable {
    /// Why a server could not be found, started, or restarted.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The TCP port on 127.0.0.1.
    public let port: Int
    /// The temporary directory holding the data directory (`data`), the unix socket and `server.log`.
    public let directory: String
    /// The connection URL: `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication).
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    private let tools: Tools
    private let stopped = Mutex(false)

    private init(port: Int, tools: Tools) {
        self.port = port
        self.directory = tools.directory
        self.tools = tools
    }

    deinit { stop() }

    /// The directory holding `initdb`, `pg_ctl` and `postgres`: the one next to `pg_ctl` on `PATH` (symlinks
    /// followed), else the highest version under `/usr/lib/postgresql/*/bin`.
    public static func findBinaries() throws(Failure) -> String {
        let files = FileManager.default
        func complete(_ dir: String) -> Bool {
            ["initdb", "pg_ctl", "postgres"].allSatisfy { files.isExecutableFile(atPath: dir + "/" + $0) }
        }
        for entry in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let pgCtl = URL(fileURLWithPath: String(entry)).appendingPathComponent("pg_ctl")
            guard files.isExecutableFile(atPath: pgCtl.path) else { continue }
            let dir = pgCtl.resolvingSymlinksInPath().deletingLastPathComponent().path
            if complete(dir) { return dir }
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? files.contentsOfDirectory(atPath: root)) ?? [])
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        if let version = versions.first(where: { complete("\(root)/\($0)/bin") }) { return "\(root)/\(version)/bin" }
        throw Failure(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin; "
                + "install them, e.g. `apt-get install -y postgresql`")
    }

    /// Creates a cluster (trust auth, user `postgres`, UTF8) in a new temporary directory and starts it on a free
    /// loopback port, waiting (at most about a minute) until it accepts connections.
    /// - Parameter log: Receives short progress lines.
    /// - Throws: ``Failure``, with the tail of the server log; the directory is removed.
    public static func start(log: (@Sendable (String) -> Void)? = nil) async throws -> EmbeddedPostgres {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try startBlocking(log: log) })
            }
        }
    }

    /// Restarts the server (`pg_ctl restart -m fast`) on the same port, waiting until it accepts connections.
    /// - Throws: ``Failure``, with the tail of the server log.
    public func restart() throws {
        guard !stopped.withLock({ $0 }) else { throw Failure("the server in \(directory) was stopped") }
        do {
            try tools.run(
                "pg_ctl", ["-D", tools.data, "-l", tools.logFile, "-m", "fast", "-w", "-t", "60", "restart"],
                timeout: 75)
        } catch {
            throw Failure("\(error.description)\n\(tools.logTail())")
        }
    }

    /// Stops the server (fast shutdown, then immediate) and removes the directory. Idempotent and thread-safe.
    public func stop() {
        let first = stopped.withLock { (done: inout Bool) -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        tools.shutDown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func startBlocking(log: (@Sendable (String) -> Void)?) throws(Failure) -> EmbeddedPostgres {
        let bin = try findBinaries()
        let asPostgres = geteuid() == 0
        var owner: (uid: uid_t, gid: gid_t)?
        if asPostgres {
            guard let entry = getpwnam("postgres") else {
                throw Failure(
                    "running as root, but there is no `postgres` OS user to run PostgreSQL as "
                        + "(it refuses root); install the `postgresql` package or create the user")
            }
            owner = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        // /tmp for root, so the postgres user can reach it; short either way (unix socket paths are limited).
        let base = asPostgres ? "/tmp" : NSTemporaryDirectory()
        var template = ((base.hasSuffix("/") ? base : base + "/") + "poolscope-pg-XXXXXX").utf8CString
        let created = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        guard let created else {
            throw Failure("could not create a temporary directory under \(base): \(String(cString: strerror(errno)))")
        }
        let tools = Tools(bin: bin, directory: created, asPostgres: asPostgres)
        let directory = tools.directory
        func fail(_ message: String) -> Failure {
            let failure = Failure("\(message)\n\(tools.logTail())")
            tools.shutDown()
            try? FileManager.default.removeItem(atPath: directory)
            return failure
        }
        guard FileManager.default.createFile(atPath: tools.logFile, contents: nil) else {
            throw fail("could not create \(tools.logFile)")
        }
        if let owner, chown(directory, owner.uid, owner.gid) != 0 || chown(tools.logFile, owner.uid, owner.gid) != 0 {
            throw fail("could not hand \(directory) to the postgres user: \(String(cString: strerror(errno)))")
        }
        log?("initdb into \(directory) (binaries in \(bin))")
        do throws(Failure) {
            try tools.run(
                "initdb",
                [
                    "-D", tools.data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                    "--locale=C", "--no-sync",
                ], timeout: 120)
            let settings = """

                # EmbeddedPostgres: throwaway server, speed over durability
                listen_addresses = '127.0.0.1'
                unix_socket_directories = '\(directory)'
                fsync = off
                synchronous_commit = off
                full_page_writes = off
                max_connections = 200

                """
            guard let conf = FileHandle(forWritingAtPath: tools.data + "/postgresql.conf") else {
                throw Failure("could not open \(tools.data)/postgresql.conf")
            }
            defer { try? conf.close() }
            do {
                try conf.seekToEnd()
                try conf.write(contentsOf: Data(settings.utf8))
            } catch {
                throw Failure("could not write \(tools.data)/postgresql.conf: \(error)")
            }
        } catch {
            throw fail(error.description)
        }
        // Another process may grab the free port before the server binds it: then try another one.
        var attempt = 0
        while true {
            attempt += 1
            let port: Int
            do throws(Failure) {
                port = try freePort()
                try tools.run(
                    "pg_ctl",
                    [
                        "-D", tools.data, "-l", tools.logFile, "-o", "-p \(port)", "-w", "-t", "60",
                        "start",
                    ], timeout: 75)
            } catch {
                if attempt < 3, tools.logTail().contains("already in use") {
                    tools.shutDown()
                    continue
                }
                throw fail(error.description)
            }
            log?("PostgreSQL started on 127.0.0.1:\(port) (\(directory))")
            return EmbeddedPostgres(port: port, tools: tools)
        }
    }

    /// A free TCP port on 127.0.0.1, as chosen by the kernel for a socket bound to port 0.
    private static func freePort() throws(Failure) -> Int {
        #if os(Linux)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure("socket(): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw Failure("could not pick a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs PostgreSQL's tools for one temporary directory, as the `postgres` user when we are root.
private struct Tools: Sendable {
    let bin: String
    let directory: String
    let asPostgres: Bool
    var data: String { directory + "/data" }
    var logFile: String { directory + "/server.log" }

    /// Runs `bin/tool arguments` in the directory, with output appended to the log and stdin from /dev/null;
    /// throws unless it exits 0 within `timeout` seconds (it is killed then).
    ///
    /// posix_spawn, not Foundation's `Process`: on Linux, `Process` notices a child's exit when a socket it
    /// leaves open in the child closes, and the server that `pg_ctl start` leaves running would inherit it.
    /// Here the child gets only fds 0-2, in its own process group (so a Ctrl-C on our terminal spares it).
    func run(_ tool: String, _ arguments: [String], timeout: Double) throws(EmbeddedPostgres.Failure) {
        let inDirectory = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory, bin + "/" + tool] + arguments
        let files = FileManager.default
        let argv: [String]
        if !asPostgres {
            argv = inDirectory
        } else if let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
            .first(where: files.isExecutableFile(atPath:))
        {
            argv = [runuser, "-u", "postgres", "--"] + inDirectory
        } else if let su = ["/bin/su", "/usr/bin/su"].first(where: files.isExecutableFile(atPath:)) {
            let quoted = inDirectory.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            argv = [su, "postgres", "-s", "/bin/sh", "-c", quoted.joined(separator: " ")]
        } else {
            throw .init("running as root, but neither runuser nor su is available to run \(tool) as postgres")
        }
        let what = tool == "pg_ctl" ? "pg_ctl \(arguments.last ?? "")" : tool
        let log = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        defer { if log >= 0 { close(log) } }
        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t?
            var attributes: posix_spawnattr_t?
            let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_CLOEXEC_DEFAULT
        #else
            var actions = posix_spawn_file_actions_t()
            var attributes = posix_spawnattr_t()
            let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for target: Int32 in [1, 2] {
            if log >= 0 {
                posix_spawn_file_actions_adddup2(&actions, log, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            }
        }
        #if !canImport(Darwin)
            for name in (try? files.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
                guard let fd = Int32(name), fd > 2 else { continue }
                let fdFlags = fcntl(fd, F_GETFD)  // -1 for the fd that listed the directory, closed since
                if fdFlags >= 0, fdFlags & FD_CLOEXEC == 0 { posix_spawn_file_actions_addclose(&actions, fd) }
            }
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&signals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &signals)
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0)=\($1)") } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, cEnv)
        guard spawned == 0 else { throw .init("could not run \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        func exited(within seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while true {
                let reaped = waitpid(pid, &status, WNOHANG)
                if reaped == pid || (reaped < 0 && errno != EINTR) { return true }
                if Date() >= deadline { return false }
                usleep(20_000)
            }
        }
        if !exited(within: timeout) {
            kill(-pid, SIGTERM)
            if !exited(within: 5) {
                kill(-pid, SIGKILL)
                _ = exited(within: 5)
            }
            throw .init("\(what) timed out after \(Int(timeout)) s")
        }
        guard status == 0 else {
            let reason = status & 0x7f == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"
            throw .init("\(what) failed (\(reason))")
        }
    }

    /// Stops a running server: fast shutdown, then immediate, then SIGKILL to the postmaster. Never throws.
    func shutDown() {
        let pidFile = data + "/postmaster.pid"
        guard FileManager.default.fileExists(atPath: pidFile) else { return }
        if (try? run("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"], timeout: 40)) != nil { return }
        if (try? run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "15", "stop"], timeout: 25)) != nil { return }
        let firstLine = (try? String(contentsOfFile: pidFile, encoding: .utf8))?.split(separator: "\n").first
        if let pid = firstLine.flatMap({ pid_t($0.trimmingCharacters(in: .whitespaces)) }), pid > 1 {
            kill(pid, SIGKILL)
        }
    }

    /// The last lines of the server log, for error messages.
    func logTail(lines: Int = 15) -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8), !text.isEmpty else { return "" }
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
        return "server log (\(logFile)), last lines:\n" + tail.joined(separator: "\n")
    }
}
