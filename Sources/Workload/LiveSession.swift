import Logging
public import PoolEngine
import Synchronization

/// What a live session looks like now, beside the pool's own snapshot.
public struct SessionStatus: Sendable, Equatable, Codable {
    public var scenarioName: String
    /// Scenario time: wall time scaled by the speed.
    public var scenarioTime: Duration
    public var duration: Duration
    public var caption: String?
    public var arrivalRate: Double
    /// The whole scenario is paused: arrivals, timeline, and the pool's clock.
    public var paused: Bool
    /// Arrivals alone are paused (a timeline `pause:` entry); the pool and the clock go on.
    public var arrivalsPaused: Bool = false
    public var speed: Double
    public var failureRate: Double
    public var extraLatency: Duration
    /// Set once arrivals have ended (the duration passed, or a shutdown was asked for).
    public var finished: Bool
    /// Erlang C's model of the scenario, when it applies (the dashboard shows its prediction live).
    public var theory: ErlangC.Model? = nil
    /// Priority scenarios: per level, most urgent first.
    public var priorities: [PriorityStatus] = []

    public init(
        scenarioName: String, scenarioTime: Duration, duration: Duration, caption: String?, arrivalRate: Double,
        paused: Bool, speed: Double, failureRate: Double, extraLatency: Duration, finished: Bool,
        theory: ErlangC.Model? = nil, arrivalsPaused: Bool = false, priorities: [PriorityStatus] = []
    ) {
        self.theory = theory
        self.priorities = priorities
        self.arrivalsPaused = arrivalsPaused
        self.scenarioName = scenarioName
        self.scenarioTime = scenarioTime
        self.duration = duration
        self.caption = caption
        self.arrivalRate = arrivalRate
        self.paused = paused
        self.speed = speed
        self.failureRate = failureRate
        self.extraLatency = extraLatency
        self.finished = finished
    }
}

/// One priority level of a live session: what waits and how long jobs waited.
public struct PriorityStatus: Sendable, Equatable, Codable {
    public var level: Int
    /// Admitted and not yet started.
    public var waiting: Int
    public var completed: Int
    /// Queue wait of the jobs that started, over the whole run, in milliseconds.
    public var meanWaitMs: Double
    public var p99WaitMs: Double

    public init(level: Int, waiting: Int, completed: Int, meanWaitMs: Double, p99WaitMs: Double) {
        self.level = level
        self.waiting = waiting
        self.completed = completed
        self.meanWaitMs = meanWaitMs
        self.p99WaitMs = p99WaitMs
    }
}

/// A scenario running against a live pool: it submits the job stream on time, performs the timeline,
/// and takes actions live (the dashboard's keys). Headless runs and the dashboard share it.
///
/// Everything runs on one ``ScenarioClock``: arrivals, the timeline, simulated service times and the pool's
/// own timers (idle timeout, cooldown, breaker cool-off, retry backoff). A speed of 0.25 shows the same
/// scenario in slow motion, and a pause stops all of it.
public final class LiveSession: Sendable {
    public let scenario: Scenario
    public let pool: WorkerPool
    /// The scenario's time: the pool's clock too.
    public let clock: ScenarioClock
    let log = SessionLog()

    private struct State {
        var schedule: SubmissionSchedule
        var actions: [TimelineEntry]
        var live: [ScenarioAction] = []
        var scenarioTime: Duration = .zero
        var caption: String?
        var faults = FaultInjection.none
        var failureRate: Double
        var stopRequested: ShutdownMode?
        var finished = false
    }

    private let state: Locked<State>
    /// The failure rate in force, read by every attempt as it ends: an atomic (its bit pattern), so attempts
    /// never wait for the session's lock.
    private let failureRateNow: Atomic<UInt64>

