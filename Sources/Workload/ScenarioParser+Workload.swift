import PoolEngine
import Yams

/// The scenario file's `workload` and `timeline` sections (the `pool` section and the reading rules are in
/// ScenarioParser.swift).
extension Reader {
    // MARK: Workload

    /// `maxWorkers` and the service time turn `arrivals.utilisation` into a rate.
    func workload(_ node: Node, maxWorkers: Int) throws(ScenarioError) -> WorkloadSpec {
        let f = try fields(
            node, "workload", allowed: ["arrivals", "job", "service", "failure_rate", "keys", "priorities"],
            required: ["arrivals", "service"])
        let serviceNode = try need(f, "service")
        // Read first: arrivals.utilisation is relative to it (a broken service is reported once, below).
        let service = recover(nil as ServiceTime?) { () throws(ScenarioError) in try self.service(serviceNode) }
        let arrivals = recover(ArrivalProcess.constant(rate: 1)) { () throws(ScenarioError) in
            try self.arrivals(try need(f, "arrivals"), capacity: service.map { Double(maxWorkers) / $0.mean.seconds })
        }
        var kind = JobKind.sleep
        if let n = f["job"] {
            let j = try fields(n, "workload.job", allowed: ["kind", "cpu_fraction"], required: ["kind"])
            switch try choice(try need(j, "kind"), "workload.job.kind", ["sleep", "cpu", "mixed"]) {
            case "cpu": kind = .cpu
            case "mixed":
                kind = .mixed(
                    cpuFraction: try j["cpu_fraction"].map { (c) throws(ScenarioError) in
                        try double(c, "workload.job.cpu_fraction", within: 0...1)
                    } ?? 0.5)
            default: kind = .sleep
            }
            if j["cpu_fraction"] != nil, kind != .mixed(cpuFraction: kind.cpuFraction) {
                throw fail(j["cpu_fraction"], "workload.job.cpu_fraction applies only to kind mixed")
            }
        }
        let failureRate =
            try f["failure_rate"].map { (n) throws(ScenarioError) in try double(n, "workload.failure_rate", within: 0...1) } ?? 0
        var keys: KeyDistribution?
        if let n = f["keys"] {
            let k = try fields(n, "workload.keys", allowed: ["distribution", "count", "exponent"], required: ["count"])
            let count = try int(try need(k, "count"), "workload.keys.count", min: 1, max: 10_000_000)
            let distribution =
                try k["distribution"].map { (d) throws(ScenarioError) in
                    try choice(d, "workload.keys.distribution", ["uniform", "zipf"])
                } ?? "uniform"
            if distribution == "zipf" {
                keys = .zipf(
                    count: count,
                    exponent: try k["exponent"].map { (e) throws(ScenarioError) in
                        try double(e, "workload.keys.exponent", within: 0.01...10)
                    } ?? 1.0)
            } else {
                if k["exponent"] != nil { throw fail(k["exponent"], "workload.keys.exponent applies only to distribution zipf") }
                keys = .uniform(count: count)
            }
        }
        var priorities: PriorityDistribution?
        if let n = f["priorities"] {
            let p = try fields(n, "workload.priorities", allowed: ["levels", "weights"], required: ["levels", "weights"])
            guard let levelNodes = p["levels"]?.sequence, let weightNodes = p["weights"]?.sequence else {
                throw fail(n, "workload.priorities.levels and .weights must be lists")
            }
            var levels: [Int] = []
            for item in levelNodes { levels.append(try int(item, "workload.priorities.levels[]")) }
            var weights: [Double] = []
            for item in weightNodes { weights.append(try double(item, "workload.priorities.weights[]", within: 0...1_000_000)) }
            guard !levels.isEmpty, levels.count == weights.count, weights.reduce(0, +) > 0 else {
                throw fail(
                    n,
                    "workload.priorities needs as many weights as levels (got \(levels.count) levels, \(weights.count) weights), with a positive sum"
                )
            }
            priorities = PriorityDistribution(levels: levels, weights: weights)
        }
        return WorkloadSpec(
            arrivals: arrivals, kind: kind, service: service ?? .constant(.milliseconds(1)), failureRate: failureRate, keys: keys,
            priorities: priorities)
    }

