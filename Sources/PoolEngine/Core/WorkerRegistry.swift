import DequeModule

/// The pool's bookkeeping for one worker. `Parked` is what resumes it while it waits for work, `Handle`
/// what cancels its task, `Wait` what cancels a wait the pool owns for it (a continuation, a task and an
/// ``OwnedWait`` in the pool; plain values in tests).
struct WorkerRecord<Parked, Handle, Wait> {
    let id: WorkerID
    let startedAt: PoolInstant
    var state: WorkerState = .starting
    /// Told to stop after its current job (scale-down, crash or shutdown).
    var retiring = false
    /// Crashed by fault injection: its current attempt fails, and it stops.
    var crashed = false
    /// Set while the worker waits for work.
    var parked: Parked?
    var completed = 0
    var failed = 0
    var busyNanoseconds: Int64 = 0
    var task: Handle?
    /// Set while its job is a wait the pool owns, so a crash or a shutdown's deadline can end it.
    var wait: Wait?

    /// What a snapshot shows of it at `now` (busy time includes the job running now).
    func snapshot(now: PoolInstant) -> WorkerSnapshot {
        var busy = busyNanoseconds
        switch state {
        case .busy(_, let since), .draining(_, let since): busy += (now - since).nanoseconds
        default: break
        }
        return WorkerSnapshot(
            id: id, state: state, completed: completed, failed: failed, busyTime: .nanoseconds(busy), startedAt: startedAt)
    }
}

/// Who the workers are, which of them wait for work (the most recently parked is woken first, so the
/// others can idle out), which are leaving, and the last ones gone. Counts "active" workers: those not
/// told to leave, which is what scaling and the limits count.
struct WorkerRegistry<Parked, Handle, Wait> {
    private(set) var records: [WorkerID: WorkerRecord<Parked, Handle, Wait>] = [:]
    /// Parked workers, most recently parked last.
    private(set) var parkedOrder: [WorkerID] = []
    /// Workers not told to leave.
    private(set) var active = 0
    private var lastID = 0
    /// The last workers to stop, newest last.
    private(set) var stopped = Deque<WorkerSnapshot>()
    static var stoppedKept: Int { 32 }

    subscript(id: WorkerID) -> WorkerRecord<Parked, Handle, Wait>? { records[id] }
    var isEmpty: Bool { records.isEmpty }

    /// Whether `id` is a worker that was not told to leave. Asked per job, so it reads the field in place
    /// (hence `mutating`: reading a record through the dictionary's getter copies it, handles and all).
    mutating func isActive(_ id: WorkerID) -> Bool { update(id) { !$0.retiring } ?? false }

    /// Whether `id` crashed (asked per run; in place, as ``isActive(_:)``).
    mutating func hasCrashed(_ id: WorkerID) -> Bool { update(id) { $0.crashed } ?? false }

    /// Changes `id`'s record in place with one lookup (`nil`: no such worker). The per-job paths go
    /// through here: a record copied out and written back per field would hash the id and copy its
    /// handles each time.
    private mutating func update<Result>(
        _ id: WorkerID, _ change: (inout WorkerRecord<Parked, Handle, Wait>) -> Result
    ) -> Result? {
        guard let index = records.index(forKey: id) else { return nil }
        return change(&records.values[index])
    }

    /// A new worker, numbered after every earlier one (numbers are never reused).
    mutating func add(now: PoolInstant) -> WorkerID {
        lastID += 1
        let id = WorkerID(lastID)
        records[id] = WorkerRecord(id: id, startedAt: now)
        active += 1
        return id
    }

    /// The active workers, in number order.
    var activeIDs: [WorkerID] { records.values.filter { !$0.retiring }.map(\.id).sorted() }

    /// The active workers as the scaler sees them: idle since when (a starting worker: since it started).
    var scalingCandidates: [ScalingInput.Worker] {
        var candidates: [ScalingInput.Worker] = []
        candidates.reserveCapacity(records.count)
        for record in records.values where !record.retiring {
            let idleSince: PoolInstant? =
                switch record.state {
                case .idle(let since): since
                case .starting: record.startedAt
                default: nil
                }
            candidates.append(ScalingInput.Worker(id: record.id, idleSince: idleSince))
        }
        return candidates
    }

    // MARK: Waiting for work

    mutating func park(_ id: WorkerID, _ parked: Parked) {
        guard update(id, { $0.parked = parked }) != nil else { return }
        parkedOrder.append(id)
    }

