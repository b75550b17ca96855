import Foundation
import Testing

@testable import Dashboard
@testable import PoolEngine
@testable import Workload

/// A fixed pool picture: 6 workers in every state, a queue, latencies, throughput and events.
func fixedFrame(workers count: Int = 6, keyed: Bool = false) -> DashboardFrame {
    let origin = PoolInstant(nanoseconds: 1_000_000_000_000)
    let now = origin + .seconds(75)
    let states: [WorkerState] = [
        .busy(job: JobID(41), since: now - .milliseconds(120)), .busy(job: JobID(42), since: now - .milliseconds(30)),
        .idle(since: now - .seconds(2)), .starting, .draining(job: JobID(40), since: now - .seconds(1)),
        .busy(job: JobID(43), since: now - .milliseconds(5)),
    ]
    let workers = (0..<count).map { index in
        WorkerSnapshot(
            id: WorkerID(index + 1), state: states[index % states.count], completed: 100 + index, failed: index,
            busyTime: .seconds(Double(index) + 10), startedAt: origin)
    }
    var latencies = LatencyHistograms()
    for value in stride(from: 1_000_000, through: 90_000_000, by: 1_000_000) {
        latencies.record(queueWait: Int64(value / 3), service: Int64(value / 2), endToEnd: Int64(value))
    }
    var counters = JobCounters()
    counters.submitted = 1_250
    counters.completed = 1_100
    counters.failed = 20
    counters.rejected = 30
    counters.retried = 40
    let seconds = (1...60).map { Throughput.Second(t: Double($0), completed: $0 % 10 * 20, failed: $0 % 15 == 0 ? 3 : 0) }
    var perWorker: [WorkerID: Int] = [:]
    var owned: [WorkerID: Int] = [:]
    if keyed {
        for worker in workers {
            perWorker[worker.id] = worker.id.rawValue * 3
            owned[worker.id] = 40 + worker.id.rawValue
        }
    }
    let events = [
        PoolEvent(time: origin + .seconds(12), kind: .scaledUp(from: 2, to: 4, reason: "queue 240 > 2 workers x 50")),
        PoolEvent(time: origin + .seconds(40), kind: .scaledDown(from: 4, to: 3, reason: "1 worker idle >= 10s")),
    ]
    let snapshot = PoolSnapshot(
        name: "fixture", takenAt: now, uptime: .seconds(75), phase: .running, strategy: keyed ? .keyed : .sharedFIFO,
        settings: ScalingSettings(minWorkers: 2, maxWorkers: 16, scaleUpThreshold: 50), queueCapacity: 1_000,
        overflowPolicy: .reject, workers: workers, stoppedWorkers: [],
        queue: QueueDepths(shared: 120, perWorker: perWorker, ownedKeys: owned), inFlight: 4, awaitingRetry: 2,
        blockedSubmitters: 0, counters: counters, latencies: latencies,
        throughput: Throughput(seconds: seconds, last1s: 180, last10s: 90, last60s: 90, peakPerSecond: 180),
        recentEvents: events, deadLetterCount: 20, breaker: nil, rateLimit: nil, faults: .none)
    let status = SessionStatus(
        scenarioName: "fixture", scenarioTime: .seconds(75), duration: .seconds(600),
        caption: "A burst arrives: watch the pool double.", arrivalRate: 80, paused: false, speed: 1, failureRate: 0,
        extraLatency: .zero, finished: false)
    return DashboardFrame(snapshot: snapshot, status: status)
}

func state(with frame: DashboardFrame = fixedFrame(), glyphs: Glyphs = .unicode) -> DashboardState {
    var state = DashboardState(burstSize: 500, glyphs: glyphs)
    state = update(state, .tick(frame)).0
    return state
}

