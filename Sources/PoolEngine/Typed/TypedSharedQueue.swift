public import DequeModule
public import HeapModule
public import Synchronization

/// How a ``TypedPool`` queues the jobs it is offered without a key.
public enum TypedQueueStrategy: Sendable, Equatable, CustomStringConvertible {
    /// Each worker has a queue of its own (round-robin, a batch at a time), and an idle worker takes half
    /// of the fullest other one: the fastest, and jobs start in nearly submission order.
    case perWorker
    /// One queue every worker takes from, oldest job first: strict submission order for starts (up to one
    /// batch per worker taken ahead).
    case sharedFIFO
    /// One queue every worker takes from, newest job first: fresh work is answered first under overload,
    /// at the price of starving old jobs.
    case lifo
    /// One queue every worker takes from, most urgent first: higher priority first, and among equals the
    /// oldest. With aging a job of priority `p` counts as if it arrived `p × aging` earlier, so it is never
    /// overtaken by a job of priority `q > p` that arrived more than `(q − p) × aging` after it (as
    /// ``QueueStrategyKind/priority(aging:)``). Priorities come with ``TypedPool/trySubmit(_:priority:)``.
    case priority(aging: Duration?)

    public var description: String {
        switch self {
        case .perWorker: "per-worker + stealing"
        case .sharedFIFO: "fifo"
        case .lifo: "lifo"
        case .priority(let aging?): "priority (aging \(formatted(aging)))"
        case .priority(nil): "priority"
        }
    }
}

/// The order of a typed pool's shared queue: a plain value with no lock, so its rules have tests of their
/// own. Every job pushed comes out exactly once, through ``take(max:into:)`` or ``removeAll()``.
@usableFromInline
struct TypedJobOrder<Input: Sendable>: Sendable {
    @usableFromInline
    struct Ranked: Comparable, Sendable {
        @usableFromInline let urgency: Urgency
        @usableFromInline let entry: TypedEntry<Input>

        @inlinable init(urgency: Urgency, entry: TypedEntry<Input>) {
            self.urgency = urgency
            self.entry = entry
        }

        @inlinable static func == (lhs: Ranked, rhs: Ranked) -> Bool { lhs.urgency == rhs.urgency }
        @inlinable static func < (lhs: Ranked, rhs: Ranked) -> Bool { lhs.urgency < rhs.urgency }
    }

    @usableFromInline let strategy: TypedQueueStrategy
    /// The FIFO and LIFO queues' jobs, oldest first.
    @usableFromInline var jobs = Deque<TypedEntry<Input>>()
    /// The priority queue's jobs.
    @usableFromInline var ranked = Heap<Ranked>()
    @usableFromInline var sequence: UInt64 = 0

    @inlinable init(_ strategy: TypedQueueStrategy) {
        self.strategy = strategy
    }

    @inlinable var count: Int { jobs.count + ranked.count }

    /// Whether jobs need an arrival stamp to be ordered (aging counts from it).
    @inlinable var needsStamps: Bool {
        if case .priority(_?) = strategy { return true }
        return false
    }

    /// Adds a job; `priority` counts only for the priority queue, and `entry.enqueuedAt` (nanoseconds on a
    /// monotonic clock) only with aging.
    @inlinable
    mutating func push(_ entry: TypedEntry<Input>, priority: Int) {
        guard case .priority(let aging) = strategy else {
            jobs.append(entry)
            return
        }
        sequence &+= 1
        let urgency = Urgency(priority: priority, enqueuedAt: entry.enqueuedAt, sequence: sequence, agingInterval: aging)
        ranked.insert(Ranked(urgency: urgency, entry: entry))
    }

    /// Moves up to `max` jobs, next first, to the end of `batch`; returns how many.
    @inlinable
    mutating func take(max: Int, into batch: inout [TypedEntry<Input>]) -> Int {
        let count = Swift.min(max, self.count)
        switch strategy {
        case .priority:
            for _ in 0..<count { if let next = ranked.popMin() { batch.append(next.entry) } }
        case .lifo:
            for _ in 0..<count { batch.append(jobs.removeLast()) }
        case .sharedFIFO, .perWorker:
            for _ in 0..<count { batch.append(jobs.removeFirst()) }
        }
        return count
    }

    /// Empties the queue; returns how many jobs it held.
    @inlinable
    mutating func removeAll() -> Int {
        defer {
            jobs.removeAll(keepingCapacity: true)
            ranked = Heap()
        }
        return count
    }
}

/// The one queue all workers of a ``TypedPool`` take from under a shared strategy (FIFO, LIFO, priority).
/// Sleeping workers wait on their own ``WorkerQueue``s (which hold their keyed jobs), so waking one works
/// the same under every strategy.
@usableFromInline
final class TypedSharedQueue<Input: Sendable>: Sendable {
    @usableFromInline
    struct State: Sendable {
        @usableFromInline var order: TypedJobOrder<Input>
        /// Set by a shutdown: nothing more is pushed, so nothing can land after the last count.
        @usableFromInline var closed = false

        @inlinable init(order: TypedJobOrder<Input>) { self.order = order }
    }

    // Locked (a pthread mutex), not Mutex: ThreadSanitizer does not see Mutex's futex calls (see Locked).
    @usableFromInline let state: Locked<State>
    /// Jobs waiting, read without the lock (stored under it).
    @usableFromInline let depth = Atomic<Int>(0)
    @usableFromInline let capacity: Int
    @usableFromInline let needsStamps: Bool

    @usableFromInline init(_ strategy: TypedQueueStrategy, capacity: Int) {
        let order = TypedJobOrder<Input>(strategy)
        needsStamps = order.needsStamps
        state = Locked(State(order: order))
        self.capacity = capacity
    }

    /// Jobs waiting (for snapshots and sizing a take).
    @inlinable var count: Int { depth.load(ordering: .relaxed) }

    /// Whether jobs wait, read in the same total order as a sleeper's count (see ``TypedPool``'s wake-up of
    /// sleepers): a worker about to sleep sees a job pushed before its count was read.
    @inlinable var hasJobs: Bool { depth.load(ordering: .sequentiallyConsistent) > 0 }

    /// Adds what fits under the capacity, in order; returns how many did (none once closed).
    @inlinable
    func push(_ inputs: some Collection<Input>, priority: Int, at stamp: Int64) -> Int {
        state.withLock { state in
            let room = state.closed ? 0 : Swift.max(capacity - state.order.count, 0)
            let taken = Swift.min(room, inputs.count)
            for input in inputs.prefix(taken) { state.order.push(TypedEntry(input, at: stamp), priority: priority) }
            depth.store(state.order.count, ordering: .sequentiallyConsistent)
            return taken
        }
    }

    /// Takes up to `max` jobs, next first, into `batch`.
    @inlinable
    func take(into batch: inout [TypedEntry<Input>], max: Int) -> Int {
        state.withLock { state in
            let taken = state.order.take(max: max, into: &batch)
            depth.store(state.order.count, ordering: .relaxed)
            return taken
        }
    }

    /// Refuses every later push (a shutdown began).
    @inlinable
    func close() {
        state.withLock { $0.closed = true }
    }

    /// Empties the queue; returns how many jobs it held.
    @inlinable
    func removeAll() -> Int {
        state.withLock { state in
            defer { depth.store(0, ordering: .relaxed) }
            return state.order.removeAll()
        }
    }
}
