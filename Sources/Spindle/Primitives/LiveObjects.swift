import Synchronization

/// Leak accounting for test builds: how many of each kind of object Spindle allocated are still
/// alive. After every pool a test made has been shut down (and its handles dropped), every count
/// is back where it started. Compiled only in debug builds (`swift test`); release builds pay
/// nothing.
///
/// The counts are process-wide, so tests read them in a child process (an exit test) where no
/// other test runs.
enum LiveObjects {
    #if DEBUG
        /// Heap jobs (spawn, submit, run, broadcast parts, foreground jobs handed in from outside).
        static let heapJobs = Atomic<Int>(0)
        /// Shared states of submitted tasks (what `TaskHandle`s point to).
        static let taskStates = Atomic<Int>(0)
        /// Worker and heartbeat threads that have not returned from their entry function.
        static let threads = Atomic<Int>(0)
        /// Registries (one per pool) not yet deinitialised.
        static let registries = Atomic<Int>(0)
        /// Scope spawn slabs not yet freed.
        static let spawnSlabs = Atomic<Int>(0)
        /// States of async task scopes (`withTaskScope`) not yet freed.
        static let taskScopes = Atomic<Int>(0)
    #endif

    /// Counts one more live object of a kind (no-op in release builds).
    @inline(__always)
    static func created(_ kind: Kind) {
        #if DEBUG
            add(1, to: kind)
        #endif
    }

    /// Counts one less (no-op in release builds).
    @inline(__always)
    static func destroyed(_ kind: Kind) {
        #if DEBUG
            add(-1, to: kind)
        #endif
    }

    enum Kind {
        case heapJob, taskState, thread, registry, spawnSlab, taskScope
    }

    #if DEBUG
        private static func add(_ delta: Int, to kind: Kind) {
            // Relaxed: counts, read only after the threads involved were joined.
            switch kind {
            case .heapJob: heapJobs.wrappingAdd(delta, ordering: .relaxed)
            case .taskState: taskStates.wrappingAdd(delta, ordering: .relaxed)
            case .thread: threads.wrappingAdd(delta, ordering: .relaxed)
            case .registry: registries.wrappingAdd(delta, ordering: .relaxed)
            case .spawnSlab: spawnSlabs.wrappingAdd(delta, ordering: .relaxed)
            case .taskScope: taskScopes.wrappingAdd(delta, ordering: .relaxed)
            }
        }
    #endif

    #if DEBUG
        /// Every count, for a test's before/after comparison.
        static var snapshot: [String: Int] {
            [
                "heapJobs": heapJobs.load(ordering: .sequentiallyConsistent),
                "taskStates": taskStates.load(ordering: .sequentiallyConsistent),
                "threads": threads.load(ordering: .sequentiallyConsistent),
                "registries": registries.load(ordering: .sequentiallyConsistent),
                "spawnSlabs": spawnSlabs.load(ordering: .sequentiallyConsistent),
                "taskScopes": taskScopes.load(ordering: .sequentiallyConsistent),
            ]
        }
    #endif
}
