// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Spindle",
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    products: [
        .library(name: "Spindle", targets: ["Spindle"]),
        .executable(name: "spindle-bench", targets: ["spindle-bench"]),
    ],
    targets: [
        // What Glibc does not import into Swift: futex, affinity, gettid, thread names, the
        // thread-local worker pointer read by one inlined load.
        .target(name: "CSpindle"),
        .target(
            name: "Spindle",
            dependencies: ["CSpindle"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "spindle-bench",
            dependencies: ["Spindle"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "SpindleTests",
            dependencies: ["Spindle"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
