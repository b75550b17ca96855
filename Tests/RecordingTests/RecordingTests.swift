import Dashboard
import Foundation
import PoolEngine
import Testing
import Workload

@testable import Recording

/// A short scenario with a caption, a burst and scaling, so frames differ from one to the next.
private let scenarioText = """
    name: recorded
    seed: 3
    duration: 2s
    pool: { min_workers: 2, max_workers: 8, scale_up_threshold: 2, cooldown: 200ms, idle_timeout: 500ms }
    workload:
      arrivals: { process: poisson, rate: 200/s }
      service: { distribution: exponential, mean: 5ms }
    timeline:
      - at: 0s
        caption: "first caption"
      - at: 500ms
        burst: 200
      - at: 1s
        caption: "second caption"
    """

/// A live run recorded to a temporary file (removed again): the file's bytes, the recording read back
/// from it, and the screens the live state drew.
private func recordedRun() async throws -> (data: Data, recording: Recording, screens: [Canvas]) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("poolscope-\(UUID().uuidString).rec").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let screens = try await recordLiveRun(to: path)
    return (try Data(contentsOf: URL(fileURLWithPath: path)), try Recording.read(path: path), screens)
}

/// Runs the scenario live as the dashboard would (a frame every 50 ms, latencies every 5th, a few keys),
/// recording every message and keeping the screen the live state drew after each.
private func recordLiveRun(to path: String) async throws -> [Canvas] {
    let scenario = try ScenarioParser.parse(scenarioText, file: "recorded.yaml")
    let session = try LiveSession(scenario: scenario)
    let writer = try RecordingWriter(
        path: path, header: RecordingHeader(source: "scenario", scenario: scenario.name, fps: 20), blockSeconds: 0.2)
    let driver = Task { await session.shutdown(await session.drive()) }
    var state = DashboardState(burstSize: 100)
    var screens: [Canvas] = []
    func feed(_ message: Message) {
        writer.record(message)
        (state, _) = update(state, message)
        screens.append(view(state, width: 110, height: 36))
    }
    var frame = 0
    // At least 30 frames, however slowly a loaded machine lets the 50 ms sleeps go.
    while !session.status.finished || frame < 30 {
        frame += 1
        let snapshot = session.pool.snapshot(includingLatencies: frame % 5 == 0)
        feed(.tick(DashboardFrame(snapshot: snapshot, status: session.status)))
        if frame == 8 { feed(.key(.character("h"))) }
        if frame == 12 { feed(.key(.right)) }
        if frame == 15 { feed(.key(.character("?"))) }
        if frame == 18 { feed(.key(.escape)) }
        try await Task.sleep(for: .milliseconds(50))
    }
    let report = await driver.value
    feed(.shutdownFinished(report))
    feed(.tick(DashboardFrame(snapshot: session.pool.snapshot(), status: session.status)))
    try writer.finish()
    return screens
}

@Suite("Recordings: written as the dashboard goes, replayed frame for frame", .serialized)
struct RecordingTests {
    @Test("a replay draws the same screens as the live run, entry by entry, forwards and after seeking back")
    func frameEquality() async throws {
        let (_, recording, live) = try await recordedRun()
        #expect(recording.damage == nil)
        #expect(recording.header.scenario == "recorded")
        try #require(recording.entries.count == live.count)
        var player = ReplayPlayer(recording: recording, initial: DashboardState(burstSize: 100))
        for index in recording.entries.indices {
            player.show(entries: index + 1)
            #expect(view(player.state, width: 110, height: 36) == live[index], "screen \(index + 1) of \(live.count)")
        }
        // Back to the middle (refolded from a checkpoint or the start), then forward again by playing.
        let middle = live.count / 2
        player.show(entries: middle)
        #expect(view(player.state, width: 110, height: 36) == live[middle - 1])
        player.playing = true
        player.advance(by: 3_600)
        #expect(player.atEnd)
        #expect(view(player.state, width: 110, height: 36) == live[live.count - 1])
    }

