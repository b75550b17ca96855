// libFuzzer target for recordings (`--record` files, which `replay` reads from anywhere): bytes -> read ->
// summary -> replay. See docs/FUZZING.md.
import Foundation
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

// libFuzzer runs the inputs from our own `main` (LLVMFuzzerRunDriver), since SwiftPM gives an executable its
// `main`. scripts/fuzz.sh builds with -sanitize=fuzzer,address -DPOOLSCOPE_FUZZING; a plain build, which
// has no libFuzzer to link, makes a program that says so.
#if POOLSCOPE_FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt
) -> CInt

var argumentCount = CommandLine.argc
var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argumentCount, &arguments, fuzzRecording))
#else
print("FuzzRecording is a libFuzzer target: build and run it with scripts/fuzz.sh (docs/FUZZING.md)")
#endif
