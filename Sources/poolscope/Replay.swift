import ArgumentParser
import Dashboard
import Foundation
import PoolEngine
import Recording
import TerminalBackend
import Workload

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a recording (from run or watch --record) in the dashboard, or print its summary with --json.",
        discussion: """
            Keys: p or space pause/play, n / N one frame forward / back, ] / [ next / previous event, \
            g go to a time (type 90, 1:30 or 45s, then Enter), 0 back to the start, . / , faster / slower, \
            ? its keys, q quit; the dashboard's view keys (h, w, arrows, Tab, Enter, { }) work as live. See docs/RECORDING.md.
            """)

    @Argument(help: "A recording written by --record.")
    var file: String

    @Flag(help: "Print the run summary (as 'run --json' does) rebuilt from the recording, instead of the dashboard.")
    var json = false

    @Option(help: ArgumentHelp("Start at this time into the recording (like 90s, 1:30).", valueName: "time"))
    var start: String?

    @Option(help: "Play at this speed (0.125-64).")
    var speed: Double = 1

    @Flag(help: "Start paused.")
    var paused = false

    @Flag(help: "Draw with plain ASCII instead of Unicode block characters.")
    var ascii = false

    func validate() throws {
        guard ReplayPlayer.speeds.contains(speed) else { throw ValidationError("--speed must lie within 0.125...64, got \(speed)") }
        if let start, ReplayApp.seconds(start) == nil {
            throw ValidationError("--start is a time into the recording like 90, 90s, 1:30 or 2m; got '\(start)'")
        }
    }

    @MainActor
    func run() async throws {
        let recording: Recording
        do {
            recording = try Recording.read(path: file)
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
        if let damage = recording.damage { printError("poolscope: \(file): \(damage)") }
        if json {
            printSummary(recording)
            return
        }
        requireTerminal("poolscope replay \(file) --json")
        var player = ReplayPlayer(recording: recording, initial: ReplayApp.initialState(recording.header))
        player.setSpeed(speed)
        if let start, let seconds = ReplayApp.seconds(start) { player.seek(to: seconds) }
        player.playing = !paused
        let app = ReplayApp(player: player, file: file)
        if let signal = await runScreen(app, ascii: ascii) { terminate(128 + signal) }
    }

    private func printSummary(_ recording: Recording) {
        guard let result = recording.runSummary() else {
            printError("poolscope: \(file) holds no frame to summarise")
            terminate(1)
        }
        do {
            print(try RunReportFormatter.json(result))
        } catch {
            printError("poolscope: cannot encode the summary: \(error)")
            terminate(1)
        }
    }
}

/// The replay screen: the recorded dashboard above, a bar of the replay's own state and keys below.
@MainActor
final class ReplayApp: Screen {
    private(set) var player: ReplayPlayer
    let file: String
    /// Text typed after g, until Enter or Esc.
    private var goTo: String?
    private var notice: String?
    private var lastRefresh = ContinuousClock.now

    /// The replay's own help, over the screen (the dashboard's `?` describes a live pool's keys).
    private var showHelp = false

    init(player: ReplayPlayer, file: String) {
        self.player = player
        self.file = file
        if let damage = player.recording.damage { notice = "recording damaged: \(damage)" }
    }

    static let helpLines = [
        "Replay keys",
        "",
        "p, Space    play / pause (at the end: from the start)",
        "n / N       one frame forward / back",
        "] / [       next / previous event (pool event, caption, a key pressed live)",
        "g           go to a time: 90, 1:30, 45s or 2m, then Enter",
        "0           back to the start",
        ". / ,       faster / slower (0.125x to 64x)",
        "h w { }     histogram, latency window, event log (as live)",
        "arrows Tab  select a worker; Enter its details",
        "?  Esc      this help / close it",
        "q, Ctrl-C   quit",
        "",
        "The line above the bar is the recorded dashboard's footer, as it was live.",
    ]

    /// The state the live dashboard started from, so the replayed messages rebuild its screens.
    static func initialState(_ header: RecordingHeader) -> DashboardState {
        var state = DashboardState(burstSize: header.burstSize ?? 500)
        state.unavailableKeys = [.nextPool, .previousPool]
        state.notice = header.notice
        return state
    }

    /// "90", "90s", "1:30", "2m", "1.5s" as seconds.
    nonisolated static func seconds(_ text: String) -> Double? {
        let text = text.trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let minutes = Double(parts[0]), let seconds = Double(parts[1]), minutes >= 0, (0..<60).contains(seconds) {
            return minutes * 60 + seconds
        }
        if let plain = Double(text), plain >= 0, plain.isFinite { return plain }
        if let duration = Units.duration(text), duration >= .zero { return duration.seconds }
        return nil
    }