    /// `capacity`: jobs per second the pool's maximum finishes at the mean service time, for `utilisation`.
    func arrivals(_ node: Node, capacity: Double?) throws(ScenarioError) -> ArrivalProcess {
        let processes = ["constant", "poisson", "bursts", "ramp", "on_off"]
        var f = try fields(
            node, "workload.arrivals",
            allowed: ["process", "rate", "utilisation", "burst_size", "every", "from", "to", "over", "on", "off"],
            required: ["process"])
        let process = try choice(try need(f, "process"), "workload.arrivals.process", processes)
        // utilisation: rho instead of a rate, for constant and poisson: rate = rho x max_workers / mean service.
        var utilisationRate: Double?
        if let n = f.removeValue(forKey: "utilisation") {
            guard process == "constant" || process == "poisson" else {
                throw fail(n, "workload.arrivals.utilisation applies to process constant or poisson, not \(process)")
            }
            if f["rate"] != nil { throw fail(n, "workload.arrivals: give rate or utilisation, not both") }
            let rho = try double(n, "workload.arrivals.utilisation", within: 0.000_001...10)
            guard let capacity, capacity.isFinite, capacity > 0 else {
                throw fail(n, "workload.arrivals.utilisation needs a service time with a positive mean")
            }
            utilisationRate = rho * capacity
            if rho * capacity > Units.fastestRate {
                throw fail(
                    n,
                    "workload.arrivals.utilisation \(rho) asks for \(Units.format(rate: rho * capacity)) (rho x max_workers / mean service); at most \(Units.format(rate: Units.fastestRate))"
                )
            }
            f["rate"] = n
        }
        let needs: [String: [String]] = [
            "constant": ["rate"], "poisson": ["rate"], "bursts": ["rate", "burst_size", "every"],
            "ramp": ["from", "to", "over"], "on_off": ["rate", "on", "off"],
        ]
        let wanted = needs[process] ?? []
        for (key, value) in f where key != "process" && !wanted.contains(key) {
            note(fail(value, "workload.arrivals.\(key) does not apply to process \(process); it takes \(wanted.joined(separator: ", "))"))
        }
        for key in wanted where f[key] == nil { throw fail(node, "workload.arrivals: process \(process) needs '\(key)'") }
        func r(_ key: String) throws(ScenarioError) -> Double {
            if key == "rate", let utilisationRate { return utilisationRate }
            return try rate(try need(f, key), "workload.arrivals.\(key)")
        }
        func d(_ key: String) throws(ScenarioError) -> Duration { try duration(try need(f, key), "workload.arrivals.\(key)") }
        switch process {
        case "constant": return .constant(rate: try r("rate"))
        case "poisson": return .poisson(rate: try r("rate"))
        case "bursts":
            let size = try int(try need(f, "burst_size"), "workload.arrivals.burst_size", min: 1, max: 10_000_000)
            let every = try d("every")
            if Double(size) / every.seconds > Units.fastestRate {
                throw fail(
                    f["burst_size"],
                    "workload.arrivals: \(size) jobs every \(formatted(every)) is \(Units.format(rate: Double(size) / every.seconds)); at most \(Units.format(rate: Units.fastestRate))"
                )
            }
            return .bursts(rate: try r("rate"), size: size, every: every)
        case "ramp": return .ramp(from: try r("from"), to: try r("to"), over: try d("over"))
        default: return .onOff(rate: try r("rate"), on: try d("on"), off: try d("off"))
        }
    }

    func service(_ node: Node) throws(ScenarioError) -> ServiceTime {
        let needs: [String: [String]] = [
            "constant": ["value"], "uniform": ["min", "max"], "exponential": ["mean"], "lognormal": ["median", "sigma"],
            "bimodal": ["fast", "slow", "slow_fraction"], "pareto": ["min", "alpha"],
        ]
        let f = try fields(
            node, "workload.service",
            allowed: ["distribution", "value", "min", "max", "mean", "median", "sigma", "fast", "slow", "slow_fraction", "alpha"],
            required: ["distribution"])
        let distribution = try choice(try need(f, "distribution"), "workload.service.distribution", needs.keys.sorted())
        let wanted = needs[distribution] ?? []
        for (key, value) in f where key != "distribution" && !wanted.contains(key) {
            note(
                fail(
                    value,
                    "workload.service.\(key) does not apply to distribution \(distribution); it takes \(wanted.joined(separator: ", "))"))
        }
        for key in wanted where f[key] == nil { throw fail(node, "workload.service: distribution \(distribution) needs '\(key)'") }
        func d(_ key: String) throws(ScenarioError) -> Duration { try duration(try need(f, key), "workload.service.\(key)") }
        switch distribution {
        case "constant": return .constant(try d("value"))
        case "uniform":
            let low = try d("min")
            let high = try d("max")
            guard low <= high else { throw fail(f["max"], "workload.service.max must be at least min") }
            return .uniform(min: low, max: high)
        case "exponential": return .exponential(mean: try d("mean"))
        case "lognormal":
            return .lognormal(median: try d("median"), sigma: try double(try need(f, "sigma"), "workload.service.sigma", within: 0.01...5))
        case "bimodal":
            return .bimodal(
                fast: try d("fast"), slow: try d("slow"),
                slowFraction: try double(try need(f, "slow_fraction"), "workload.service.slow_fraction", within: 0...1))
        default: return .pareto(minimum: try d("min"), alpha: try double(try need(f, "alpha"), "workload.service.alpha", within: 0.1...10))
        }
    }

