public import PoolEngine
public import Workload

/// What the dashboard shows at one tick: the pool and the session driving it.
public struct DashboardFrame: Sendable, Codable {
    public var snapshot: PoolSnapshot
    public var status: SessionStatus
    /// When the snapshot's latencies were taken, if not with the rest of it: an attached pool's server shares
    /// one histogram document a second between its clients, so a fresh frame may carry older latencies.
    public var latenciesTakenAt: PoolInstant?

    public init(snapshot: PoolSnapshot, status: SessionStatus, latenciesTakenAt: PoolInstant? = nil) {
        self.snapshot = snapshot
        self.status = status
        self.latenciesTakenAt = latenciesTakenAt
    }
}

/// Which latency the histogram shows.
public enum HistogramKind: String, Sendable, CaseIterable {
    case endToEnd = "end-to-end"
    case queueWait = "queue wait"
    case service = "service"

    var next: HistogramKind {
        let all = Self.allCases
        return all[((all.firstIndex(of: self) ?? 0) + 1) % all.count]
    }
}

/// Everything that can happen to the dashboard.
public enum Message: Sendable {
    case key(Key)
    case tick(DashboardFrame)
    case shutdownFinished(ShutdownReport)
    /// The source could not carry out a command (a watched pool without control, a refused token): it is
    /// not logged as done, and a refused shutdown leaves the dashboard steering.
    case refused(Command, reason: String)
}

/// What the dashboard asks the outside world to do.
public enum Command: Equatable, Sendable, Codable {
    case session(ScenarioAction)
    case setSpeed(Double)
    /// Multiply the speed (relative, so every press counts).
    case changeSpeed(by: Double)
    /// Pause the whole scenario, or resume it (relative: the session flips its own state).
    case togglePause
    /// Watch the next (or, with -1, the previous) of the pools a monitor serves.
    case switchPool(by: Int)
    case shutdown(ShutdownMode)
    case quit
}

/// One second of the queue's history: its depth at the end, and what came in, was admitted and went out.
public struct QueueSecond: Sendable, Equatable {
    public var depth: Int
    public var arrivedPerS: Double
    public var admittedPerS: Double
    public var completedPerS: Double
}

/// The latency pane's histogram and figures (see ``DashboardState/latencyDigest``).
struct LatencyDigest: Sendable {
    var histograms: LatencyHistograms
    /// Of the histogram shown (``DashboardState/histogram``).
    var summary: LatencySummary
    /// The mean queue wait in milliseconds, for Erlang C's comparison.
    var queueWaitMeanMs: Double
    /// The window's length in seconds; `nil` for the whole run.
    var span: Int?
}

/// A key press that changed something, as the event log shows it.
public struct UserAction: Sendable, Equatable {
    public var time: PoolInstant
    public var text: String
    /// What the key asked of the source, so a refusal can take the entry back.
    public var command: Command?
}

/// The dashboard's whole state; changed only by ``update(_:_:)``.
public struct DashboardState: Sendable {
    public var frame: DashboardFrame?
    /// Busy fraction of each worker over the last tick.
    public var busyFractions: [WorkerID: Double] = [:]
    /// Events seen so far (the newest kept), oldest first.
    public var events: [PoolEvent] = []
    /// What the person did (bursts, thresholds, crashes, speed, shutdowns), stamped with the pool's time of
    /// the frame on screen, so the event log shows causes beside their effects.
    public var userActions: [UserAction] = []
    /// The queue's history, one entry per second of pool time (the newest kept).
    public var queueHistory: [QueueSecond] = []
    /// Where the current second of history started.
    var historyMark: (time: PoolInstant, counters: JobCounters)?
    public var showHelp = false
    public var showDetail = false
    /// The selected worker, by id.
    public var selected: WorkerID?
    public var histogram: HistogramKind = .endToEnd
    /// Whether the histogram covers the last 10 s (default) or the whole run (`w` switches).
    public var latencyWholeRun = false
    /// Copies of the whole-run histograms, one per second for the last 10 s, to subtract for the window.
    var latencyMarks: [(time: PoolInstant, latencies: LatencyHistograms)] = []
    /// The latest whole-run latencies a frame carried. A frame need not carry them (copying the histograms
    /// every frame is most of a frame's cost); about once a second is enough for a 10 s window.
    public var latencies: LatencyHistograms?
    /// The last ~10 s, computed when latencies arrive (not per frame), with its span in seconds.
    var latencyWindow: (histograms: LatencyHistograms, span: Int)?
    /// What the latency pane shows, computed in `update` when latencies arrive or `h` / `w` change the view:
    /// percentiles walk the whole histogram, which per frame was most of the view's cost.
    var latencyDigest: LatencyDigest?
    public var shutdownRequested: ShutdownMode?
    public var report: ShutdownReport?
    /// The final report overlay was closed (Esc); `Enter` shows it again.
    public var reportHidden = false
    /// Feedback for the last key, shown in the footer.
    public var notice: String?
    /// Jobs a burst (`b`) submits.
    public var burstSize: Int
    /// Keys the source cannot honour (bursts on an attached pool, pool switching in a scenario): left out of
    /// the footer and marked in the help.
    public var unavailableKeys: Set<DashboardKeyAction> = []
    public var glyphs: Glyphs

    public static let eventsKept = 200
    /// How far the event log is scrolled back from the newest entry (`{` / `}`), in lines.
    public var eventScroll = 0
    static let eventScrollStep = 5

    /// Drops everything learnt from the pool on screen, keeping how the person set up the view.
    mutating func forgetPool() {
        var fresh = DashboardState(burstSize: burstSize, glyphs: glyphs)
        fresh.histogram = histogram
        fresh.latencyWholeRun = latencyWholeRun
        fresh.showHelp = showHelp
        fresh.notice = notice
        fresh.unavailableKeys = unavailableKeys
        self = fresh
    }

    public init(burstSize: Int = 500, glyphs: Glyphs = .unicode) {
        self.burstSize = burstSize
        self.glyphs = glyphs
    }
}