@Suite("Dashboard view: panes rendered into a canvas")
struct DashboardViewTests {
    @Test("at 80x24 every pane is there with its figures", arguments: [Glyphs.unicode, .ascii])
    func standardSize(glyphs: Glyphs) {
        let canvas = view(state(glyphs: glyphs), width: 80, height: 24)
        let lines = canvas.lines
        #expect(lines.count == 24 && lines.allSatisfy { $0.count == 80 })
        #expect(lines[0].hasPrefix(" fixture | fifo | workers 6 (2..16) | threshold 50 | rate 80/s | running"))
        #expect(lines[1].hasPrefix(" > A burst arrives: watch the pool double."))
        let text = canvas.text
        for expected in [
            "Workers (6)", "busy 3  idle 1  starting 1  draining 1", "Queues", "120/1000", "in flight 4  retrying 2  blocked 0",
            "rejected 30  dead 20", "Throughput", "now 180/s  10s 90/s  peak 180/s", "Latency: end-to-end, whole run",
            "p50 45ms p90 81ms p99 90ms p99.9 90ms", "Events", "00:12.0  scale up 2 -> 4: queue 240 > 2 workers x 50",
            "00:40.0  scale down 4 -> 3: 1 worker idle >= 10s", "b burst  +/- threshold",
        ] {
            #expect(text.contains(expected), "missing '\(expected)'\n\(text)")
        }
        if glyphs == .ascii { #expect(!text.contains("█") && !text.contains("─"), "ASCII fallback uses no Unicode") }
    }

    @Test("at 120x40 and 200x60 the layout grows and keeps every pane", arguments: [(120, 40), (200, 60)])
    func largerSizes(width: Int, height: Int) {
        let canvas = view(state(with: fixedFrame(workers: 200)), width: width, height: height)
        #expect(canvas.lines.count == height && canvas.lines.allSatisfy { $0.count == width })
        let text = canvas.text
        for expected in ["Workers (200)", "Queues", "Throughput", "Latency", "Events", "p99"] {
            #expect(text.contains(expected), "missing '\(expected)' at \(width)x\(height)")
        }
    }

    @Test("a keyed pool shows per-worker depths and keys owned")
    func keyedQueues() {
        let text = view(state(with: fixedFrame(keyed: true)), width: 120, height: 40).text
        #expect(text.contains("per worker (deepest first), keys owned"))
        #expect(text.contains("18  keys 46"))
    }

    @Test("at 40x10 a clear message replaces the layout, without a crash")
    func tooSmall() {
        let text = view(state(), width: 40, height: 10).text
        #expect(text.contains("Terminal too small: 40x10."))
        #expect(text.contains("PoolScope needs 80x24."))
        #expect(view(state(), width: 0, height: 0).lines.isEmpty)
        #expect(view(state(), width: 1, height: 1).lines.count == 1)
    }

    @Test("where Erlang C applies, the latency pane shows its predicted mean wait beside the measured one, with max beside the percentiles")
    func erlangCLive() throws {
        var s = state()
        var frame = try #require(s.frame)
        frame.status.theory = ErlangC.Model(servers: 4, arrivalRate: 160, meanService: .milliseconds(20), predictedMeanWait: 0.01491)
        s = update(s, .tick(frame)).0
        let text = view(s, width: 120, height: 40).text
        #expect(text.contains("Erlang C (M/M/4): mean wait predicted 15ms, measured"), "\(text)")
        #expect(text.contains(" max "))
        let mmc = try ScenarioParser.parse(EmbeddedDemos.files.first { $0.name == "mmc-erlang-c" }?.text ?? "", file: "mmc")
        #expect(ErlangC.model(of: mmc)?.servers == 4)
        #expect(ErlangC.model(of: .builtInDemo) == nil)
    }

    @Test("the throughput chart says how many seconds it shows, has a scale, and puts failures under their second")
    func throughputTruthful() {
        for width in [80, 120, 200] {
            let canvas = view(state(), width: width, height: 40)
            let text = canvas.text
            let shown = min(60, width / 2 - 2 - 6)
            #expect(text.contains("Throughput per second, last \(shown) s"), "at \(width) columns:\n\(text)")
        }
        let lines = view(state(), width: 120, height: 40).lines
        let graphLines = lines.filter { $0.contains("fail ") }
        let failLine = graphLines.first
        // The fixture fails 3 jobs in seconds 15, 30, 45 and 60: the failure marks sit under those columns.
        let failColumns = failLine.map { line in line.enumerated().filter { "▁▂▃▄▅▆▇█".contains($0.element) }.map(\.offset) } ?? []
        #expect(failColumns.count == 4, "\(failLine ?? "")")
        if let last = failColumns.last, let first = failColumns.first {
            #expect(last - first == 45, "seconds 15 and 60 are 45 columns apart")
        }
        #expect(lines.contains { $0.contains("│180") }, "the scale's top value")
    }

    @Test("the person's actions appear in the event log beside the pool's events; a long caption wraps instead of being cut")
    func actionsAndCaptions() throws {
        var s = state()
        s = update(s, .key(.character("b"))).0
        s = update(s, .key(.character("+"))).0
        s = update(s, .key(.character("?"))).0
        s = update(s, .key(.character("?"))).0
        #expect(s.userActions.map(\.text) == ["you: burst of 500 jobs", "you: threshold +1"], "help toggling is not an action")
        let text = view(s, width: 120, height: 40).text
        #expect(text.contains("you: burst of 500 jobs") && text.contains("you: threshold +1"))
        var frame = try #require(s.frame)
        frame.status.caption = String(repeating: "a long caption that a teacher wrote ", count: 4) + "END"
        s = update(s, .tick(frame)).0
        let wrapped = view(s, width: 80, height: 24).lines
        #expect(wrapped[1].hasPrefix(" > a long caption") && wrapped[2].contains("END"), "\(wrapped[1])\n\(wrapped[2])")
    }

    @Test("queue depth over time with arrival, admission and completion rates; an unbounded queue is never drawn as full")
    func queueHistory() throws {
        var s = state()
        var frame = try #require(s.frame)
        frame.snapshot.queueCapacity = nil
        s = update(s, .tick(frame)).0
        frame.snapshot.takenAt = frame.snapshot.takenAt + .seconds(2)
        frame.snapshot.counters.submitted += 400
        frame.snapshot.counters.rejected += 100
        frame.snapshot.counters.completed += 200
        s = update(s, .tick(frame)).0
        #expect(s.queueHistory == [QueueSecond(depth: frame.snapshot.queue.total, arrivedPerS: 200, admittedPerS: 150, completedPerS: 100)])
        let text = view(s, width: 120, height: 40).text
        #expect(text.contains("in 200/s  admitted 150/s  out 100/s"), "\(text)")
        #expect(text.contains("depth per second, last 1 s (max 120)"), "a chart with its scale when there is room")
        #expect(view(s, width: 80, height: 24).text.contains("depth, last 1 s (max 120)"), "a sparkline when there is not")
        let queueLine = try #require(text.split(separator: "\n").first { $0.contains("/unbounded") })
        #expect(queueLine.contains("░"), "an unbounded queue is drawn against its peak, not full: \(queueLine)")
    }

    @Test("latency covers the last 10 s by default (w switches to the whole run), with max beside the percentiles")
    func latencyWindow() throws {
        var s = state()
        var frame = try #require(s.frame)
        s = update(s, .tick(frame)).0
        var latencies = try #require(frame.snapshot.latencies)
        for _ in 0..<50 { latencies.record(queueWait: 1_000_000, service: 500_000_000, endToEnd: 500_000_000) }
        frame.snapshot.latencies = latencies
        frame.snapshot.takenAt = frame.snapshot.takenAt + .seconds(5)
        s = update(s, .tick(frame)).0
        let windowed = view(s, width: 120, height: 40).text
        #expect(windowed.contains("Latency: end-to-end, last 5 s (h, w)"), "\(windowed)")
        #expect(windowed.contains("p50 501ms") && windowed.contains("max 501ms"), "only the last 5 s: \(windowed)")
        s = update(s, .key(.character("w"))).0
        let whole = view(s, width: 120, height: 40).text
        #expect(whole.contains("Latency: end-to-end, whole run (h, w)"))
        #expect(!whole.contains("p50 501ms"), "the whole run mixes in the earlier, faster jobs")
    }

    @Test("the final report adds latencies and scale events, Esc closes it and Enter shows it again; the selected worker's id is shown")
    func reportClosable() throws {
        var s = update(state(), .key(.right)).0
        #expect(view(s, width: 120, height: 40).text.contains("Workers (6), selected #1"))
        var counters = JobCounters()
        counters.submitted = 3
        counters.completed = 3
        let report = ShutdownReport(
            mode: .graceful(deadline: .seconds(1)), counters: counters, deadlineReached: false, cancelledWhileQueued: 0,
            cancelledWhileRunning: 0, duration: .milliseconds(10))
        s = update(s, .shutdownFinished(report)).0
        let shown = view(s, width: 120, height: 40).text
        #expect(shown.contains("Final report") && shown.contains("end to end   p50") && shown.contains("scale events 2, last: scale down"))
        s = update(s, .key(.escape)).0
        #expect(!view(s, width: 120, height: 40).text.contains("Final report"))
        s = update(s, .key(.enter)).0
        #expect(view(s, width: 120, height: 40).text.contains("Final report"))
    }

    @Test("a refused command is taken back from the log; a refused shutdown leaves the dashboard steering")
    func refusedCommands() {
        var s = state()
        let drain = update(s, .key(.character("s")))
        s = drain.0
        #expect(s.shutdownRequested != nil && s.userActions.contains { $0.text.contains("graceful shutdown") })
        s = update(s, .refused(drain.1[0], reason: "read-only: attach with --token to shut this pool down")).0
        #expect(s.shutdownRequested == nil && s.notice == "read-only: attach with --token to shut this pool down")
        #expect(!s.userActions.contains { $0.text.contains("graceful shutdown") }, "not logged as done")
        #expect(update(s, .key(.character("+"))).1 == [.session(.changeThreshold(by: 1))], "keys steer again")
    }

    @Test("a watched pool that restarted (its uptime went back) starts the panes afresh")
    func restartedPool() {
        var s = state()
        #expect(!s.events.isEmpty)
        var restarted = fixedFrame()
        restarted.snapshot = PoolSnapshot(
            name: "fixture", takenAt: restarted.snapshot.takenAt, uptime: .seconds(2), phase: .running, strategy: .sharedFIFO,
            settings: restarted.snapshot.settings, queueCapacity: nil, overflowPolicy: .reject, workers: [],
            queue: QueueDepths(shared: 0, perWorker: [:], ownedKeys: [:]), inFlight: 0, awaitingRetry: 0, blockedSubmitters: 0,
            counters: JobCounters(), latencies: nil,
            throughput: Throughput(seconds: [], last1s: 0, last10s: 0, last60s: 0, peakPerSecond: 0), recentEvents: [],
            deadLetterCount: 0, breaker: nil, rateLimit: nil)
        s = update(s, .tick(restarted)).0
        #expect(s.events.isEmpty && s.queueHistory.isEmpty && s.latencies == nil, "nothing of the old run carries over")
    }

    @Test("compare's view draws each variant with the same pure view, side by side, or says how big the terminal must be")
    func sideBySide() {
        let wide = compareView([state(), state()], titles: ["1. fifo", "2. lifo"], width: 170, height: 41).text
        #expect(wide.contains("1. fifo") && wide.contains("2. lifo"))
        #expect(wide.components(separatedBy: "Workers (").count == 3, "\(wide)")
        let narrow = compareView([state(), state()], titles: ["a", "b"], width: 120, height: 40).text
        #expect(narrow.contains("compare --watch needs 160x25 for 2 variants; this terminal is 120x40."), "\(narrow)")
    }

    @Test("the help overlay lists every key")
    func helpOverlay() {
        var s = state()
        s = update(s, .key(.character("?"))).0
        let text = view(s, width: 120, height: 40).text
        for binding in dashboardKeyBindings {
            #expect(text.contains(binding.label) && text.contains(binding.meaning), "help is missing \(binding.label)")
        }
    }

    @Test("one key table: every bound key does something, the footer's keys are bound, docs/KEYS.md lists every row")
    func oneKeyTable() throws {
        for binding in dashboardKeyBindings {
            for (key, _) in binding.actions {
                let (after, _) = update(state(), .key(key))
                #expect(after.notice != "unknown key; press ? for help", "\(key) is in the table but not handled")
            }
        }
        #expect(update(state(), .key(.character("~"))).0.notice == "unknown key; press ? for help", "an unbound key says so")
        let keysFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/KEYS.md")
        let docs = try String(contentsOf: keysFile, encoding: .utf8)
        for binding in dashboardKeyBindings {
            let line = docs.split(separator: "\n").first { $0.contains("| \(binding.meaning)") }
            #expect(line != nil, "docs/KEYS.md has no row for \(binding.label): \(binding.meaning)")
            let tokens = binding.label.replacingOccurrences(of: ",", with: " ").split(separator: " ").filter { $0 != "/" }
            for token in tokens where token != "," {
                #expect(line?.contains(String(token)) == true, "docs/KEYS.md's row for \(binding.meaning) does not name \(token)")
            }
        }
        let footer = view(state(), width: 120, height: 40).lines.last ?? ""
        #expect(footer.hasPrefix(footerText(without: [])))
        // A source that cannot honour some keys (an attached pool): out of the footer, marked in the help.
        var attached = state()
        attached.unavailableKeys = [.burst, .rateUp, .rateDown, .pause]
        let shortFooter = view(attached, width: 120, height: 40).lines.last ?? ""
        #expect(!shortFooter.contains("b burst") && !shortFooter.contains("p pause") && shortFooter.contains("+/- threshold"))
        attached = update(attached, .key(.character("?"))).0
        let help = view(attached, width: 120, height: 40).text
        #expect(help.contains("inject a burst of jobs (not here)") && !help.contains("graceful shutdown (drain, then report) (not here)"))
    }

    @Test("the worker detail shows the selected worker's job, counts and queue")
    func detail() {
        var s = state()
        s = update(s, .key(.right)).0
        s = update(s, .key(.enter)).0
        let text = view(s, width: 120, height: 40).text
        #expect(text.contains("Worker w1"))
        #expect(text.contains("job        #41, running for 120ms"))
        #expect(text.contains("done       100 completed, 0 failed attempts"))
    }

    @Test("after shutdown the final report shows every count, balanced")
    func finalReport() {
        var counters = JobCounters()
        counters.submitted = 10
        counters.completed = 7
        counters.failed = 1
        counters.rejected = 1
        counters.cancelled = 1
        let report = ShutdownReport(
            mode: .immediate, counters: counters, deadlineReached: false, cancelledWhileQueued: 1, cancelledWhileRunning: 0,
            duration: .milliseconds(5))
        let s = update(state(), .shutdownFinished(report)).0
        let text = view(s, width: 80, height: 24).text
        #expect(text.contains("Final report"))
        #expect(text.contains("10 = 7 + 1 + 1 + 1   balanced"))
        #expect(text.contains("Esc closes this report (Enter shows it again), q quits"))
    }

    @Test("a latency histogram switches between end-to-end, queue wait and service")
    func histogramModes() {
        var s = state()
        #expect(view(s, width: 120, height: 40).text.contains("Latency: end-to-end"))
        s = update(s, .key(.character("h"))).0
        #expect(view(s, width: 120, height: 40).text.contains("Latency: queue wait"))
        s = update(s, .key(.character("h"))).0
        #expect(view(s, width: 120, height: 40).text.contains("Latency: service"))
    }
}

@Suite("Dashboard update: keys become commands")
struct DashboardUpdateTests {
    @Test(
        "the contract's keys",
        arguments: [
            (Key.character("b"), [Command.session(.burst(500))]),
            (.character("+"), [.session(.changeThreshold(by: 1))]),
            (.character("-"), [.session(.changeThreshold(by: -1))]),
            (.character("s"), [.shutdown(.graceful(deadline: .seconds(10)))]),
            (.character("S"), [.shutdown(.immediate)]),
            (.character("p"), [.togglePause]),
            (.character("q"), [.quit]),
            (.interrupt, [.quit]),
            (.character("]"), [.session(.scaleRate(by: 1.25))]),
            (.character("M"), [.session(.changeMinWorkers(by: 1))]),
            (.character("x"), [.session(.changeMaxWorkers(by: -1))]),
            (.character("F"), [.session(.changeFailureRate(by: 0.05))]),
            (.character("k"), [.session(.crashWorker(nil))]),
            (.character("."), [.changeSpeed(by: 2)]),
        ])
    func keys(key: Key, expected: [Command]) {
        #expect(update(state(), .key(key)).1 == expected)
    }

