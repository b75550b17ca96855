import Foundation
import Testing

@testable import PoolCluster

private func job(_ id: Int64) -> ClaimedJob {
    ClaimedJob(id: id, kind: "k", key: nil, payload: "{}", attempt: 1, maxAttempts: 3, token: 7, timeout: nil)
}

private func outcome(_ id: Int64, _ result: AttemptOutcome.Result = .completed) -> AttemptOutcome {
    AttemptOutcome(id: id, token: 7, result: result, error: "", backoff: 0, ranFrom: 0, ranUntil: 0)
}

@Suite("A node's bookkeeping (pure)")
struct NodeStateTests {
    @Test("claims come in batches: room is workers plus what the node finishes in claimAhead, claimed when a quarter is free")
    func claimCapacity() {
        var configuration = NodeConfiguration(name: "n")
        configuration.workers = 4
        var state = NodeState(name: "n", workers: 4)
        #expect(state.claimLimit(configuration) == 8, "no rate yet: workers + workers")
        #expect(state.claimCapacity(configuration) == 8)
        for id in 1...7 { state.claimed[Int64(id)] = job(Int64(id)) }
        #expect(state.claimCapacity(configuration) == 0, "one free of eight is less than a quarter")
        state.claimed[7] = nil
        #expect(state.claimCapacity(configuration) == 2)
        state.rate = 10_000
        #expect(state.claimLimit(configuration) == 4 + 1_000, "100 ms at 10,000/s")
        state.rate = 1_000_000
        #expect(state.claimLimit(configuration) == 4 + configuration.maxClaimBatch)
    }

    @Test("a handed-back job never starts; finishing queues its outcome and wakes the claimer only when room appears")
    func beginFinishHandBack() {
        var configuration = NodeConfiguration(name: "n")
        configuration.workers = 1
        var state = NodeState(name: "n", workers: 1)
        state.claimed[1] = job(1)
        state.claimed[2] = job(2)
        let began = state.begin(1)
        #expect(began)
        #expect(state.claimCapacity(configuration) == 0, "full: 1 worker + 1 ahead")
        let (wakeClaimer, wakeCompleter) = state.finish(1, outcome: outcome(1), configuration: configuration)
        #expect(wakeClaimer && wakeCompleter, "room appeared; the first outcome is waiting")
        let unstarted = state.takeUnstarted()
        #expect(unstarted.map(\.id) == [2])
        let handedBackBegan = state.begin(2)
        #expect(!handedBackBegan, "handed back: must not run")
        let unknownBegan = state.begin(99)
        #expect(!unknownBegan, "never claimed")
        #expect(state.running.isEmpty && state.claimed.isEmpty && state.outcomes.count == 1)
    }

    @Test("outcomes taken by the completer are put back in order when the write fails, and counted once written")
    func outcomesPutBack() {
        var state = NodeState(name: "n", workers: 1)
        state.outcomes = [outcome(1), outcome(2, .failed), outcome(3)]
        let batch = state.takeOutcomes(2)
        #expect(batch.map(\.id) == [1, 2] && state.writing == 2)
        state.putBackOutcomes(batch)
        #expect(state.outcomes.map(\.id) == [1, 2, 3] && state.writing == 0)
        let again = state.takeOutcomes(10)
        state.recordWritten(again, stale: 1)
        #expect(state.completed == 2 && state.failed == 1 && state.staleCompletions == 1)
        #expect(state.status.pendingOutcomes == 0)
    }

    @Test("connected time counts only while the database answers")
    func connectedFor() {
        var state = NodeState(name: "n", workers: 1)
        let start = Date()
        state.connectedSince = start
        #expect(state.connectedFor(now: start + 12) == 12)
        state.unreachableSince = start + 12
        #expect(state.connectedFor(now: start + 20) == 0)
    }
}