    // MARK: Timeline

    static let actions = [
        "burst", "rate", "threshold", "min_workers", "max_workers", "failure_rate", "extra_latency", "rate_limit",
        "crash_worker", "pause", "resume", "shutdown", "caption",
    ]

    func timelineEntry(_ node: Node, duration: Duration) throws(ScenarioError) -> TimelineEntry {
        let f = try fields(node, "timeline entry", allowed: ["at"] + Self.actions + ["deadline", "claims"], required: ["at"])
        let at = try self.duration(try need(f, "at"), "timeline.at", allowZero: true)
        guard at <= duration else {
            throw fail(f["at"], "timeline.at \(formatted(at)) is after the scenario's duration \(formatted(duration))")
        }
        let present = Self.actions.filter { f[$0] != nil }
        guard present.count == 1, let name = present.first, let value = f[name] else {
            throw fail(
                node,
                "each timeline entry needs exactly one action (\(Self.actions.joined(separator: ", "))); found \(present.isEmpty ? "none" : present.joined(separator: ", "))"
            )
        }
        if f["deadline"] != nil && name != "shutdown" { throw fail(f["deadline"], "timeline.deadline applies only to shutdown") }
        let path = "timeline.\(name)"
        let action: ScenarioAction
        switch name {
        case "burst": action = .burst(try int(value, path, min: 1, max: 10_000_000))
        case "rate": action = .setRate(try rate(value, path))
        case "threshold": action = .setThreshold(try int(value, path, min: 1))
        case "min_workers": action = .setMinWorkers(try int(value, path, min: 0))
        case "max_workers": action = .setMaxWorkers(try int(value, path, min: 1))
        case "failure_rate": action = .setFailureRate(try double(value, path, within: 0...1))
        case "extra_latency": action = .setExtraLatency(try self.duration(value, path, allowZero: true))
        case "rate_limit":
            action = .setRateLimit(
                try scalar(value, path) == "off"
                    ? nil : RateLimit(perSecond: try rate(value, path, allowZero: false, least: 0.001), burst: 1))
        case "crash_worker":
            action = .crashWorker(try scalar(value, path) == "random" ? nil : try int(value, path, min: 1))
        case "pause":
            guard try bool(value, path) else { throw fail(value, "timeline.pause takes true (use resume: true to resume)") }
            action = .pauseArrivals
        case "resume":
            guard try bool(value, path) else { throw fail(value, "timeline.resume takes true") }
            action = .resumeArrivals
        case "shutdown":
            let mode = try choice(value, path, ["graceful", "immediate"])
            if mode == "immediate" {
                if f["deadline"] != nil { throw fail(f["deadline"], "timeline.deadline applies only to a graceful shutdown") }
                action = .shutdown(.immediate)
            } else {
                action = .shutdown(
                    .graceful(
                        deadline: try f["deadline"].map { (n) throws(ScenarioError) in try self.duration(n, "timeline.deadline") }
                            ?? .seconds(10)))
            }
        default:
            let text = try scalar(value, path)
            guard !text.isEmpty else { throw fail(value, "timeline.caption must not be empty") }
            action = .caption(text)
        }
        var entry = TimelineEntry(at: at, action: action, line: node.mark?.line ?? 0)
        if let claims = f["claims"] { entry.claims = try self.claims(claims, at: at, duration: duration) }
        return entry
    }

    /// `claims:` a list of sentences the run must bear out (see ``Claim``), each checked when the file is read.
    func claims(_ node: Node, at: Duration, duration: Duration) throws(ScenarioError) -> [Claim] {
        guard let items = node.sequence, !items.isEmpty else {
            throw fail(node, "timeline.claims must be a list of claims, like [\"queue >= 200 at 12s\"]")
        }
        var claims: [Claim] = []
        for item in items {
            let text = try scalar(item, "timeline.claims")
            var claim: Claim
            do {
                claim = try Claim.parse(text, at: at)
            } catch {
                throw fail(item, "timeline.claims: \(error.description)")
            }
            let latest: Duration? =
                switch claim.when {
                case .end: nil
                case .at(let t), .by(let t, _): t
                case .during(_, let to): to
                }
            if let latest, latest > duration {
                throw fail(
                    item, "timeline.claims: '\(text)' looks at \(formatted(latest)), after the scenario's duration \(formatted(duration))")
            }
            claim.line = item.mark?.line ?? 0
            claims.append(claim)
        }
        return claims
    }
}
