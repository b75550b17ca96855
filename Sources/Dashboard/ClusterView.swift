/// What the cluster view shows at one moment: read from the database by the caller (the Dashboard knows
/// nothing of PostgreSQL), plus which nodes this process started.
public struct ClusterFrame: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var id: Int64
        public var name: String
        public var pid: Int
        /// alive, draining, stopped, dead.
        public var state: String
        public var workers: Int
        public var busy: Int
        public var keyed: Bool
        public var heartbeatAge: Double
        public var completed: Int
        /// Started by this poolscope (so its keys can kill or stop it).
        public var local: Bool

        public init(
            id: Int64, name: String, pid: Int, state: String, workers: Int, busy: Int, keyed: Bool,
            heartbeatAge: Double, completed: Int, local: Bool
        ) {
            self.id = id
            self.name = name
            self.pid = pid
            self.state = state
            self.workers = workers
            self.busy = busy
            self.keyed = keyed
            self.heartbeatAge = heartbeatAge
            self.completed = completed
            self.local = local
        }
    }

    /// Seconds since the view opened.
    public var time: Double
    public var title: String
    public var nodes: [Node]
    public var available = 0, scheduled = 0, running = 0, completed = 0, discarded = 0, cancelled = 0, enqueued = 0
    public var attempts = 0, failed = 0, rescued = 0, staleCompletions = 0
    /// End-to-end latency (enqueue to finish, ms) of jobs finished in the last 10 s, bucketed by powers of 2:
    /// `latencyBuckets[i]` counts jobs within [2^(i-1), 2^i) ms (bucket 0: under 1 ms).
    public var latencyBuckets: [Int] = []
    public var latency: ClusterLatency?
    /// The rescue horizon, for heartbeat ages.
    public var horizon: Double
    /// A caption (the demo's lesson), if any.
    public var caption: String?

    public init(time: Double, title: String, nodes: [Node], horizon: Double) {
        self.time = time
        self.title = title
        self.nodes = nodes
        self.horizon = horizon
    }
}

/// Percentiles of end-to-end latency, in milliseconds.
public struct ClusterLatency: Sendable, Equatable {
    public var p50: Double, p99: Double, max: Double
    public init(p50: Double, p99: Double, max: Double) {
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }
}

/// The cluster view's state: the latest frame, history for the charts, events derived from changes.
public struct ClusterViewState: Sendable, Equatable {
    public var frame: ClusterFrame?
    /// One sample per frame: (time, available + scheduled, running).
    public var queueHistory: [QueueSample] = []
    /// Completed per second, one entry per second.
    public var throughput: [Int] = []
    public var events: [String] = []
    public var selected = 0
    public var showHelp = false
    public var notice: String?
    public var glyphs: Glyphs = .unicode
    /// Which commands the source can carry out (an attached cluster without local nodes cannot kill any).
    public var canStartNodes: Bool
    private var lastSecond: QueueSample?
    private var lastCompleted = 0

    public struct QueueSample: Sendable, Equatable {
        public var time: Double
        public var waiting: Int
        public var running: Int
    }

    public init(canStartNodes: Bool) { self.canStartNodes = canStartNodes }

    static let historyKept = 240
    static let eventsKept = 200

    /// Folds in a new frame: history, throughput, and events for what changed.
    mutating func absorb(_ next: ClusterFrame) {
        if let previous = frame { events.append(contentsOf: clusterEvents(from: previous, to: next)) }
        if events.count > Self.eventsKept { events.removeFirst(events.count - Self.eventsKept) }
        queueHistory.append(QueueSample(time: next.time, waiting: next.available + next.scheduled, running: next.running))
        if queueHistory.count > Self.historyKept { queueHistory.removeFirst(queueHistory.count - Self.historyKept) }
        if let last = lastSecond {
            if next.time - last.time >= 1 {
                throughput.append(max(next.completed - lastCompleted, 0))
                if throughput.count > Self.historyKept { throughput.removeFirst() }
                lastSecond = QueueSample(time: next.time, waiting: 0, running: 0)
                lastCompleted = next.completed
            }
        } else {
            lastSecond = QueueSample(time: next.time, waiting: 0, running: 0)
            lastCompleted = next.completed
        }
        // Keep the selection on the same node as the list reorders.
        let selectedID = frame.flatMap { $0.nodes.indices.contains(selected) ? $0.nodes[selected].id : nil }
        frame = next
        if let selectedID, let index = next.nodes.firstIndex(where: { $0.id == selectedID }) {
            selected = index
        } else {
            selected = min(selected, max(next.nodes.count - 1, 0))
        }
    }
}

