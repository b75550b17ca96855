/// Queueing theory for a pool of `c` identical workers fed by Poisson arrivals with exponential service:
/// the M/M/c queue. The engine sizes a ``ScalingMode/targetWait(_:)`` pool with it; the tool compares
/// measured waits with it.
public enum ErlangC {
    /// The probability that an arriving job has to wait (Erlang's C formula), for `servers` workers and
    /// offered load `load` = arrival rate × mean service time (in erlangs). `nil` when the pool is
    /// overloaded (load ≥ servers), where no steady state exists.
    public static func probabilityOfWaiting(servers: Int, load: Double) -> Double? {
        guard servers > 0, load >= 0, load < Double(servers) else { return nil }
        // Erlang B by its stable recurrence, then C from B.
        var blocking = 1.0
        for k in 1...servers { blocking = load * blocking / (Double(k) + load * blocking) }
        let utilisation = load / Double(servers)
        return blocking / (1 - utilisation * (1 - blocking))
    }

    /// The mean time a job waits in the queue, in seconds: C / (c·μ − λ). `nil` when overloaded.
    public static func meanWait(servers: Int, arrivalRate: Double, meanService: Double) -> Double? {
        guard meanService > 0, arrivalRate.isFinite, meanService.isFinite else { return nil }
        let load = arrivalRate * meanService
        guard let waiting = probabilityOfWaiting(servers: servers, load: load) else { return nil }
        return waiting / (Double(servers) / meanService - arrivalRate)
    }

    /// The fewest servers in `range` whose mean wait (``meanWait(servers:arrivalRate:meanService:)``) is at
    /// most `maxWait`, with that wait; when none is, the range's upper bound with its wait (`nil` when even
    /// that is overloaded). One pass of Erlang B's recurrence, so O(upper bound), where asking
    /// ``meanWait(servers:arrivalRate:meanService:)`` for each size in turn would be quadratic.
    public static func fewestServers(
        in range: ClosedRange<Int>, arrivalRate: Double, meanService: Double, maxWait: Double
    ) -> (servers: Int, meanWait: Double?) {
        let load = arrivalRate * meanService
        guard range.upperBound > 0, meanService > 0, arrivalRate.isFinite, meanService.isFinite, load >= 0 else {
            return (range.upperBound, nil)
        }
        var blocking = 1.0
        var wait: Double?
        for servers in 1...range.upperBound {
            blocking = load * blocking / (Double(servers) + load * blocking)
            guard servers >= range.lowerBound else { continue }
            wait = nil
            if load < Double(servers) {
                let waiting = blocking / (1 - load / Double(servers) * (1 - blocking))
                wait = waiting / (Double(servers) / meanService - arrivalRate)
            }
            if let wait, wait <= maxWait { return (servers, wait) }
        }
        return (range.upperBound, wait)
    }
}
