import Foundation
import Testing

/// Heap allocations per job, counted by ordo-one's malloc interposer preloaded into `poolscope-allocations`
/// (built beside poolscope). In the serialized CLI suite (see its note on cooperative threads).
extension CLITests {
    @Test("the typed pool allocates less per job than the closure pool (nothing at all when optimised), counted by the interposer")
    func allocationsPerJob() throws {
        let directory = poolscopeBinary.deletingLastPathComponent()
        let library = directory.appendingPathComponent("libMallocInterposerSwift.so").path
        let probe = directory.appendingPathComponent("poolscope-allocations")
        try #require(FileManager.default.fileExists(atPath: library), "the interposer is built beside poolscope: \(library)")
        let result = try runPoolscope(["100000"], environment: ["LD_PRELOAD": library], binary: probe)
        #expect(result.status == 0, "\(result.error)")
        struct Output: Decodable {
            let preloaded: Bool
            let jobs: Int
            let allocations_per_job: [String: Double]
        }
        let output = try JSONDecoder().decode(Output.self, from: Data(result.output.utf8))
        #expect(output.preloaded && output.jobs == 100_000)
        let typed = try #require(output.allocations_per_job["poolscope-typed"])
        let closures = try #require(output.allocations_per_job["poolscope-fifo"])
        #expect(typed < closures, "the typed path allocates less than the closure pool: \(typed) against \(closures) per job")
        #if !DEBUG
            // Optimised, the typed path allocates nothing per job (a debug build's unspecialised code does).
            #expect(typed < 0.01, "the typed path: no allocation per job (\(typed) per job)")
        #endif
    }
}
