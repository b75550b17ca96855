import PoolEngine
import Workload

/// The smallest terminal the full layout fits in.
public let minimumSize = (width: 80, height: 24)

/// Draws the whole dashboard for a terminal of `width` × `height`.
public func view(_ state: DashboardState, width: Int, height: Int) -> Canvas {
    var canvas = Canvas(width: width, height: height)
    guard width >= minimumSize.width, height >= minimumSize.height else {
        drawTooSmall(&canvas)
        return canvas
    }
    guard let frame = state.frame else {
        canvas.write("PoolScope: starting the pool...", x: 1, y: 0, style: Style(bold: true))
        return canvas
    }
    let g = state.glyphs
    drawHeader(&canvas, frame, state)
    let caption = captionLines(frame.status.caption, width: width)
    drawCaption(&canvas, caption)
    let bodyTop = 1 + max(caption.count, 1)
    let bodyHeight = height - bodyTop - 1
    let topHeight = max(bodyHeight * 36 / 100, 7)
    let middleHeight = max(bodyHeight * 34 / 100, 7)
    let bottomHeight = bodyHeight - topHeight - middleHeight
    let half = width / 2
    let workersRect = Rect(x: 0, y: bodyTop, width: half, height: topHeight)
    let queueRect = Rect(x: half, y: bodyTop, width: width - half, height: topHeight)
    let throughputRect = Rect(x: 0, y: bodyTop + topHeight, width: half, height: middleHeight)
    let latencyRect = Rect(x: half, y: bodyTop + topHeight, width: width - half, height: middleHeight)
    let eventsRect = Rect(x: 0, y: bodyTop + topHeight + middleHeight, width: width, height: bottomHeight)
    drawWorkers(&canvas, workersRect, frame, state)
    drawQueues(&canvas, queueRect, frame, state)
    drawThroughput(&canvas, throughputRect, frame, g)
    drawLatency(&canvas, latencyRect, frame, state)
    drawEvents(&canvas, eventsRect, state, origin: frame.snapshot.takenAt - frame.snapshot.uptime)
    drawFooter(&canvas, state)
    if state.showDetail, let selected = state.selected { drawDetail(&canvas, selected, frame, state) }
    if let report = state.report, !state.reportHidden { drawReport(&canvas, report, frame, state) }
    if state.showHelp { drawHelp(&canvas, g, unavailable: state.unavailableKeys) }
    return canvas
}

// MARK: Styles

let titleStyle = Style(foreground: .cyan, bold: true)
let dimStyle = Style(dim: true)
let warnStyle = Style(foreground: .red, bold: true)

func workerStyle(_ state: WorkerState) -> Style {
    switch state {
    case .starting: Style(foreground: .blue)
    case .idle: Style(foreground: .green, dim: true)
    case .busy: Style(foreground: .yellow, bold: true)
    case .draining: Style(foreground: .magenta)
    case .stopped: Style(dim: true)
    }
}

// MARK: Panes

private func drawTooSmall(_ canvas: inout Canvas) {
    let lines = [
        "Terminal too small: \(canvas.width)x\(canvas.height).",
        "PoolScope needs \(minimumSize.width)x\(minimumSize.height).",
        "Enlarge the window, or press q to quit.",
    ]
    let top = max((canvas.height - lines.count) / 2, 0)
    for (index, line) in lines.enumerated() {
        canvas.write(line, x: max((canvas.width - line.count) / 2, 0), y: top + index, style: index == 0 ? warnStyle : .plain)
    }
}

