import ArgumentParser
import Dashboard
import Foundation
import PoolEngine
import Synchronization
import TerminalBackend
import Workload

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the live dashboard on a scenario (default: the built-in demo).",
        discussion: "Keys: press ? in the dashboard, or see docs/KEYS.md. Needs a terminal; for headless runs use 'poolscope run'.")

    @Argument(help: "A scenario file, or the name of a bundled demo. Omit for the built-in demo.")
    var scenario: String?

    @Option(help: "Frames per second (1-60).")
    var fps: Int = 10

    @Option(help: "Jobs injected by the b key.")
    var burst: Int = 500

    @Option(help: "Start at this speed (0.125-8; below 1 is slow motion).")
    var speed: Double = 1

    @Flag(help: "Draw with plain ASCII instead of Unicode block characters.")
    var ascii = false

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
        let chosen: Scenario = scenario.map { loadScenario($0).0 } ?? .builtInDemo
        let session: LiveSession
        do {
            session = try LiveSession(scenario: chosen)
        } catch {
            printError("poolscope: the pool refused the scenario's configuration: \(error)")
            terminate(1)
        }
        session.setSpeed(speed)
        let app = DashboardApp(session: session, fps: fps, burst: burst, ascii: ascii)
        // Ended by a signal: the contract's exit code (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
        if let number = await app.run() { terminate(128 + number) }
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

/// The dashboard's loop: input, ticks, update, view, draw. Runs on the main thread, so the pool's
/// threads and Swift's shared pool never wait for the terminal.
@MainActor
final class DashboardApp {
    let session: LiveSession
    let fps: Int
    var state: DashboardState
    let ascii: Bool
    let report = Locked<ShutdownReport?>(nil)
    var shutdownTask: Task<Void, Never>?

    init(session: LiveSession, fps: Int, burst: Int, ascii: Bool) {
        self.session = session
        self.fps = fps
        self.ascii = ascii
        state = DashboardState(burstSize: burst)
    }

    /// Runs until q or a signal; returns the signal that ended it, if one did.
    @discardableResult
    func run() async -> Int32? {
        let signals = TerminationSignal()
        let terminal = Terminal(forceASCII: ascii)
        defer { terminal.stop() }
        state.glyphs = terminal.unicode ? .unicode : .ascii
        let driver = Task.detached { [session, report] in
            let mode = await session.drive()
            let finished = await session.shutdown(mode)
            report.withLock { $0 = finished }
        }
        let clock = ContinuousClock()
        let interval = Duration.milliseconds(1_000 / fps)
        var nextFrame = clock.now
        var reported = false
        tick()
        while !signals.isRequested {
            let wait = max((nextFrame - clock.now).seconds * 1_000, 0)
            if let input = terminal.read(timeoutMilliseconds: Int(wait)) {
                switch input {
                case .resize:
                    terminal.invalidate()
                case .key(let key):
                    let (next, commands) = update(state, .key(key))
                    state = next
                    if perform(commands) { break }
                }
                draw(terminal)
            }
            if !reported, let finished = report.withLock({ $0 }) {
                reported = true
                (state, _) = update(state, .shutdownFinished(finished))
            }
            if clock.now >= nextFrame {
                tick()
                draw(terminal)
                nextFrame = nextFrame + interval
                if nextFrame < clock.now { nextFrame = clock.now + interval }
            }
            if quitRequested { break }
        }
        // Quitting before a shutdown, or during a drain, stops the pool at once (an immediate shutdown
        // escalates a drain), so no job is left running and the quit is not held up by the drain.
        if report.withLock({ $0 }) == nil { _ = await session.shutdown(.immediate) }
        await driver.value
        await shutdownTask?.value
        return signals.received
    }

    private var quitRequested = false

    private func tick() {
        let frame = DashboardFrame(snapshot: session.pool.snapshot(), status: session.status)
        (state, _) = update(state, .tick(frame))
    }

    private func draw(_ terminal: Terminal) {
        let size = terminal.size
        terminal.draw(view(state, width: size.width, height: size.height))
    }

    /// Carries out the update's commands; returns whether to quit.
    @discardableResult
    private func perform(_ commands: [Command]) -> Bool {
        for command in commands {
            switch command {
            case .session(let action): session.send(action)
            case .setSpeed(let speed): session.setSpeed(speed)
            case .changeSpeed(let factor): session.changeSpeed(by: factor)
            case .togglePause: session.togglePause()
            case .shutdown(let mode):
                shutdownTask = Task.detached { [session, report] in
                    let finished = await session.shutdown(mode)
                    report.withLock { $0 = finished }
                }
            case .quit:
                quitRequested = true
            }
        }
        return quitRequested
    }
}
