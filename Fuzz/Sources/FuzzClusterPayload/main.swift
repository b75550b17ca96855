// libFuzzer target for cluster job payloads: the JSON a producer (or anyone with the database) writes into a
// job row, as a node decodes and checks it before running the handler. See docs/FUZZING.md.
import ClusterJobs
import Foundation
import FuzzSupport

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

runFuzzer("FuzzClusterPayload", fuzzClusterPayload)
