// libFuzzer target for scenario files: bytes -> parse -> validate -> the job stream. See docs/FUZZING.md.
import Foundation
import FuzzSupport
import PoolEngine
import Workload

/// One input: a scenario's bytes, optionally followed by a NUL byte and one `--set` override.
/// Whatever the bytes, reading must end in a scenario or a `ScenarioError`; a trap, a crash, a leak or a
/// hang (libFuzzer's `-timeout`) is a finding. A scenario that is accepted must also make a sane job stream.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzScenario(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Data(bytes: $0, count: count) } ?? Data()
    ScenarioFuzzing.check(bytes)
    return 0
}

enum ScenarioFuzzing {
    /// Submissions taken from an accepted scenario's stream per input (enough to pass bursts and rate
    /// changes, few enough to keep thousands of inputs a second).
    static let submissionsChecked = 5_000

    static func check(_ bytes: Data) {
        let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let text = String(decoding: parts.first ?? Data(), as: UTF8.self)
        var overrides: [ScenarioOverride] = []
        if parts.count > 1, let override = try? ScenarioOverride(String(decoding: parts[1], as: UTF8.self)) {
            overrides.append(override)
        }
        let scenario: Scenario
        do {
            scenario = try ScenarioParser.parse(text, file: "fuzz.yaml", overrides: overrides)
        } catch {
            precondition(!error.description.isEmpty, "a refusal says why")
            return
        }
        // What `run` does next: the pool's own validation, Erlang C's model, the compressed form.
        _ = try? scenario.pool.validate()
        _ = ErlangC.model(of: scenario)
        let compressed = scenario.compressed(to: .seconds(2))
        precondition(compressed.duration == .seconds(2))
        var schedule = SubmissionSchedule(
            workload: scenario.workload, timeline: scenario.timeline, duration: scenario.duration, seed: scenario.seed)
        var last = Duration.zero
        for _ in 0..<submissionsChecked {
            guard let submission = schedule.next() else { break }
            precondition(submission.at >= last, "submissions come in time order")
            precondition(submission.at <= scenario.duration, "no submission after the scenario's end")
            precondition(submission.spec.service >= .zero, "service times are not negative")
            last = submission.at
        }
    }
}

runFuzzer("FuzzScenario", fuzzScenario)
