// libFuzzer target for the monitor endpoint's request and response bodies: a command a client POSTs (decoded,
// then carried out on a live pool, as the endpoint does) and the snapshot documents `attach` reads from a
// server. See docs/FUZZING.md.
import Foundation
import FuzzSupport
import MonitorProtocol
import PoolEngine

/// One pool for every input, as one application serves many requests. Commands may resize it, crash its
/// workers or shut it down; later commands then get refusals, which is what a client would get too.
let pool: WorkerPool? = {
    var configuration = PoolConfiguration()
    configuration.minWorkers = 0
    configuration.maxWorkers = 4
    configuration.executor = .globalConcurrent
    return try? WorkerPool(configuration: configuration)
}()

/// One input: a JSON body. Decoding must end in a document or a decoding error; a command must end in its
/// reply or a `CommandError`; a snapshot document must convert to the dashboard's snapshot without a trap.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzMonitor(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Data(bytes: $0, count: count) } ?? Data()
    let decoder = MonitorJSON.decoder()
    if let command = try? decoder.decode(CommandDocument.self, from: bytes), let pool {
        do throws(CommandError) {
            _ = try apply(command, to: pool)
        } catch {
            precondition(!error.description.isEmpty, "a refusal says why")
        }
    }
    if let document = try? decoder.decode(SnapshotDocument.self, from: bytes) {
        _ = PoolSnapshot(document)
    }
    _ = try? decoder.decode(PoolListDocument.self, from: bytes)
    return 0
}

runFuzzer("FuzzMonitor", fuzzMonitor)
