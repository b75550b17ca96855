/// The load a pool has seen lately: arrival rate and mean service time over a sliding window.
public struct LoadEstimate: Sendable, Equatable {
    /// Jobs admitted per second.
    public var arrivalRate: Double
    /// Mean time a worker spent on a job, in seconds.
    public var meanService: Double

    public init(arrivalRate: Double, meanService: Double) {
        self.arrivalRate = arrivalRate
        self.meanService = meanService
    }

    /// Offered load in erlangs: the number of workers the arrivals keep busy on average.
    public var offeredLoad: Double { arrivalRate * meanService }
}

/// Counts arrivals and busy time in fixed slices of a sliding window, so an estimate costs
/// O(slices) and a record O(1). A value type: the pool's core owns it under its lock.
struct LoadWindow: Sendable {
    private struct Slice: Sendable {
        var index: Int64 = -1
        var arrivals = 0
        var jobs = 0
        var busyNanoseconds: Int64 = 0
    }

    private var slices: [Slice]
    private let sliceNanoseconds: Int64
    private var firstRecord: PoolInstant?
    /// The mean service time of the last run that finished, for a window in which no job finished.
    private var lastMeanService: Double?

    init(span: Duration, slices count: Int = 10) {
        slices = Array(repeating: Slice(), count: max(count, 1))
        sliceNanoseconds = max(span.nanoseconds / Int64(max(count, 1)), 1)
    }

    var span: Duration { .nanoseconds(sliceNanoseconds * Int64(slices.count)) }

    mutating func arrived(at now: PoolInstant) {
        update(at: now) { $0.arrivals += 1 }
    }

    /// A worker spent `busy` on `jobs` jobs (a run of jobs taken together counts once).
    mutating func served(jobs: Int, busy: Duration, at now: PoolInstant) {
        guard jobs > 0 else { return }
        lastMeanService = Double(max(busy.nanoseconds, 0)) / Double(jobs) / 1e9
        update(at: now) {
            $0.jobs += jobs
            $0.busyNanoseconds += max(busy.nanoseconds, 0)
        }
    }

    /// The window's arrival rate and mean service time, or `nil` before any job has finished.
    ///
    /// The rate rises fast and falls slowly: it is the higher of the whole window's rate and the rate over
    /// its newest three slices, so a step up in load is seen within a third of the window while a lull
    /// has to last the whole window before the pool shrinks for it.
    func estimate(at now: PoolInstant) -> LoadEstimate? {
        guard let first = firstRecord else { return nil }
        let current = now.nanoseconds / sliceNanoseconds
        let recentSlices = Int64(min(3, slices.count))
        var arrivals = 0
        var recentArrivals = 0
        var jobs = 0
        var busy: Int64 = 0
        for slice in slices where slice.index > current - Int64(slices.count) && slice.index <= current {
            arrivals += slice.arrivals
            jobs += slice.jobs
            busy += slice.busyNanoseconds
            if slice.index > current - recentSlices { recentArrivals += slice.arrivals }
        }
        guard let service = jobs > 0 ? Double(busy) / Double(jobs) / 1e9 : lastMeanService else { return nil }
        // Before the window is full, rates are over the time seen so far (at least 100 ms or a slice,
        // whichever is shorter, so that the first few arrivals do not read as a flood).
        let seen = max((now - first).nanoseconds, min(sliceNanoseconds, 100_000_000))
        let covered = Double(min(seen, span.nanoseconds)) / 1e9
        // The newest slices: the current one only as far as it has gone.
        let recentCovered = Double(min(seen, (recentSlices - 1) * sliceNanoseconds + now.nanoseconds % sliceNanoseconds + 1)) / 1e9
        let rate = max(Double(arrivals) / covered, Double(recentArrivals) / recentCovered)
        return LoadEstimate(arrivalRate: rate, meanService: service)
    }

    private mutating func update(at now: PoolInstant, _ change: (inout Slice) -> Void) {
        if firstRecord == nil { firstRecord = now }
        let index = now.nanoseconds / sliceNanoseconds
        let position = Int(((index % Int64(slices.count)) + Int64(slices.count)) % Int64(slices.count))
        if slices[position].index != index { slices[position] = Slice(index: index) }
        change(&slices[position])
    }
}
