import ArgumentParser
import Dashboard
import Foundation
import PoolEngine
import Recording
import Synchronization
import TerminalBackend
import Workload

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the live dashboard on a scenario (default: the built-in demo).",
        discussion: "Keys: press ? in the dashboard, or see docs/KEYS.md. Needs a terminal; for headless runs use 'poolscope run'.")

    @Argument(help: "A scenario file, or the name of a bundled demo. Omit for the built-in demo.")
    var scenario: String?

    @OptionGroup var overrides: OverrideOptions

    @Option(help: "Frames per second (1-60).")
    var fps: Int = 10

    @Option(help: "Jobs injected by the b key.")
    var burst: Int = 500

    @Option(help: "Start at this speed (0.125-8; below 1 is slow motion).")
    var speed: Double = 1

    @Flag(help: "Draw with plain ASCII instead of Unicode block characters.")
    var ascii = false

    @OptionGroup var serving: ServeOptions

    @OptionGroup var recording: RecordOptions

    @Flag(help: "On exit, print on standard error what the frames cost: CPU time per frame and the share of a core.")
    var frameStats = false

    func validate() throws {
        guard (1...60).contains(fps) else { throw ValidationError("--fps must lie within 1...60, got \(fps)") }
        guard (1...10_000_000).contains(burst) else { throw ValidationError("--burst must lie within 1...10000000, got \(burst)") }
        guard (0.125...8).contains(speed) else { throw ValidationError("--speed must lie within 0.125...8, got \(speed)") }
    }

    @MainActor
    func run() async throws {
        guard isTerminal(1) else {
            printError("poolscope: the dashboard needs a terminal, and standard output is not one.")
            printError("For a headless run use: poolscope run \(scenario ?? "SCENARIO") [--json] [--csv FILE]")
            terminate(2)
        }
        if scenario == nil && !overrides.values.isEmpty {
            printError(
                "poolscope: --set changes a scenario's fields: name one (a file or a bundled demo), like poolscope watch burst --set pool.max_workers=8"
            )
            terminate(2)
        }
        let chosen: Scenario = scenario.map { loadScenario($0, overrides: overrides.values).0 } ?? .builtInDemo
        let session: LiveSession
        do {
            session = try LiveSession(scenario: chosen, speed: speed)
        } catch {
            printError("poolscope: the pool refused the scenario's configuration: \(error)")
            terminate(1)
        }
        let monitor = await serving.start(session.pool, name: chosen.name)
        let notices = [monitor.map { "serving on \($0.url)" }, recording.record.map { "recording to \($0)" }].compactMap { $0 }
        let notice = notices.isEmpty ? nil : notices.joined(separator: " · ")
        let recorder = recording.writer(for: chosen, fps: fps, burst: burst, notice: notice)
        let app = DashboardApp(source: SessionSource(session: session), fps: fps, burst: burst, ascii: ascii, recorder: recorder)
        app.state.notice = notice
        let signal = await app.run()
        await monitor?.stop()
        if let recorder, !recorder.close() { terminate(1) }
        if frameStats { printError(app.frameCost.summary(fps: fps)) }
        // Ended by a signal: the contract's exit code (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
        if let number = signal { terminate(128 + number) }
    }
}

/// Ends the dashboard on SIGTERM, SIGHUP or SIGINT (sent by kill; Ctrl-C itself arrives as a key).
final class TerminationSignal {
    /// Set from Dispatch's signal queue, read by the dashboard's loop.
    private final class Flag: Sendable {
        /// The signal's number, 0 until one arrives.
        let raised = Atomic<Int32>(0)
    }

    private let flag = Flag()
    private let sources: [any DispatchSourceSignal]

    init() {
        sources = [SIGTERM, SIGHUP, SIGINT].map { number in
            signal(number, SIG_IGN)
            return DispatchSource.makeSignalSource(signal: number, queue: .global())
        }
        for (source, number) in zip(sources, [SIGTERM, SIGHUP, SIGINT]) {
            source.setEventHandler { [flag] in flag.raised.store(number, ordering: .relaxed) }
            source.resume()
        }
    }

    var isRequested: Bool { flag.raised.load(ordering: .relaxed) != 0 }

    /// The signal that ended the loop, if one did.
    var received: Int32? {
        let number = flag.raised.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }
}

/// The pool dashboard as a screen: frames from a `DashboardSource` (a scenario's session, or a pool watched
/// over HTTP), keys through `update`, drawn by `view`.
@MainActor
final class DashboardApp: Screen {
    let source: any DashboardSource
    let fps: Int
    var state: DashboardState
    let ascii: Bool
    let report = Locked<ShutdownReport?>(nil)
    var shutdownTask: Task<Void, Never>?
    private var driver: Task<Void, Never>?
    private var reported = false
    /// What the frames (snapshot, update, view, draw) cost in CPU time on this thread.
    private(set) var frameCost = FrameCost()
    private var framesSinceLatencies = Int.max
    /// Where every message the state is given is also written, when recording.
    let recorder: RecordingWriter?

