import Foundation
import PoolCluster
import PoolEngine
import Workload

/// `poolscope run SCENARIO --cluster URL`: the scenario's arrivals, on time, into the shared queue.
enum ClusterRun {
    struct Document: Encodable {
        let scenario: String
        let seed: UInt64
        let durationS: Double
        let cluster: Cluster
        let summary: RunSummary
        let balanced: Bool
        let drained: Bool
        let warnings: [String]
        /// Present (true) when SIGINT or SIGTERM ended the run early.
        let interrupted: Bool?

        struct Cluster: Encodable {
            let schema: String
            let firstId: Int64?
            let lastId: Int64?
        }
    }

    static func run(_ scenario: Scenario, url: String, schema: String, json: Bool, drainTimeout: Duration) async {
        let parsed: DatabaseURL
        let clusterSchema: ClusterSchema
        do {
            parsed = try DatabaseURL(url)
            clusterSchema = try ClusterSchema(schema)
        } catch {
            printError("poolscope: \(error)")
            terminate(2)
        }
        let database: ClusterDatabase
        do {
            database = try await ClusterDatabase.connect(parsed, schema: clusterSchema, maximumConnections: 2, logger: quietLogger)
        } catch {
            printError("poolscope: \(error)")
            terminate(1)
        }
        var warnings: [String] = []
        let steering = scenario.timeline.filter { entry in
            switch entry.action {
            case .caption, .burst, .setRate, .setFailureRate, .pauseArrivals, .resumeArrivals, .scaleRate, .changeFailureRate: false
            default: true
            }
        }
        if !steering.isEmpty {
            warnings.append(
                "\(steering.count) timeline action(s) that steer a pool (workers, thresholds, faults, shutdown; lines \(steering.map { String($0.line) }.joined(separator: ", "))) do not apply to a cluster and were ignored"
            )
        }
        // Say at once when nothing will run the jobs, rather than after the drain timeout.
        if let status = try? await database.status(includeStoppedNodes: false) {
            let live = status.nodes.filter { $0.state == "alive" }
            if live.isEmpty {
                printError(
                    "poolscope: no live node in cluster \(schema): the jobs will wait (start one with: poolscope node --database URL\(schema == "poolscope" ? "" : " --schema \(schema)"))"
                )
            } else if scenario.workload.keys != nil, !live.contains(where: \.keyed) {
                printError(
                    "poolscope: the scenario's jobs have keys, and no live node takes keyed jobs: start one with poolscope node --keyed")
            }
        }
        // SIGINT or SIGTERM: stop enqueueing and waiting, print the summary of what was enqueued, exit 130/143.
        let interruption = Interruption()
        func interrupted() -> Bool { interruption.happened }
        let producer = ClusterProducer(database: database)
        var schedule = SubmissionSchedule(
            workload: scenario.workload, timeline: scenario.timeline, duration: scenario.duration, seed: scenario.seed)
        let maxAttempts = scenario.pool.retry.maxAttempts
        let spin: Bool = if case .cpu = scenario.workload.kind { true } else { false }
        let start = ContinuousClock.now
        var first: Int64?
        var last: Int64?
        var enqueued = 0
        var lastReport = start
        while let next = schedule.peek(), !interrupted() {
            let due = start + next.at
            while due > .now && !interrupted() { try? await Task.sleep(until: min(due, .now + .milliseconds(100)), clock: .continuous) }
            if interrupted() { break }
            // Everything due within the next 5 ms goes in one statement.
            let horizon = (ContinuousClock.now - start) + .milliseconds(5)
            var batch: [NewClusterJob] = []
            while let submission = schedule.peek(), submission.at <= horizon, let taken = schedule.next() {
                let spec = taken.spec
                let payload = SimulatedJob.Payload(
                    serviceMicroseconds: Int(spec.service / .microseconds(1)), spin: spin, failRate: spec.failureRate,
                    seed: spec.failureSeed)
                if let job = try? NewClusterJob(
                    SimulatedJob.kind, payload, options: EnqueueOptions(key: spec.key, priority: spec.priority, maxAttempts: maxAttempts))
                {
                    batch.append(job)
                }
            }
            do {
                let ids = try await producer.enqueue(batch: batch)
                first = first ?? ids.first
                last = ids.last ?? last
                enqueued += ids.count
            } catch {
                printError("poolscope: \(error) (after \(enqueued) jobs were enqueued)")
                await database.close()
                terminate(1)
            }
            if ContinuousClock.now - lastReport >= .seconds(1) {
                lastReport = .now
                writeStandardError(
                    String(
                        format: "progress %.0f/%.0f s: %d enqueued\n", (ContinuousClock.now - start).seconds, scenario.duration.seconds,
                        enqueued))
            }
        }
        var summary = RunSummary(jobs: ClusterStatus.Jobs(), attempts: 0, rescued: 0)
        var drained = first == nil  // nothing enqueued: nothing to wait for
        if let first, let last {
            let end = ContinuousClock.now + drainTimeout
            if !interrupted() {
                writeStandardError("arrivals done: \(enqueued) enqueued; waiting up to \(drainTimeout) for the nodes to finish them\n")
            }
            var lastProgress = ContinuousClock.now
            while true {
                do {
                    summary = try await database.summary(ids: first...last)
                } catch {
                    printError("poolscope: \(error)")
                    await database.close()
                    terminate(1)
                }
                let open = summary.jobs.available + summary.jobs.scheduled + summary.jobs.running
                if open == 0 {
                    drained = true
                    break
                }
                if ContinuousClock.now >= end || interrupted() { break }
                if ContinuousClock.now - lastProgress >= .seconds(2) {
                    lastProgress = .now
                    writeStandardError(
                        "waiting: \(open) job(s) open (\(summary.jobs.running) running), \(summary.jobs.completed) completed\n")
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
            if !drained && !interrupted() {
                warnings.append(
                    "\(summary.jobs.available + summary.jobs.scheduled + summary.jobs.running) job(s) were still open after the drain timeout (are nodes running? keyed jobs need nodes started with --keyed)"
                )
            }
        }
        await database.close()
        let document = Document(
            scenario: scenario.name, seed: scenario.seed, durationS: (ContinuousClock.now - start).seconds,
            cluster: .init(schema: schema, firstId: first, lastId: last), summary: summary,
            balanced: summary.jobs.isBalanced && summary.jobs.enqueued == enqueued, drained: drained, warnings: warnings,
            interrupted: interrupted() ? true : nil)
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(document) { print(String(decoding: data, as: UTF8.self)) }
        } else {
            let jobs = summary.jobs
            print(
                "scenario \(scenario.name) into cluster \(schema): \(enqueued) jobs enqueued (ids \(first.map(String.init) ?? "-")..\(last.map(String.init) ?? "-"))"
            )
            print(
                "  completed \(jobs.completed), discarded \(jobs.discarded), still open \(jobs.available + jobs.scheduled + jobs.running); \(summary.attempts) attempts, \(summary.rescued) rescued"
            )
            if let wait = summary.queueWaitMs, let total = summary.endToEndMs {
                print(
                    String(
                        format: "  queue wait p50 %.1f ms p99 %.1f ms; end to end p50 %.1f ms p99 %.1f ms max %.1f ms", wait.p50, wait.p99,
                        total.p50, total.p99, total.max))
            }
            for warning in warnings { print("  warning: \(warning)") }
        }
        interruption.exitIfInterrupted("the jobs enqueued stay in the queue")
        if !drained { terminate(1) }
    }
}