    @Test("five presses of + within one frame are five relative steps, and the session applies all five")
    func pressesWithinAFrameAllCount() async throws {
        var s = state()
        var commands: [Command] = []
        for _ in 0..<5 {
            let (next, produced) = update(s, .key(.character("+")))
            s = next
            commands += produced
        }
        #expect(commands == Array(repeating: .session(.changeThreshold(by: 1)), count: 5))
        var scenario = Scenario.builtInDemo
        scenario.pool.scaleUpThreshold = 5
        let session = try LiveSession(scenario: scenario)
        for case .session(let action) in commands { session.send(action) }
        let driver = Task { await session.drive() }
        var threshold = 0
        let deadline = ContinuousClock.now + .seconds(20)
        while threshold != 10 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            threshold = session.pool.snapshot(includingLatencies: false).settings.scaleUpThreshold
        }
        #expect(threshold == 10)
        session.send(.shutdown(.immediate))
        _ = await session.shutdown(await driver.value)
    }

    @Test("S during a graceful drain escalates it to an immediate shutdown; q still quits")
    func escalateDuringDrain() {
        var s = update(state(), .key(.character("s"))).0
        let (escalated, commands) = update(s, .key(.character("S")))
        #expect(commands == [.shutdown(.immediate)])
        s = escalated
        #expect(update(s, .key(.character("S"))).1.isEmpty, "already immediate")
        #expect(update(s, .key(.character("q"))).1 == [.quit])
    }

