import Synchronization

/// The export of a pool's `TraceRecorder` (recorded by the scheduler) as Chrome trace-event JSON,
/// opened by Perfetto and chrome://tracing.
extension TraceRecorder {
    /// Nanoseconds as microseconds with three decimals ("12.345"), without Foundation.
    static func microseconds(_ nanoseconds: Int64) -> String {
        let whole = nanoseconds / 1_000, fraction = Int(nanoseconds % 1_000)
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
    }

    /// The trace as Chrome trace-event JSON, one lane per participant (workers first).
    func chromeTraceJSON(workerCount: Int) -> String {
        let snapshot = buffersByParticipant()
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
                // SAFETY: `i < count`, loaded acquiring: those events were written before their publication and never change.
                let event = unsafe buffer.events[i]
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
