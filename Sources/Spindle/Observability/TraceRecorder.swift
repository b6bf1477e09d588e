import Synchronization

/// An opt-in recorder of what each participant of a pool does, exported as Chrome trace-event
/// JSON (opened by Perfetto and chrome://tracing).
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
    final class Buffer: @unchecked Sendable {  // `events[0..<count]` is immutable once published by `count`
        let events: UnsafeMutablePointer<Event>
        let capacity: Int
        let count = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)

        init(capacity: Int) {
            self.capacity = capacity
            // Unsafe allocation: a fixed array of trivial events; freed in deinit.
            events = .allocate(capacity: capacity)
        }

        deinit { events.deallocate() }

        /// Owner only.
        func append(_ event: Event) {
            let n = count.load(ordering: .relaxed)  // only the owner writes `count`
            guard n < capacity else {
                dropped.store(dropped.load(ordering: .relaxed) &+ 1, ordering: .relaxed)  // owner-only counter
                return
            }
            (events + n).initialize(to: event)
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

    /// Nanoseconds as microseconds with three decimals ("12.345"), without Foundation.
    static func microseconds(_ nanoseconds: Int64) -> String {
        let whole = nanoseconds / 1_000, fraction = Int(nanoseconds % 1_000)
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
    }

    /// The trace as Chrome trace-event JSON, one lane per participant (workers first).
    func chromeTraceJSON(workerCount: Int) -> String {
        let snapshot = lock.withLock { buffers }
        var out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
        var first = true
        func emit(_ line: String) {
            if !first { out += ",\n" }
            first = false
            out += line
        }
        var droppedTotal = 0
        for (index, buffer) in snapshot.sorted(by: { $0.key < $1.key }) {
            let lane = index < workerCount ? "worker \(index)" : "caller \(index)"
            emit("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":\(index),\"args\":{\"name\":\"\(lane)\"}}")
            emit("{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":\(index),\"args\":{\"sort_index\":\(index)}}")
            let n = buffer.count.load(ordering: .acquiring)  // pairs with `append`'s releasing store
            droppedTotal += buffer.dropped.load(ordering: .relaxed)
            var open: [JobKind] = []
            for i in 0..<n {
                let event = buffer.events[i]
                let ts = Self.microseconds(event.nanoseconds - startNanoseconds)
                switch event.kind {
                case .jobStart:
                    let job = JobKind(rawValue: event.detail) ?? .foreground
                    open.append(job)
                    emit("{\"ph\":\"B\",\"name\":\"\(job.name)\",\"cat\":\"job\",\"pid\":1,\"tid\":\(index),\"ts\":\(ts)}")
                case .jobEnd:
                    let job = open.popLast() ?? .foreground
                    emit("{\"ph\":\"E\",\"name\":\"\(job.name)\",\"cat\":\"job\",\"pid\":1,\"tid\":\(index),\"ts\":\(ts)}")
                case .steal, .promotion, .park, .unpark:
                    let name: String
                    switch event.kind {
                    case .steal: name = "steal"
                    case .promotion: name = "promotion"
                    case .park: name = "park"
                    default: name = "unpark"
                    }
                    emit("{\"ph\":\"i\",\"s\":\"t\",\"name\":\"\(name)\",\"cat\":\"scheduler\",\"pid\":1,\"tid\":\(index),\"ts\":\(ts)}")
                }
            }
        }
        out += "\n],\"otherData\":{\"producer\":\"Spindle\",\"droppedEvents\":\(droppedTotal)}}\n"
        return out
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

extension ThreadPool {
    /// The pool's recorded trace as Chrome trace-event JSON (open it in Perfetto or
    /// chrome://tracing), or `nil` when the pool was built without
    /// `Configuration.tracing`. Safe to call while the pool runs; events recorded after the
    /// call began may be missing.
    ///
    /// ```swift
    /// var configuration = ThreadPool.Configuration(threads: 4)
    /// configuration.tracing = true
    /// let pool = try ThreadPool(configuration: configuration)
    /// render(pool)
    /// try pool.chromeTrace()?.write(toFile: "spindle.trace.json", atomically: true, encoding: .utf8)
    /// ```
    public func chromeTrace() -> String? {
        registry.tracer?.chromeTraceJSON(workerCount: threadCount)
    }
}
