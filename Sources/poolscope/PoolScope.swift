import ArgumentParser

/// The `poolscope` command line.
@main
struct PoolScope: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poolscope",
        abstract: "Watch, teach and measure worker pools.",
        discussion: """
            With no subcommand, runs the built-in demo: a pool under steady load with periodic bursts.
            The live dashboard, scenario files and the benchmark are on their way.
            """,
        subcommands: [Demo.self],
        defaultSubcommand: Demo.self)
}
