public import DequeModule
public import Synchronization

/// The most recent dead letters of a ``TypedPool``, and how many there were in all.
@usableFromInline
struct DeadLetterLog<Input: Sendable>: Sendable {
    @usableFromInline var letters = Deque<TypedDeadLetter<Input>>()
    @usableFromInline var total = 0

    @usableFromInline init() {}
}

extension TypedPool {
    /// The most recent jobs whose last attempt failed (up to the configuration's `deadLetterCapacity`),
    /// oldest first, each with its input.
    public var deadLetters: [TypedDeadLetter<Input>] { Array(deadLetterLog.withLock { $0.letters }) }

    /// How many jobs were dead-lettered in all (those kept and those the capacity let go).
    public var deadLetterTotal: Int { deadLetterLog.withLock { $0.total } }

    /// The latencies recorded so far (empty unless the configuration records them): each attempt's queue
    /// wait (from its offer, or from the end of its backoff for a retry) and service time, and each job's
    /// end-to-end time (from its offer to its last attempt's end).
    public var latencies: LatencyHistograms {
        var merged = LatencyHistograms()
        for shard in latencyShards { merged.add(shard.withLock { $0 }) }
        return merged
    }

    /// The monotonic clock the pool stamps jobs with, in nanoseconds.
    @usableFromInline
    static func monotonicStamp() -> Int64 { SystemPoolClock().now().nanoseconds }

    /// Runs a batch with retries, the timeout and latency recording as configured. A retry runs right after
    /// its backoff, on this worker; a job cancelled by a shutdown (while running or in its backoff) counts as
    /// cancelled, not failed. Inlinable like the plain loop, so that it runs specialised for `Input`: generic,
    /// it cost 326 against 114 ns per no-op job with latencies recorded.
    @inlinable
    nonisolated(nonsending) func runFeatured(_ batch: [TypedEntry<Input>], worker: Int, random: inout SeededRandom) async -> BatchTally {
        var tally = BatchTally()
        var samples: [LatencySample] = []
        if recordsLatencies { samples.reserveCapacity(batch.count) }
        let maxAttempts = configuration.retry.maxAttempts
        // The previous attempt's end, when this one follows it directly: one clock reading per attempt
        // instead of two (the loop's own bookkeeping between them counts as the next one's service).
        var lastReading: Int64?
        for entry in batch {
            guard tally.mayStart(phase) else { continue }
            var attempt = 1
            var readyAt = entry.enqueuedAt
            while true {
                let started = recordsLatencies ? lastReading ?? Self.monotonicStamp() : 0
                let (error, timedOutNow) = await attemptOnce(entry.input)
                let ended = recordsLatencies ? Self.monotonicStamp() : 0
                lastReading = recordsLatencies ? ended : nil
                if timedOutNow { tally.timedOut += 1 }
                let cancelling = error != nil && phase.load(ordering: .acquiring) == 2
                let last = error == nil || cancelling || attempt >= maxAttempts
                if recordsLatencies {
                    samples.append(
                        LatencySample(
                            queueWait: started - readyAt, service: ended - started, endToEnd: last ? ended - entry.enqueuedAt : nil))
                }
                guard let error else {
                    tally.done += 1
                    break
                }
                if cancelling {
                    tally.stopped += 1
                    break
                }
                if attempt >= maxAttempts {
                    tally.failed += 1
                    deadLetter(TypedDeadLetter(input: entry.input, attempts: attempt, lastError: error, timedOut: timedOutNow))
                    break
                }
                tally.retried += 1
                let backoff = configuration.retry.backoff(afterAttempt: attempt, unit: random.unit())
                attempt += 1
                do {
                    try await Task.sleep(for: backoff)
                } catch {
                    tally.stopped += 1  // only a shutdown's cancellation ends a backoff early
                    break
                }
                readyAt = recordsLatencies ? Self.monotonicStamp() : 0
                lastReading = recordsLatencies ? readyAt : nil
            }
        }
        if !samples.isEmpty {
            latencyShards[worker].withLock { histograms in
                for sample in samples {
                    histograms.record(queueWait: sample.queueWait, service: sample.service, endToEnd: sample.endToEnd)
                }
            }
        }
        return tally
    }

    /// One attempt: the error in words if it threw or ran out of time, and whether it ran out of time. The
    /// handler is called directly, not through ``AttemptResult/of(_:)``: its async closure cost 65 ns per
    /// no-op job with latencies on (177 against 112), even inlined. Only a timeout races it in a closure.
    @inlinable
    nonisolated(nonsending) func attemptOnce(_ input: Input) async -> (error: String?, timedOut: Bool) {
        do {
            switch body {
            case .synchronous(let handler):
                try handler(input)
            case .asynchronous(let handler):
                if let timeout = configuration.timeout {
                    return await AttemptResult.racing({ try await handler(input) }, timeout: timeout) {
                        try await Task.sleep(for: $0)
                    }.errorAndTimeout
                }
                try await handler(input)
            }
            return (nil, false)
        } catch {
            return (String(describing: error), false)
        }
    }

    /// Dead-letters a job whose only attempt (no retries configured) threw.
    @usableFromInline
    func deadLetter(_ input: Input, error: any Error) {
        deadLetter(TypedDeadLetter(input: input, attempts: 1, lastError: String(describing: error), timedOut: false))
    }

    @usableFromInline
    func deadLetter(_ letter: TypedDeadLetter<Input>) {
        let capacity = configuration.deadLetterCapacity
        deadLetterLog.withLock { log in
            log.total += 1
            guard capacity > 0 else { return }
            log.letters.append(letter)
            if log.letters.count > capacity { log.letters.removeFirst() }
        }
    }
}
