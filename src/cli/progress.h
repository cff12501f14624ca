// progress.h: progress reporting for long work. On a terminal: one redrawn line with a bar,
// rate, ETA and a caller-supplied status (running losses); otherwise a plain line every
// `every` items (and at the end), suitable for logs.
#ifndef AC_CLI_PROGRESS_H
#define AC_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ac_progress {
    const char *label;
    int64_t total, done;
    double start, last_draw;
    bool tty;
    int64_t every;
} ac_progress;

void ac_progress_start(ac_progress *p, const char *label, int64_t total, int64_t every);
// Sets the count of finished items; status may be NULL.
void ac_progress_update(ac_progress *p, int64_t done, const char *status);
void ac_progress_finish(ac_progress *p, const char *status);
double ac_now(void);  // monotonic seconds

#endif
