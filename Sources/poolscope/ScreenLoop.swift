import Dashboard
import TerminalBackend

/// A full-screen view the terminal loop runs: the pool dashboard (`DashboardApp`, over a `DashboardSource`)
/// or the cluster view (`ClusterApp`, over a `ClusterSource`). The screen holds its state and its source;
/// the loop owns the terminal, the signals, resizes and the frame clock.
@MainActor
protocol Screen: AnyObject {
    /// How often a fresh frame is read from the source.
    var frameInterval: Duration { get }
    /// Before the first frame, with the glyphs the terminal can show.
    func start(glyphs: Glyphs)
    /// Reads a frame from the source into the state (also: anything the source finished meanwhile).
    func refresh() async
    /// A key press; returns whether to quit.
    func press(_ key: Key) async -> Bool
    /// The state drawn into a canvas of this size (a pure view).
    func render(width: Int, height: Int) -> Canvas
    /// Called once, after the loop ended and before the terminal is restored.
    func finish(_ terminal: Terminal) async
}

/// The terminal loop every screen shares: keys, resizes, a frame every `frameInterval`, signals.
/// Runs on the main actor, so the pool's threads and Swift's shared pool never wait for the terminal.
/// Returns the signal that ended it, if one did (SIGTERM, SIGHUP, SIGINT sent by kill).
@MainActor
func runScreen(_ screen: some Screen, ascii: Bool, cost: ((Duration, Duration, Duration) -> Void)? = nil) async -> Int32? {
    let signals = TerminationSignal()
    let terminal = Terminal(forceASCII: ascii)
    defer { terminal.stop() }
    screen.start(glyphs: terminal.unicode ? .unicode : .ascii)
    let clock = ContinuousClock()
    var nextFrame = clock.now
    var quit = false
    while !signals.isRequested && !quit {
        if clock.now >= nextFrame {
            let started = FrameCost.threadCPUTime()
            await screen.refresh()
            let refreshed = FrameCost.threadCPUTime()
            let canvas = screen.render(width: terminal.size.width, height: terminal.size.height)
            let rendered = FrameCost.threadCPUTime()
            terminal.draw(canvas)
            cost?(refreshed - started, rendered - refreshed, FrameCost.threadCPUTime() - rendered)
            nextFrame = nextFrame + screen.frameInterval
            if nextFrame < clock.now { nextFrame = clock.now + screen.frameInterval }
        }
        let wait = max(Int((nextFrame - clock.now).seconds * 1_000), 0)
        guard let input = terminal.read(timeoutMilliseconds: wait) else { continue }
        switch input {
        case .resize:
            terminal.invalidate()
        case .key(let key):
            quit = await screen.press(key)
        }
        terminal.draw(screen.render(width: terminal.size.width, height: terminal.size.height))
    }
    await screen.finish(terminal)
    return signals.received
}
