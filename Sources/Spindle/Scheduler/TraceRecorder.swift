import Synchronization

/// An opt-in recorder of what each participant of a pool does. Participants record here (this
/// layer); the export as Chrome trace-event JSON is read by the observability layer
/// (`Observability/ChromeTrace.swift`).
///
/// Each participant appends to its own fixed-size buffer (owner only, no lock). An appended
/// event is published by a releasing store of the buffer's count; an export reads the count
/// acquiring and then only the events below it, which never change again — so an export may run
/// while the pool works. A full buffer drops further events and counts them.
///
/// Recording happens only on slow paths (a job taken from a queue, a steal, a promotion, a
/// park): the join fast path has no trace code at all.
final class TraceRecorder: @unchecked Sendable {  // buffers are owner-written, published through `count` (see above)
    enum Kind: UInt8 {
        case jobStart, jobEnd, steal, promotion, park, unpark
    }

    /// What a job was, for the trace's event names and colours.
    enum JobKind: UInt8 {
        case join, scopeSpawn, task, foreground, swiftJob

        var name: String {
            switch self {
            case .join: return "join"
            case .scopeSpawn: return "scope spawn"
            case .task: return "background task"
            case .foreground: return "foreground job"
            case .swiftJob: return "swift job"
            }
        }
    }

    struct Event {
        var nanoseconds: Int64
        var kind: Kind
        var detail: UInt8
    }

    /// One participant's events.
    // @safe: `events` is written only by the owner, below `capacity`, and freed in deinit.
    @safe
    final class Buffer: @unchecked Sendable {  // `events[0..<count]` is immutable once published by `count`
        let events: UnsafeMutablePointer<Event>
        let capacity: Int
        let count = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)

        init(capacity: Int) {
            self.capacity = capacity
            // Unsafe allocation: a fixed array of trivial events; freed in deinit.
            // SAFETY: a fixed array of trivial events, written below `capacity` only and freed in deinit.
            unsafe events = .allocate(capacity: capacity)
        }

        // SAFETY: freed with the buffer; readers hold the buffer while they read.
        deinit { unsafe events.deallocate() }

        /// Owner only.
        func append(_ event: Event) {
            let n = count.load(ordering: .relaxed)  // only the owner writes `count`
            guard n < capacity else {
                dropped.store(dropped.load(ordering: .relaxed) &+ 1, ordering: .relaxed)  // owner-only counter
                return
            }
            // SAFETY: `n < capacity` (checked above); only the owner writes, at positions not yet published.
            unsafe (events + n).initialize(to: event)
            count.store(n + 1, ordering: .releasing)  // publishes the event; pairs with the export's acquiring load
        }
    }

    let startNanoseconds = monotonicNanoseconds()
    let eventsPerParticipant: Int
    private let lock = FutexLock()
    private var buffers: [Int: Buffer] = [:]

    init(eventsPerParticipant: Int) {
        self.eventsPerParticipant = eventsPerParticipant
    }

    /// The buffer of participant `index` (created on first use).
    func buffer(for index: Int) -> Buffer {
        lock.withLock {
            if let existing = buffers[index] { return existing }
            let created = Buffer(capacity: eventsPerParticipant)
            buffers[index] = created
            return created
        }
    }

    /// Every participant's buffer so far, by participant index (for an export).
    func buffersByParticipant() -> [Int: Buffer] {
        lock.withLock { buffers }
    }
}

extension Participant {
    /// Records `kind` if this pool traces (one predictable branch when it does not).
    @inline(__always)
    func trace(_ kind: TraceRecorder.Kind, _ detail: UInt8 = 0) {
        guard let buffer = traceBuffer else { return }
        buffer.append(TraceRecorder.Event(nanoseconds: monotonicNanoseconds(), kind: kind, detail: detail))
    }
}
