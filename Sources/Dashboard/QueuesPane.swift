import PoolEngine
import Workload

func bar(_ value: Int, of total: Int, width: Int, glyphs: Glyphs) -> String {
    guard width > 0 else { return "" }
    let filled = total > 0 ? min(Int((Double(value) / Double(total) * Double(width)).rounded(.up)), width) : 0
    return String(repeating: glyphs.barFull, count: filled) + String(repeating: glyphs.barEmpty, count: width - filled)
}

func drawQueues(_ canvas: inout Canvas, _ rect: Rect, _ frame: DashboardFrame, _ state: DashboardState) {
    let g = state.glyphs
    let s = frame.snapshot
    canvas.box(rect, title: "Queues", glyphs: g)
    let inner = rect.inner
    let capacity = s.queueCapacity
    let depth = s.queue.total
    // An unbounded queue is drawn against its peak of the last minute, never as full.
    let peak = max(state.queueHistory.suffix(60).map(\.depth).max() ?? 0, depth)
    let scale = capacity ?? max(peak * 2, 1)
    let label = "\(depth)/\(capacity.map(String.init) ?? "unbounded")"
    canvas.write("queue", x: inner.x, y: inner.y)
    let barWidth = max(inner.width - 8 - label.count - 1, 4)
    canvas.write(
        bar(depth, of: scale, width: barWidth, glyphs: g), x: inner.x + 6, y: inner.y,
        style: Style(foreground: depth > 0 ? .yellow : .green))
    canvas.write(label, x: inner.x + 7 + barWidth, y: inner.y, limit: inner.width - 7 - barWidth)
    canvas.write(
        "in flight \(s.inFlight)  retrying \(s.awaitingRetry)  blocked \(s.blockedSubmitters)", x: inner.x, y: inner.y + 1,
        limit: inner.width)
    var third = "rejected \(s.counters.rejected)  dead \(s.deadLetterCount)"
    if let breaker = s.breaker { third += "  breaker \(breaker)" }
    if let limit = s.rateLimit { third += "  limit \(Units.format(rate: limit.perSecond))" }
    canvas.write(
        third, x: inner.x, y: inner.y + 2, style: s.breaker.map { if case .closed = $0 { .plain } else { warnStyle } } ?? .plain,
        limit: inner.width)
    var next = inner.y + 3
    // What the scenario is about comes first on small terminals: priority levels, keys moved.
    // Priority scenarios: what waits at each level and how long jobs waited (starvation shows here).
    let levels = frame.status.priorities
    if !levels.isEmpty, inner.y + inner.height - next >= levels.count {
        for level in levels {
            canvas.write(
                "p\(String(level.level).padding(toLength: 3, withPad: " ", startingAt: 0))\(String(level.waiting).leftPadded(5)) waiting  wait \(short(level.meanWaitMs)) p99 \(short(level.p99WaitMs))  done \(level.completed)",
                x: inner.x, y: next, style: level.waiting > 0 && level.level == levels.last?.level ? Style(foreground: .yellow) : .plain,
                limit: inner.width)
            next += 1
        }
    }
    // Keyed: how many keys the last resize moved (jump hash moves about 1/n of them).
    if let move = s.queue.lastKeyMovement, inner.y + inner.height - next >= 1 {
        canvas.write(
            "resize \(move.fromWorkers)->\(move.toWorkers): \(move.moved)/\(move.keys) keys moved (\(Int(move.movedPercent.rounded()))%)",
            x: inner.x, y: next, style: Style(foreground: .cyan), limit: inner.width)
        next += 1
    }
    // Arrivals, admissions and completions side by side, and the depth over time: backpressure and overload
    // show as admitted below arrived, and as a rising depth.
    if let last = state.queueHistory.last, inner.y + inner.height > next {
        let overloaded = last.admittedPerS + 0.5 < last.arrivedPerS || last.completedPerS + 0.5 < last.admittedPerS
        canvas.write(
            "in \(Int(last.arrivedPerS.rounded()))/s  admitted \(Int(last.admittedPerS.rounded()))/s  out \(Int(last.completedPerS.rounded()))/s",
            x: inner.x, y: next, style: overloaded ? Style(foreground: .yellow) : .plain, limit: inner.width)
        next += 1
        let spare = inner.y + inner.height - next - (s.queue.perWorker.isEmpty ? 0 : min(s.queue.perWorker.count + 1, 8))
        if spare >= 6 {
            // Room to spare (a big terminal): the depth over time as a chart with a scale, one column a second.
            let width = inner.width - 7
            let depths = Array(state.queueHistory.map(\.depth).suffix(width))
            let top = max(depths.max() ?? 0, 1)
            canvas.write("depth per second, last \(depths.count) s (max \(peak))", x: inner.x, y: next, style: dimStyle, limit: inner.width)
            let rows = min(spare - 1, 12)
            for (row, line) in bandChart(depths, rows: rows, top: top, glyphs: g).enumerated() {
                canvas.write(line, x: inner.x + 7 + width - depths.count, y: next + 1 + row, style: Style(foreground: .yellow))
            }
            canvas.write(String("\(top)".prefix(6)), x: inner.x, y: next + 1, style: dimStyle)
            canvas.write("0", x: inner.x, y: next + rows, style: dimStyle)
            next += rows + 1
        } else if inner.y + inner.height > next {
            let label = "depth, last \(min(state.queueHistory.count, inner.width - 16)) s (max \(peak)) "
            let line = sparkline(state.queueHistory.map(\.depth), width: max(inner.width - label.count, 4), glyphs: g)
            canvas.write(label, x: inner.x, y: next, style: dimStyle, limit: inner.width)
            canvas.write(line, x: inner.x + label.count, y: next, style: Style(foreground: .yellow), limit: inner.width - label.count)
            next += 1
        }
    }
    let perWorker = s.queue.perWorker.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
    guard !perWorker.isEmpty, inner.y + inner.height - next > 1 else { return }
    canvas.write(
        s.queue.ownedKeys.isEmpty ? "per worker (deepest first)" : "per worker (deepest first), keys owned now", x: inner.x, y: next,
        style: dimStyle, limit: inner.width)
    let deepest = max(perWorker.first?.value ?? 1, 1)
    for (offset, entry) in perWorker.prefix(inner.y + inner.height - next - 1).enumerated() {
        let y = next + 1 + offset
        let keys = s.queue.ownedKeys[entry.key].map { "  keys \($0)" } ?? ""
        let name = "\(entry.key)".padding(toLength: 5, withPad: " ", startingAt: 0)
        let width = max(min(inner.width - 20 - keys.count, 30), 4)
        canvas.write(name, x: inner.x, y: y)
        canvas.write(bar(entry.value, of: deepest, width: width, glyphs: g), x: inner.x + 6, y: y, style: Style(foreground: .yellow))
        canvas.write(" \(entry.value)\(keys)", x: inner.x + 6 + width, y: y, limit: inner.width - 6 - width)
    }
}

func sparkline(_ values: [Int], width: Int, glyphs: Glyphs) -> String {
    let shown = Array(values.suffix(width))
    let top = max(shown.max() ?? 0, 1)
    let levels = glyphs.levels
    return String(
        shown.map { value in
            value == 0 ? levels[0] : levels[max(Int((Double(value) / Double(top) * Double(levels.count - 1)).rounded(.up)), 1)]
        })
}
