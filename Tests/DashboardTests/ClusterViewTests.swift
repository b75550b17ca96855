import Testing

@testable import Dashboard

/// A cluster picture at time `t`: three nodes, node-2 in `secondState`.
func clusterFrame(t: Double, secondState: String = "alive", rescued: Int = 0, local: Bool = true) -> ClusterFrame {
    let nodes = [
        ClusterFrame.Node(
            id: 1, name: "node-1", pid: 101, state: "alive", workers: 4, busy: 4, keyed: false, heartbeatAge: 0.2, completed: 900,
            local: local),
        ClusterFrame.Node(
            id: 2, name: "node-2", pid: 102, state: secondState, workers: 4, busy: secondState == "alive" ? 3 : 0, keyed: false,
            heartbeatAge: secondState == "dead" ? 5.4 : 0.3, completed: 700, local: local),
        ClusterFrame.Node(
            id: 3, name: "node-3", pid: 103, state: "alive", workers: 4, busy: 1, keyed: true, heartbeatAge: 0.1, completed: 800,
            local: local),
    ]
    var frame = ClusterFrame(time: t, title: "cluster demo", nodes: nodes, horizon: 5)
    frame.available = 40
    frame.running = 8
    frame.completed = 2_400 + Int(t * 100)
    frame.enqueued = frame.available + frame.running + frame.completed
    frame.attempts = frame.completed + frame.running + rescued
    frame.rescued = rescued
    frame.latency = ClusterLatency(p50: 40, p99: 210, max: 300)
    frame.latencyBuckets = [0, 0, 0, 0, 0, 0, 1_200, 80, 20]
    frame.caption = "Three nodes share one durable queue in PostgreSQL"
    return frame
}

@Suite("The cluster view (pure)")
struct ClusterViewTests {
    @Test("renders nodes, the shared queue with its balance, throughput, latency and the caption at 120x40")
    func rendersPanes() {
        var state = ClusterViewState(canStartNodes: true)
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 1)))
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 2.1)))
        let text = clusterView(state, width: 120, height: 40).text
        #expect(text.contains("Nodes (3 alive of 3; * started here)"))
        #expect(text.contains("node-1*") && text.contains("node-3*") && text.contains("keyed"))
        #expect(text.contains("HEARTBEAT (horizon 5 s)"))
        #expect(text.contains("40 available + 0 scheduled"))
        #expect(text.contains("= sum of states"))
        #expect(text.contains("p50 40ms") || text.contains("p50 40.0ms") || text.contains("p50 40"), "\(text)")
        #expect(text.contains("Three nodes share one durable queue"))
        #expect(text.contains("now 110/s"), "completed per second from two frames 1.1 s apart")
    }

    @Test("a node going dead, rescues and a graceful stop become events")
    func events() {
        var state = ClusterViewState(canStartNodes: true)
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 1)))
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 2, secondState: "dead", rescued: 3)))
        #expect(state.events.contains { $0.contains("node node-2 declared DEAD: no heartbeat for 5.4 s (horizon 5 s)") })
        #expect(state.events.contains { $0.contains("3 job(s) rescued") })
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 3, secondState: "stopped", rescued: 3)))
        #expect(state.events.contains { $0.contains("node node-2 left (stopped gracefully)") })
        let text = clusterView(state, width: 120, height: 40).text
        #expect(text.contains("declared DEAD"))
    }

    @Test("keys: k and t act only on live nodes started here; n only where nodes can be started; q quits")
    func keys() {
        var state = ClusterViewState(canStartNodes: true)
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 1)))
        var actions: [ClusterAction]
        (state, actions) = clusterUpdate(state, .key(.down))
        (state, actions) = clusterUpdate(state, .key(.character("k")))
        #expect(actions == [.killNode(id: 2)])
        (state, actions) = clusterUpdate(state, .key(.character("t")))
        #expect(actions == [.stopNode(id: 2)])
        (state, actions) = clusterUpdate(state, .key(.character("n")))
        #expect(actions == [.startNode])
        (state, actions) = clusterUpdate(state, .key(.character("b")))
        #expect(actions == [.burst])
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 2, secondState: "dead")))
        (state, actions) = clusterUpdate(state, .key(.character("k")))
        #expect(actions.isEmpty && state.notice?.contains("select a live node started here") == true)

        var watching = ClusterViewState(canStartNodes: false)
        (watching, _) = clusterUpdate(watching, .tick(clusterFrame(t: 1, local: false)))
        (watching, actions) = clusterUpdate(watching, .key(.character("n")))
        #expect(actions.isEmpty && watching.notice?.contains("unavailable") == true)
        (watching, actions) = clusterUpdate(watching, .key(.character("k")))
        #expect(actions.isEmpty)
        (watching, actions) = clusterUpdate(watching, .key(.character("q")))
        #expect(actions == [.quit])
    }

    @Test("? shows every cluster key; a tiny terminal gets a message")
    func helpAndTooSmall() {
        var state = ClusterViewState(canStartNodes: true)
        (state, _) = clusterUpdate(state, .tick(clusterFrame(t: 1)))
        (state, _) = clusterUpdate(state, .key(.character("?")))
        let help = clusterView(state, width: 100, height: 30).text
        for (_, meaning) in clusterKeyHelp { #expect(help.contains(meaning), "\(meaning)") }
        #expect(clusterView(state, width: 50, height: 12).text.contains("Terminal too small: 50x12"))
    }
}