private func drawHeader(_ canvas: inout Canvas, _ frame: DashboardFrame, _ state: DashboardState) {
    let s = frame.snapshot
    let status = frame.status
    canvas.fill(Rect(x: 0, y: 0, width: canvas.width, height: 1), with: Cell(" ", style: Style(reverse: true)))
    let phase =
        s.phase != .running ? s.phase.rawValue : status.paused ? "paused" : status.arrivalsPaused ? "arrivals paused" : s.phase.rawValue
    // Parts in order; the droppable ones go first when the line does not fit.
    var parts: [(text: String, drop: Int)] = [
        ("PoolScope", 2), (status.scenarioName, 0), ("\(s.strategy)", 0),
        ("workers \(s.workers.count) (\(s.settings.minWorkers)..\(s.settings.maxWorkers))", 0),
        (scalingLabel(s.settings), 0), ("rate \(Units.format(rate: status.arrivalRate))", 0),
        ("up \(clock(s.uptime))", 1), (phase, 0), (speedLabel(status.speed), status.speed == 1 ? 3 : 0),
    ]
    func line() -> String { " " + parts.map(\.text).joined(separator: " | ") }
    for level in [3, 2, 1] where line().count > canvas.width {
        parts.removeAll { $0.drop == level }
    }
    canvas.write(line(), x: 0, y: 0, style: Style(bold: true, reverse: true))
}

private func scalingLabel(_ settings: ScalingSettings) -> String {
    switch settings.mode {
    case .queueThreshold: "threshold \(settings.scaleUpThreshold)"
    case .targetWait(let goal): "target wait \(formatted(goal.target))"
    }
}

private func drawCaption(_ canvas: inout Canvas, _ lines: [String]) {
    for (index, line) in lines.enumerated() {
        canvas.write((index == 0 ? " > " : "   ") + line, x: 0, y: 1 + index, style: Style(foreground: .cyan, bold: true))
    }
}

/// A caption in at most two lines of `width - 3` columns, broken at spaces (the second cut with "...").
func captionLines(_ caption: String?, width: Int) -> [String] {
    guard let caption, !caption.isEmpty else { return [] }
    let room = max(width - 3, 10)
    var lines: [String] = []
    var current = ""
    for word in caption.split(separator: " ") {
        if current.isEmpty {
            current = String(word)
        } else if current.count + 1 + word.count <= room {
            current += " " + word
        } else {
            lines.append(current)
            current = String(word)
        }
    }
    if !current.isEmpty { lines.append(current) }
    if lines.count > 2 {
        let second = lines[1...].joined(separator: " ")
        lines = [lines[0], second.count > room ? String(second.prefix(room - 3)) + "..." : second]
    }
    return lines
}

private func drawThroughput(_ canvas: inout Canvas, _ rect: Rect, _ frame: DashboardFrame, _ g: Glyphs) {
    let t = frame.snapshot.throughput
    let inner = rect.inner
    // One column per second; the scale is written at the left, so the graph has the rest of the width.
    let scaleWidth = 6
    let width = max(inner.width - scaleWidth, 1)
    let completed = Array(t.seconds.map(\.completed).suffix(width))
    let failed = Array(t.seconds.map(\.failed).suffix(width))
    canvas.box(rect, title: "Throughput per second, last \(completed.count) s", glyphs: g)
    canvas.write(
        "now \(Int(t.last1s))/s  10s \(Int(t.last10s.rounded()))/s  peak \(t.peakPerSecond)/s", x: inner.x, y: inner.y,
        limit: inner.width)
    let graphRows = max(inner.height - 3, 1)
    let top = max(completed.max() ?? 0, 1)
    let graphX = inner.x + scaleWidth + width - completed.count
    for (row, line) in bandChart(completed, rows: graphRows, top: top, glyphs: g).enumerated() {
        canvas.write(line, x: graphX, y: inner.y + 1 + row, style: Style(foreground: .green))
    }
    canvas.write(String("\(top)".prefix(scaleWidth - 1)), x: inner.x, y: inner.y + 1, style: dimStyle)
    canvas.write("0", x: inner.x, y: inner.y + graphRows, style: dimStyle)
    // Failed per second, in the same columns as the completed ones above it.
    let failedTotal = failed.reduce(0, +)
    let failedY = inner.y + inner.height - 1
    canvas.write("fail", x: inner.x, y: failedY, style: dimStyle)
    if failedTotal == 0 {
        canvas.write("none", x: inner.x + scaleWidth, y: failedY, style: dimStyle)
    } else {
        canvas.write(sparkline(failed, width: failed.count, glyphs: g), x: graphX, y: failedY, style: Style(foreground: .red))
    }
}

