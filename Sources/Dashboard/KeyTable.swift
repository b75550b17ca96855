/// What a key does in the dashboard.
public enum DashboardKeyAction: Sendable, Hashable {
    case burst, thresholdUp, thresholdDown, rateUp, rateDown, pause
    case minUp, minDown, maxUp, maxDown, failureUp, failureDown
    case crash, histogram, latencyWindow, faster, slower, selectNext, selectPrevious, detail, eventsOlder, eventsNewer
    case nextPool, previousPool
    case drain, stop, help, close, quit
}

/// One row of the key table: the keys, how help and docs write them, what they do, and (when it is
/// worth a place there) the footer's short form.
public struct KeyBinding: Sendable {
    public let label: String
    public let meaning: String
    public let footer: String?
    public let actions: [(key: Key, action: DashboardKeyAction)]
}

/// The one table that drives the key handler (``update(_:_:)``), the help overlay, the footer and
/// docs/KEYS.md (a test checks the file against it).
public let dashboardKeyBindings: [KeyBinding] = [
    KeyBinding(label: "b", meaning: "inject a burst of jobs", footer: "b burst", actions: [(.character("b"), .burst)]),
    KeyBinding(
        label: "+ / -", meaning: "raise / lower the scale-up threshold (jobs per worker)", footer: "+/- threshold",
        actions: [(.character("+"), .thresholdUp), (.character("="), .thresholdUp), (.character("-"), .thresholdDown)]),
    KeyBinding(
        label: "] / [", meaning: "raise / lower the arrival rate (x1.25 / x0.8)", footer: "[/] rate",
        actions: [(.character("]"), .rateUp), (.character("["), .rateDown)]),
    KeyBinding(label: "p", meaning: "pause / resume the whole scenario", footer: "p pause", actions: [(.character("p"), .pause)]),
    KeyBinding(
        label: "M / m", meaning: "raise / lower min workers", footer: nil,
        actions: [(.character("M"), .minUp), (.character("m"), .minDown)]),
    KeyBinding(
        label: "X / x", meaning: "raise / lower max workers", footer: nil,
        actions: [(.character("X"), .maxUp), (.character("x"), .maxDown)]),
    KeyBinding(
        label: "F / f", meaning: "raise / lower the failure rate (5% steps)", footer: nil,
        actions: [(.character("F"), .failureUp), (.character("f"), .failureDown)]),
    KeyBinding(
        label: "k", meaning: "crash the selected worker (or a random one)", footer: nil, actions: [(.character("k"), .crash)]),
    KeyBinding(
        label: "h", meaning: "histogram: end-to-end / queue wait / service", footer: "h histogram",
        actions: [(.character("h"), .histogram)]),
    KeyBinding(
        label: "w", meaning: "latency window: last 10 s / whole run", footer: nil, actions: [(.character("w"), .latencyWindow)]),
    KeyBinding(
        label: ". / ,", meaning: "speed up / slow down (x2 / /2, 0.125x to 8x)", footer: nil,
        actions: [(.character("."), .faster), (.character(","), .slower)]),
    KeyBinding(
        label: "arrows, Tab", meaning: "select a worker", footer: nil,
        actions: [(.right, .selectNext), (.down, .selectNext), (.tab, .selectNext), (.left, .selectPrevious), (.up, .selectPrevious)]),
    KeyBinding(
        label: "{ / }", meaning: "scroll the event log back / forward", footer: nil,
        actions: [(.character("{"), .eventsOlder), (.character("}"), .eventsNewer)]),
    KeyBinding(
        label: "> / <", meaning: "next / previous pool (attach, several pools)", footer: nil,
        actions: [(.character(">"), .nextPool), (.character("<"), .previousPool)]),
    KeyBinding(label: "Enter", meaning: "details of the selected worker", footer: nil, actions: [(.enter, .detail)]),
    KeyBinding(
        label: "s", meaning: "graceful shutdown (drain, then report)", footer: "s drain", actions: [(.character("s"), .drain)]),
    KeyBinding(
        label: "S", meaning: "immediate shutdown (cancel, then report; also during a drain)", footer: "S stop",
        actions: [(.character("S"), .stop)]),
    KeyBinding(label: "?", meaning: "this help; Esc closes", footer: "? help", actions: [(.character("?"), .help), (.escape, .close)]),
    KeyBinding(
        label: "q, Ctrl-C", meaning: "quit (during a drain: cancel what is left and quit)", footer: "q quit",
        actions: [(.character("q"), .quit), (.interrupt, .quit)]),
]

/// The action a key is bound to, if any.
func action(for key: Key) -> DashboardKeyAction? {
    for binding in dashboardKeyBindings {
        if let match = binding.actions.first(where: { $0.key == key }) { return match.action }
    }
    return nil
}

/// The footer: the short forms, in table order, without the keys the source cannot honour.
func footerText(without unavailable: Set<DashboardKeyAction>) -> String {
    dashboardKeyBindings.filter { !$0.isUnavailable(unavailable) }.compactMap(\.footer).joined(separator: "  ")
}

extension KeyBinding {
    /// Whether every action of this row is one the source cannot honour.
    func isUnavailable(_ unavailable: Set<DashboardKeyAction>) -> Bool {
        !unavailable.isEmpty && actions.allSatisfy { unavailable.contains($0.action) }
    }
}
