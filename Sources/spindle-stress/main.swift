#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// spindle-stress: random mixes of every Spindle API against several pools at once, with exact
// accounting of every unit of work. Everything lives in other files (nonisolated): top-level code
// here is @MainActor, and thread entry points defined here would inherit that.
exit(Driver.main(CommandLine.arguments))