/// A taller sparkline: each of `rows` lines shows a band of the value range, 0 at the bottom, `top` at the top.
func bandChart(_ values: [Int], rows: Int, top: Int, glyphs g: Glyphs) -> [String] {
    (0..<max(rows, 0)).map { row in
        let band = rows - row
        return String(
            values.map { value -> Character in
                let scaled = Double(value) / Double(max(top, 1)) * Double(rows)
                if scaled >= Double(band) { return g.barFull }
                if scaled > Double(band - 1) {
                    let part = scaled - Double(band - 1)
                    return g.levels[max(Int((part * Double(g.levels.count - 1)).rounded()), 1)]
                }
                return " "
            })
    }
}

private func drawLatency(_ canvas: inout Canvas, _ rect: Rect, _ frame: DashboardFrame, _ state: DashboardState) {
    let g = state.glyphs
    // The last 10 s by default, or the whole run: computed in `update` when latencies arrive, not per frame.
    let digest = state.latencyDigest
    canvas.box(
        rect, title: "Latency: \(state.histogram.rawValue), \(digest?.span.map { "last \(max($0, 1)) s" } ?? "whole run") (h, w)",
        glyphs: g)
    let inner = rect.inner
    guard let digest else { return }
    let latencies = digest.histograms
    let histogram =
        switch state.histogram {
        case .endToEnd: latencies.endToEnd
        case .queueWait: latencies.queueWait
        case .service: latencies.service
        }
    guard histogram.totalCount > 0 else {
        canvas.write("no jobs finished yet", x: inner.x, y: inner.y, style: dimStyle)
        return
    }
    let summary = digest.summary
    canvas.write(
        "p50 \(short(summary.p50)) p90 \(short(summary.p90)) p99 \(short(summary.p99)) p99.9 \(short(summary.p999)) max \(short(summary.max))",
        x: inner.x, y: inner.y, limit: inner.width)
    var top = inner.y + 1
    if let theory = frame.status.theory {
        // M/M/c: Erlang C's prediction beside the measured mean queue wait, live.
        let measured = digest.queueWaitMeanMs
        canvas.write(
            "Erlang C (M/M/\(theory.servers)): mean wait predicted \(short(theory.predictedMeanWait * 1_000)), measured \(short(measured))",
            x: inner.x, y: top, style: Style(foreground: .cyan), limit: inner.width)
        top += 1
    }
    let rows = inner.y + inner.height - top
    guard rows > 0 else { return }
    // Log-scale buckets (powers of 2, or of 4 when that needs too many rows) from the fastest to the slowest.
    let low = max(histogram.min, 1)
    let high = max(histogram.max, low)
    var exponent = 0
    while (UInt64(1) << (exponent + 1)) <= low { exponent += 1 }
    let highExponent = Int(log2(Double(high)))
    var step = 1
    while (highExponent - exponent) / step + 1 > rows { step += 1 }
    var buckets: [(lower: UInt64, upper: UInt64, count: UInt64)] = []
    var lower = UInt64(1) << exponent
    while lower <= high && buckets.count < rows {
        let shift = UInt64(1) << step
        let upper = lower > UInt64.max / shift ? UInt64.max : lower * shift
        buckets.append((lower, upper, histogram.count(within: lower...(upper - 1))))
        lower = upper
    }
    let most = max(buckets.map(\.count).max() ?? 1, 1)
    let markers: [(String, Double)] = [("p50", summary.p50), ("p90", summary.p90), ("p99", summary.p99), ("p99.9", summary.p999)]
    for (index, bucket) in buckets.enumerated() {
        let y = top + index
        let label = "\(short(Double(bucket.lower) / 1e6))+".padding(toLength: 8, withPad: " ", startingAt: 0)
        let here = markers.filter { marker in
            let nanoseconds = marker.1 * 1e6
            return nanoseconds >= Double(bucket.lower) && nanoseconds < Double(bucket.upper)
        }.map(\.0)
        let tag = here.isEmpty ? "" : " \(g.marker)" + here.joined(separator: ",")
        // One scale for every row: room for the count and the longest possible marker list.
        let barWidth = max(inner.width - 8 - 8 - 22, 3)
        let filled = bucket.count == 0 ? 0 : max(Int(Double(bucket.count) / Double(most) * Double(barWidth)), 1)
        canvas.write(label, x: inner.x, y: y, style: dimStyle)
        canvas.write(String(repeating: g.barFull, count: filled), x: inner.x + 8, y: y, style: Style(foreground: .magenta))
        canvas.write(
            " \(bucket.count)\(tag)", x: inner.x + 8 + filled, y: y, style: here.isEmpty ? .plain : Style(bold: true),
            limit: inner.width - 8 - filled)
    }
}