    public init(scenario: Scenario, quiet: Bool = true, speed: Double = 1) throws(ConfigurationError) {
        self.scenario = scenario
        clock = ScenarioClock(speed: speed)
        failureRateNow = Atomic(scenario.workload.failureRate.bitPattern)
        theory = ErlangC.model(of: scenario)
        var configuration = scenario.pool
        if quiet { configuration.logger = Logger(label: "poolscope.session", factory: { _ in SwiftLogNoOpLogHandler() }) }
        pool = try WorkerPool(configuration: configuration, clock: clock)
        state = Locked(
            State(
                schedule: SubmissionSchedule(
                    workload: scenario.workload, timeline: scenario.timeline, duration: scenario.duration,
                    seed: scenario.seed),
                // Failure rate changes also shape the stream, but the session must know them when they happen:
                // attempts read the rate in force as they run.
                actions: scenario.timeline.filter {
                    if case .setFailureRate = $0.action { return true }
                    return !SubmissionSchedule.affectsStream($0.action)
                },
                failureRate: scenario.workload.failureRate))
        // A shutdown from elsewhere (the monitor's command) ends the scenario too, and resumes a paused one,
        // or its drain's deadline would wait on a stopped clock. Subscribed here, before anyone can shut the
        // pool down; the stream ends when the pool has stopped.
        let events = pool.events()
        Task { [clock, state] in
            for await event in events {
                guard case .shutdownStarted(let mode) = event.kind else { continue }
                clock.setPaused(false)
                state.withLock { $0.stopRequested = $0.stopRequested ?? mode }
                return
            }
        }
    }

    /// Queues an action to apply at the current scenario time.
    /// Erlang C's model of the scenario, when it applies.
    public let theory: ErlangC.Model?

    public func send(_ action: ScenarioAction) {
        state.withLock { $0.live.append(action) }
    }

    /// Changes the speed (0.05...20): below 1 is slow motion.
    public func setSpeed(_ speed: Double) {
        clock.setSpeed(speed)
    }

    /// Multiplies the speed, within 0.125...8 (each press of a speed key is one step).
    public func changeSpeed(by factor: Double) {
        clock.setSpeed(min(max(clock.speed * factor, 0.125), 8))
    }

    /// Pauses or resumes the whole scenario: arrivals, timeline, simulated work and the pool's timers.
    public func setPaused(_ paused: Bool) {
        clock.setPaused(paused)
    }

    /// Pauses a running scenario, or resumes a paused one.
    /// Once the session is shutting down, the scenario is not paused again: its drain runs on the scenario clock.
    public func togglePause() {
        guard !state.withLock({ $0.finished || $0.stopRequested != nil }) else { return }
        clock.setPaused(!clock.isPaused)
    }

    public var status: SessionStatus {
        let priorities = scenario.workload.priorities == nil ? [] : log.priorityStatus
        return state.withLock { state in
            SessionStatus(
                scenarioName: scenario.name, scenarioTime: state.scenarioTime, duration: scenario.duration,
                caption: state.caption, arrivalRate: state.schedule.currentRate(at: state.scenarioTime),
                paused: clock.isPaused, speed: clock.speed, failureRate: state.failureRate,
                extraLatency: state.faults.extraLatency, finished: state.finished, theory: theory,
                arrivalsPaused: state.schedule.isPaused, priorities: priorities)
        }
    }

    /// Submits and acts until the scenario's duration is over or a shutdown is asked for; returns the
    /// shutdown to perform.
    public func drive() async -> ShutdownMode {
        while true {
            let now = clock.elapsed
            let (due, stop, wait) = state.withLock { state in
                state.scenarioTime = max(state.scenarioTime, now)
                return step(&state)
            }
            for (index, submission) in due.enumerated() {
                // A driver far behind (a burst of a million, a rate the machine cannot keep) still ends on time:
                // every 1,024 submissions it looks whether the run is over; what was due after is never offered.
                if index % 1_024 == 1_023, let over = overWhileSubmitting() {
                    state.withLock { $0.finished = true }
                    return over
                }
                if let ended = await submitUnlessEnded(submission) {
                    // The run ended while the producer was held: what was due after it is never offered.
                    state.withLock { $0.finished = true }
                    return ended
                }
            }
            if let stop {
                state.withLock { $0.finished = true }
                return stop
            }
            try? await Task.sleep(for: min(wait, .milliseconds(20)))
        }
    }

