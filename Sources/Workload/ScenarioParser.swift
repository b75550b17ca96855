import PoolEngine
import Yams

/// Reads scenario files (YAML). Every problem is reported as `file:line: message` naming the field and
/// what is allowed; unknown fields are errors, not ignored. docs/SCENARIOS.md documents every field.
public enum ScenarioParser {
    /// Parses scenario text; `file` names it in messages. `overrides` (`--set PATH=VALUE`) are applied to
    /// the YAML tree first and validated with the file; their problems name them instead of a line.
    public static func parse(_ text: String, file: String, overrides: [ScenarioOverride] = []) throws(ScenarioError) -> Scenario {
        var root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, file: file, text: text)
        } catch {
            throw ScenarioError(file: file, line: 0, message: "cannot read YAML: \(error)")
        }
        guard var root else {
            throw ScenarioError(file: file, line: 1, message: "the file is empty; a scenario needs name, duration, pool and workload")
        }
        // Override nodes are marked on lines past the file's end, to tell their problems apart.
        let overrideLine = max(100_000, text.utf8.count + 2)
        if !overrides.isEmpty { root = try ScenarioOverride.apply(overrides, to: root, firstLine: overrideLine) }
        let reader = Reader(file: file)
        let scenario = reader.recover(nil as Scenario?) { () throws(ScenarioError) in try reader.scenario(root) }
        // Every problem of the file in one run, in line order; the overrides' last, each naming its override.
        let problems = reader.collected.sorted { ($0.line, $0.column) < ($1.line, $1.column) }.map { problem in
            guard problem.line >= overrideLine else { return problem }
            let index = min((problem.line - overrideLine) / ScenarioOverride.linesPerOverride, overrides.count - 1)
            return ScenarioError(file: "\(file): \(overrides[index].flag) \(overrides[index])", line: 0, message: problem.message)
        }
        if var first = problems.first {
            first.others = Array(problems.dropFirst())
            throw first
        }
        guard var scenario else { throw ScenarioError(file: file, line: 0, message: "the scenario could not be read") }
        scenario.resolvedYAML = try? Yams.serialize(node: root)
        return scenario
    }

    private static func yamlError(_ error: YamlError, file: String, text: String) -> ScenarioError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ScenarioError(file: file, line: mark.line, column: mark.column, message: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Name each key and the line where it appears again (Yams reports only the mapping).
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            var problems: [ScenarioError] = []
            for key in duplicates.sorted() {
                let pattern = key + ":"
                let hits = lines.indices.filter { index in
                    index + 1 >= context.mark.line
                        && lines[index].drop(while: { $0 == " " || $0 == "-" }).hasPrefix(pattern)
                }
                let line = hits.dropFirst().first.map { $0 + 1 } ?? context.mark.line
                problems.append(ScenarioError(file: file, line: line, message: "field '\(key)' appears twice in one mapping"))
            }
            guard var first = problems.first else {
                return ScenarioError(file: file, line: context.mark.line, message: "invalid YAML: duplicated keys")
            }
            first.others = Array(problems.dropFirst())
            return first
        default:
            return ScenarioError(
                file: file, line: 0, message: "invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }
}

/// Walks the YAML tree, turning each node into a typed value or a located error. Errors of independent
/// fields are collected (``recover(_:_:)``) so that one run reports every problem of a file.
final class Reader {
    let file: String
    private(set) var collected: [ScenarioError] = []

    init(file: String) { self.file = file }

    /// Runs `body`; on an error, records it and answers `fallback`, so reading goes on.
    func recover<T>(_ fallback: T, _ body: () throws(ScenarioError) -> T) -> T {
        do {
            return try body()
        } catch {
            collected.append(error)
            return fallback
        }
    }

    /// Records a problem and goes on.
    func note(_ error: ScenarioError) { collected.append(error) }

    func fail(_ node: Node?, _ message: String) -> ScenarioError {
        ScenarioError(file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, message: message)
    }

    /// A mapping's entries by key, refusing unknown and repeated keys and checking required ones.
    func fields(_ node: Node, _ path: String, allowed: [String], required: [String] = []) throws(ScenarioError)
        -> [String: Node]
    {
        guard let mapping = node.mapping else {
            throw fail(node, "\(path) must be a mapping with fields \(allowed.joined(separator: ", "))")
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw fail(keyNode, "\(path): field names must be text") }
            let name = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                note(fail(keyNode, "unknown field '\(name)'; allowed here: \(allowed.joined(separator: ", "))"))
                continue
            }
            guard result[key] == nil else {
                note(fail(keyNode, "field '\(name)' appears twice"))
                continue
            }
            result[key] = value
        }
        for key in required where result[key] == nil {
            throw fail(node, "missing field '\(path.isEmpty ? key : "\(path).\(key)")'")
        }
        return result
    }

    /// A field that ``fields(_:_:allowed:required:)`` already required.
    func need(_ fields: [String: Node], _ key: String) throws(ScenarioError) -> Node {
        guard let node = fields[key] else { throw ScenarioError(file: file, line: 0, message: "missing field '\(key)'") }
        return node
    }

    func scalar(_ node: Node, _ path: String) throws(ScenarioError) -> String {
        guard let scalar = node.scalar else { throw fail(node, "\(path) must be a single value") }
        return scalar.string
    }

    func int(_ node: Node, _ path: String, min: Int? = nil, max: Int? = nil) throws(ScenarioError) -> Int {
        let text = try scalar(node, path)
        guard let value = Int(text) else { throw fail(node, "\(path) must be a whole number, got '\(text)'") }
        if let min, value < min { throw fail(node, "\(path) must be at least \(min), got \(value)") }
        if let max, value > max { throw fail(node, "\(path) must be at most \(max), got \(value)") }
        return value
    }

    func double(_ node: Node, _ path: String, within range: ClosedRange<Double>) throws(ScenarioError) -> Double {
        let text = try scalar(node, path)
        guard let value = Double(text), value.isFinite else { throw fail(node, "\(path) must be a number, got '\(text)'") }
        guard range.contains(value) else {
            throw fail(node, "\(path) must lie within \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
        return value
    }

    func bool(_ node: Node, _ path: String) throws(ScenarioError) -> Bool {
        let text = try scalar(node, path)
        switch text {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(node, "\(path) must be true or false, got '\(text)'")
        }
    }

    func duration(_ node: Node, _ path: String, allowZero: Bool = false) throws(ScenarioError) -> Duration {
        let text = try scalar(node, path)
        guard let value = Units.duration(text) else {
            throw fail(node, "\(path) must be a duration with a unit (us, ms, s, m, h), like \"20ms\" or \"2s\"; got '\(text)'")
        }
        if value < .zero || (!allowZero && value == .zero) {
            throw fail(node, "\(path) must be \(allowZero ? "zero or more" : "positive"), got '\(text)'")
        }
        if value > Units.longestDuration {
            throw fail(node, "\(path) must be at most 24h (a simulation runs within a day), got '\(text)'")
        }
        return value
    }

    func rate(_ node: Node, _ path: String, allowZero: Bool = true, least: Double? = nil) throws(ScenarioError) -> Double {
        let text = try scalar(node, path)
        guard let value = Units.rate(text) else {
            throw fail(node, "\(path) must be a rate like \"300/s\" (per s, ms, m or h); got '\(text)'")
        }
        if value < 0 || (!allowZero && value == 0) {
            throw fail(node, "\(path) must be \(allowZero ? "zero or more" : "positive"), got '\(text)'")
        }
        if value > Units.fastestRate {
            throw fail(node, "\(path) must be at most \(Units.format(rate: Units.fastestRate)), got '\(text)'")
        }
        if let least, value < least {
            throw fail(node, "\(path) must be at least \(least)/s, got '\(text)'")
        }
        return value
    }

    func choice(_ node: Node, _ path: String, _ allowed: [String]) throws(ScenarioError) -> String {
        let text = try scalar(node, path)
        guard allowed.contains(text) else {
            throw fail(node, "\(path) must be one of \(allowed.joined(separator: ", ")); got '\(text)'")
        }
        return text
    }

    // MARK: Scenario

    func scenario(_ root: Node) throws(ScenarioError) -> Scenario {
        let top = try fields(
            root, "", allowed: ["name", "description", "seed", "duration", "shutdown_deadline", "pool", "workload", "timeline"],
            required: ["name", "duration", "workload"])
        let name = recover("scenario") { () throws(ScenarioError) in
            let name = try scalar(try need(top, "name"), "name")
            guard !name.isEmpty else { throw fail(top["name"], "name must not be empty") }
            return name
        }
        let seed = recover(1) { () throws(ScenarioError) in
            try top["seed"].map { (node) throws(ScenarioError) in UInt64(try int(node, "seed", min: 0)) } ?? 1
        }
        let duration = recover(Duration.seconds(3_600)) { () throws(ScenarioError) in
            try self.duration(try need(top, "duration"), "duration")
        }
        let deadline = recover(Duration.seconds(10)) { () throws(ScenarioError) in
            try top["shutdown_deadline"].map { (node) throws(ScenarioError) in try self.duration(node, "shutdown_deadline") }
                ?? .seconds(10)
        }
        var pool = PoolConfiguration()
        pool.name = name
        if let node = top["pool"] { pool = recover(pool) { () throws(ScenarioError) in try self.pool(node, base: pool) } }
        let workers = pool.maxWorkers
        let workload = recover(nil as WorkloadSpec?) { () throws(ScenarioError) in
            try self.workload(try need(top, "workload"), maxWorkers: workers)
        }
        if let keys = top["workload"]?.mapping?["keys"], pool.queueStrategy != .keyed {
            note(fail(keys, "workload.keys applies only to pool.strategy keyed (here \(pool.queueStrategy)): keys would be ignored"))
        }
        var timeline: [TimelineEntry] = []
        if let node = top["timeline"] {
            if let sequence = node.sequence {
                for entry in sequence {
                    if let parsed = recover(
                        nil as TimelineEntry?, { () throws(ScenarioError) in try self.timelineEntry(entry, duration: duration) })
                    {
                        timeline.append(parsed)
                    }
                }
            } else {
                note(fail(node, "timeline must be a list of entries, each with 'at' and one action"))
            }
        }
        guard let workload else { throw fail(top["workload"], "the workload could not be read") }
        return Scenario(
            name: name, description: try top["description"].map { (node) throws(ScenarioError) in try scalar(node, "description") } ?? "",
            seed: seed, duration: duration, shutdownDeadline: deadline, pool: pool, workload: workload, timeline: timeline)
    }

    // MARK: Pool

    static let poolFields = [
        "min_workers", "max_workers", "initial_workers", "queue_capacity", "overflow", "strategy", "aging", "dispatch",
        "stealing", "scale_up_threshold", "growth", "idle_timeout", "cooldown", "scaling_interval", "scaling", "threads",
        "timeout", "retry", "rate_limit", "circuit_breaker", "dead_letter_capacity",
    ]

    func pool(_ node: Node, base: PoolConfiguration) throws(ScenarioError) -> PoolConfiguration {
        let f = try fields(node, "pool", allowed: Self.poolFields)
        var c = base
        if let n = f["min_workers"] {
            c.minWorkers = recover(c.minWorkers) { () throws(ScenarioError) in try int(n, "pool.min_workers", min: 0, max: 100_000) }
        }
        if let n = f["max_workers"] {
            c.maxWorkers = recover(c.maxWorkers) { () throws(ScenarioError) in try int(n, "pool.max_workers", min: 1, max: 100_000) }
        }
        if let n = f["initial_workers"] {
            c.initialWorkers = recover(c.initialWorkers) { () throws(ScenarioError) in
                try int(n, "pool.initial_workers", min: 0, max: 100_000)
            }
        }
        if let n = f["queue_capacity"] {
            c.queueCapacity = try scalar(n, "pool.queue_capacity") == "unbounded" ? nil : try int(n, "pool.queue_capacity", min: 1)
        }
        if let n = f["overflow"] {
            switch try choice(n, "pool.overflow", ["reject", "wait", "drop_oldest", "run_in_caller"]) {
            case "wait": c.overflowPolicy = .wait
            case "drop_oldest": c.overflowPolicy = .dropOldest
            case "run_in_caller": c.overflowPolicy = .runInCaller
            default: c.overflowPolicy = .reject
            }
        }
        let strategy =
            try f["strategy"].map { (n) throws(ScenarioError) in
                try choice(n, "pool.strategy", ["fifo", "lifo", "priority", "per_worker", "keyed"])
            } ?? "fifo"
        for (field, owner) in [("aging", "priority"), ("dispatch", "per_worker"), ("stealing", "per_worker")]
        where f[field] != nil && strategy != owner {
            note(fail(f[field], "pool.\(field) applies only to strategy \(owner), not \(strategy)"))
        }
        switch strategy {
        case "lifo": c.queueStrategy = .lifo
        case "priority":
            c.queueStrategy = .priority(aging: try f["aging"].map { (n) throws(ScenarioError) in try duration(n, "pool.aging") })
        case "per_worker":
            let rule: DispatchRule =
                try f["dispatch"].map { (n) throws(ScenarioError) in
                    try choice(n, "pool.dispatch", ["round_robin", "least_loaded"]) == "least_loaded" ? .leastLoaded : .roundRobin
                } ?? .roundRobin
            let stealing = try f["stealing"].map { (n) throws(ScenarioError) in try bool(n, "pool.stealing") } ?? false
            c.queueStrategy = .perWorker(rule, stealing: stealing)
        case "keyed": c.queueStrategy = .keyed
        default: c.queueStrategy = .sharedFIFO
        }
        if let n = f["scale_up_threshold"] {
            c.scaleUpThreshold = recover(c.scaleUpThreshold) { () throws(ScenarioError) in
                try int(n, "pool.scale_up_threshold", min: 1, max: PoolConfiguration.thresholdLimit)
            }
        }
        if let n = f["growth"] {
            let text = try scalar(n, "pool.growth")
            if text == "double" {
                c.growth = .double
            } else if text.hasPrefix("+"), let step = Int(text.dropFirst()), step >= 1 {
                guard step <= PoolConfiguration.workerLimit else {
                    throw fail(n, "pool.growth adds at most \(PoolConfiguration.workerLimit) workers per step, got '\(text)'")
                }
                c.growth = .add(step)
            } else {
                throw fail(n, "pool.growth must be \"double\" or \"+N\" (workers added per step), got '\(text)'")
            }
        }
        if let n = f["idle_timeout"] {
            c.idleTimeout = recover(c.idleTimeout) { () throws(ScenarioError) in try duration(n, "pool.idle_timeout") }
        }
        if let n = f["cooldown"] {
            c.cooldown = recover(c.cooldown) { () throws(ScenarioError) in try duration(n, "pool.cooldown", allowZero: true) }
        }
        if let n = f["scaling"] { c.scalingMode = recover(c.scalingMode) { () throws(ScenarioError) in try scaling(n) } }
        if let n = f["scaling_interval"] {
            c.scalingInterval = recover(c.scalingInterval) { () throws(ScenarioError) in try duration(n, "pool.scaling_interval") }
        }
        if let n = f["threads"] { c.executor = .dedicatedThreads(try int(n, "pool.threads", min: 1, max: 1_024)) }
        if let n = f["timeout"] {
            c.defaultTimeout = recover(c.defaultTimeout) { () throws(ScenarioError) in try duration(n, "pool.timeout") }
        }
        if let n = f["dead_letter_capacity"] {
            c.deadLetterCapacity = recover(c.deadLetterCapacity) { () throws(ScenarioError) in
                try int(n, "pool.dead_letter_capacity", min: 0)
            }
        }
        if let n = f["retry"] { c.retry = recover(c.retry) { () throws(ScenarioError) in try retry(n) } }
        if let n = f["rate_limit"] {
            let r = try fields(n, "pool.rate_limit", allowed: ["rate", "burst"], required: ["rate"])
            c.rateLimit = RateLimit(
                perSecond: try rate(try need(r, "rate"), "pool.rate_limit.rate", allowZero: false, least: 0.001),
                burst: try r["burst"].map { (b) throws(ScenarioError) in try int(b, "pool.rate_limit.burst", min: 1, max: 1_000_000) } ?? 1)
        }
        if let n = f["circuit_breaker"] { c.circuitBreaker = recover(c.circuitBreaker) { () throws(ScenarioError) in try breaker(n) } }
        // The engine's own checks (min <= max, ...), named as in the file; only once every field read well.
        guard collected.isEmpty else { return c }
        do {
            try c.validate()
        } catch {
            throw fail(
                f[Self.yamlName(of: error.field)] ?? node, "pool: \(Self.yamlName(of: error.field)) \(Self.inFileNames(error.message))")
        }
        return c
    }

    /// `scaling: {policy: threshold}` or `scaling: {policy: target_wait, target: 50ms, window: 3s}`.
    private func scaling(_ node: Node) throws(ScenarioError) -> ScalingMode {
        let f = try fields(node, "pool.scaling", allowed: ["policy", "target", "window"], required: ["policy"])
        let policy = try choice(try need(f, "policy"), "pool.scaling.policy", ["threshold", "target_wait"])
        // target and window are read under threshold too (and unused), so that one file can switch policy
        // with --set pool.scaling.policy=... alone.
        guard policy == "target_wait" else {
            if let n = f["target"] { _ = try duration(n, "pool.scaling.target") }
            if let n = f["window"] { _ = try duration(n, "pool.scaling.window") }
            return .queueThreshold
        }
        guard let targetNode = f["target"] else {
            throw fail(node, "pool.scaling with policy target_wait needs 'target', the mean wait to keep under, like target: 50ms")
        }
        let target = try duration(targetNode, "pool.scaling.target")
        var goal = TargetWait(target: target)
        if let n = f["window"] { goal.window = try duration(n, "pool.scaling.window") }
        if goal.window < .milliseconds(10) {
            throw fail(f["window"], "pool.scaling.window must be 10ms or more, got \(formatted(goal.window))")
        }
        return .targetWait(goal)
    }

    /// The scenario-file names of ``PoolConfiguration`` fields.
    static let fileNames = [
        "minWorkers": "min_workers", "maxWorkers": "max_workers", "initialWorkers": "initial_workers",
        "queueCapacity": "queue_capacity", "scaleUpThreshold": "scale_up_threshold", "idleTimeout": "idle_timeout",
        "scalingInterval": "scaling_interval", "defaultTimeout": "timeout", "deadLetterCapacity": "dead_letter_capacity",
        "queueStrategy": "strategy", "scalingMode": "scaling", "initialBackoff": "initial_backoff", "maxBackoff": "max_backoff",
        "maxAttempts": "max_attempts",
    ]

    /// The scenario-file name of a ``PoolConfiguration`` field.
    static func yamlName(of field: String) -> String { fileNames[field] ?? field }

    /// An engine message with its field names as the file writes them.
    static func inFileNames(_ message: String) -> String {
        fileNames.keys.sorted { $0.count > $1.count }.reduce(message) { text, name in
            text.replacingOccurrences(of: name, with: fileNames[name] ?? name)
        }
    }

    func retry(_ node: Node) throws(ScenarioError) -> RetryPolicy {
        let f = try fields(
            node, "pool.retry", allowed: ["max_attempts", "initial_backoff", "multiplier", "max_backoff", "jitter"],
            required: ["max_attempts"])
        var policy = RetryPolicy(maxAttempts: try int(try need(f, "max_attempts"), "pool.retry.max_attempts", min: 1, max: 100))
        if let n = f["initial_backoff"] { policy.initialBackoff = try duration(n, "pool.retry.initial_backoff", allowZero: true) }
        if let n = f["multiplier"] { policy.multiplier = try double(n, "pool.retry.multiplier", within: 1...100) }
        if let n = f["max_backoff"] { policy.maxBackoff = try duration(n, "pool.retry.max_backoff", allowZero: true) }
        if let n = f["jitter"] { policy.jitter = try double(n, "pool.retry.jitter", within: 0...1) }
        if policy.maxBackoff < policy.initialBackoff {
            throw fail(f["max_backoff"] ?? node, "pool.retry.max_backoff must be at least initial_backoff")
        }
        return policy
    }

    func breaker(_ node: Node) throws(ScenarioError) -> CircuitBreakerPolicy {
        let f = try fields(
            node, "pool.circuit_breaker",
            allowed: ["consecutive_failures", "failure_ratio", "window", "cool_off", "half_open_trials", "when_open"])
        var policy = CircuitBreakerPolicy(consecutiveFailures: nil)
        if let n = f["consecutive_failures"] {
            policy.consecutiveFailures = try int(n, "pool.circuit_breaker.consecutive_failures", min: 1)
        }
        if let n = f["failure_ratio"] { policy.failureRatio = try double(n, "pool.circuit_breaker.failure_ratio", within: 0.01...1) }
        if policy.consecutiveFailures == nil && policy.failureRatio == nil {
            throw fail(node, "pool.circuit_breaker needs consecutive_failures, failure_ratio or both")
        }
        if let n = f["window"] { policy.window = try int(n, "pool.circuit_breaker.window", min: 1) }
        if let n = f["cool_off"] { policy.coolOff = try duration(n, "pool.circuit_breaker.cool_off") }
        if let n = f["half_open_trials"] { policy.halfOpenTrials = try int(n, "pool.circuit_breaker.half_open_trials", min: 1) }
        if let n = f["when_open"] {
            policy.whenOpen = try choice(n, "pool.circuit_breaker.when_open", ["reject", "hold"]) == "hold" ? .hold : .reject
        }
        return policy
    }
}

extension JobKind {
    var cpuFraction: Double {
        if case .mixed(let fraction) = self { return fraction }
        return 0
    }
}
