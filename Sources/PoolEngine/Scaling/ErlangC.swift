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
}