    @Test("stepping moves a frame at a time; seeking by event stops where something happened")
    func stepAndSeek() async throws {
        let recording = try await recordedRun().recording
        var player = ReplayPlayer(recording: recording)
        player.step(by: 1)
        #expect(player.position == 1 && !player.playing)
        player.step(by: 3)
        let ticksBefore = recording.entries[..<player.position].filter { if case .tick = $0.message { true } else { false } }.count
        #expect(ticksBefore == 4)
        player.step(by: -2)
        #expect(recording.entries[..<player.position].filter { if case .tick = $0.message { true } else { false } }.count == 2)
        // The first key the person pressed ("h" after the 8th frame) is a mark.
        player.show(entries: 0)
        var stops: [Int] = []
        for _ in 0..<200 {
            let before = player.position
            player.seekEvent(forward: true)
            if player.position == before { break }  // no mark after the last one
            stops.append(player.position - 1)
        }
        #expect(stops.count == player.marks.count)
        #expect(stops == Array(player.marks.prefix(stops.count)))
        #expect(player.marks.contains { if case .key(.character("h")) = recording.entries[$0].message { true } else { false } })
        player.seek(to: 1.0)
        #expect(abs(player.time - 1.0) < 1e-9)
        #expect(recording.entries[..<player.position].allSatisfy { $0.t <= 1.0 })
        #expect(player.position == recording.entries.count || recording.entries[player.position].t > 1.0)
    }

