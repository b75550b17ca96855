import PoolEngine
import Testing

@testable import PoolCluster

@Suite("Key ownership by jump consistent hash (pure)")
struct KeyOwnershipTests {
    @Test("every slot has exactly one owner, and slots spread evenly")
    func everySlotOneOwner() {
        let ownership = KeyOwnership(nodes: [11, 12, 13])
        let owned = ownership.nodes.map { ownership.slots(ownedBy: $0) }
        #expect(owned.map(\.count).reduce(0, +) == ClusterProducer.keySlots)
        #expect(Set(owned.flatMap { $0 }).count == ClusterProducer.keySlots)
        for slots in owned { #expect(abs(slots.count - ClusterProducer.keySlots / 3) < 80, "\(slots.count)") }
    }

    @Test("a node joining takes only slots for itself; the others keep the rest")
    func joiningMovesOnlyToNewNode() {
        let before = KeyOwnership(nodes: [1, 2, 3])
        let after = KeyOwnership(nodes: [1, 2, 3, 4])
        var moved = 0
        for slot in 0..<ClusterProducer.keySlots {
            let old = before.ownerIndex(ofSlot: slot).map { before.nodes[$0] }
            let new = after.ownerIndex(ofSlot: slot).map { after.nodes[$0] }
            if old != new {
                moved += 1
                #expect(new == 4, "slot \(slot) moved from \(String(describing: old)) to \(String(describing: new))")
            }
        }
        #expect(moved > ClusterProducer.keySlots / 6 && moved < ClusterProducer.keySlots / 3, "\(moved)")
    }

    @Test("no live keyed node: no owner")
    func noNodes() {
        #expect(KeyOwnership(nodes: []).owner(ofKey: "k1") == nil)
        #expect(KeyOwnership(nodes: [7]).owner(ofKey: "k1") == 7)
    }

    @Test("schema names are validated; URLs are parsed with clear errors")
    func namesAndURLs() throws {
        #expect(throws: ClusterError.self) { try ClusterSchema("Bad-Name") }
        #expect(throws: ClusterError.self) { try ClusterSchema("1abc") }
        for reserved in ["public", "pg_catalog", "pg_temp", "information_schema"] {
            #expect(throws: ClusterError.self, "\(reserved)") { try ClusterSchema(reserved) }
        }
        #expect(throws: ClusterError.self) { try DatabaseURL("postgres://u@h/db?sslmode=require") }
        #expect(try ClusterSchema("poolscope_2").name == "poolscope_2")
        let url = try DatabaseURL("postgres://alice:se%40cret@db.example:6543/jobs")
        #expect(url.host == "db.example" && url.port == 6543 && url.username == "alice")
        #expect(url.password == "se@cret" && url.database == "jobs")
        #expect(url.description == "postgres://alice@db.example:6543/jobs")
        #expect(throws: ClusterError.self) { try DatabaseURL("mysql://x@y/z") }
        #expect(throws: ClusterError.self) { try DatabaseURL("postgres:///nohost") }
    }

    @Test("simulated failures are decided by seed and attempt, at the requested rate")
    func simulatedFailureRate() {
        var failures = 0
        for seed in 0..<20_000 { if SimulatedJob.fails(seed: UInt64(seed), attempt: 1, rate: 0.1) { failures += 1 } }
        #expect(abs(failures - 2_000) < 200, "\(failures)")
        #expect(SimulatedJob.fails(seed: 5, attempt: 2, rate: 0.5) == SimulatedJob.fails(seed: 5, attempt: 2, rate: 0.5))
        #expect(!SimulatedJob.fails(seed: 5, attempt: 1, rate: 0))
    }

    @Test("a simulated payload from the queue beyond a day of service or outside 0...1 fails its attempt in words, never traps")
    func hostilePayloads() async throws {
        var handlers = ClusterJobHandlers()
        SimulatedJob.register(on: &handlers)
        let handler = try #require(handlers.handler(for: "simulated"))
        let context = ClusterJobContext(id: 1, kind: "simulated", key: nil, attempt: 1, maxAttempts: 3, node: "n1")
        let cases = [
            (
                #"{"service_us": 9223372036854775807, "spin": false, "fail_rate": 0, "seed": 1}"#,
                "service_us 9223372036854775807 is not within 0...86400000000 (a day)"
            ),
            (#"{"service_us": -5, "spin": true, "fail_rate": 0, "seed": 1}"#, "service_us -5 is not within 0...86400000000 (a day)"),
            (#"{"service_us": 0, "spin": false, "fail_rate": 1.5, "seed": 1}"#, "fail_rate 1.5 is not within 0...1"),
        ]
        for (payload, message) in cases {
            do {
                try await handler(payload, context)
                Issue.record("\(payload) ran")
            } catch {
                #expect(error as? SimulatedJob.InvalidPayload == SimulatedJob.InvalidPayload(description: message), "\(error)")
            }
        }
        do {
            try await handler(#"{"service_us": "soon"}"#, context)
            Issue.record("an undecodable payload ran")
        } catch let error as ClusterJobError {
            #expect(error.description.contains("does not decode as Payload"), "\(error)")
        }
        try await handler(#"{"service_us": 0, "spin": false, "fail_rate": 0, "seed": 1}"#, context)
    }
}