    /// Whether the run is over while the driver is still submitting what was due: its duration has passed in
    /// scenario time, or a shutdown was asked for (a key, the monitor, a signal).
    private func overWhileSubmitting() -> ShutdownMode? {
        let now = clock.elapsed
        return state.withLock { state in
            state.scenarioTime = max(state.scenarioTime, now)
            if let mode = state.stopRequested { return mode }
            for action in state.live { if case .shutdown(let mode) = action { return mode } }
            return state.scenarioTime >= scenario.duration ? .graceful(deadline: scenario.shutdownDeadline) : nil
        }
    }

    /// Submits one job. Under backpressure the pool may hold the producer: `overflow: wait` for as long as
    /// the queue is full, `run_in_caller` for as long as the job runs. Meanwhile the session goes on (live
    /// actions and the timeline apply) and still ends on time: a watcher starts the shutdown, which refuses
    /// a waiting submission at once (counted as rejected) and cancels a job the caller runs at its deadline.
    /// Returns that shutdown's mode, or nil when the submission ended by itself.
    private func submitUnlessEnded(_ submission: Submission) async -> ShutdownMode? {
        switch scenario.pool.overflowPolicy {
        case .wait, .runInCaller: break
        case .reject, .dropOldest:
            await submit(submission)
            return nil
        }
        // (submission ended, the shutdown the watcher started)
        let progress = Locked<(done: Bool, ended: ShutdownMode?)>((false, nil))
        // Looks first after 20 ms: a submission that is not held ends before, and the run goes on as before.
        // Never cancelled: once it has started the shutdown, that shutdown must run its course.
        Task { [self, clock] in
            while true {
                try? await Task.sleep(for: .milliseconds(20))
                let mode = state.withLock { state -> ShutdownMode? in
                    guard !progress.withLock({ $0.done }) else { return nil }
                    state.scenarioTime = max(state.scenarioTime, clock.elapsed)
                    return step(&state, takingSubmissions: false).1
                }
                guard let mode else {
                    if progress.withLock({ $0.done }) { return }
                    continue
                }
                let start = progress.withLock { progress -> Bool in
                    guard !progress.done else { return false }
                    progress.ended = mode
                    return true
                }
                // The submission got through first after all: the driver ends at its next step instead (a
                // timeline shutdown taken here is kept as the stop requested).
                guard start else {
                    state.withLock { $0.stopRequested = $0.stopRequested ?? mode }
                    return
                }
                _ = await shutdown(mode)
                return
            }
        }
        await submit(submission)
        return progress.withLock { progress in
            progress.done = true
            return progress.ended
        }
    }

    /// One pass under the lock: applies live actions, then catches up with scenario time in time order
    /// (so a late driver still submits what was due before a timeline shutdown). Without
    /// `takingSubmissions` (the producer is held), only actions apply and the due submissions wait.
    private func step(_ state: inout State, takingSubmissions: Bool = true) -> ([Submission], ShutdownMode?, Duration) {
        let t = state.scenarioTime
        for action in state.live { if let mode = perform(action, at: t, in: &state) { return ([], mode, .zero) } }
        state.live.removeAll()
        if let mode = state.stopRequested { return ([], mode, .zero) }
        var due: [Submission] = []
        while true {
            let actionAt = state.actions.first.map(\.at)
            let submission = takingSubmissions ? state.schedule.peek() : nil
            if let actionAt, actionAt <= t, actionAt <= (submission?.at ?? actionAt) {
                let entry = state.actions.removeFirst()
                if let mode = perform(entry.action, at: entry.at, in: &state, line: entry.line) { return (due, mode, .zero) }
            } else if let submission, submission.at <= t {
                _ = state.schedule.next()
                due.append(submission)
            } else {
                break
            }
        }
        if t >= scenario.duration && state.actions.isEmpty { return (due, .graceful(deadline: scenario.shutdownDeadline), .zero) }
        let nextTime = [state.schedule.peek()?.at, state.actions.first?.at, scenario.duration].compactMap { $0 }.min() ?? t
        let wait = clock.wallTime(for: nextTime - t) ?? .milliseconds(20)
        return (due, nil, max(wait, .milliseconds(1)))
    }

