public import Dashboard
import PoolEngine

/// Plays a recording back: where it is, how fast, and the dashboard state there. A value type with no
/// clock of its own: the screen tells it how much time passed, tests tell it exactly.
///
/// The state at any position is the recorded messages folded through ``update(_:_:)`` from the start,
/// so a replay draws what the live dashboard drew. Seeking back refolds from the nearest checkpoint (one
/// every 200 entries), so a jump anywhere in a long recording costs at most 200 updates.
public struct ReplayPlayer: Sendable {
    public let recording: Recording
    /// Entries applied so far (0 before the first).
    public private(set) var position = 0
    public private(set) var state: DashboardState
    /// The recording's clock, in seconds since it started.
    public private(set) var time: Double = 0
    public var playing = true
    public private(set) var speed: Double = 1
    /// Entries where something happens (a pool event, a caption, a key the person pressed, a refusal,
    /// the end), for seeking from one to the next.
    public let marks: [Int]
    /// Entries that are frames (ticks), for stepping.
    private let ticks: [Int]
    private let initial: DashboardState
    /// What the person chose with view keys during the replay, kept across refolds.
    private var viewChoices: ViewChoices?
    private var initialGlyphs: Glyphs?
    private var checkpoints: [Int: DashboardState] = [:]
    static let checkpointEvery = 200
    public static let speeds: ClosedRange<Double> = 0.125...64

    public init(recording: Recording, initial: DashboardState = DashboardState(burstSize: 0)) {
        self.recording = recording
        self.initial = initial
        state = initial
        marks = Self.marks(in: recording.entries)
        ticks = recording.entries.indices.filter { if case .tick = recording.entries[$0].message { true } else { false } }
        checkpoints[0] = initial
    }

    /// Seconds from the first entry to the last.
    public var duration: Double { recording.entries.last?.t ?? 0 }
    public var atEnd: Bool { position >= recording.entries.count }

    /// Wall time passed: while playing, the clock moves by `seconds` × speed and the entries it passes apply.
    public mutating func advance(by seconds: Double) {
        guard playing else { return }
        if atEnd {
            playing = false
            return
        }
        time = min(time + max(seconds, 0) * speed, duration)
        let until = time
        applyWhile { entry, _ in entry.t <= until }
        if atEnd { playing = false }
    }

    /// One frame (tick) forward or back; pauses.
    public mutating func step(by frames: Int) {
        playing = false
        guard frames != 0, !ticks.isEmpty else { return }
        // The tick applied last is at position - 1; the target is `frames` ticks from it.
        let current = ticksApplied - 1
        let target = current + frames
        if target < 0 {
            move(to: 0)
        } else if target >= ticks.count {
            if frames > 0 { move(to: recording.entries.count) }  // no frame after this one: the rest (the report)
        } else {
            move(to: ticks[target] + 1)
        }
    }

    /// Frames (ticks) applied so far, and in the whole recording.
    public var frames: (shown: Int, total: Int) { (ticksApplied, ticks.count) }

    /// How many ticks lie before `position`: a binary search, since the bar asks every frame.
    private var ticksApplied: Int {
        var low = 0
        var high = ticks.count
        while low < high {
            let middle = (low + high) / 2
            if ticks[middle] < position { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// To the next (or previous) entry where something happens; pauses.
    public mutating func seekEvent(forward: Bool) {
        playing = false
        let target = forward ? marks.first { $0 >= position } : marks.last { $0 < position - 1 }
        guard let target else { return }
        move(to: target + 1)
    }

    /// To a time in the recording (clamped to it); keeps playing or paused as it was.
    public mutating func seek(to seconds: Double) {
        let target = min(max(seconds, 0), duration)
        let count = recording.entries.firstIndex { $0.t > target } ?? recording.entries.count
        move(to: count)
        time = target
    }

    public mutating func setSpeed(_ value: Double) {
        speed = min(max(value, Self.speeds.lowerBound), Self.speeds.upperBound)
    }

    /// Draws with these glyphs from now on, and after any seek (the terminal decides them, not the recording).
    public mutating func setGlyphs(_ glyphs: Glyphs) {
        state.glyphs = glyphs
        for key in checkpoints.keys { checkpoints[key]?.glyphs = glyphs }
        initialGlyphs = glyphs
    }

    /// The person's own view keys (help, histogram, selection, scrolling) on the replayed state; the
    /// commands they would send to a pool are dropped, since there is none.
    public mutating func view(_ key: Key) {
        (state, _) = update(state, .key(key))
        viewChoices = ViewChoices(state)
    }

    /// To the state after the first `count` entries (paused), folding from the nearest checkpoint.
    public mutating func show(entries count: Int) {
        playing = false
        move(to: count)
    }

    /// To the state after `count` entries, folding from the nearest checkpoint at or before it.
    private mutating func move(to count: Int) {
        let count = min(max(count, 0), recording.entries.count)
        var refolded = false
        if count < position {
            let start = checkpoints.keys.filter { $0 <= count }.max() ?? 0
            state = checkpoints[start] ?? initial
            if let initialGlyphs { state.glyphs = initialGlyphs }
            position = start
            refolded = true
        }
        applyWhile { _, applied in applied < count }
        if refolded { viewChoices?.apply(to: &state) }
        time = position > 0 ? recording.entries[position - 1].t : 0
    }

    private mutating func applyWhile(_ condition: (RecordedEntry, Int) -> Bool) {
        while position < recording.entries.count, condition(recording.entries[position], position) {
            (state, _) = update(state, recording.entries[position].message.message)
            position += 1
            if position % Self.checkpointEvery == 0, checkpoints[position] == nil { checkpoints[position] = state }
        }
    }

    private static func marks(in entries: [RecordedEntry]) -> [Int] {
        var marks: [Int] = []
        var lastEvent: PoolInstant?
        var lastCaption: String?
        for (index, entry) in entries.enumerated() {
            switch entry.message {
            case .tick(let frame):
                let newest = frame.snapshot.recentEvents.last?.time
                let caption = frame.status.caption
                if let newest, newest != lastEvent {
                    marks.append(index)
                } else if caption != lastCaption, caption != nil {
                    marks.append(index)
                }
                lastEvent = newest ?? lastEvent
                lastCaption = caption
            case .key, .refused, .shutdownFinished:
                marks.append(index)
            }
        }
        return marks
    }
}

/// The view settings a person can change in a replay (histogram, window, help, details, selection).
private struct ViewChoices: Sendable {
    var histogram: HistogramKind
    var latencyWholeRun: Bool
    var showHelp: Bool
    var showDetail: Bool
    var selected: WorkerID?

    init(_ state: DashboardState) {
        histogram = state.histogram
        latencyWholeRun = state.latencyWholeRun
        showHelp = state.showHelp
        showDetail = state.showDetail
        selected = state.selected
    }

    func apply(to state: inout DashboardState) {
        state.histogram = histogram
        state.latencyWholeRun = latencyWholeRun
        state.showHelp = showHelp
        state.showDetail = showDetail
        state.selected = selected
    }
}