    /// Takes `id` out of the parked workers, returning what resumes it.
    @discardableResult
    mutating func unpark(_ id: WorkerID) -> Parked? {
        let parked =
            update(id) { record in
                defer { record.parked = nil }
                return record.parked
            } ?? nil
        if parkedOrder.last == id {
            parkedOrder.removeLast()
        } else if let index = parkedOrder.lastIndex(of: id) {
            parkedOrder.remove(at: index)
        }
        return parked
    }

    /// The worker to wake first: the one parked last.
    var lastParked: WorkerID? { parkedOrder.last }
    /// Whether `id` is parked: under load none is, and then this looks nothing up (it is asked per job).
    mutating func isParked(_ id: WorkerID) -> Bool {
        guard !parkedOrder.isEmpty else { return false }
        return update(id) { $0.parked != nil } ?? false
    }

    /// Unparks every parked worker, returning what resumes each.
    mutating func unparkAll() -> [Parked] {
        let all = parkedOrder.compactMap { id -> Parked? in
            defer { records[id]?.parked = nil }
            return records[id]?.parked
        }
        parkedOrder.removeAll()
        return all
    }

    // MARK: Work

    mutating func markBusy(_ id: WorkerID, with job: JobID, now: PoolInstant) {
        update(id) { $0.state = $0.retiring ? .draining(job: job, since: now) : .busy(job: job, since: now) }
    }

    mutating func markIdle(_ id: WorkerID, now: PoolInstant) {
        update(id) { record in
            if case .idle = record.state { return }
            record.state = .idle(since: now)
        }
    }

    /// Notes the wait the pool owns for `id`'s job; `false` for a worker that crashed or is gone (nothing
    /// could cancel the wait then).
    mutating func attach(wait: Wait, to id: WorkerID) -> Bool {
        update(id) { record in
            guard !record.crashed else { return false }
            record.wait = wait
            return true
        } ?? false
    }

    /// A run of jobs ended (an owned wait's, too): adds its time to the worker's busy time and returns it
    /// (nil if it was not busy).
    mutating func endRun(of id: WorkerID, completed: Int, failed: Int, now: PoolInstant) -> Duration? {
        update(id) { record -> Duration? in
            record.wait = nil
            record.completed += completed
            record.failed += failed
            switch record.state {
            case .busy(_, let since), .draining(_, let since):
                record.busyNanoseconds += (now - since).nanoseconds
                return now - since
            default:
                return nil
            }
        } ?? nil
    }

    mutating func attach(_ task: Handle, to id: WorkerID) {
        if records[id] != nil { records[id]?.task = task }
    }

    /// Every worker's task.
    var tasks: [Handle] { records.values.compactMap(\.task) }
    /// Every wait the pool owns for a worker now.
    var waits: [Wait] { records.values.compactMap(\.wait) }

    // MARK: Leaving

    /// What an owner must do for a worker told to leave.
    enum Leaving {
        /// It was waiting for work: resume it with the order to stop.
        case wake(Parked)
        /// It is running `job` (and stops after it; a crash also cancels its task, or ends its wait).
        case running(job: JobID, task: Handle?, wait: Wait?)
        case nothing
    }

    /// Tells an active worker to stop after its current job; nothing for one already leaving.
    mutating func retire(_ id: WorkerID) -> Leaving {
        guard let record = records[id], !record.retiring else { return .nothing }
        records[id]?.retiring = true
        active -= 1
        if record.parked != nil, let parked = unpark(id) { return .wake(parked) }
        if case .busy(let job, let since) = record.state {
            records[id]?.state = .draining(job: job, since: since)
            return .running(job: job, task: record.task, wait: record.wait)
        }
        return .nothing
    }

    /// Crashes an active worker: it leaves like a retired one, and the attempt it runs will fail.
    mutating func crash(_ id: WorkerID) -> Leaving {
        guard records[id]?.retiring == false else { return .nothing }
        records[id]?.crashed = true
        return retire(id)
    }

    /// A worker's task ended. Returns whether it was known.
    @discardableResult
    mutating func exited(_ id: WorkerID, now: PoolInstant) -> Bool {
        unpark(id)
        guard var record = records.removeValue(forKey: id) else { return false }
        record.state = .stopped(at: now)
        stopped.append(record.snapshot(now: now))
        if stopped.count > Self.stoppedKept { stopped.removeFirst() }
        if !record.retiring { active -= 1 }
        return true
    }

    func snapshots(now: PoolInstant) -> [WorkerSnapshot] {
        records.values.sorted { $0.id < $1.id }.map { $0.snapshot(now: now) }
    }
}

extension WorkerRecord: Sendable where Parked: Sendable, Handle: Sendable, Wait: Sendable {}
extension WorkerRegistry: Sendable where Parked: Sendable, Handle: Sendable, Wait: Sendable {}
