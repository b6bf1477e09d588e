import Foundation

/// Builds and runs `Comparisons/rayon` (the same workloads in Rust with Debian's rayon crate) and
/// returns its rows, each with rayon's ratio against Rust sequential code on the same data.
/// Returns nil, after saying why and how to fix it, when cargo or the crate is missing.
func runRayonComparison(threads: Int, repetitions: Int, quick: Bool, filter: String?) -> [Row]? {
    let manifest = "Comparisons/rayon/Cargo.toml"
    guard FileManager.default.fileExists(atPath: manifest) else {
        print("rayon: \(manifest) not found (run spindle-bench from the package root); rayon rows skipped")
        return nil
    }
    // From the crate's folder, so that cargo reads its .cargo/config.toml (Debian's registry).
    let build = run(["cargo", "build", "--release", "--offline", "--quiet"], in: "Comparisons/rayon")
    guard build.status == 0 else {
        print(
            """
            rayon: could not build the Rust comparison; rayon rows skipped. To add them:
                apt-get update && apt-get install -y cargo librust-rayon-dev
            (cargo reads Debian's crates from /usr/share/cargo/registry, offline.)
            \(build.output.split(separator: "\n").suffix(5).joined(separator: "\n"))
            """)
        return nil
    }
    var arguments = [
        "Comparisons/rayon/target/release/rayon-bench", "--threads", String(threads),
        "--repetitions", String(repetitions),
    ]
    if quick { arguments.append("--quick") }
    if let filter { arguments += ["--filter", filter] }
    let result = run(arguments)
    guard result.status == 0 else {
        print("rayon: rayon-bench failed (status \(result.status)); rayon rows skipped\n\(result.output)")
        return nil
    }
    return result.output.split(separator: "\n").compactMap { line in
        try? JSONDecoder().decode(JSONRow.self, from: Data(line.utf8)).row
    }
}

/// Runs a command (looked up in PATH), returning its status and combined output.
func run(_ arguments: [String], in directory: String? = nil) -> (status: Int32, output: String) {
    let process = Process()
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do {
        try process.run()
    } catch {
        return (-1, "\(error)")
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
