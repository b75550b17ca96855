import Foundation
import Testing

/// A detached tmux session of fixed size running a command, on a tmux server of its own.
final class TmuxSession {
    let socket = "poolscope-test-\(UUID().uuidString.prefix(8))"
    let name = "dash"

    init(_ command: String, width: Int = 120, height: Int = 40) throws {
        let script = "cd '\(repositoryRoot.path)' && LANG=C.UTF-8 \(command); echo EXITED $?; sleep 120"
        // The command that starts the server must not hand it our pipes, or reading them never ends.
        _ = try run(["new-session", "-d", "-s", name, "-x", "\(width)", "-y", "\(height)", script], capture: false)
    }

    deinit { _ = try? run(["kill-server"], capture: false) }

    @discardableResult
    func tmux(_ arguments: String...) throws -> String {
        try run(arguments, capture: true)
    }

    private func run(_ arguments: [String], capture: Bool) throws -> String {
        // Through bash, which first closes every inherited descriptor above 2: a tmux server started here
        // would otherwise keep the test process's pipes (say, another test's) open for as long as it lives.
        let closeAndExec =
            #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null; exec tmux "$@""#
        return try spawnAndWait(["/bin/bash", "-c", closeAndExec, "bash", "-L", socket] + arguments, capture: capture)
    }

    var screen: String { (try? tmux("capture-pane", "-p", "-t", name)) ?? "" }

    func press(_ key: String) throws { try tmux("send-keys", "-t", name, key) }

    func resize(width: Int, height: Int) throws { try tmux("resize-window", "-t", name, "-x", "\(width)", "-y", "\(height)") }

    /// Polls the screen until `condition` holds; returns the last screen read, or `nil` after the timeout.
    func wait(upTo timeout: Duration = .seconds(30), for condition: (String) -> Bool) async -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let text = screen
            if condition(text) { return text }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}

/// The first integer after `prefix` on the screen.
func number(after prefix: String, in text: String) -> Int? {
    guard let range = text.range(of: prefix) else { return nil }
    return Int(text[range.upperBound...].prefix { $0.isNumber })
}

/// The waiting jobs shown by the Queues pane ("queue ███░░ 240/20000").
func queueDepth(in text: String) -> Int? {
    guard let line = text.split(separator: "\n").first(where: { $0.contains("/20000") }),
        let slash = line.range(of: "/20000")
    else { return nil }
    return Int(String(line[..<slash.lowerBound].reversed().prefix { $0.isNumber }.reversed()))
}

let tmuxAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")

@Suite("The dashboard, driven in tmux as a person would", .serialized, .timeLimit(.minutes(3)))
struct TUITests {
    let binary = poolscopeBinary.path

