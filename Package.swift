// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PoolScope",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PoolEngine", targets: ["PoolEngine"]),
        .library(name: "PoolCluster", targets: ["PoolCluster"]),
        .library(name: "PoolMonitor", targets: ["PoolMonitor"]),
        .executable(name: "poolscope", targets: ["poolscope"]),
        .executable(name: "hash-files", targets: ["HashFiles"]),
        .executable(name: "poolscope-allocations", targets: ["AllocationProbe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    ],
    targets: [
        .target(
            name: "PoolEngine",
            dependencies: [
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "ClusterJobs",
            dependencies: ["PoolEngine"]
        ),
        .target(
            name: "PoolCluster",
            dependencies: [
                "PoolEngine",
                "ClusterJobs",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "MonitorProtocol",
            dependencies: ["PoolEngine"]
        ),
        .target(
            name: "PoolMonitor",
            dependencies: [
                "PoolEngine",
                "MonitorProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "Workload",
            dependencies: [
                "PoolEngine",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Dashboard",
            dependencies: ["PoolEngine", "Workload", "TerminalCanvas"]
        ),
        // The cell grid, styles and keys: what the dashboard draws into and the terminal backend shows.
        .target(name: "TerminalCanvas"),
        .systemLibrary(
            name: "CNcurses",
            path: "Sources/CNcurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        .systemLibrary(
            name: "CHeap",
            path: "Sources/CHeap"
        ),
        .systemLibrary(
            name: "CStdio",
            path: "Sources/CStdio"
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "Recording",
            dependencies: ["PoolEngine", "Workload", "Dashboard", "CZlib"]
        ),
        .target(
            name: "TerminalBackend",
            dependencies: ["CNcurses", "TerminalCanvas"]
        ),
        .target(
            name: "Bench",
            dependencies: [
                "PoolEngine", "Workload", "Dashboard", "CHeap",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "poolscope",
            dependencies: [
                "PoolEngine",
                "Workload",
                "Dashboard",
                "TerminalBackend",
                "Bench",
                "PoolCluster",
                "PoolMonitor",
                "Recording",
                "CStdio",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Counts heap allocations per job with ordo-one's malloc interposer preloaded; a program of its
        // own so that the interposer is never linked into poolscope itself.
        .executableTarget(
            name: "AllocationProbe",
            dependencies: ["Bench", .product(name: "MallocInterposerSwift", package: "malloc-interposer")]
        ),
        .executableTarget(
            name: "HashFiles",
            dependencies: ["PoolEngine", "PoolMonitor"],
            path: "Examples/HashFiles"
        ),
        // libFuzzer targets: scripts/fuzz.sh builds them with -sanitize=fuzzer,address (docs/FUZZING.md);
        // in a plain build they are empty executables.
        .target(
            name: "FuzzSupport",
            path: "Fuzz/Sources/FuzzSupport"
        ),
        .executableTarget(
            name: "FuzzScenario",
            dependencies: ["FuzzSupport", "Workload", "PoolEngine"],
            path: "Fuzz/Sources/FuzzScenario"
        ),
        .executableTarget(
            name: "FuzzRecording",
            dependencies: ["FuzzSupport", "Recording"],
            path: "Fuzz/Sources/FuzzRecording"
        ),
        .executableTarget(
            name: "FuzzMonitor",
            dependencies: ["FuzzSupport", "MonitorProtocol", "PoolEngine"],
            path: "Fuzz/Sources/FuzzMonitor"
        ),
        .executableTarget(
            name: "FuzzClusterPayload",
            dependencies: ["FuzzSupport", "ClusterJobs", "PoolEngine"],
            path: "Fuzz/Sources/FuzzClusterPayload"
        ),
        .testTarget(
            name: "WorkloadTests",
            dependencies: ["Workload", "PoolEngine", .product(name: "PropertyBased", package: "swift-property-based")],
            exclude: ["broken"]
        ),
        .testTarget(
            name: "RecordingTests",
            dependencies: ["Recording", "Dashboard", "Workload", "PoolEngine"]
        ),
        .testTarget(
            name: "BenchTests",
            dependencies: ["Bench"]
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: ["Dashboard", "PoolEngine", "Workload"]
        ),
        .testTarget(
            name: "PoolScopeCLITests",
            dependencies: [
                "poolscope", "PoolCluster", "PoolMonitor", "PoolEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "PoolMonitorTests",
            dependencies: [
                "PoolMonitor", "PoolEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PoolClusterTests",
            dependencies: ["PoolCluster", "PoolEngine"]
        ),
        .testTarget(
            name: "PoolEngineTests",
            dependencies: [
                "PoolEngine",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
