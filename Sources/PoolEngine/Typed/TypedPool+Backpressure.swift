public import Synchronization

extension TypedPool {
    /// Offers one job and, while the pool is full, waits for room: backpressure, as ants' `Invoke` holds
    /// the caller of a full pool. `false` only if the job was rejected (counted so): the pool began
    /// shutting down, or the caller's task was cancelled while it waited. ``trySubmit(_:)`` never waits.
    ///
    /// A job that submits to its own pool this way can wait forever: if every worker does so on a full
    /// pool, none is left to make room. Jobs should use ``trySubmit(_:)`` on their own pool.
    @inlinable @discardableResult
    public func submit(_ input: Input) async -> Bool {
        await submit(contentsOf: CollectionOfOne(input)) == 1
    }

    /// ``submit(_:)`` with a priority (see ``trySubmit(_:priority:)``).
    @inlinable @discardableResult
    public func submit(_ input: Input, priority: Int) async -> Bool {
        await submit(contentsOf: CollectionOfOne(input), priority: priority) == 1
    }

    /// Offers jobs in order, waiting for room whenever the pool is full; returns how many were accepted:
    /// all of them, or a prefix if the pool began shutting down or the caller's task was cancelled while it
    /// waited (the rest counted as rejected). A job is counted as submitted when a queue takes it.
    @inlinable @discardableResult
    public func submit<Inputs: Collection>(contentsOf inputs: Inputs, priority: Int = 0) async -> Int
    where Inputs.Element == Input {
        await submitWaiting(inputs.count) { offset in
            self.offer(inputs.dropFirst(offset), priority: priority, waiting: true)
        }
    }

    /// ``submit(_:)`` with a key (see ``trySubmit(_:key:)``): waits while the key's worker's queue is full.
    @inlinable @discardableResult
    public func submit(_ input: Input, key: String) async -> Bool {
        await submitWaiting(1) { _ in
            self.offer(1, waiting: true) { self.push(CollectionOfOne(input), keyedBy: { _ in key }) }
        } == 1
    }

    /// Offers the jobs from offset `accepted` on with `offer` until all are taken, the pool shuts down, or
    /// the task is cancelled; waits for room after an offer that took nothing. `offer` tries every queue the
    /// jobs may go to, so taking nothing means all of them were full.
    @inlinable
    func submitWaiting(_ total: Int, offer: (_ from: Int) -> (taken: Int, closed: Bool)) async -> Int {
        guard total > 0 else { return 0 }
        var accepted = 0
        // Announced only once an offer found no room (the workers then check for room makers per batch),
        // and offered again before any wait: a worker that makes room after that offer failed sees this one.
        var announced = false
        defer { if announced { room.waiters.subtract(1, ordering: .sequentiallyConsistent) } }
        while true {
            let ticket = room.generation.load(ordering: .sequentiallyConsistent)
            let (taken, closed) = offer(accepted)
            accepted += taken
            if closed || accepted == total { return accepted }
            if taken > 0 { continue }
            if !announced {
                announced = true
                room.waiters.add(1, ordering: .sequentiallyConsistent)
                continue
            }
            if Task.isCancelled {
                submitted.add(total - accepted, ordering: .relaxed)
                rejected.add(total - accepted, ordering: .relaxed)
                return accepted
            }
            await withTaskCancellationHandler {
                await room.wait(after: ticket)
            } onCancel: {
                room.signal()
            }
        }
    }
}

/// Submitters waiting for room in a full ``TypedPool``, and the workers' word that some was made. The
/// workers' cost is one atomic read per batch while no one waits.
///
/// No wait is missed: a submitter announces itself (``waiters``), then reads ``generation`` before the
/// offer it waits after, an offer that found every queue it may use full; a worker reads ``waiters`` after
/// its take. A take that made room after that offer's refusal is ordered after it by the queue's lock, so
/// the worker sees the submitter and moves the generation, and the submitter's wait then ends at once or is
/// resumed.
@usableFromInline
final class RoomSignal: Sendable {
    /// Submitters between their announcement and their last offer.
    @usableFromInline let waiters = Atomic<Int>(0)
    /// Moves each time room is announced (under ``parked``'s lock).
    @usableFromInline let generation = Atomic<UInt64>(0)
    @usableFromInline let parked = Locked<[CheckedContinuation<Void, Never>]>([])

    @usableFromInline init() {}

    /// Tells the waiting submitters, if any, that room was made.
    @inlinable
    func signalIfWaited() {
        if waiters.load(ordering: .sequentiallyConsistent) > 0 { signal() }
    }

    /// Moves the generation and resumes every parked submitter (each offers again).
    @usableFromInline
    func signal() {
        let resumed = parked.withLock { parked -> [CheckedContinuation<Void, Never>] in
            generation.add(1, ordering: .sequentiallyConsistent)
            defer { parked.removeAll() }
            return parked
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Suspends until the generation moves past `ticket` (returns at once if it already has).
    @usableFromInline
    func wait(after ticket: UInt64) async {
        await withCheckedContinuation { continuation in
            let moved = parked.withLock { parked -> Bool in
                guard generation.load(ordering: .sequentiallyConsistent) == ticket else { return true }
                parked.append(continuation)
                return false
            }
            if moved { continuation.resume() }
        }
    }
}