    @Test("compare --watch shows the variants side by side on one stream; a key reaches both; q quits")
    func compareSideBySide() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession(
            "\(binary) compare Tests/PoolScopeCLITests/Fixtures/tui.yaml --vary pool.strategy=fifo,lifo --watch", width: 170, height: 40)
        let both = await tmux.wait { screen in
            screen.contains("1. pool.strategy=fifo") && screen.contains("2. pool.strategy=lifo")
                && screen.components(separatedBy: "Workers (").count == 3
        }
        #expect(both != nil, "two dashboards side by side:\n\(tmux.screen)")
        try tmux.press("+")
        #expect(await tmux.wait { $0.components(separatedBy: "threshold 6").count == 3 } != nil, "+ reached both variants:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil, "\(tmux.screen)")
    }

    @Test("watch --record, then replay: it steps frame by frame, seeks to a time and to events, and shows the burst pressed live")
    func recordAndReplay() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-\(UUID().uuidString).rec").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml --burst 500 --record \(path)")
            try #require(await tmux.wait { $0.contains("Workers (") && $0.contains("recording to") } != nil, "\(tmux.screen)")
            try await Task.sleep(for: .seconds(1))
            try tmux.press("b")
            #expect(await tmux.wait { $0.contains("you: burst of 500 jobs") } != nil, "\(tmux.screen)")
            try await Task.sleep(for: .seconds(2))
            try tmux.press("q")
            #expect(await tmux.wait { $0.contains("EXITED 0") && $0.contains("recorded ") } != nil, "\(tmux.screen)")
        }
        // q stopped the pool at once: the recording still ends with its report, balanced.
        let summary = try poolscope("replay", path, "--json")
        #expect(summary.status == 0, "\(summary.error)")
        let document = try JSONSerialization.jsonObject(with: Data(summary.output.utf8)) as? [String: Any]
        #expect(document?["balanced"] as? Bool == true && document?["interrupted"] == nil, "\(summary.output.prefix(400))")
        let tmux = try TmuxSession("\(binary) replay \(path) --paused")
        try #require(await tmux.wait { $0.contains("REPLAY PAUSED") && $0.contains("frame 0/") } != nil, "\(tmux.screen)")
        try tmux.press("n")
        #expect(await tmux.wait { $0.contains("frame 1/") && $0.contains("Workers (") } != nil, "n steps one frame:\n\(tmux.screen)")
        try tmux.press("n")
        try tmux.press("n")
        #expect(await tmux.wait { $0.contains("frame 3/") } != nil, "\(tmux.screen)")
        try tmux.press("N")
        #expect(await tmux.wait { $0.contains("frame 2/") } != nil, "N steps back:\n\(tmux.screen)")
        try tmux.press("g")
        try tmux.press("2")
        try tmux.press("Enter")
        #expect(await tmux.wait { $0.contains(" 0:02.0 / ") } != nil, "g 2 Enter goes to 2 s:\n\(tmux.screen)")
        try tmux.press("?")
        #expect(
            await tmux.wait { $0.contains("Replay keys") && $0.contains("one frame forward / back") } != nil,
            "? shows the replay's keys:\n\(tmux.screen)")
        try tmux.press("Escape")
        #expect(await tmux.wait { !$0.contains("Replay keys") } != nil, "Esc closes them:\n\(tmux.screen)")
        try tmux.press("0")
        #expect(await tmux.wait { $0.contains(" 0:00.0 / ") } != nil, "0 goes back to the start:\n\(tmux.screen)")
        // Event by event from the start: the burst the person pressed live is one of the marks.
        var sawBurst = false
        for _ in 0..<10 where !sawBurst {
            try tmux.press("]")
            // Up to 2 s per key, so that a loaded machine handles each key before the next is typed.
            sawBurst = await tmux.wait(upTo: .seconds(2)) { $0.contains("you: burst of 500 jobs") } != nil
        }
        #expect(sawBurst, "] reaches the burst pressed live:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil, "\(tmux.screen)")
    }

    @Test(
        "b raises the queue, then the workers, with a scale-up event; + moves the threshold; s shows a balanced report; q exits and restores the terminal"
    )
    func burstThresholdShutdownQuit() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml --burst 3000")
        // Under load the pool may already have grown past its 2 workers when the first frame is read.
        let start = await tmux.wait { $0.contains("Workers (") && $0.contains("threshold 5") }
        try #require(start != nil, "the dashboard did not come up:\n\(tmux.screen)")
        try tmux.press("b")
        let queued = await tmux.wait { (queueDepth(in: $0) ?? 0) > 100 }
        #expect(queued != nil, "the queue did not rise:\n\(tmux.screen)")
        let scaled = await tmux.wait { (number(after: "Workers (", in: $0) ?? 0) > 2 && $0.contains("scale up 2 -> 4") }
        #expect(scaled != nil, "no scale-up shown:\n\(tmux.screen)")
        try tmux.press("+")
        #expect(await tmux.wait { $0.contains("threshold 6") } != nil, "the threshold did not change on screen")
        try tmux.press("s")
        let report = await tmux.wait(upTo: .seconds(60)) { $0.contains("Final report") && $0.contains("balanced") }
        #expect(report != nil, "no final report:\n\(tmux.screen)")
        if let report, let submitted = number(after: "submitted    ", in: report),
            let completed = number(after: "completed  ", in: report)
        {
            #expect(submitted == completed, "a graceful drain completes every job: \(submitted) vs \(completed)")
            #expect(report.contains("\(submitted) = \(completed) + 0 + 0 + 0"))
        }
        try tmux.press("q")
        let exited = await tmux.wait { $0.contains("EXITED 0") }
        #expect(exited != nil, "poolscope did not exit 0:\n\(tmux.screen)")
        #expect(exited.map { !$0.contains("Workers (") && !$0.contains("Final report") } == true, "the terminal was not restored")
    }

    @Test("five quick presses of + raise the threshold five steps")
    func fivePresses() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml")
        try #require(await tmux.wait { $0.contains("threshold 5") } != nil, "the dashboard did not come up:\n\(tmux.screen)")
        try tmux.tmux("send-keys", "-t", tmux.name, "+", "+", "+", "+", "+")
        #expect(await tmux.wait { $0.contains("threshold 10") } != nil, "five presses did not make five steps:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
    }

    @Test("p pauses the whole scenario: the pool's clock stops with the arrivals; p again resumes it")
    func pauseStopsTheClock() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml")
        try #require(await tmux.wait { $0.contains("up 00:01") } != nil, "the dashboard did not come up:\n\(tmux.screen)")
        try tmux.press("p")
        let paused = try #require(await tmux.wait { $0.contains("| paused |") }, "no paused state:\n\(tmux.screen)")
        func uptime(_ screen: String) -> String? {
            screen.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix("up ") }
        }
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(uptime(tmux.screen) == uptime(paused), "the scenario clock moved while paused:\n\(tmux.screen)")
        try tmux.press("p")
        #expect(await tmux.wait { $0.contains("| running |") && uptime($0) != uptime(paused) } != nil, "not resumed:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
    }

    @Test("q during a graceful drain of minutes quits at once; SIGTERM ends the dashboard with exit 143")
    func quitDuringDrain() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/slow-drain.yaml")
        try #require(await tmux.wait { $0.contains("Workers (") && $0.contains("Long jobs") } != nil, "no dashboard:\n\(tmux.screen)")
        try await Task.sleep(for: .seconds(1))
        try tmux.press("s")
        #expect(await tmux.wait { $0.contains("draining") } != nil, "no drain shown:\n\(tmux.screen)")
        let pressed = ContinuousClock.now
        try tmux.press("q")
        let exited = await tmux.wait(upTo: .seconds(30)) { $0.contains("EXITED 0") }
        #expect(exited != nil, "q during the drain did not exit:\n\(tmux.screen)")
        // About a second plus tmux's polling on an idle machine (each poll starts tmux); the bound is generous
        // for a loaded 2-core CI machine and still below the 30 s jobs, whose drain takes minutes.
        #expect(ContinuousClock.now - pressed < .seconds(25), "q took \(ContinuousClock.now - pressed)")

        let second = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/slow-drain.yaml")
        try #require(await second.wait { $0.contains("Workers (") } != nil)
        let pids = allCommandLines().split(separator: "\n").filter {
            $0.hasPrefix(binary + " watch Tests/PoolScopeCLITests/Fixtures/slow-drain.yaml")
        }
        #expect(pids.count == 1)
        _ = try spawnAndWait(
            ["/usr/bin/pkill", "-TERM", "-f", "^\(binary) watch Tests/PoolScopeCLITests/Fixtures/slow-drain.yaml"], capture: false)
        #expect(
            await second.wait(upTo: .seconds(20)) { $0.contains("EXITED 143") } != nil, "SIGTERM did not end it with 143:\n\(second.screen)"
        )
    }

    @Test("the M/M/c demo shows Erlang C's prediction beside the measured wait, live")
    func erlangCOnScreen() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch mmc-erlang-c")
        let shown = await tmux.wait { $0.contains("Erlang C (M/M/4): mean wait predicted") && $0.contains("measured") }
        #expect(shown != nil, "no prediction on screen:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
    }

    @Test("a 200x60 terminal is filled: workers listed by id, the queue's depth charted, panes cover the screen")
    func bigTerminal() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml", width: 200, height: 60)
        let screen = await tmux.wait { $0.contains("#2   ") && $0.contains("depth per second, last") }
        #expect(screen != nil, "no worker list or depth chart:\n\(tmux.screen)")
        let lines = (screen ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Panes cover the whole screen: no blank row, and boxes reach the right edge on every body row.
        let blank = lines.prefix(60).filter { $0.allSatisfy { $0 == " " } }.count
        let reachingRightEdge = lines.prefix(59).dropFirst(3).filter { line in line.count >= 200 && "│┐┘".contains(line.last ?? " ") }.count
        #expect(blank == 0, "\(blank) blank rows:\n\(screen ?? "")")
        #expect(reachingRightEdge >= 50, "only \(reachingRightEdge) rows reach column 200:\n\(screen ?? "")")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
    }

    @Test("? shows the help overlay with every key")
    func helpOverlay() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml")
        try #require(await tmux.wait { $0.contains("Workers (") } != nil)
        try tmux.press("?")
        let help = await tmux.wait {
            $0.contains("Keys") && $0.contains("inject a burst of jobs") && $0.contains("graceful shutdown")
                && $0.contains("pause / resume the whole scenario") && $0.contains("q, Ctrl-C")
        }
        #expect(help != nil, "no complete help overlay:\n\(tmux.screen)")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
    }

    @Test("resizing to 60x15 shows the too-small message, and back restores the layout, without a crash")
    func resize() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml")
        try #require(await tmux.wait { $0.contains("Workers (") } != nil)
        try tmux.resize(width: 60, height: 15)
        #expect(
            await tmux.wait { $0.contains("Terminal too small: 60x15.") } != nil,
            "no message at 60x15:\n\(tmux.screen)\n\((try? tmux.tmux("display", "-p", "-t", "dash", "#{window_width}x#{window_height}")) ?? "")"
        )
        try tmux.resize(width: 120, height: 40)
        #expect(await tmux.wait { $0.contains("Workers (") && $0.contains("Events") } != nil, "layout not restored")
        try tmux.press("q")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil)
    }

    @Test("Ctrl-C quits cleanly too")
    func interrupt() async throws {
        try #require(tmuxAvailable, "tmux is needed (.ci/run installs it)")
        let tmux = try TmuxSession("\(binary) watch Tests/PoolScopeCLITests/Fixtures/tui.yaml")
        try #require(await tmux.wait { $0.contains("Workers (") } != nil)
        try tmux.press("C-c")
        #expect(await tmux.wait { $0.contains("EXITED 0") } != nil, "Ctrl-C did not quit cleanly:\n\(tmux.screen)")
    }
}

@Suite("The dashboard without a terminal")
struct NoTerminalTests {
    @Test("poolscope with standard output not a terminal exits 2 and points to poolscope run")
    func notATerminal() throws {
        let result = try poolscope()
        #expect(result.status == 2)
        #expect(result.error.contains("needs a terminal"))
        #expect(result.error.contains("poolscope run"))
    }
}

/// Runs a program and waits for it with posix_spawn and waitpid, its output going to a file: Foundation's
/// `Process` never saw tmux's client exit here (the client forks the server), and a pipe would be held
/// open by the server for ever.
func spawnAndWait(_ arguments: [String], capture: Bool) throws -> String {
    let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-tmux-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, capture ? outputPath : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    // The test runs on a Dispatch thread, which blocks every signal; a child would inherit that mask, and
    // the dashboard under tmux would never hear of a resize. Start children with a clean mask and defaults.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for number in [SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE] { sigaddset(&defaults, number) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid = pid_t()
    let status = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
    guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
    var exit: Int32 = 0
    while waitpid(pid, &exit, 0) == -1 && errno == EINTR {}
    return capture ? ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "") : ""
}