    @Test(
        "a well-formed recording holding numbers no run produces (a count of 2^63, an uptime of -292 years) replays up to them and says so")
    func implausibleNumbers() async throws {
        let whole = try await recordedRun()
        let ticks = whole.recording.entries.enumerated().filter { if case .tick = $0.element.message { true } else { false } }
        try #require(ticks.count >= 6)
        let encoder = RecordingFormat.encoder()
        /// The entry with one number inside its snapshot replaced, as a hand edit would.
        func edited(_ entry: RecordedEntry, _ change: (inout [String: Any]) -> Void) throws -> Data {
            var object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(entry)) as? [String: Any])
            func walk(_ value: inout Any) -> Bool {
                if var dictionary = value as? [String: Any] {
                    if dictionary["counters"] != nil && dictionary["uptime"] != nil {
                        change(&dictionary)
                        value = dictionary
                        return true
                    }
                    for key in dictionary.keys.sorted() {
                        var child = dictionary[key] as Any
                        if walk(&child) {
                            dictionary[key] = child
                            value = dictionary
                            return true
                        }
                    }
                } else if var array = value as? [Any] {
                    for index in array.indices where walk(&array[index]) {
                        value = array
                        return true
                    }
                }
                return false
            }
            var root: Any = object
            #expect(walk(&root), "found the snapshot in the entry's JSON")
            object = try #require(root as? [String: Any])
            return try JSONSerialization.data(withJSONObject: object)
        }
        let bad = ticks[4].element
        for (change, words) in [
            (
                { (snapshot: inout [String: Any]) in
                    var counters = snapshot["counters"] as? [String: Any] ?? [:]
                    counters["completed"] = Int64.max
                    snapshot["counters"] = counters
                }, "counters.completed 9223372036854775807"
            ),
            ({ (snapshot: inout [String: Any]) in snapshot["uptime"] = [-9_223_372_036, 0] }, "uptime"),
        ] {
            var lines = try ticks.prefix(4).map { try encoder.encode($0.element) }
            lines.append(try edited(bad, change))
            let payload = Data(lines.joined(separator: [0x0A]))
            let compressed = try #require(Zlib.compress(payload))
            var file = Data("\(RecordingFormat.magic)\n".utf8)
            file.append(try encoder.encode(whole.recording.header))
            file.append(0x0A)
            for value in [UInt32(compressed.count), UInt32(payload.count)] {
                withUnsafeBytes(of: value.bigEndian) { file.append(contentsOf: $0) }
            }
            file.append(compressed)
            let read = try Recording.read(file, path: "edited.rec")
            #expect(read.entries.count == 4, "the entries before the edited one")
            let note = try #require(read.damage)
            #expect(note.contains("entry 5 of block 1 holds numbers no run produces") && note.contains(words), "\(note)")
            #expect(read.runSummary() != nil || read.entries.isEmpty)
        }
    }

    @Test("a recording cut short or corrupt replays up to the damage and says where it is")
    func damagedRecordings() async throws {
        let whole = try await recordedRun().data
        let path = "damaged.rec"
        let full = try Recording.read(whole, path: path)
        #expect(full.damage == nil && full.entries.count > 20)

        let cut = try Recording.read(whole.prefix(whole.count - 100), path: path)
        let cutNote = try #require(cut.damage)
        #expect(cutNote.contains("cut short"))
        #expect(cut.entries.count > 0 && cut.entries.count < full.entries.count)
        #expect(zip(cut.entries, full.entries).allSatisfy { $0.t == $1.t })
        // Its summary is marked interrupted: the end was lost.
        let frames = cut.entries.compactMap { entry -> (snapshot: PoolSnapshot, status: SessionStatus)? in
            if case .tick(let frame) = entry.message { return (frame.snapshot, frame.status) }
            return nil
        }
        #expect(RunResult.summarising(scenario: "recorded", seed: 3, frames: frames, report: nil)?.interrupted == true)

        // One byte flipped inside the second block's compressed data.
        var corrupt = whole
        let headerEnd = try #require(corrupt.indices.filter { corrupt[$0] == 0x0A }.dropFirst().first) + 1
        let firstBlock = Int(corrupt[headerEnd..<headerEnd + 4].reduce(UInt32(0)) { ($0 << 8) | UInt32($1) })
        let secondBlock = headerEnd + 8 + firstBlock
        corrupt[secondBlock + 8 + 20] ^= 0xFF
        let damaged = try Recording.read(corrupt, path: path)
        #expect(damaged.damage?.contains("block 2") == true)
        #expect(damaged.damage?.contains("corrupt") == true)
        #expect(damaged.entries.count > 0 && damaged.entries.count < full.entries.count)

        #expect(throws: RecordingError.self) { try Recording.read(Data("hello".utf8), path: "x") }
        let futureVersion = Data(
            "POOLSCOPE-RECORDING\n{\"version\":99,\"source\":\"scenario\",\"scenario\":\"x\",\"recordedAt\":\"\",\"fps\":10}\n".utf8)
        do {
            _ = try Recording.read(futureVersion, path: "x.rec")
            Issue.record("read a version it does not know")
        } catch {
            #expect(error.message.contains("version 99"))
        }
    }

    @Test("a long recording: jumping back refolds from a checkpoint to the very state a straight fold reaches")
    func checkpoints() async throws {
        let short = try await recordedRun().recording
        // The same messages twelve times over, later each time: over 200 entries, so checkpoints exist.
        let span = (short.entries.last?.t ?? 0) + 0.1
        let entries = (0..<12).flatMap { round in
            short.entries.map { RecordedEntry(t: $0.t + Double(round) * span, message: $0.message) }
        }
        let long = Recording(header: short.header, entries: entries)
        var folded = DashboardState(burstSize: 100)
        var screens: [Canvas] = []
        for entry in entries {
            (folded, _) = update(folded, entry.message.message)
            screens.append(view(folded, width: 100, height: 30))
        }
        var player = ReplayPlayer(recording: long, initial: DashboardState(burstSize: 100))
        player.show(entries: entries.count)
        try #require(entries.count > 300, "over 200 entries, so checkpoints exist: \(entries.count)")
        for count in [entries.count - 3, 201, 199, 37, 1, entries.count * 2 / 3] {
            player.show(entries: count)
            #expect(view(player.state, width: 100, height: 30) == screens[count - 1], "after \(count) entries")
        }
    }

    @Test("stepping past either end stays in the recording; n at the last frame shows the report after it")
    func stepAtTheEnds() async throws {
        let recording = try await recordedRun().recording
        var player = ReplayPlayer(recording: recording)
        player.step(by: -1)
        #expect(player.position == 0)
        player.show(entries: recording.entries.count)
        let end = player.position
        player.step(by: 1)
        #expect(player.position == end, "n at the end does not go back")
        // From the last frame (before the report and the frame after it), n reaches the end.
        let lastTick = try #require(recording.entries.lastIndex { if case .tick = $0.message { true } else { false } })
        player.show(entries: lastTick + 1)
        player.step(by: 1)
        #expect(player.position == recording.entries.count)
        #expect(player.frames.shown == player.frames.total)
        // Playing at the end stops at once.
        player.playing = true
        player.advance(by: 1)
        #expect(!player.playing)
    }

    @Test("the viewer's own view keys survive a seek back")
    func viewChoicesSurviveSeeks() async throws {
        let recording = try await recordedRun().recording
        var player = ReplayPlayer(recording: recording)
        player.show(entries: recording.entries.count)
        player.view(.character("w"))
        let whole = player.state.latencyWholeRun
        player.show(entries: 3)
        #expect(player.state.latencyWholeRun == whole)
    }

    @Test("keys survive the round trip, named ones and characters alike")
    func keysRoundTrip() throws {
        let keys: [Key] = [.character("h"), .character("<"), .character("?"), .left, .enter, .escape, .tab, .interrupt]
        let data = try JSONEncoder().encode(keys)
        #expect(try JSONDecoder().decode([Key].self, from: data) == keys)
    }
}
