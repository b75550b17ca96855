import ArgumentParser
import CStdio
import Workload

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `poolscope` command line.
@main
struct PoolScope: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poolscope",
        abstract: "Watch, teach and measure worker pools.",
        discussion: """
            With no subcommand, opens the live dashboard on the built-in demo: a pool under steady load with \
            periodic bursts. 'poolscope SCENARIO' opens it on a scenario file or a bundled demo name. Scenario \
            files are YAML (docs/SCENARIOS.md); bundled demos are listed by 'poolscope demos'.

            Exit codes: 0 success, 1 a failed run or an invalid scenario, 2 a usage error, 130 or 143 when \
            ended by SIGINT or SIGTERM.
            """,
        version: poolscopeVersion,
        subcommands: [
            Watch.self, Run.self, Check.self, Compare.self, Sweep.self, Replay.self, Demos.self, BenchCommand.self, NodeCommand.self,
            ClusterCommand.self, Attach.self,
        ],
        defaultSubcommand: Watch.self)

    /// Parses and runs, mapping usage errors to exit code 2 as the CLI contract says (ArgumentParser's
    /// default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            terminate(0)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                terminate(2)
            }
            exit(withError: error)
        }
    }
}

/// The version `poolscope --version` prints.
let poolscopeVersion = "0.5.0"

/// Writes a line to standard error.
func printError(_ text: String) {
    writeStandardError(text.hasSuffix("\n") ? text : text + "\n")
}

/// Writes text to standard error as is (unbuffered, so progress redraws show at once).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return write(2, base + offset, buffer.count - offset)
        }
        if written <= 0 { return }
        offset += written
    }
}

/// Ends the process with `code`, after flushing standard output: output that could not be written (a
/// full disk, `> /dev/full`) ends with exit 1 and says so, never as success.
func terminate(_ code: Int32) -> Never {
    if poolscope_flush_stdout_failed() != 0 {
        let cause = errno
        printError("poolscope: cannot write the standard output: \(UserFile.reason(cause))")
        exit(code == 0 ? 1 : code)
    }
    exit(code)
}

/// Whether a file descriptor is a terminal.
func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }
