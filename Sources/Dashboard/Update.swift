import PoolEngine
import Workload

/// The dashboard's logic: a key or a tick in, the new state and the commands to carry out.
public func update(_ state: DashboardState, _ message: Message) -> (DashboardState, [Command]) {
    var state = state
    switch message {
    case .tick(let frame):
        absorb(frame, into: &state)
        return (state, [])
    case .shutdownFinished(let report):
        state.report = report
        state.notice = "shutdown complete; Esc closes the report, Enter shows it, q quits"
        return (state, [])
    case .refused(let command, let reason):
        if let index = state.userActions.lastIndex(where: { $0.command == command }) { state.userActions.remove(at: index) }
        if case .shutdown = command, state.report == nil { state.shutdownRequested = nil }
        state.notice = reason
        return (state, [])
    case .key(let key):
        let commands = handle(key, &state)
        // A key that did something is logged beside the pool's events, with what it did.
        if !commands.isEmpty, commands != [.quit], let time = state.frame?.snapshot.takenAt, let notice = state.notice {
            state.userActions.append(UserAction(time: time, text: "you: \(notice)", command: commands.first))
            if state.userActions.count > DashboardState.eventsKept { state.userActions.removeFirst() }
        }
        return (state, commands)
    }
}

private func absorb(_ frame: DashboardFrame, into state: inout DashboardState) {
    // Another pool (attach switched), or the same one restarted (its uptime went back): nothing of the
    // last one's history carries over.
    if let previous = state.frame,
        previous.snapshot.name != frame.snapshot.name || frame.snapshot.uptime + .seconds(1) < previous.snapshot.uptime
    {
        state.forgetPool()
    }
    // A frame no newer than the last (a watched pool's frame repeated with fresh latencies) keeps the bars.
    if let previous = state.frame, frame.snapshot.takenAt > previous.snapshot.takenAt {
        let elapsed = (frame.snapshot.takenAt - previous.snapshot.takenAt).seconds
        let before = Dictionary(previous.snapshot.workers.map { ($0.id, $0.busyTime) }, uniquingKeysWith: { a, _ in a })
        var fractions: [WorkerID: Double] = [:]
        for worker in frame.snapshot.workers {
            guard elapsed > 0, let earlier = before[worker.id] else { continue }
            fractions[worker.id] = min(max((worker.busyTime - earlier).seconds / elapsed, 0), 1)
        }
        state.busyFractions = fractions
    }
    let lastSeen = state.events.last?.time
    let fresh = frame.snapshot.recentEvents.filter { event in lastSeen.map { event.time > $0 } ?? true }
    state.events.append(contentsOf: fresh)
    // A scrolled log stays on what the person is reading.
    if state.eventScroll > 0 { state.eventScroll += fresh.count }
    if state.events.count > DashboardState.eventsKept { state.events.removeFirst(state.events.count - DashboardState.eventsKept) }
    recordQueueSecond(frame, into: &state)
    if let latencies = frame.snapshot.latencies {
        state.latencies = latencies
        let now = frame.latenciesTakenAt ?? frame.snapshot.takenAt
        if state.latencyMarks.last.map({ now - $0.time >= .seconds(1) }) ?? true {
            state.latencyMarks.append((now, latencies))
            if state.latencyMarks.count > 11 { state.latencyMarks.removeFirst(state.latencyMarks.count - 11) }
        }
        // The last 10 s: the whole run now minus the whole run about 10 s ago.
        let start = state.latencyMarks.first { mark in now - mark.time <= .seconds(10) && now - mark.time >= .seconds(1) }
        state.latencyWindow = start.map { (latencies.subtracting($0.latencies), Int((now - $0.time).seconds.rounded())) }
    }
    state.frame = frame
    if frame.snapshot.latencies != nil { refreshLatencyDigest(&state) }
    if let selected = state.selected, !frame.snapshot.workers.contains(where: { $0.id == selected }) {
        state.selected = frame.snapshot.workers.first?.id
    }
}

private func handle(_ key: Key, _ state: inout DashboardState) -> [Command] {
    guard let action = action(for: key) else {
        state.notice = "unknown key; press ? for help"
        return []
    }
    switch action {
    case .quit: return [.quit]
    case .help:
        state.showHelp.toggle()
        return []
    case .close:
        if !state.showHelp && !state.showDetail && state.report != nil { state.reportHidden = true }
        state.showHelp = false
        state.showDetail = false
        return []
    case .detail where state.report != nil:
        state.reportHidden = false
        return []
    case .stop where state.report == nil && { if case .graceful? = state.shutdownRequested { true } else { false } }():
        // S escalates a graceful drain to an immediate shutdown (the rest is cancelled now).
        state.shutdownRequested = .immediate
        state.notice = "immediate shutdown: cancelling what is left of the drain..."
        return [.shutdown(.immediate)]
    case .nextPool, .previousPool:
        state.notice = action == .nextPool ? "next pool" : "previous pool"
        return [.switchPool(by: action == .nextPool ? 1 : -1)]
    default: break
    }
    guard state.report == nil, state.shutdownRequested == nil, let frame = state.frame else {
        if state.report == nil && state.shutdownRequested != nil { state.notice = "shutting down..." }
        return []
    }
    let settings = frame.snapshot.settings
    let status = frame.status
    switch action {
    case .burst:
        state.notice = "burst of \(state.burstSize) jobs"
        return [.session(.burst(state.burstSize))]
    case .thresholdUp:
        state.notice = "threshold +1"
        return [.session(.changeThreshold(by: 1))]
    case .thresholdDown:
        state.notice = settings.scaleUpThreshold <= 1 ? "threshold is at its minimum (1)" : "threshold -1"
        return [.session(.changeThreshold(by: -1))]
    case .drain:
        let mode = ShutdownMode.graceful(deadline: .seconds(10))
        state.shutdownRequested = mode
        state.notice = "graceful shutdown: draining..."
        return [.shutdown(mode)]
    case .stop:
        state.shutdownRequested = .immediate
        state.notice = "immediate shutdown: cancelling..."
        return [.shutdown(.immediate)]
    case .pause:
        state.notice = status.paused ? "scenario resumed" : "scenario paused (arrivals, timeline, jobs and the pool's timers)"
        return [.togglePause]
    case .rateUp, .rateDown:
        let factor = action == .rateUp ? 1.25 : 0.8
        state.notice = "arrival rate x\(factor)"
        return [.session(.scaleRate(by: factor))]
    case .minUp, .minDown:
        let delta = action == .minUp ? 1 : -1
        state.notice = "min workers \(delta > 0 ? "+1" : "-1") (within 0...max)"
        return [.session(.changeMinWorkers(by: delta))]
    case .maxUp, .maxDown:
        let delta = action == .maxUp ? 1 : -1
        state.notice = "max workers \(delta > 0 ? "+1" : "-1") (never below min)"
        return [.session(.changeMaxWorkers(by: delta))]
    case .failureUp, .failureDown:
        let step = action == .failureUp ? 0.05 : -0.05
        state.notice = "failure rate \(step > 0 ? "+5" : "-5")%"
        return [.session(.changeFailureRate(by: step))]
    case .crash:
        state.notice = "crashing \(state.selected.map { "worker \($0)" } ?? "a random worker")"
        return [.session(.crashWorker(state.selected?.rawValue))]
    case .histogram:
        state.histogram = state.histogram.next
        refreshLatencyDigest(&state)
        return []
    case .eventsOlder, .eventsNewer:
        let total = state.events.count + state.userActions.count
        let step = DashboardState.eventScrollStep
        state.eventScroll = action == .eventsOlder ? min(state.eventScroll + step, max(total - 1, 0)) : max(state.eventScroll - step, 0)
        state.notice = state.eventScroll == 0 ? "event log: newest" : "event log: \(state.eventScroll) back"
        return []
    case .latencyWindow:
        state.latencyWholeRun.toggle()
        refreshLatencyDigest(&state)
        state.notice = state.latencyWholeRun ? "latency: whole run" : "latency: last 10 s"
        return []
    case .faster, .slower:
        let factor = action == .faster ? 2.0 : 0.5
        state.notice = "speed \(factor > 1 ? "x2" : "/2") (within 0.125x...8x)"
        return [.changeSpeed(by: factor)]
    case .selectNext, .selectPrevious:
        let workers = frame.snapshot.workers.map(\.id)
        guard !workers.isEmpty else { return [] }
        let current = state.selected.flatMap { workers.firstIndex(of: $0) }
        let forward = action == .selectNext
        let index = current.map { (($0 + (forward ? 1 : -1)) % workers.count + workers.count) % workers.count } ?? 0
        state.selected = workers[index]
        return []
    case .detail:
        if state.selected == nil { state.selected = frame.snapshot.workers.first?.id }
        state.showDetail.toggle()
        return []
    case .quit, .help, .close, .nextPool, .previousPool:
        return []
    }
}

/// Recomputes what the latency pane shows: the window (or the whole run), the chosen histogram's summary.
func refreshLatencyDigest(_ state: inout DashboardState) {
    guard let whole = state.latencies else {
        state.latencyDigest = nil
        return
    }
    let window = state.latencyWholeRun ? nil : state.latencyWindow
    let histograms = window?.histograms ?? whole
    let shown =
        switch state.histogram {
        case .endToEnd: histograms.endToEnd
        case .queueWait: histograms.queueWait
        case .service: histograms.service
        }
    state.latencyDigest = LatencyDigest(
        histograms: histograms, summary: LatencySummary(shown),
        queueWaitMeanMs: histograms.queueWait.totalCount > 0 ? histograms.queueWait.mean / 1e6 : 0, span: window?.span)
}

/// "1x", "0.5x", "0.125x".
func speedLabel(_ speed: Double) -> String {
    speed == speed.rounded() ? "\(Int(speed))x" : "\(speed)x"
}

/// Closes a second of queue history when a frame is a second or more past the mark: depth, and arrivals,
/// admissions and completions per second from the counters' change.
private func recordQueueSecond(_ frame: DashboardFrame, into state: inout DashboardState) {
    let snapshot = frame.snapshot
    guard let mark = state.historyMark else {
        state.historyMark = (snapshot.takenAt, snapshot.counters)
        return
    }
    let elapsed = (snapshot.takenAt - mark.time).seconds
    guard elapsed >= 1 else { return }
    let now = snapshot.counters
    let before = mark.counters
    let arrived = Double(now.submitted - before.submitted)
    let admitted = arrived - Double(now.rejected - before.rejected)
    state.queueHistory.append(
        QueueSecond(
            depth: snapshot.queue.total, arrivedPerS: arrived / elapsed, admittedPerS: admitted / elapsed,
            completedPerS: Double(now.completed - before.completed) / elapsed))
    if state.queueHistory.count > 600 { state.queueHistory.removeFirst(state.queueHistory.count - 600) }
    state.historyMark = (snapshot.takenAt, now)
}
