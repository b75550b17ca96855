/// A fingerprint of a scenario's job stream: every submission's time, service, failure draw seed, key and
/// priority, in order (FNV-1a, 64 bits). Two runs with the same digest saw the same jobs arrive at the same
/// moments and fail the same attempts; `poolscope compare` shows it for every variant.
public enum StreamDigest {
    /// The digest of `scenario`'s whole stream (its workload, timeline, duration and seed), as hex.
    public static func of(_ scenario: Scenario) -> String {
        var schedule = SubmissionSchedule(
            workload: scenario.workload, timeline: scenario.timeline, duration: scenario.duration, seed: scenario.seed)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt64) {
            var value = value
            for _ in 0..<8 {
                hash = (hash ^ (value & 0xff)) &* 0x0000_0100_0000_01b3
                value >>= 8
            }
        }
        func nanoseconds(_ duration: Duration) -> UInt64 {
            let (seconds, attoseconds) = duration.components
            return UInt64(bitPattern: seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
        }
        var count: UInt64 = 0
        while let submission = schedule.next() {
            let spec = submission.spec
            mix(nanoseconds(submission.at))
            mix(UInt64(bitPattern: Int64(spec.index)))
            mix(nanoseconds(spec.service))
            mix(spec.failureRate.bitPattern)
            mix(spec.failureSeed)
            mix(UInt64(bitPattern: Int64(spec.priority)))
            for byte in (spec.key ?? "\u{0}").utf8 { mix(UInt64(byte)) }
            count += 1
        }
        mix(count)
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