    @Test("? toggles the help and Esc closes it")
    func help() {
        var s = update(state(), .key(.character("?"))).0
        #expect(s.showHelp)
        s = update(s, .key(.escape)).0
        #expect(!s.showHelp)
    }

    @Test("after a shutdown is asked for, steering keys do nothing but q still quits")
    func afterShutdown() {
        let s = update(state(), .key(.character("s"))).0
        #expect(update(s, .key(.character("b"))).1.isEmpty)
        #expect(update(s, .key(.character("q"))).1 == [.quit])
    }

    @Test("a tick computes each worker's busy fraction from the busy time it gained")
    func busyFractions() {
        let first = fixedFrame()
        var second = first
        second.snapshot.takenAt = first.snapshot.takenAt + .seconds(1)
        second.snapshot.workers = first.snapshot.workers.map { worker in
            WorkerSnapshot(
                id: worker.id, state: worker.state, completed: worker.completed, failed: worker.failed,
                busyTime: worker.busyTime + .milliseconds(worker.id.rawValue * 100), startedAt: worker.startedAt)
        }
        var s = update(DashboardState(), .tick(first)).0
        s = update(s, .tick(second)).0
        #expect(abs((s.busyFractions[WorkerID(3)] ?? 0) - 0.3) < 1e-9)
        #expect(s.events.count == 2, "events are not duplicated across ticks")
    }
}
