// Compact Codable forms for the values a snapshot holds many of (recordings store a snapshot ten times a
// second): identifiers and instants as plain numbers, a worker and a second of throughput as arrays.

extension PoolInstant: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(nanoseconds: try decoder.singleValueContainer().decode(Int64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(nanoseconds)
    }
}

extension WorkerID: Codable {
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(Int.self)) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

extension JobID: Codable {
    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(UInt64.self)) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// `[id, state, job or null, since or null, completed, failed, busy ns, started]`, the state by name.
extension WorkerSnapshot: Codable {
    public init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        let id = try fields.decode(WorkerID.self)
        let name = try fields.decode(String.self)
        let job = try fields.decodeIfPresent(JobID.self)
        let since = try fields.decodeIfPresent(PoolInstant.self)
        let completed = try fields.decode(Int.self)
        let failed = try fields.decode(Int.self)
        let busy = try fields.decode(Int64.self)
        let started = try fields.decode(PoolInstant.self)
        func need<T>(_ value: T?) throws -> T {
            guard let value else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: fields.codingPath, debugDescription: "worker state \(name) lacks a field"))
            }
            return value
        }
        let state: WorkerState
        switch name {
        case "starting": state = .starting
        case "idle": state = .idle(since: try need(since))
        case "busy": state = .busy(job: try need(job), since: try need(since))
        case "draining": state = .draining(job: try need(job), since: try need(since))
        case "stopped": state = .stopped(at: try need(since))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: fields.codingPath, debugDescription: "unknown worker state '\(name)'"))
        }
        self.init(id: id, state: state, completed: completed, failed: failed, busyTime: .nanoseconds(busy), startedAt: started)
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        try fields.encode(id)
        try fields.encode(state.name)
        var job: JobID?
        var since: PoolInstant?
        switch state {
        case .starting: break
        case .idle(let at), .stopped(let at): since = at
        case .busy(let running, let at), .draining(let running, let at): (job, since) = (running, at)
        }
        if let job { try fields.encode(job) } else { try fields.encodeNil() }
        if let since { try fields.encode(since) } else { try fields.encodeNil() }
        try fields.encode(completed)
        try fields.encode(failed)
        try fields.encode(busyTime.nanoseconds)
        try fields.encode(startedAt)
    }
}

/// `[t, completed, failed]`.
extension Throughput.Second: Codable {
    public init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        self.init(t: try fields.decode(Double.self), completed: try fields.decode(Int.self), failed: try fields.decode(Int.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        try fields.encode(t)
        try fields.encode(completed)
        try fields.encode(failed)
    }
}