    var frameInterval: Duration { .milliseconds(50) }

    func start(glyphs: Glyphs) {
        player.setGlyphs(glyphs)
        lastRefresh = .now
    }

    func refresh() async {
        let now = ContinuousClock.now
        player.advance(by: (now - lastRefresh).seconds)
        lastRefresh = now
    }

    func press(_ key: Key) async -> Bool {
        notice = nil
        if let typed = goTo {
            switch key {
            case .enter:
                goTo = nil
                if let seconds = Self.seconds(typed) {
                    player.seek(to: seconds)
                    if seconds > player.duration { notice = "the recording ends at \(Self.clock(player.duration))" }
                } else {
                    notice = typed.isEmpty ? "type a time: 90, 1:30, 45s or 2m" : "not a time: '\(typed)' (try 90, 1:30, 45s)"
                }
            case .escape: goTo = nil
            case .character(let c) where c.isNumber || ":.sm".contains(c): goTo = String((typed + String(c)).suffix(12))
            case .character("\u{7F}"), .character("\u{08}"): goTo = String(typed.dropLast())
            default: break
            }
            return false
        }
        switch key {
        case .character("q"), .interrupt: return true
        case .character("p"), .character(" "):
            if player.atEnd && !player.playing { player.seek(to: 0) }
            player.playing.toggle()
        case .character("n"): player.step(by: 1)
        case .character("N"): player.step(by: -1)
        case .character("]"): player.seekEvent(forward: true)
        case .character("["): player.seekEvent(forward: false)
        case .character("0"): player.seek(to: 0)
        case .character("g"): goTo = ""
        case .character("."): player.setSpeed(player.speed * 2)
        case .character(","): player.setSpeed(player.speed / 2)
        case .character("?"): showHelp.toggle()
        case .escape where showHelp: showHelp = false
        case .character("h"), .character("w"), .character("{"), .character("}"), .left, .right, .up, .down, .tab, .enter,
            .escape:
            player.view(key)
        default:
            notice = "a replay only watches (? for its keys)"
        }
        return false
    }

    func render(width: Int, height: Int) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        canvas.draw(view(player.state, width: width, height: max(height - 1, 1)), x: 0, y: 0)
        canvas.fill(Rect(x: 0, y: height - 1, width: width, height: 1), with: Cell(" ", style: Style(reverse: true)))
        canvas.write(bar(width: width), x: 0, y: height - 1, style: Style(bold: true, reverse: true), limit: width)
        if showHelp {
            let boxWidth = min((Self.helpLines.map(\.count).max() ?? 0) + 4, width)
            let boxHeight = min(Self.helpLines.count + 2, height)
            let x = max((width - boxWidth) / 2, 0)
            let y = max((height - boxHeight) / 2, 0)
            canvas.fill(Rect(x: x, y: y, width: boxWidth, height: boxHeight), with: Cell(" ", style: Style(reverse: true)))
            for (index, line) in Self.helpLines.prefix(boxHeight - 2).enumerated() {
                canvas.write(line, x: x + 2, y: y + 1 + index, style: Style(bold: index == 0, reverse: true), limit: boxWidth - 4)
            }
        }
        return canvas
    }

    func finish(_ terminal: Terminal) async {}

    private func bar(width: Int) -> String {
        let state = player.playing ? "PLAY" : player.atEnd ? "END" : "PAUSED"
        let speed = player.speed == player.speed.rounded() ? "\(Int(player.speed))x" : "\(player.speed)x"
        let position = "\(Self.clock(player.time)) / \(Self.clock(player.duration))"
        if let typed = goTo { return " REPLAY go to: \(typed)_   (Enter go, Esc cancel)" }
        let (shown, total) = player.frames
        var text = " REPLAY \(state) \(speed) \(position)  frame \(shown)/\(total)"
        if let notice { return text + "  " + notice }
        if let damage = player.recording.damage, player.atEnd { return text + "  recording damaged: " + damage }
        text += "  \(player.playing ? "p pause" : "p play")  n/N step  ]/[ event  g go to  ./, speed  ? keys  q quit"
        return text
    }

    fileprivate static func clock(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded(.down))
        return String(format: "%d:%02d.%d", tenths / 600, (tenths / 10) % 60, tenths % 10)
    }
}
