// progress.c: terminal progress bar or periodic plain lines (see progress.h).
#include "cli/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double ac_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ac_progress_start(ac_progress *p, const char *label, int64_t total, int64_t every) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->start = ac_now();
    p->last_draw = 0;
    p->tty = isatty(fileno(stderr));
    p->every = every > 0 ? every : 1;
}

static void fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || s > 1e7) s = 0;
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%d:%02d", t / 60, t % 60);
}

static void draw(ac_progress *p, const char *status, bool final) {
    double el = ac_now() - p->start;
    double rate = el > 0 ? p->done / el : 0;
    char eta[32], ela[32];
    fmt_time(ela, sizeof ela, el);
    fmt_time(eta, sizeof eta, rate > 0 ? (p->total - p->done) / rate : 0);
    if (p->tty) {
        int width = 24, fill = p->total > 0 ? (int)(width * p->done / p->total) : 0;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %.2f/s %s<%s %s", p->label, bar,
                (long long)p->done, (long long)p->total, rate, ela, eta, status ? status : "");
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s %lld/%lld %.2f/s elapsed %s eta %s %s\n", p->label, (long long)p->done,
                (long long)p->total, rate, ela, eta, status ? status : "");
    }
    fflush(stderr);
}

void ac_progress_update(ac_progress *p, int64_t done, const char *status) {
    int64_t before = p->done;
    p->done = done;
    if (p->tty) {
        double now = ac_now();
        if (now - p->last_draw < 0.1) return;
        p->last_draw = now;
        draw(p, status, false);
    } else if (done / p->every != before / p->every) {
        draw(p, status, false);
    }
}

void ac_progress_finish(ac_progress *p, const char *status) {
    if (p->tty || p->done % p->every != 0) draw(p, status, true);
    else if (p->tty) fputc('\n', stderr);
}
