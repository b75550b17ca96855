import Foundation
import Testing

/// `poolscope bench io-row`, the fresh process `poolscope bench` runs each waiting-workload runner in. In the
/// serialized CLI suite (see its note on cooperative threads).
extension CLITests {
    @Test("bench io-row runs one runner and prints its row as one line of JSON; an unknown runner is a usage error")
    func benchIORow() throws {
        let result = try poolscope(
            "bench", "io-row", "--runner", "poolscope-shared", "--worker-count", "5", "--rate", "100", "--seconds", "0.3")
        #expect(result.status == 0, "\(result.error)")
        struct Row: Decodable {
            let runner: String
            let workers: Int
            let jobs: Int
            let exactlyOnce: Bool
        }
        let row = try JSONDecoder().decode(Row.self, from: Data(result.output.utf8))
        #expect(row.runner == "poolscope-shared" && row.workers == 5 && row.jobs > 0 && row.exactlyOnce)

        let unknown = try poolscope("bench", "io-row", "--runner", "nope")
        #expect(unknown.status == 2)
        #expect(unknown.error.contains("unknown runner 'nope'") && unknown.error.contains("asyncstream"), "\(unknown.error)")
        let go = try poolscope("bench", "io-row", "--runner", "go")
        #expect(go.status == 2, "Go's row comes from its own peer program, not from io-row")
    }
}
