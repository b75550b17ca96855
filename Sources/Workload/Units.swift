import PoolEngine

/// Readable quantities in scenario files: durations ("20ms", "2s") and rates ("300/s").
public enum Units {
    /// The longest duration a scenario field or flag may give: a simulation runs within a day. Longer values
    /// (50 days of service, a 292-year run) describe nothing a run can show, so they are refused with the limit.
    public static let longestDuration: Duration = .seconds(86_400)

    /// Whether `text` is a duration within `(0, 24h]` (flags such as `--duration`).
    public static func isRunLength(_ text: String) -> Bool {
        duration(text).map { $0 > .zero && $0 <= longestDuration } ?? false
    }

    /// The fastest rate a scenario may ask for. Beyond it the generator cannot keep time (the pool's best is a
    /// few million jobs a second on a whole machine), and a run would only burn the CPU.
    public static let fastestRate: Double = 1_000_000

    /// Parses "250us", "20ms", "1.5s", "2m", "1h" (a number and a unit; no bare numbers).
    public static func duration(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces
        let units: [(String, Double)] = [("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3_600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingSpaces
            // "ms" also ends in "s", and "us" in "s": only accept a clean number before the unit.
            guard let value = Double(number), value.isFinite else { continue }
            // Beyond about 292 years a duration does not fit in Int64 nanoseconds: not a duration here.
            let nanoseconds = (value * scale * 1e9).rounded()
            guard abs(nanoseconds) < 9.2e18 else { return nil }
            return .nanoseconds(Int64(nanoseconds))
        }
        return nil
    }

    /// Parses "300/s", "20/ms", "1200/m" into jobs per second.
    public static func rate(_ text: String) -> Double? {
        let parts = text.trimmingSpaces.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Double(String(parts[0]).trimmingSpaces), count.isFinite else { return nil }
        let per: Double
        switch String(parts[1]).trimmingSpaces {
        case "s": per = 1
        case "ms": per = 1e-3
        case "m", "min": per = 60
        case "h": per = 3_600
        default: return nil
        }
        return count / per
    }

    /// "300/s" style text for a rate.
    public static func format(rate perSecond: Double) -> String {
        guard perSecond.isFinite, abs(perSecond) < 1e15 else { return "\(perSecond)/s" }
        return perSecond == perSecond.rounded() ? "\(Int(perSecond))/s" : "\((perSecond * 100).rounded() / 100)/s"
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
