import Dashboard
import PoolEngine
import Workload

/// Where the dashboard's frames come from and where its commands go: a scenario's session, or a pool
/// watched over the network (`poolscope attach`). The loop (`DashboardApp`) knows only this.
protocol DashboardSource: Sendable {
    /// Runs the source until it ends by itself (a scenario's end, then its shutdown) and returns the final
    /// report; a source that does not end by itself runs until cancelled and returns nil.
    func drive() async -> ShutdownReport?
    /// A fresh frame, or nil when there is none yet (not connected yet).
    func frame(includingLatencies: Bool) -> DashboardFrame?
    /// Carries out a command; returns why not when the source cannot (a burst on a watched pool).
    func execute(_ command: Command) -> String?
    /// Shuts the pool down (`s`, `S`); the report, when the source has one.
    func shutdown(_ mode: ShutdownMode) async -> ShutdownReport?
    /// The dashboard quits: a scenario's pool stops at once; a watched pool is left running.
    func quit() async
    /// Commands refused since the last call, with why (a watched pool answers after the key was handled).
    func takeRefusals() -> [(Command, String)]
    /// Keys this source can never honour: the footer leaves them out and the help marks them.
    var unavailableKeys: Set<DashboardKeyAction> { get }
}

extension DashboardSource {
    func takeRefusals() -> [(Command, String)] { [] }
}

/// A scenario run by this process.
struct SessionSource: DashboardSource {
    let session: LiveSession
    var unavailableKeys: Set<DashboardKeyAction> { [.nextPool, .previousPool] }

    func drive() async -> ShutdownReport? {
        let mode = await session.drive()
        return await session.shutdown(mode)
    }

    func frame(includingLatencies: Bool) -> DashboardFrame? {
        DashboardFrame(snapshot: session.pool.snapshot(includingLatencies: includingLatencies), status: session.status)
    }

    func execute(_ command: Command) -> String? {
        switch command {
        case .session(let action): session.send(action)
        case .setSpeed(let speed): session.setSpeed(speed)
        case .changeSpeed(let factor): session.changeSpeed(by: factor)
        case .togglePause: session.togglePause()
        case .switchPool: return "one pool: a scenario runs only its own (> and < switch pools under poolscope attach)"
        case .shutdown, .quit: break
        }
        return nil
    }

    func shutdown(_ mode: ShutdownMode) async -> ShutdownReport? { await session.shutdown(mode) }

    // Quitting before a shutdown, or during a drain, stops the pool at once (an immediate shutdown
    // escalates a drain), so no job is left running and the quit is not held up by the drain.
    func quit() async { _ = await session.shutdown(.immediate) }
}