/// The events a change between two frames shows: nodes joining, leaving and declared dead, rescues,
/// re-homed keys and stale completions.
func clusterEvents(from old: ClusterFrame, to new: ClusterFrame) -> [String] {
    let stamp = clock(.milliseconds(Int64(new.time * 1000)))
    var events: [String] = []
    let before = Dictionary(old.nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    for node in new.nodes {
        guard let earlier = before[node.id] else {
            if node.state == "alive" {
                events.append("\(stamp)  node \(node.name) joined (pid \(node.pid), \(node.workers) workers\(node.keyed ? ", keyed" : ""))")
            }
            continue
        }
        guard earlier.state != node.state else { continue }
        switch node.state {
        case "dead":
            events.append(
                "\(stamp)  node \(node.name) declared DEAD: no heartbeat for \(String(format: "%.1f", node.heartbeatAge)) s (horizon \(Int(new.horizon)) s)"
            )
        case "draining": events.append("\(stamp)  node \(node.name) draining (graceful stop)")
        case "stopped": events.append("\(stamp)  node \(node.name) left (stopped gracefully)")
        default: events.append("\(stamp)  node \(node.name) is \(node.state)")
        }
    }
    if new.rescued > old.rescued {
        events.append("\(stamp)  \(new.rescued - old.rescued) job(s) rescued: running on a dead node, available again")
    }
    let keyedBefore = old.nodes.filter { $0.keyed && $0.state == "alive" }.map(\.id)
    let keyedAfter = new.nodes.filter { $0.keyed && $0.state == "alive" }.map(\.id)
    if keyedBefore != keyedAfter && !(keyedBefore.isEmpty && keyedAfter.isEmpty) {
        events.append("\(stamp)  keys re-homed over \(keyedAfter.count) keyed node(s)")
    }
    if new.staleCompletions > old.staleCompletions {
        events.append("\(stamp)  \(new.staleCompletions - old.staleCompletions) stale completion(s) fenced off (changed nothing)")
    }
    return events
}

/// Messages to the cluster view.
public enum ClusterMessage: Sendable {
    case key(Key)
    case tick(ClusterFrame)
    case notice(String)
}

/// What the cluster view asks its source to do.
public enum ClusterAction: Sendable, Equatable {
    case startNode
    /// SIGKILL the node (it started here).
    case killNode(id: Int64)
    /// SIGTERM: a graceful stop.
    case stopNode(id: Int64)
    case burst
    case quit
}

/// The keys of the cluster view, for its help overlay and docs/KEYS.md.
public let clusterKeyHelp: [(String, String)] = [
    ("n", "start a local node"),
    ("k", "kill -9 the selected node (one started here)"),
    ("t", "stop the selected node gracefully (SIGTERM)"),
    ("b", "inject a burst of jobs"),
    ("up / down", "select a node"),
    ("?", "this help; Esc closes"),
    ("q, Ctrl-C", "quit (stops the nodes started here)"),
]

/// The cluster view's logic: a key or a frame in, the new state and the commands to carry out.
public func clusterUpdate(_ state: ClusterViewState, _ message: ClusterMessage) -> (ClusterViewState, [ClusterAction]) {
    var state = state
    switch message {
    case .tick(let frame):
        state.absorb(frame)
        return (state, [])
    case .notice(let text):
        state.notice = text
        return (state, [])
    case .key(let key):
        if state.showHelp, key == .escape || key == .character("?") {
            state.showHelp = false
            return (state, [])
        }
        let nodes = state.frame?.nodes ?? []
        let selected = nodes.indices.contains(state.selected) ? nodes[state.selected] : nil
        switch key {
        case .character("q"), .interrupt: return (state, [.quit])
        case .character("?"): state.showHelp.toggle()
        case .up: state.selected = max(state.selected - 1, 0)
        case .down, .tab: state.selected = min(state.selected + 1, max(nodes.count - 1, 0))
        case .character("b"): return (state, [.burst])
        case .character("n"):
            guard state.canStartNodes else {
                state.notice = "n is unavailable: this view did not start nodes (use poolscope cluster demo)"
                return (state, [])
            }
            return (state, [.startNode])
        case .character("k"), .character("t"):
            let verb = key == .character("k") ? "kill" : "stop"
            guard let node = selected, node.local, node.state == "alive" || node.state == "draining" else {
                state.notice = "\(verb): select a live node started here (arrows), then press \(verb == "kill" ? "k" : "t")"
                return (state, [])
            }
            return (state, [verb == "kill" ? .killNode(id: node.id) : .stopNode(id: node.id)])
        default: break
        }
        return (state, [])
    }
}

/// Draws the cluster view for a terminal of `width` × `height`.
public func clusterView(_ state: ClusterViewState, width: Int, height: Int) -> Canvas {
    var canvas = Canvas(width: width, height: height)
    let g = state.glyphs
    guard width >= minimumSize.width, height >= minimumSize.height else {
        canvas.write(
            "Terminal too small: \(width)x\(height). PoolScope needs \(minimumSize.width)x\(minimumSize.height).", x: 0, y: 0, limit: width)
        return canvas
    }
    guard let frame = state.frame else {
        canvas.write("PoolScope: reading the cluster...", x: 1, y: 0, style: Style(bold: true))
        return canvas
    }
    let balanced = frame.enqueued == frame.completed + frame.discarded + frame.cancelled + frame.available + frame.scheduled + frame.running
    canvas.write(" \(frame.title) | up \(clock(.milliseconds(Int64(frame.time * 1000))))", x: 0, y: 0, style: titleStyle, limit: width)
    if let caption = frame.caption { canvas.write(" " + caption, x: 0, y: 1, style: Style(foreground: .yellow), limit: width) }

    let body = height - 3
    let nodesHeight = min(max(frame.nodes.count + 3, 6), body * 40 / 100)
    let middleHeight = max((body - nodesHeight) * 55 / 100, 7)
    let eventsHeight = body - nodesHeight - middleHeight
    let nodesRect = Rect(x: 0, y: 2, width: width, height: nodesHeight)
    drawNodes(&canvas, nodesRect, frame, state)
    let third = width / 3
    drawSharedQueue(&canvas, Rect(x: 0, y: 2 + nodesHeight, width: third, height: middleHeight), frame, state, balanced: balanced)
    drawClusterThroughput(&canvas, Rect(x: third, y: 2 + nodesHeight, width: third, height: middleHeight), state)
    drawClusterLatency(&canvas, Rect(x: 2 * third, y: 2 + nodesHeight, width: width - 2 * third, height: middleHeight), frame, g)
    let eventsRect = Rect(x: 0, y: 2 + nodesHeight + middleHeight, width: width, height: eventsHeight)
    canvas.box(eventsRect, title: "Events", glyphs: g)
    for (offset, event) in state.events.suffix(max(eventsRect.height - 2, 0)).enumerated() {
        let style = event.contains("DEAD") ? warnStyle : event.contains("rescued") ? Style(foreground: .yellow) : Style.plain
        canvas.write(event, x: eventsRect.inner.x, y: eventsRect.inner.y + offset, style: style, limit: eventsRect.inner.width)
    }
    let keys =
        state.canStartNodes ? "n node  k kill -9  t stop  b burst  arrows select  ? help  q quit" : "b burst  arrows select  ? help  q quit"
    canvas.write(keys, x: 0, y: height - 1, style: dimStyle)
    if let notice = state.notice {
        let text = " \(notice) "
        canvas.write(
            text, x: max(width - text.count, keys.count + 1), y: height - 1, style: Style(foreground: .yellow, bold: true), limit: width)
    }
    if state.showHelp {
        let rect = Rect(
            x: max((width - 70) / 2, 0), y: max((height - clusterKeyHelp.count - 2) / 2, 0), width: min(70, width),
            height: clusterKeyHelp.count + 2)
        canvas.fill(rect)
        canvas.box(rect, title: "Keys", style: Style(foreground: .cyan), glyphs: g)
        for (index, (key, meaning)) in clusterKeyHelp.enumerated() {
            canvas.write(key, x: rect.inner.x + 1, y: rect.inner.y + index, style: Style(bold: true))
            canvas.write(meaning, x: rect.inner.x + 14, y: rect.inner.y + index, limit: rect.inner.width - 14)
        }
    }
    return canvas
}

private func drawNodes(_ canvas: inout Canvas, _ rect: Rect, _ frame: ClusterFrame, _ state: ClusterViewState) {
    let alive = frame.nodes.filter { $0.state == "alive" }.count
    canvas.box(rect, title: "Nodes (\(alive) alive of \(frame.nodes.count); * started here)", glyphs: state.glyphs)
    let inner = rect.inner
    let header =
        "  \(pad("NAME", 15)) \(pad("PID", 8)) \(pad("BUSY / WORKERS", 16))  \(pad("HEARTBEAT (horizon \(Int(frame.horizon)) s)", 24)) \(pad("DONE", 9)) STATE"
    canvas.write(header, x: inner.x, y: inner.y, style: dimStyle, limit: inner.width)
    // Scroll so the selected node is always in view; say how many rows are above and below.
    let rows = max(inner.height - 1, 0)
    let first = rows == 0 ? 0 : min(max(state.selected - rows + 1, 0), max(frame.nodes.count - rows, 0))
    let shown = Array(frame.nodes.enumerated()).dropFirst(first).prefix(rows)
    if first > 0 { canvas.write(" \(first) more above ", x: rect.x + rect.width - 20, y: rect.y, style: dimStyle) }
    let below = frame.nodes.count - first - shown.count
    if below > 0 { canvas.write(" \(below) more below ", x: rect.x + rect.width - 20, y: rect.y + rect.height - 1, style: dimStyle) }
    for (offset, (index, node)) in shown.enumerated() {
        let y = inner.y + 1 + offset
        let marker = index == state.selected ? ">" : " "
        let busyBar = bar(node.busy, of: max(node.workers, 1), width: 8, glyphs: state.glyphs)
        let age = node.state == "stopped" ? "-" : String(format: "%.1fs", node.heartbeatAge)
        let ageBar =
            node.state == "stopped"
            ? String(repeating: " ", count: 10)
            : bar(Int(node.heartbeatAge * 10), of: max(Int(frame.horizon * 10), 1), width: 10, glyphs: state.glyphs)
        let text =
            "\(marker) \(pad(node.name + (node.local ? "*" : ""), 15)) \(pad("\(node.pid)", 8)) \(busyBar) \(pad("\(node.busy)/\(node.workers)", 7))  \(ageBar) \(pad(age, 13)) \(pad("\(node.completed)", 9)) \(node.state)\(node.keyed ? " keyed" : "")"
        let style: Style
        switch node.state {
        case "alive": style = node.heartbeatAge > frame.horizon / 2 ? Style(foreground: .yellow) : .plain
        case "dead": style = warnStyle
        case "draining": style = Style(foreground: .magenta)
        default: style = dimStyle
        }
        canvas.write(
            text, x: inner.x, y: y,
            style: index == state.selected ? Style(foreground: style.foreground, bold: style.bold, reverse: true) : style,
            limit: inner.width)
    }
}

private func drawSharedQueue(_ canvas: inout Canvas, _ rect: Rect, _ frame: ClusterFrame, _ state: ClusterViewState, balanced: Bool) {
    canvas.box(rect, title: "Shared queue (by state)", glyphs: state.glyphs)
    let inner = rect.inner
    let lines = [
        "waiting   \(frame.available) available + \(frame.scheduled) scheduled",
        "running   \(frame.running)",
        "done      \(frame.completed) completed, \(frame.discarded) dead",
        "runs      \(frame.attempts) attempts, \(frame.rescued) rescued",
        "stale     \(frame.staleCompletions) completions fenced off",
        "\(frame.enqueued) enqueued \(balanced ? "= sum of states" : "!= sum of states")",
    ]
    for (offset, line) in lines.prefix(inner.height).enumerated() {
        canvas.write(
            line, x: inner.x, y: inner.y + offset, style: offset == lines.count - 1 ? (balanced ? dimStyle : warnStyle) : .plain,
            limit: inner.width)
    }
    let graphTop = inner.y + lines.count
    guard inner.height > lines.count + 1 else { return }
    let samples = state.queueHistory.suffix(inner.width - 8).map(\.waiting)
    let top = max(samples.max() ?? 0, 1)
    canvas.write("waiting, last \(samples.count) frames (max \(top))", x: inner.x, y: graphTop, style: dimStyle, limit: inner.width)
    let rows = inner.height - lines.count - 1
    for row in 0..<rows {
        let band = rows - row
        let text = String(
            samples.map { value -> Character in
                Double(value) / Double(top) * Double(rows) >= Double(band) - 0.5 ? state.glyphs.barFull : " "
            })
        canvas.write(text, x: inner.x, y: graphTop + 1 + row, style: Style(foreground: .yellow), limit: inner.width)
    }
}

private func drawClusterThroughput(_ canvas: inout Canvas, _ rect: Rect, _ state: ClusterViewState) {
    let shown = Array(state.throughput.suffix(max(rect.width - 2, 1)))
    canvas.box(rect, title: "Completed per second (last \(shown.count) s)", glyphs: state.glyphs)
    let inner = rect.inner
    let top = max(shown.max() ?? 0, 1)
    canvas.write("now \(shown.last ?? 0)/s  peak \(top)/s  (scale 0..\(top))", x: inner.x, y: inner.y, limit: inner.width)
    let rows = max(inner.height - 1, 1)
    for row in 0..<rows {
        let band = rows - row
        let text = String(
            shown.map { value -> Character in
                Double(value) / Double(top) * Double(rows) >= Double(band) - 0.5 ? state.glyphs.barFull : " "
            })
        canvas.write(text, x: inner.x + inner.width - shown.count, y: inner.y + 1 + row, style: Style(foreground: .green))
    }
}

private func drawClusterLatency(_ canvas: inout Canvas, _ rect: Rect, _ frame: ClusterFrame, _ g: Glyphs) {
    canvas.box(rect, title: "End-to-end latency (last 10 s)", glyphs: g)
    let inner = rect.inner
    guard let p = frame.latency else {
        canvas.write("no job finished in the last 10 s", x: inner.x, y: inner.y, style: dimStyle, limit: inner.width)
        return
    }
    canvas.write("p50 \(short(p.p50))  p99 \(short(p.p99))  max \(short(p.max))", x: inner.x, y: inner.y, limit: inner.width)
    let buckets = frame.latencyBuckets
    let top = max(buckets.max() ?? 0, 1)
    let firstUsed = buckets.firstIndex { $0 > 0 } ?? 0
    let lastUsed = buckets.lastIndex { $0 > 0 } ?? 0
    let rows = Array(buckets.enumerated())[firstUsed...lastUsed].suffix(max(inner.height - 1, 0))
    for (offset, (index, count)) in rows.enumerated() {
        let label = index == 0 ? "<1ms" : "<" + short(Double(1 << min(index, 40)))
        let width = max(inner.width - 16, 1)
        canvas.write(pad(label, 7), x: inner.x, y: inner.y + 1 + offset, style: dimStyle)
        canvas.write(bar(count, of: top, width: width, glyphs: g), x: inner.x + 7, y: inner.y + 1 + offset, style: Style(foreground: .cyan))
        canvas.write(" \(count)", x: inner.x + 7 + width, y: inner.y + 1 + offset, limit: inner.width - 7 - width)
    }
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? String(text.prefix(width)) : text.padding(toLength: width, withPad: " ", startingAt: 0)
}