private func log2(_ value: Double) -> Double {
    var result = 0.0
    var v = value
    while v >= 2 {
        v /= 2
        result += 1
    }
    return result
}

private func drawEvents(_ canvas: inout Canvas, _ rect: Rect, _ state: DashboardState, origin: PoolInstant) {
    let inner = rect.inner
    // The pool's events and the person's actions, merged in time order.
    var entries: [(time: PoolInstant, text: String, style: Style)] = state.events.map { event in
        let style: Style =
            switch event.kind {
            case .scaledUp: Style(foreground: .green)
            case .scaledDown: Style(foreground: .blue)
            case .workerCrashed, .deadLettered, .shutdownDeadlineReached, .shutdownEscalated: Style(foreground: .red)
            case .breakerChanged: Style(foreground: .magenta)
            default: .plain
            }
        return (event.time, "\(event.kind)", style)
    }
    entries += state.userActions.map { ($0.time, $0.text, Style(foreground: .yellow)) }
    entries.sort { $0.time < $1.time }
    let scroll = min(state.eventScroll, max(entries.count - inner.height, 0))
    let title =
        scroll > 0 ? "Events, \(scroll) back (} newer)" : entries.count > inner.height ? "Events ({ older)" : "Events"
    canvas.box(rect, title: title, glyphs: state.glyphs)
    for (index, entry) in entries.dropLast(scroll).suffix(inner.height).enumerated() {
        canvas.write(
            "\(clock(entry.time - origin, tenths: true))  \(entry.text)", x: inner.x, y: inner.y + index, style: entry.style,
            limit: inner.width)
    }
}

private func drawFooter(_ canvas: inout Canvas, _ state: DashboardState) {
    let y = canvas.height - 1
    let keys = footerText(without: state.unavailableKeys)
    canvas.write(keys, x: 0, y: y, style: dimStyle)
    if let notice = state.notice {
        let text = " \(notice) "
        canvas.write(text, x: max(canvas.width - text.count, keys.count + 1), y: y, style: Style(foreground: .yellow, bold: true))
    }
}

func overlay(_ canvas: inout Canvas, width: Int, height: Int, title: String, _ g: Glyphs) -> Rect {
    let rect = Rect(
        x: max((canvas.width - width) / 2, 0), y: max((canvas.height - height) / 2, 0), width: min(width, canvas.width),
        height: min(height, canvas.height))
    canvas.fill(rect)
    canvas.box(rect, title: title, style: Style(foreground: .cyan), glyphs: g)
    return rect.inner
}

