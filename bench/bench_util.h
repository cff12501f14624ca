// bench_util.h: what every benchmark program shares: clocks (wall and process CPU time),
// sorting timings for a median, and the process's peak resident memory.
#ifndef AC_BENCH_UTIL_H
#define AC_BENCH_UTIL_H

#include <sys/resource.h>
#include <time.h>

// Seconds on clock `id` (CLOCK_MONOTONIC: wall time; CLOCK_PROCESS_CPUTIME_ID: CPU time).
static inline double ac_bench_clock(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static inline double ac_bench_now(void) { return ac_bench_clock(CLOCK_MONOTONIC); }
static inline double ac_bench_cpu_now(void) { return ac_bench_clock(CLOCK_PROCESS_CPUTIME_ID); }

// qsort comparator for doubles, ascending.
static inline int ac_bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Peak resident memory of this process so far, MiB (ru_maxrss is in KiB on Linux).
static inline double ac_bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

#endif
