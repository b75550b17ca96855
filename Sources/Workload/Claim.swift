import PoolEngine

/// A checkable sentence about a run, written beside a caption so a lesson cannot quietly stop being true:
/// `queue >= 200 at 12s`, `workers == 2 by 40s`, `wait_p99_ms[0] > 10 x wait_p99_ms[10]`.
///
/// Grammar: `METRIC OP VALUE [WHEN]`, where OP is one of `>= <= > < ==`, VALUE is a number or
/// `NUMBER x METRIC`, and WHEN is `at T` (the one-second sample at scenario time T), `by T` (some sample
/// from the entry's time up to T), `from A to B` (every sample in between), or nothing (the whole run's
/// summary). ``Claim/metrics`` lists the metrics and what each means.
public struct Claim: Sendable, Equatable, CustomStringConvertible {
    public enum Comparison: String, Sendable, CaseIterable {
        case atLeast = ">="
        case atMost = "<="
        case above = ">"
        case below = "<"
        case equal = "=="

        func holds(_ lhs: Double, _ rhs: Double) -> Bool {
            switch self {
            case .atLeast: lhs >= rhs
            case .atMost: lhs <= rhs
            case .above: lhs > rhs
            case .below: lhs < rhs
            case .equal: abs(lhs - rhs) < 1e-9
            }
        }
    }

    /// A metric, with a priority level for the per-priority ones (`wait_p99_ms[0]`).
    public struct Metric: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var level: Int?
        public var description: String { level.map { "\(name)[\($0)]" } ?? name }
    }

    public enum When: Sendable, Equatable {
        /// The run's summary.
        case end
        case at(Duration)
        /// Some sample from `since` (the entry's time) up to `deadline`.
        case by(Duration, since: Duration)
        case during(from: Duration, to: Duration)
    }

    public var text: String
    public var metric: Metric
    public var comparison: Comparison
    public var factor: Double
    /// `factor x reference` when set; the plain number `factor` otherwise.
    public var reference: Metric?
    public var when: When
    /// Where it was written, for messages.
    public var line: Int = 0

    public var description: String { text }

    /// What each metric means. Sampled once a second (usable with at/by/from): the first group; from the
    /// run's summary only: the second.
    public static let sampledMetrics: [String: String] = [
        "workers": "live workers",
        "queue": "jobs waiting",
        "in_flight": "jobs running",
        "completed_per_s": "jobs completed in that second",
        "failed_per_s": "jobs failed for good in that second",
        "rejected_per_s": "jobs rejected in that second",
        "completed": "jobs completed so far",
        "failed": "jobs failed for good so far",
        "rejected": "jobs rejected so far",
        "retried": "retries so far",
        "cancelled": "jobs cancelled so far",
        "keys_moved_pct": "percent of the known keys that changed worker at the last resize (keyed)",
    ]
    public static let summaryMetrics: [String: String] = [
        "wait_mean_ms": "mean queue wait", "wait_p50_ms": "median queue wait", "wait_p99_ms": "p99 queue wait",
        "wait_max_ms": "longest queue wait", "service_mean_ms": "mean service time",
        "e2e_p99_ms": "p99 end-to-end latency", "throughput_mean": "completions per second over the run",
        "workers_max": "most workers seen", "workers_min": "fewest workers seen", "workers_mean": "workers on average over the run",
        "workers_final": "workers at the end",
        "scale_ups": "scale-up events", "scale_downs": "scale-down events", "dead_letters": "jobs dead-lettered",
        "timed_out": "attempts timed out", "submitted": "jobs submitted",
        "theory_wait_ms": "Erlang C's predicted mean queue wait (M/M/c scenarios)",
        "theory_wait_measured_service_ms": "Erlang C's prediction redone with the service time measured",
        "completed[L]": "jobs of priority L completed", "submitted[L]": "jobs of priority L submitted",
        "wait_mean_ms[L]": "mean queue wait of priority L", "wait_p99_ms[L]": "p99 queue wait of priority L",
        "wait_max_ms[L]": "longest queue wait of priority L",
    ]
    static let levelMetrics: Set<String> = ["completed", "submitted", "wait_mean_ms", "wait_p99_ms", "wait_max_ms"]

    /// Parses one claim; `at` is the time of the timeline entry it sits on. Throws a message naming the
    /// part that is wrong.
    public static func parse(_ text: String, at entryTime: Duration = .zero) throws(ClaimSyntaxError) -> Claim {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count >= 3 else {
            throw ClaimSyntaxError("a claim reads 'METRIC OP VALUE [at T | by T | from A to B]', like 'queue >= 200 at 12s'; got '\(text)'")
        }
        let metric = try parseMetric(words.removeFirst())
        let opWord = words.removeFirst()
        guard let comparison = Comparison(rawValue: opWord) else {
            throw ClaimSyntaxError("'\(opWord)' is not a comparison; use one of >= <= > < ==")
        }
        guard let factor = Double(words.removeFirst()), factor.isFinite else {
            throw ClaimSyntaxError("the value after '\(opWord)' must be a number (or 'N x METRIC'); got '\(text)'")
        }
        var reference: Metric?
        if words.first == "x" {
            words.removeFirst()
            guard !words.isEmpty else { throw ClaimSyntaxError("'x' must be followed by a metric") }
            reference = try parseMetric(words.removeFirst())
        }
        let when: When
        switch words.first {
        case nil:
            when = .end
        case "at" where words.count == 2 && words[1] == "end":
            when = .end
        case "at" where words.count == 2:
            when = .at(try time(words[1]))
        case "by" where words.count == 2:
            when = .by(try time(words[1]), since: entryTime)
        case "from" where words.count == 4 && words[2] == "to":
            let from = try time(words[1])
            let to = try time(words[3])
            guard from <= to else { throw ClaimSyntaxError("'from \(words[1]) to \(words[3])' ends before it starts") }
            when = .during(from: from, to: to)
        default:
            throw ClaimSyntaxError("after the value comes 'at T', 'by T', 'from A to B' or nothing; got '\(words.joined(separator: " "))'")
        }
        if when != .end {
            for used in [metric] + (reference.map { [$0] } ?? []) where sampledMetrics[used.name] == nil || used.level != nil {
                throw ClaimSyntaxError("'\(used)' is known only for the whole run: write the claim without a time")
            }
        }
        return Claim(text: text, metric: metric, comparison: comparison, factor: factor, reference: reference, when: when)
    }

    private static func parseMetric(_ word: String) throws(ClaimSyntaxError) -> Metric {
        var name = word
        var level: Int?
        if let open = word.firstIndex(of: "["), word.hasSuffix("]") {
            name = String(word[..<open])
            let inside = word[word.index(after: open)..<word.index(before: word.endIndex)]
            guard let value = Int(inside) else { throw ClaimSyntaxError("the priority level in '\(word)' must be a whole number") }
            level = value
            guard levelMetrics.contains(name) else {
                throw ClaimSyntaxError("'\(name)' has no per-priority form; those are \(levelMetrics.sorted().joined(separator: ", "))")
            }
        }
        guard sampledMetrics[name] != nil || summaryMetrics[name] != nil else {
            let known = (Array(sampledMetrics.keys) + summaryMetrics.keys.filter { !$0.hasSuffix("[L]") }).sorted()
            throw ClaimSyntaxError("unknown metric '\(name)'; known: \(known.joined(separator: ", "))")
        }
        return Metric(name: name, level: level)
    }

    private static func time(_ word: String) throws(ClaimSyntaxError) -> Duration {
        guard let value = Units.duration(word), value >= .zero else {
            throw ClaimSyntaxError("'\(word)' must be a scenario time with a unit, like 12s")
        }
        return value
    }
}

