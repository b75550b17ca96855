// The documents of the monitor protocol live in MonitorProtocol (no HTTP server in it, so they can be
// fuzzed and reused); importing PoolMonitor brings them too.
@_exported public import MonitorProtocol
