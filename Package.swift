// swift-tools-version: 6.2
import PackageDescription

/// Runnable examples (`swift run -c release NAME`), one folder each under Examples/.
let examples: [(product: String, target: String)] = [
    ("game-frame-loop", "GameFrameLoop"),
    ("mandelbrot", "Mandelbrot"),
    ("word-frequency", "WordFrequency"),
    ("async-pipeline", "AsyncPipeline"),
    ("executor-service", "ExecutorService"),
]

let package = Package(
    name: "Spindle",
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    products: [
        .library(name: "Spindle", targets: ["Spindle"]),
        // Bridges to server-side ecosystem packages, each in its own product behind a package
        // trait (off by default), so that a consumer of `Spindle` alone resolves no other package.
        // Enable them with `.package(url: …, from: …, traits: ["Metrics", "ServiceLifecycle"])`.
        .library(name: "SpindleMetrics", targets: ["SpindleMetrics"]),
        .library(name: "SpindleServiceLifecycle", targets: ["SpindleServiceLifecycle"]),
        .executable(name: "spindle-bench", targets: ["spindle-bench"]),
        .executable(name: "spindle-stress", targets: ["spindle-stress"]),
    ] + examples.map { .executable(name: $0.product, targets: [$0.target]) },
    traits: [
        .trait(name: "Metrics", description: "SpindleMetrics: report pool metrics through swift-metrics."),
        .trait(name: "ServiceLifecycle", description: "SpindleServiceLifecycle: run a pool as a swift-service-lifecycle Service."),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // What Glibc does not import into Swift: futex, affinity, gettid, thread names, the
        // thread-local worker pointer read by one inlined load.
        .target(name: "CSpindle"),
        .target(
            name: "Spindle",
            dependencies: ["CSpindle"],
            exclude: ["Scheduler/README.md"],  // the protocols, for contributors; not a resource
            // SE-0458: every unsafe construct is marked `unsafe`, with a `// SAFETY:` line.
            swiftSettings: [.swiftLanguageMode(.v6), .strictMemorySafety()]
        ),
        .target(
            name: "SpindleMetrics",
            dependencies: ["Spindle", .product(name: "CoreMetrics", package: "swift-metrics", condition: .when(traits: ["Metrics"]))],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "SpindleServiceLifecycle",
            dependencies: [
                "Spindle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["ServiceLifecycle"])),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "spindle-bench",
            dependencies: ["Spindle"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "spindle-stress",
            dependencies: ["Spindle"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "SpindleTests",
            dependencies: ["Spindle"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "SpindleMetricsTests",
            dependencies: [
                "SpindleMetrics",
                "Spindle",
                .product(name: "MetricsTestKit", package: "swift-metrics", condition: .when(traits: ["Metrics"])),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "SpindleServiceLifecycleTests",
            dependencies: [
                "SpindleServiceLifecycle",
                "Spindle",
                .product(
                    name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle", condition: .when(traits: ["ServiceLifecycle"])),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
        + examples.map { example in
            .executableTarget(
                name: example.target,
                dependencies: ["Spindle"],
                path: "Examples/\(example.target)",
                swiftSettings: [.swiftLanguageMode(.v6)]
            )
        }
)