    init(source: any DashboardSource, fps: Int, burst: Int, ascii: Bool, recorder: RecordingWriter? = nil) {
        self.source = source
        self.recorder = recorder
        self.fps = fps
        self.ascii = ascii
        state = DashboardState(burstSize: burst)
        state.unavailableKeys = source.unavailableKeys
    }

    /// Runs until q or a signal; returns the signal that ended it, if one did.
    @discardableResult
    func run() async -> Int32? {
        await runScreen(self, ascii: ascii) { [self] tick, view, draw in frameCost.add(tick: tick, view: view, draw: draw) }
    }

    var frameInterval: Duration { .milliseconds(1_000 / fps) }

    func start(glyphs: Glyphs) {
        state.glyphs = glyphs
        driver = Task.detached { [source, report] in
            if let finished = await source.drive() { report.withLock { $0 = finished } }
        }
    }

    /// A fresh frame. Latencies (copies of three histograms, most of a frame's cost) come once a second,
    /// and on every frame once the pool stops running, so the final report has them all.
    func refresh() async {
        if !reported, let finished = report.withLock({ $0 }) {
            reported = true
            _ = apply(.shutdownFinished(finished))
        }
        for (command, reason) in source.takeRefusals() { _ = apply(.refused(command, reason: reason)) }
        let withLatencies = framesSinceLatencies >= fps || state.frame?.snapshot.phase != .running
        framesSinceLatencies = withLatencies ? 1 : framesSinceLatencies + 1
        guard let frame = source.frame(includingLatencies: withLatencies) else { return }
        _ = apply(.tick(frame))
    }

    func press(_ key: Key) async -> Bool {
        perform(apply(.key(key)))
    }

    /// Every message goes through here: recorded (when recording), then applied to the state.
    private func apply(_ message: Message) -> [Command] {
        recorder?.record(message)
        let (next, commands) = update(state, message)
        state = next
        return commands
    }

    func render(width: Int, height: Int) -> Canvas { view(state, width: width, height: height) }

    // Quitting before a shutdown, or during a drain, stops the pool at once (an immediate shutdown
    // escalates a drain), so no job is left running and the quit is not held up by the drain.
    func finish(_ terminal: Terminal) async {
        if report.withLock({ $0 }) == nil { await source.quit() }
        driver?.cancel()
        await driver?.value
        await shutdownTask?.value
        // A recording ends with the pool's last frame and its report, however the dashboard was left (q
        // during a run stops the pool at once; the report comes after the loop has ended).
        if recorder != nil {
            if !reported, let finished = report.withLock({ $0 }) {
                reported = true
                _ = apply(.shutdownFinished(finished))
            }
            if let frame = source.frame(includingLatencies: true) { _ = apply(.tick(frame)) }
        }
    }

    /// Carries out the update's commands; returns whether to quit.
    private func perform(_ commands: [Command]) -> Bool {
        var quit = false
        for command in commands {
            switch command {
            case .shutdown(let mode):
                shutdownTask = Task.detached { [source, report] in
                    if let finished = await source.shutdown(mode) { report.withLock { $0 = finished } }
                }
            case .quit:
                quit = true
            default:
                // A source that cannot do this (a burst on a watched pool) says so instead of ignoring it.
                if let refusal = source.execute(command) { _ = apply(.refused(command, reason: refusal)) }
            }
        }
        return quit
    }
}

/// CPU time spent drawing frames: what the dashboard itself costs, apart from the pool it watches.
struct FrameCost {
    private(set) var frames = 0
    /// Taking the snapshot and updating the state; rendering the view; drawing it on the terminal.
    private(set) var tick: Duration = .zero
    private(set) var view: Duration = .zero
    private(set) var draw: Duration = .zero
    var total: Duration { tick + view + draw }

    mutating func add(tick: Duration, view: Duration, draw: Duration) {
        frames += 1
        self.tick += tick
        self.view += view
        self.draw += draw
    }

    /// This thread's CPU time so far.
    static func threadCPUTime() -> Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
    }

    func summary(fps: Int) -> String {
        guard frames > 0 else { return "poolscope: no frames drawn" }
        let perFrame = total.seconds / Double(frames)
        let share = perFrame * Double(fps) * 100
        func ms(_ part: Duration) -> Double { (part.seconds / Double(frames) * 1e5).rounded() / 100 }
        return "poolscope: \(frames) frames, \((perFrame * 1e5).rounded() / 100) ms CPU per frame (snapshot and update \(ms(tick)), "
            + "view \(ms(view)), terminal \(ms(draw))): \((share * 100).rounded() / 100)% of a core at \(fps) fps"
    }
}