private func drawHelp(_ canvas: inout Canvas, _ g: Glyphs, unavailable: Set<DashboardKeyAction>) {
    let inner = overlay(&canvas, width: 78, height: dashboardKeyBindings.count + 2, title: "Keys", g)
    for (index, binding) in dashboardKeyBindings.enumerated() {
        // Keys the source cannot honour (a burst on an attached pool) stay listed, dimmed and marked.
        let off = binding.isUnavailable(unavailable)
        canvas.write(binding.label, x: inner.x + 1, y: inner.y + index, style: off ? dimStyle : Style(bold: true))
        let written = canvas.write(
            binding.meaning, x: inner.x + 14, y: inner.y + index, style: off ? dimStyle : .plain, limit: inner.width - 14)
        if off {
            canvas.write(" (not here)", x: inner.x + 14 + written, y: inner.y + index, style: dimStyle, limit: inner.width - 14 - written)
        }
    }
}

private func drawReport(_ canvas: inout Canvas, _ report: ShutdownReport, _ frame: DashboardFrame, _ state: DashboardState) {
    let c = report.counters
    let balanced = c.isBalanced
    var extra: [(String, Style)] = []
    if let latencies = state.latencies {
        let wait = LatencySummary(latencies.queueWait)
        let total = LatencySummary(latencies.endToEnd)
        extra.append(("queue wait   p50 \(short(wait.p50))  p99 \(short(wait.p99))  max \(short(wait.max))", .plain))
        extra.append(("end to end   p50 \(short(total.p50))  p99 \(short(total.p99))  max \(short(total.max))", .plain))
    }
    let scaling = state.events.filter { if case .scaledUp = $0.kind { true } else if case .scaledDown = $0.kind { true } else { false } }
    extra.append(("scale events \(scaling.count)\(scaling.last.map { ", last: \($0.kind)" } ?? "")", .plain))
    let inner = overlay(&canvas, width: 76, height: 11 + extra.count, title: "Final report", state.glyphs)
    let lines: [(String, Style)] =
        [
            (
                "shutdown     \(report.mode), took \(formatted(report.duration))\(report.deadlineReached ? ", deadline reached" : "")",
                .plain
            ),
            ("submitted    \(c.submitted)", Style(bold: true)),
            ("  completed  \(c.completed)", Style(foreground: .green)),
            ("  failed     \(c.failed)   (retried \(c.retried), timed out \(c.timedOut))", Style(foreground: .red)),
            ("  rejected   \(c.rejected)", Style(foreground: .yellow)),
            (
                "  cancelled  \(c.cancelled)   (queued \(report.cancelledWhileQueued), running \(report.cancelledWhileRunning))",
                Style(foreground: .magenta)
            ),
            (
                "\(c.submitted) = \(c.completed) + \(c.failed) + \(c.rejected) + \(c.cancelled)   \(balanced ? "balanced" : "NOT BALANCED")",
                balanced ? Style(foreground: .green, bold: true) : warnStyle
            ),
        ] + extra + [("Esc closes this report (Enter shows it again), q quits", dimStyle)]
    for (index, (line, style)) in lines.prefix(inner.height).enumerated() {
        canvas.write(line, x: inner.x + 1, y: inner.y + index, style: style, limit: inner.width - 1)
    }
}

// MARK: Formatting

/// "01:05" or "01:05.3".
func clock(_ duration: Duration, tenths: Bool = false) -> String {
    let total = max(duration.seconds, 0)
    let minutes = Int(total) / 60
    let seconds = total - Double(minutes * 60)
    let whole = Int(seconds)
    let base = "\(minutes < 10 ? "0" : "")\(minutes):\(whole < 10 ? "0" : "")\(whole)"
    return tenths ? "\(base).\(Int((seconds - Double(whole)) * 10))" : base
}

/// A latency in milliseconds, short: "840us", "12ms", "1.2s".
func short(_ milliseconds: Double) -> String {
    if milliseconds < 1 { return "\(Int((milliseconds * 1000).rounded()))us" }
    if milliseconds < 10 { return "\((milliseconds * 10).rounded() / 10)ms" }
    if milliseconds < 1000 { return "\(Int(milliseconds.rounded()))ms" }
    return "\((milliseconds / 100).rounded() / 10)s"
}
