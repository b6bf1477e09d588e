// swift-tools-version: 6.1
// package-benchmark suites for Spindle: allocation, reference-counting and instruction counts of
// join, spawn, submit and a parallel sum. A separate package, so the library keeps no dependencies.
//
//     cd Benchmarks && swift package benchmark
//     swift package benchmark baseline check --check-absolute-path Thresholds   (regressions)
import PackageDescription

let package = Package(
    name: "SpindleBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SpindleBenchmarks",
            dependencies: [
                .product(name: "Spindle", package: "main"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/SpindleBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