/// What is wrong with a claim's text.
public struct ClaimSyntaxError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A claim and what the run showed.
public struct ClaimResult: Codable, Sendable, Equatable {
    public var claim: String
    public var held: Bool
    /// The value (or values) the run showed, in words: "queue was 231 at 12s".
    public var observed: String
}

extension Claim {
    /// Checks the claim against a run's summary and its one-second samples.
    public func check(summary: RunResult, rows: [SecondRow]) -> ClaimResult {
        func result(_ held: Bool, _ observed: String) -> ClaimResult { ClaimResult(claim: text, held: held, observed: observed) }
        func bound(_ value: (Metric) -> Double?) -> Double? {
            guard let reference else { return factor }
            return value(reference).map { $0 * factor }
        }
        switch when {
        case .end:
            guard let value = summary.value(of: metric, rows: rows) else { return result(false, "\(metric) is not known for this run") }
            guard let limit = bound({ summary.value(of: $0, rows: rows) }) else {
                return result(false, "\(reference.map(\.description) ?? "") is not known for this run")
            }
            return result(comparison.holds(value, limit), "\(metric) was \(show(value)), against \(show(limit))")
        case .at(let t):
            guard let row = rows.min(by: { abs($0.t - t.seconds) < abs($1.t - t.seconds) }), abs(row.t - t.seconds) <= 1 else {
                return result(false, "no sample near \(formattedTime(t)) (the run ended at \(show(rows.last?.t ?? 0))s)")
            }
            let value = row.value(of: metric.name)
            let limit = bound { row.value(of: $0.name) } ?? factor
            return result(comparison.holds(value, limit), "\(metric) was \(show(value)) at \(show(row.t))s, against \(show(limit))")
        case .by(let deadline, let since):
            let window = rows.filter { $0.t >= since.seconds - 0.5 && $0.t <= deadline.seconds + 0.5 }
            if let hit = window.first(where: { row in
                comparison.holds(row.value(of: metric.name), bound { row.value(of: $0.name) } ?? factor)
            }) {
                return result(true, "\(metric) was \(show(hit.value(of: metric.name))) at \(show(hit.t))s")
            }
            let seen = window.map { show($0.value(of: metric.name)) }.suffix(6).joined(separator: ", ")
            return result(
                false, "\(metric) never \(comparison.rawValue) \(show(factor)) by \(formattedTime(deadline)); last samples: \(seen)")
        case .during(let from, let to):
            let window = rows.filter { $0.t >= from.seconds - 0.5 && $0.t <= to.seconds + 0.5 }
            guard !window.isEmpty else { return result(false, "no samples from \(formattedTime(from)) to \(formattedTime(to))") }
            if let miss = window.first(where: { row in
                !comparison.holds(row.value(of: metric.name), bound { row.value(of: $0.name) } ?? factor)
            }) {
                return result(false, "\(metric) was \(show(miss.value(of: metric.name))) at \(show(miss.t))s")
            }
            let values = window.map { $0.value(of: metric.name) }
            return result(true, "\(metric) stayed within \(show(values.min() ?? 0))...\(show(values.max() ?? 0))")
        }
    }

