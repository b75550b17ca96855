// libFuzzer target for recordings (`--record` files, which `replay` reads from anywhere): bytes -> read ->
// summary -> replay. See docs/FUZZING.md.
import Foundation
import FuzzSupport
import Recording

/// One input: a recording's bytes. Reading must end in a recording (up to any damage, which it names) or a
/// `RecordingError`; summarising and replaying what was read must not trap.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRecording(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Data(bytes: $0, count: count) } ?? Data()
    guard let recording = try? Recording.read(bytes, path: "fuzz.psrec") else { return 0 }
    _ = recording.runSummary()
    var player = ReplayPlayer(recording: recording)
    player.step(by: 3)
    player.seekEvent(forward: true)
    player.seek(to: player.duration / 2)
    player.step(by: -2)
    player.seekEvent(forward: false)
    player.advance(by: 1)
    player.seek(to: player.duration + 1)
    return 0
}

runFuzzer("FuzzRecording", fuzzRecording)
