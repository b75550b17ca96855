// poolscope-allocations: how many heap allocations each pool makes per job in steady state, counted by
// ordo-one's malloc interposer. Run with the interposer preloaded (`poolscope bench` does this):
//
//   LD_PRELOAD=.build/release/libMallocInterposerSwift.so .build/release/poolscope-allocations [jobs]
//
// Prints one JSON object: {"preloaded": true, "jobs": N, "allocations_per_job": {"poolscope-typed": 0.0, ...}}.
// Each pool runs a warm-up of the same size first, so what is counted is the steady state (queues and
// buffers already grown), then the measured jobs between hook() and unhook().
import Bench
import Foundation
import MallocInterposerSwift

let jobs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) }.map { min(max($0, 1_000), 10_000_000) } ?? 200_000
MallocInterposerSwift.initialize()
let preloaded =
    ProcessInfo.processInfo.environment["LD_PRELOAD"]?.contains("MallocInterposer") == true
    || ProcessInfo.processInfo.environment["DYLD_INSERT_LIBRARIES"]?.contains("MallocInterposer") == true
var perJob: [String: Double] = [:]
for pool in AllocationCount.pools {
    _ = await AllocationCount.run(pool, jobs: jobs, between: {}, and: {})  // warm-up
    MallocInterposerSwift.reset()
    _ = await AllocationCount.run(pool, jobs: jobs, between: { MallocInterposerSwift.hook() }, and: { MallocInterposerSwift.unhook() })
    perJob[pool.rawValue] = (Double(MallocInterposerSwift.getStatistics().mallocCount) / Double(jobs) * 1_000).rounded() / 1_000
}
let document: [String: Any] = ["preloaded": preloaded, "jobs": jobs, "allocations_per_job": perJob]
if let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) {
    print(String(decoding: data, as: UTF8.self))
}