    private func show(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\((value * 100).rounded() / 100)"
    }

    private func formattedTime(_ t: Duration) -> String { PoolEngine.formatted(t) }
}

extension SecondRow {
    func value(of name: String) -> Double {
        switch name {
        case "workers": Double(workers)
        case "queue": Double(queueDepth)
        case "in_flight": Double(inFlight)
        case "completed_per_s": Double(completedPerS)
        case "failed_per_s": Double(failedPerS)
        case "rejected_per_s": Double(rejectedPerS)
        case "completed": Double(totals.completed)
        case "failed": Double(totals.failed)
        case "rejected": Double(totals.rejected)
        case "retried": Double(totals.retried)
        case "cancelled": Double(totals.cancelled)
        case "keys_moved_pct": keysMovedPercent ?? .nan  // no resize yet (or not keyed): no claim about it holds
        default: .nan
        }
    }
}

extension RunResult {
    func value(of metric: Claim.Metric, rows: [SecondRow]) -> Double? {
        if let level = metric.level {
            guard let byLevel = byPriority?["\(level)"] else { return nil }
            switch metric.name {
            case "completed": return Double(byLevel.completed)
            case "submitted": return Double(byLevel.submitted)
            case "wait_mean_ms": return byLevel.queueWaitMs.mean
            case "wait_p99_ms": return byLevel.queueWaitMs.p99
            case "wait_max_ms": return byLevel.queueWaitMs.max
            default: return nil
            }
        }
        if let count = JobCounters.fields.first(where: { $0.name == metric.name }) { return Double(jobs[keyPath: count.value]) }
        switch metric.name {
        case "wait_mean_ms": return latencyMs.queueWait.mean
        case "wait_p50_ms": return latencyMs.queueWait.p50
        case "wait_p99_ms": return latencyMs.queueWait.p99
        case "wait_max_ms": return latencyMs.queueWait.max
        case "service_mean_ms": return latencyMs.service.mean
        case "e2e_p99_ms": return latencyMs.endToEnd.p99
        case "throughput_mean": return throughput.meanPerS
        case "workers_max": return Double(workers.maxSeen)
        case "workers_min": return Double(workers.minSeen)
        case "workers_mean": return workers.meanSeen
        case "workers_final": return Double(workers.final)
        case "scale_ups": return Double(scaleEvents.filter { $0.to > $0.from }.count)
        case "scale_downs": return Double(scaleEvents.filter { $0.to < $0.from }.count)
        case "dead_letters": return Double(deadLetters)
        case "theory_wait_ms": return theory?.predictedMeanWaitMs
        case "theory_wait_measured_service_ms": return theory?.predictedWithMeasuredServiceMs
        default: return rows.last.map { $0.value(of: metric.name) }
        }
    }
}
