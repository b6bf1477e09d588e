// CSpindle: the few operating-system calls Swift cannot reach directly on Linux
// (`syscall` is variadic, the affinity macros need _GNU_SOURCE), plus the thread-local
// pointer to the current participant, read by a `static inline` function so that the
// Swift join fast path compiles it to a single %fs-relative load.
#ifndef CSPINDLE_H
#define CSPINDLE_H

#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The participant slot of the current thread (a worker or an outside caller inside a call), or NULL.
extern __thread void *_Nullable spindle_tls_participant;

static inline __attribute__((always_inline)) void *_Nullable spindle_current_participant(void) {
    return spindle_tls_participant;
}

static inline __attribute__((always_inline)) void spindle_set_current_participant(void *_Nullable slot) {
    spindle_tls_participant = slot;
}

/// A number distinct for every live thread (the address of a thread-local byte), for spreading
/// threads over a sharded queue.
extern __thread char spindle_tls_thread_token;

static inline __attribute__((always_inline)) uint64_t spindle_thread_token(void) {
    return (uint64_t)(uintptr_t)&spindle_tls_thread_token;
}

/// The Swift task running on this thread, or NULL: the concurrency runtime's own entry point (part
/// of its ABI, called by compiled Swift code). Swift offers it only through the generic
/// `withUnsafeCurrentTask`, whose value-witness calls cost about 300 instructions on a thread
/// without a task: a third of an outside thread's join.
extern void *_Nullable swift_task_getCurrent(void) __attribute__((swiftcall));

/// Whether this thread is running a Swift task right now.
static inline __attribute__((always_inline)) bool spindle_thread_runs_task(void) {
    return swift_task_getCurrent() != (void *)0;
}

/// Tells the processor this thread is spinning (x86 `pause`, ARM `yield`).
static inline __attribute__((always_inline)) void spindle_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Tells the thread sanitizer that what the threads that resumed the current task did before
/// happens before what this thread does next: an "acquire" of the task's address, which the
/// uninstrumented concurrency runtime "releases" when it resumes the task. For an edge that
/// exists in fact but that the sanitizer cannot see. An empty function in other builds (it does
/// not even look up the task there).
void spindle_sanitizer_acquire_current_task(void);

/// Sleeps while `*address == expected`, at most `timeout_ns` nanoseconds when it is >= 0.
/// Returns 0 when woken (or the value differed), -1 on timeout or interruption.
int spindle_futex_wait(uint32_t *_Nonnull address, uint32_t expected, int64_t timeout_ns);
/// Wakes up to `count` threads sleeping on `address`; returns how many were woken (0 where unknown).
int spindle_futex_wake(uint32_t *_Nonnull address, int32_t count);

/// CPUs this thread may run on (its affinity mask), at least 1.
int spindle_affinity_cpu_count(void);
/// The `ordinal`-th CPU of this thread's affinity mask (wrapping), or -1.
int spindle_affinity_cpu_at(int ordinal);
/// Pins the calling thread to one CPU; 0 on success.
int spindle_pin_current_thread(int cpu);

int64_t spindle_gettid(void);
int spindle_current_cpu(void);
/// Names the calling thread (truncated to the platform's limit).
void spindle_set_thread_name(const char *_Nonnull name);
/// Smallest stack size a thread may be created with.
int64_t spindle_min_stack_size(void);
/// Makes timed sleeps of the calling thread precise (Linux timer slack of 1 ns).
void spindle_set_precise_timer_slack(void);
/// CPU time consumed by the calling thread, in nanoseconds.
int64_t spindle_thread_cpu_time_ns(void);

#ifdef __cplusplus
}
#endif
#endif
