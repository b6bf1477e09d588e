#define _GNU_SOURCE
#include "CSpindle.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
// The public wait-on-address API (macOS 14.4, iOS/tvOS 17.4, watchOS 10.4, visionOS 1.1), below
// every platform minimum in Package.swift.
#include <os/clock.h>
#include <os/os_sync_wait_on_address.h>
#endif

__thread void *spindle_tls_participant = NULL;
__thread char spindle_tls_thread_token = 0;

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPINDLE_THREAD_SANITIZER 1
#endif
#endif

#ifdef SPINDLE_THREAD_SANITIZER
// The sanitizer runtime's annotation entry point (compiler-rt's tsan_interface.h).
void __tsan_acquire(void *addr);
void spindle_sanitizer_acquire_current_task(void) {
    void *task = swift_task_getCurrent();
    if (task) __tsan_acquire(task);
}
#else
void spindle_sanitizer_acquire_current_task(void) {}
#endif

int spindle_futex_wait(uint32_t *address, uint32_t expected, int64_t timeout_ns) {
#if defined(__linux__)
    struct timespec ts;
    struct timespec *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    long r = syscall(SYS_futex, address, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
    return r == 0 || errno == EAGAIN ? 0 : -1;
#elif defined(__APPLE__)
    // Returns at once when *address != expected, else when woken, timed out or interrupted.
    // Callers re-check their condition after every return, as with a futex.
    int r;
    if (timeout_ns < 0) {
        r = os_sync_wait_on_address(address, expected, sizeof(uint32_t), OS_SYNC_WAIT_ON_ADDRESS_NONE);
    } else {
        // The timeout is relative, in nanoseconds of the given clock.
        uint64_t ns = timeout_ns > 0 ? (uint64_t)timeout_ns : 1;
        r = os_sync_wait_on_address_with_timeout(address, expected, sizeof(uint32_t), OS_SYNC_WAIT_ON_ADDRESS_NONE,
                                                 OS_CLOCK_MACH_ABSOLUTE_TIME, ns);
    }
    return r >= 0 ? 0 : -1;  // as on Linux: -1 after a timeout or an interruption
#else
    (void)address; (void)expected; (void)timeout_ns;
    sched_yield();
    return 0;
#endif
}

int spindle_futex_wake(uint32_t *address, int32_t count) {
#if defined(__linux__)
    long r = syscall(SYS_futex, address, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return r < 0 ? 0 : (int)r;
#elif defined(__APPLE__)
    // -1 with errno ENOENT when nobody waits: not an error here.
    if (count > 1) {
        os_sync_wake_by_address_all(address, sizeof(uint32_t), OS_SYNC_WAKE_BY_ADDRESS_NONE);
    } else {
        os_sync_wake_by_address_any(address, sizeof(uint32_t), OS_SYNC_WAKE_BY_ADDRESS_NONE);
    }
    return 0;
#else
    (void)address; (void)count;
    return 0;
#endif
}

int spindle_affinity_cpu_count(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
#elif defined(__APPLE__)
    int n = 0;
    size_t len = sizeof(n);
    if (sysctlbyname("hw.activecpu", &n, &len, NULL, 0) == 0 && n > 0) return n;
    return 1;
#else
    return 1;
#endif
}

int spindle_affinity_cpu_at(int ordinal) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    int n = CPU_COUNT(&set);
    if (n <= 0) return -1;
    int wanted = ordinal % n;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &set)) {
            if (seen == wanted) return cpu;
            seen++;
        }
    }
    return -1;
#else
    (void)ordinal;
    return -1;
#endif
}

int spindle_pin_current_thread(int cpu) {
#if defined(__linux__)
    if (cpu < 0) return -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -1;
#else
    (void)cpu;  // Apple platforms offer no hard affinity; pinning is a documented no-op there.
    return -1;
#endif
}

int64_t spindle_gettid(void) {
#if defined(__linux__)
    return (int64_t)syscall(SYS_gettid);
#elif defined(__APPLE__)
    uint64_t tid = 0;
    pthread_threadid_np(NULL, &tid);
    return (int64_t)tid;
#else
    return 0;
#endif
}

int spindle_current_cpu(void) {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

void spindle_set_thread_name(const char *name) {
    char buffer[16];
    strncpy(buffer, name, sizeof(buffer) - 1);
    buffer[sizeof(buffer) - 1] = 0;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), buffer);
#elif defined(__APPLE__)
    pthread_setname_np(buffer);
#endif
}

int64_t spindle_min_stack_size(void) {
#ifdef PTHREAD_STACK_MIN
    return (int64_t)PTHREAD_STACK_MIN;
#else
    return 16384;
#endif
}

void spindle_set_precise_timer_slack(void) {
#if defined(__linux__)
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

int64_t spindle_thread_cpu_time_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
