// libFuzzer target for cluster job payloads: the JSON a producer (or anyone with the database) writes into a
// job row, as a node decodes and checks it before running the handler. See docs/FUZZING.md.
import ClusterJobs
import Foundation

/// One input: a payload's bytes as the `payload` column holds them. Decoding must end in a payload or a
/// decoding error, and a decoded payload in a run plan or `InvalidPayload`, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzClusterPayload(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Data(bytes: $0, count: count) } ?? Data()
    guard let payload = try? JSONDecoder().decode(SimulatedJob.Payload.self, from: bytes) else { return 0 }
    do throws(SimulatedJob.InvalidPayload) {
        try SimulatedJob.validate(payload)
        // What the handler then computes: the service time, and the failure draws of the first attempts.
        _ = Duration.microseconds(payload.serviceMicroseconds)
        for attempt in 1...3 { _ = SimulatedJob.fails(seed: payload.seed, attempt: attempt, rate: payload.failRate) }
    } catch {
        precondition(!error.description.isEmpty, "a refusal says why")
    }
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
exit(runFuzzerDriver(&argumentCount, &arguments, fuzzClusterPayload))
#else
print("FuzzClusterPayload is a libFuzzer target: build and run it with scripts/fuzz.sh (docs/FUZZING.md)")
#endif