    /// Carries out one action; returns a shutdown mode if it ends the session.
    private func perform(_ action: ScenarioAction, at t: Duration, in state: inout State, line: Int = 0) -> ShutdownMode? {
        let where_ = line > 0 ? "line \(line)" : "t=\(formatted(t))"
        switch action {
        case .shutdown(let mode):
            return mode
        case .caption(let text):
            state.caption = text
            log.caption(RunResult.Caption(tS: rounded(t.seconds), text: text))
        case .setFailureRate(let rate):
            state.failureRate = rate
            failureRateNow.store(rate.bitPattern, ordering: .relaxed)
            state.schedule.apply(action, at: t)
        case .burst, .setRate, .pauseArrivals, .resumeArrivals:
            state.schedule.apply(action, at: t)
        case .setThreshold(let value):
            log.attempt(where_, action) { try pool.updateScaling { $0.scaleUpThreshold = value } }
        case .setMinWorkers(let value):
            log.attempt(where_, action) { try pool.updateScaling { $0.minWorkers = value } }
        case .setMaxWorkers(let value):
            log.attempt(where_, action) { try pool.updateScaling { $0.maxWorkers = value } }
        case .setExtraLatency(let latency):
            state.faults.extraLatency = latency
            let faults = state.faults
            log.attempt(where_, action) { try pool.injectFaults(faults) }
        case .setRateLimit(let limit):
            log.attempt(where_, action) { try pool.updateRateLimit(limit) }
        case .changeThreshold(let delta):
            log.attempt(where_, action) { try pool.updateScaling { $0.scaleUpThreshold = max($0.scaleUpThreshold + delta, 1) } }
        case .changeMinWorkers(let delta):
            log.attempt(where_, action) {
                try pool.updateScaling { $0.minWorkers = min(max($0.minWorkers + delta, 0), $0.maxWorkers) }
            }
        case .changeMaxWorkers(let delta):
            log.attempt(where_, action) {
                try pool.updateScaling { $0.maxWorkers = max($0.maxWorkers + delta, max($0.minWorkers, 1)) }
            }
        case .scaleRate(let factor):
            let current = state.schedule.currentRate(at: t)
            state.schedule.apply(.setRate(min(max((current == 0 ? 1 : current) * factor, 0), Units.fastestRate)), at: t)
        case .changeFailureRate(let delta):
            let rate = min(max(((state.failureRate + delta) * 100).rounded() / 100, 0), 1)
            state.failureRate = rate
            failureRateNow.store(rate.bitPattern, ordering: .relaxed)
            state.schedule.apply(.setFailureRate(rate), at: t)
        case .crashWorker(let number):
            if pool.crashWorker(number.map { WorkerID($0) }) == nil {
                log.warning("\(where_): crash_worker \(number.map(String.init) ?? "random"): no such worker")
            }
        }
        return nil
    }

    private func submit(_ submission: Submission) async {
        let clock = self.clock
        let submitted = clock.now()
        let log = self.log
        let priority = submission.spec.priority
        let tracksPriorities = scenario.workload.priorities != nil
        if tracksPriorities { log.prioritySubmitted(priority) }
        let onStart: (@Sendable () -> Void)? =
            tracksPriorities ? { @Sendable in log.priorityStarted(priority, wait: clock.now() - submitted) } : nil
        let failureRate: @Sendable () -> Double = { [self] in Double(bitPattern: failureRateNow.load(ordering: .relaxed)) }
        let job = SimulatedWork.job(
            for: submission.spec, kind: scenario.workload.kind, clock: clock, failureRate: failureRate, onStart: onStart
        ) {
            log.recordEndToEnd(clock.now() - submitted)
            if tracksPriorities { log.priorityCompleted(priority) }
        }
        let admission = await pool.submit(job)
        if tracksPriorities { log.priorityAdmitted(priority, accepted: admission.isAccepted) }
    }

    /// Ends the session: stops arrivals and shuts the pool down.
    /// A paused scenario resumes first: its jobs and the drain's deadline run on the scenario clock.
    public func shutdown(_ mode: ShutdownMode) async -> ShutdownReport {
        clock.setPaused(false)
        state.withLock { state in
            state.stopRequested = state.stopRequested ?? mode
            state.finished = true
        }
        return await pool.shutdown(mode)
    }
}
