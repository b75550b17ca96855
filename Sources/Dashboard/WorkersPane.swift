import PoolEngine
import Workload

func drawWorkers(_ canvas: inout Canvas, _ rect: Rect, _ frame: DashboardFrame, _ state: DashboardState) {
    let workers = frame.snapshot.workers
    let selectedTitle = state.selected.map { id in workers.contains { $0.id == id } ? ", selected #\(id.rawValue)" : "" } ?? ""
    canvas.box(rect, title: "Workers (\(workers.count))\(selectedTitle)", glyphs: state.glyphs)
    let inner = rect.inner
    var counts: [String: Int] = [:]
    for worker in workers { counts[worker.state.name, default: 0] += 1 }
    let summary = ["busy", "idle", "starting", "draining"].compactMap { name in counts[name].map { "\(name) \($0)" } }
    canvas.write(summary.joined(separator: "  "), x: inner.x, y: inner.y, limit: inner.width)
    let gridTop = inner.y + 1
    let rows = inner.height - 1
    guard rows > 0, inner.width > 0 else { return }
    if workers.count <= rows && inner.width >= 40 {
        drawWorkerList(&canvas, Rect(x: inner.x, y: gridTop, width: inner.width, height: rows), frame, state)
        return
    }
    // A grid of cells; each shows its worker's id when there is room ("12▇▇"), else glyphs alone.
    let idWidth = max(String(workers.map(\.id.rawValue).max() ?? 1).count, 1)
    let idCell = idWidth + 3
    let cellWidth =
        (inner.width / idCell) * rows >= workers.count
        ? idCell : workers.count * 3 <= inner.width * rows ? 3 : (workers.count * 2 <= inner.width * rows ? 2 : 1)
    let perRow = max(inner.width / cellWidth, 1)
    for (index, worker) in workers.enumerated() {
        let row = index / perRow
        guard row < rows else {
            canvas.write("+\(workers.count - index) more", x: inner.x + inner.width - 10, y: gridTop + rows - 1, style: dimStyle, limit: 10)
            break
        }
        let x = inner.x + (index % perRow) * cellWidth
        var style = workerStyle(worker.state)
        if worker.id == state.selected { style.reverse = true }
        let glyph = workerGlyph(worker, fraction: state.busyFractions[worker.id], glyphs: state.glyphs)
        if cellWidth == idCell {
            let id = String(worker.id.rawValue)
            canvas.write(String(repeating: " ", count: idWidth - id.count) + id, x: x, y: gridTop + row, style: dimStyle)
            canvas.write(String(repeating: glyph, count: 2), x: x + idWidth, y: gridTop + row, style: style)
        } else {
            canvas.write(String(repeating: glyph, count: max(cellWidth - 1, 1)), x: x, y: gridTop + row, style: style)
        }
    }
}

/// One line per worker, when they all fit: id, state, busy bar, counts, keys, the running job.
private func drawWorkerList(_ canvas: inout Canvas, _ rect: Rect, _ frame: DashboardFrame, _ state: DashboardState) {
    let snapshot = frame.snapshot
    for (index, worker) in snapshot.workers.enumerated() {
        let y = rect.y + index
        var style = workerStyle(worker.state)
        if worker.id == state.selected { style.reverse = true }
        let fraction = state.busyFractions[worker.id] ?? 0
        let head =
            "#\(worker.id.rawValue)".padding(toLength: 5, withPad: " ", startingAt: 0)
            + worker.state.name.padding(toLength: 9, withPad: " ", startingAt: 0)
        canvas.write(head, x: rect.x, y: y, style: style)
        let barWidth = min(max(rect.width / 5, 6), 20)
        canvas.write(
            bar(Int((fraction * 100).rounded()), of: 100, width: barWidth, glyphs: state.glyphs), x: rect.x + 14, y: y,
            style: workerStyle(worker.state))
        var tail = " \(String(Int((fraction * 100).rounded())).leftPadded(3))%"
        switch worker.state {
        case .busy(let job, let since), .draining(let job, let since):
            tail += "  job \(job) for \(formatted(snapshot.takenAt - since))"
        default: break
        }
        tail += "  done \(worker.completed)"
        if worker.failed > 0 { tail += "  failed \(worker.failed)" }
        if let keys = snapshot.queue.ownedKeys[worker.id] { tail += "  keys \(keys)" }
        if let own = snapshot.queue.perWorker[worker.id], snapshot.queue.ownedKeys.isEmpty { tail += "  queue \(own)" }
        canvas.write(tail, x: rect.x + 14 + barWidth, y: y, limit: rect.width - 14 - barWidth)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

func workerGlyph(_ worker: WorkerSnapshot, fraction: Double?, glyphs: Glyphs) -> Character {
    switch worker.state {
    case .idle: return glyphs == .ascii ? "." : "░"
    case .starting: return glyphs == .ascii ? "s" : "▫"
    case .draining: return glyphs == .ascii ? "d" : "▒"
    case .stopped: return " "
    case .busy:
        let levels = glyphs.levels
        let level = Int(((fraction ?? 1) * Double(levels.count - 2)).rounded()) + 1
        return levels[min(max(level, 2), levels.count - 1)]
    }
}

func drawDetail(_ canvas: inout Canvas, _ id: WorkerID, _ frame: DashboardFrame, _ state: DashboardState) {
    let inner = overlay(&canvas, width: 50, height: 10, title: "Worker \(id)", state.glyphs)
    guard let worker = frame.snapshot.workers.first(where: { $0.id == id }) else {
        canvas.write("worker \(id) has stopped", x: inner.x + 1, y: inner.y)
        return
    }
    var lines = ["state      \(worker.state.name)"]
    switch worker.state {
    case .busy(let job, let since), .draining(let job, let since):
        lines.append("job        \(job), running for \(formatted(frame.snapshot.takenAt - since))")
    case .idle(let since):
        lines.append("idle for   \(formatted(frame.snapshot.takenAt - since))")
    default: break
    }
    lines.append("done       \(worker.completed) completed, \(worker.failed) failed attempts")
    lines.append(
        "busy       \(Int(((state.busyFractions[id] ?? 0) * 100).rounded()))% of the last tick, \(formatted(worker.busyTime)) in all")
    lines.append("own queue  \(frame.snapshot.queue.perWorker[id].map(String.init) ?? "none (shared queue)")")
    if let keys = frame.snapshot.queue.ownedKeys[id] { lines.append("keys owned \(keys)") }
    lines.append("up since   \(clock(worker.startedAt - (frame.snapshot.takenAt - frame.snapshot.uptime)))")
    for (index, line) in lines.prefix(inner.height).enumerated() {
        canvas.write(line, x: inner.x + 1, y: inner.y + index, limit: inner.width - 1)
    }
}
