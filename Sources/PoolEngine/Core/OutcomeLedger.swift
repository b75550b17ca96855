import DequeModule

/// Every job's terminal state, counted once: the pool's conservation law
/// (`submitted == completed + failed + rejected + cancelled`) lives here, with the rules that decide what
/// an ended attempt means (done, tried again after a backoff, dead-lettered, cancelled).
struct OutcomeLedger: Sendable {
    private(set) var counters = JobCounters()
    /// Jobs cancelled before they started (queued, taken ahead, or awaiting a retry), and while running.
    private(set) var cancelledWhileQueued = 0
    private(set) var cancelledWhileRunning = 0
    /// The most recent dead letters, up to the configured capacity.
    private(set) var deadLetters = Deque<DeadLetter>()
    private(set) var deadLetterTotal = 0
    let retry: RetryPolicy
    let deadLetterCapacity: Int
    /// Draws the retries' jitter (seeded by the owner: the ledger itself holds no randomness of the world).
    private var jitter: SeededRandom

    init(retry: RetryPolicy, deadLetterCapacity: Int, jitterSeed: UInt64) {
        self.retry = retry
        self.deadLetterCapacity = deadLetterCapacity
        jitter = SeededRandom(seed: jitterSeed)
    }

    /// What an ended attempt means for its job.
    enum Fate: Equatable {
        case completed(attempts: Int)
        /// Queue the next attempt after this backoff; the job is not finished.
        case retry(after: Duration)
        case deadLettered(DeadLetter)
        case cancelled
    }

    /// A submission accepted.
    mutating func admitted() { counters.submitted += 1 }

    /// A submission refused at admission.
    mutating func refused() {
        counters.submitted += 1
        counters.rejected += 1
    }

    /// An accepted job dropped to make room (``OverflowPolicy/dropOldest``).
    mutating func dropped() { counters.rejected += 1 }

    /// Accepted jobs that never started, cancelled by a shutdown.
    mutating func cancelledBeforeStarting(_ count: Int) {
        counters.cancelled += count
        cancelledWhileQueued += count
    }

    /// Counts one ended attempt of `job` and decides its fate. `cancelling`: the pool is cancelling what
    /// is left, so a failure (the cancellation itself, usually) ends the job as cancelled.
    mutating func attemptEnded(_ job: QueuedJob, result: AttemptResult, cancelling: Bool, now: PoolInstant) -> Fate {
        switch result {
        case .success:
            counters.completed += 1
            return .completed(attempts: job.attempt)
        case .failure(let error, let timedOut):
            if timedOut { counters.timedOut += 1 }
            if cancelling {
                counters.cancelled += 1
                cancelledWhileRunning += 1
                return .cancelled
            }
            if job.attempt < retry.maxAttempts {
                counters.retried += 1
                return .retry(after: retry.backoff(afterAttempt: job.attempt, unit: jitter.unit()))
            }
            counters.failed += 1
            let letter = DeadLetter(id: job.id, key: job.job.key, attempts: job.attempt, lastError: error, timedOut: timedOut, at: now)
            deadLetterTotal += 1
            if deadLetterCapacity > 0 {
                deadLetters.append(letter)
                if deadLetters.count > deadLetterCapacity { deadLetters.removeFirst() }
            }
            return .deadLettered(letter)
        }
    }
}
