import Testing

@testable import Dashboard
@testable import PoolEngine
@testable import Workload

@Suite("The screen: worker ids, priorities, keys moved, a scrollable log, big terminals used")
struct ScreenUseTests {
    @Test("workers carry their ids: one line each when they fit, id cells in the grid otherwise")
    func workerIds() {
        let roomy = view(state(), width: 120, height: 40).text
        #expect(roomy.contains("#1   busy"))
        #expect(roomy.contains("#3   idle"))
        #expect(roomy.contains("job #41 for 120ms"))
        let crowded = view(state(with: fixedFrame(workers: 30)), width: 80, height: 24).lines
        let grid = crowded[3...].joined(separator: "\n")
        #expect(grid.contains(" 1") && grid.contains("12") && grid.contains("30"), "ids in the grid:\n\(grid)")
    }

    @Test("a priority scenario shows each level's waiting jobs and waits; a keyed one the keys moved at the last resize")
    func priorityAndKeys() {
        var frame = fixedFrame(keyed: true)
        frame.status.priorities = [
            PriorityStatus(level: 10, waiting: 4, completed: 900, meanWaitMs: 40, p99WaitMs: 110),
            PriorityStatus(level: 0, waiting: 350, completed: 11, meanWaitMs: 9_100, p99WaitMs: 14_000),
        ]
        let text = view(state(with: frame), width: 80, height: 24).text
        #expect(text.contains("p10     4 waiting  wait 40ms p99 110ms"))
        #expect(text.contains("p0    350 waiting  wait 9.1s p99 14.0s"))
        var keyed = fixedFrame(keyed: true)
        keyed.snapshot.queue.lastKeyMovement = KeyMovement(fromWorkers: 4, toWorkers: 5, moved: 111, keys: 500)
        #expect(view(state(with: keyed), width: 80, height: 24).text.contains("resize 4->5: 111/500 keys moved (22%)"))
    }

    @Test("{ scrolls the event log back, } forward; a scrolled log stays put as events arrive")
    func eventScroll() {
        var frame = fixedFrame()
        let origin = frame.snapshot.takenAt - frame.snapshot.uptime
        frame.snapshot.recentEvents = (1...40).map {
            PoolEvent(time: origin + .milliseconds($0 * 100), kind: .settingsChanged("change \($0)"))
        }
        var s = state(with: frame)
        #expect(view(s, width: 80, height: 24).text.contains("change 40"))
        #expect(view(s, width: 80, height: 24).text.contains("Events ({ older)"))
        s = update(s, .key(.character("{"))).0
        var text = view(s, width: 80, height: 24).text
        #expect(text.contains("Events, 5 back (} newer)"))
        #expect(!text.contains("change 40") && text.contains("change 35"))
        var later = frame
        later.snapshot.takenAt = frame.snapshot.takenAt + .seconds(1)
        later.snapshot.recentEvents.append(PoolEvent(time: origin + .seconds(5), kind: .settingsChanged("change 41")))
        s = update(s, .tick(later)).0
        text = view(s, width: 80, height: 24).text
        #expect(text.contains("change 35") && !text.contains("change 41"), "the window did not move")
        s = update(update(s, .key(.character("}"))).0, .key(.character("}"))).0
        #expect(view(s, width: 80, height: 24).text.contains("change 41"))
    }

    @Test("a 200x60 terminal is filled: every pane grows, the charts show more history, and most rows carry content")
    func bigTerminal() {
        var frame = fixedFrame(workers: 12)
        frame.snapshot.throughput = Throughput(
            seconds: (1...200).map { Throughput.Second(t: Double($0), completed: 50 + $0 % 7, failed: 0) }, last1s: 50,
            last10s: 50, last60s: 50, peakPerSecond: 56)
        let origin = frame.snapshot.takenAt - frame.snapshot.uptime
        frame.snapshot.recentEvents = (1...40).map {
            PoolEvent(time: origin + .milliseconds($0 * 100), kind: .settingsChanged("change \($0)"))
        }
        var s = state(with: frame)
        frame.snapshot.takenAt = frame.snapshot.takenAt + .seconds(2)
        s = update(s, .tick(frame)).0
        let canvas = view(s, width: 200, height: 60)
        let text = canvas.text
        #expect(text.contains("Throughput per second, last 92 s"), "one column per second across the half width")
        #expect(text.contains("depth per second, last"), "the queue's depth as a chart with a scale")
        #expect(text.contains("#12  "), "all 12 workers listed with their ids")
        // Rows with something besides borders and spaces: the screen is used, not a small layout in a corner.
        let used = canvas.lines.filter { line in line.contains { !" │┌┐└┘─".contains($0) } }.count
        #expect(used >= 50, "only \(used) of 60 rows carry content")
    }
}
