import CSpindle

/// Call right after an `await` of a continuation that another thread may resume before the
/// continuation's closure has returned: tells the thread sanitizer that the resumption (and
/// everything the resumer did before it) happened before what the task does next. A no-op
/// outside sanitizer builds (a call of an empty C function).
///
/// Why it is needed: every resumption announces "release" on the task's address to the sanitizer
/// (the concurrency runtime's own annotation), and a task that suspended and is run again
/// announces the matching "acquire". But a resumption that lands before the closure has returned
/// finds the continuation not yet awaited; the runtime's await then sees it resumed and goes on
/// at once, ordered by an acquiring load inside the uninstrumented runtime, without the
/// acquire annotation. The sanitizer then takes the resumer's reads of the continuation's
/// context and the task's next writes to the same task-allocator memory for a race (a report
/// seen in CI, on `run`'s fast path). This supplies the missing annotation; the memory order
/// itself never depended on it.
@inline(__always)
func sanitizerSeesResumption() {
    spindle_sanitizer_acquire_current_task()
}
