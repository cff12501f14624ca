// common.c: the per-thread error message, assertion reporting, checked allocation, and the
// parallel fill and copy of large float buffers.
#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char ac_errbuf[1024];

ac_status ac_fail(ac_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ac_errbuf, sizeof ac_errbuf, fmt, ap);
    va_end(ap);
    return st;
}

void ac_error_prefix(const char *fmt, ...) {
    char prefix[512], old[sizeof ac_errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, ac_errbuf, sizeof old);
    size_t n = strlen(prefix);
    if (n + 2 >= sizeof ac_errbuf) n = sizeof ac_errbuf - 3;
    memcpy(ac_errbuf, prefix, n);
    memcpy(ac_errbuf + n, ": ", 2);
    size_t rest = sizeof ac_errbuf - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(ac_errbuf + n + 2, old, m);
    ac_errbuf[n + 2 + m] = '\0';
}

const char *ac_error_message(void) { return ac_errbuf[0] ? ac_errbuf : "no error"; }

const char *ac_status_name(ac_status st) {
    switch (st) {
    case AC_OK: return "ok";
    case AC_ERR_IO: return "I/O error";
    case AC_ERR_FORMAT: return "bad file format";
    case AC_ERR_SHAPE: return "shape mismatch";
    case AC_ERR_ARG: return "bad argument";
    case AC_ERR_NOMEM: return "out of memory";
    case AC_ERR_NUMERIC: return "numerical error";
    case AC_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown error";
}

void ac_assert_fail(const char *expr, const char *file, int line, const char *msg) {
    fprintf(stderr, "allclear: internal error: %s:%d: assertion '%s' failed%s%s\n", file, line,
            expr, msg ? ": " : "", msg ? msg : "");
    abort();
}

static void *ac_oom(size_t bytes) {
    fprintf(stderr, "allclear: out of memory allocating %zu bytes\n", bytes);
    abort();
}

void *ac_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    return p ? p : ac_oom(bytes);
}

void *ac_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : ac_oom(n * size);
}

void *ac_xrealloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    return q ? q : ac_oom(bytes);
}

char *ac_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ac_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void *ac_aligned_alloc(size_t bytes) {
    size_t rounded = (bytes + AC_ALIGN - 1) / AC_ALIGN * AC_ALIGN;
    if (rounded < bytes) return NULL;
    return aligned_alloc(AC_ALIGN, rounded ? rounded : AC_ALIGN);
}

void ac_aligned_free(void *p) { free(p); }

#define AC_PAR_CHUNK ((size_t)1 << 16)  // floats per piece of a parallel fill or copy

void ac_zero_floats(float *p, size_t n) {
    const long long pieces = (long long)((n + AC_PAR_CHUNK - 1) / AC_PAR_CHUNK);
#pragma omp parallel for schedule(static) if (pieces > 4)
    for (long long i = 0; i < pieces; i++) {
        const size_t at = (size_t)i * AC_PAR_CHUNK;
        memset(p + at, 0, AC_MIN(AC_PAR_CHUNK, n - at) * sizeof(float));
    }
}

void ac_copy_floats(float *dst, const float *src, size_t n) {
    const long long pieces = (long long)((n + AC_PAR_CHUNK - 1) / AC_PAR_CHUNK);
#pragma omp parallel for schedule(static) if (pieces > 4)
    for (long long i = 0; i < pieces; i++) {
        const size_t at = (size_t)i * AC_PAR_CHUNK;
        memcpy(dst + at, src + at, AC_MIN(AC_PAR_CHUNK, n - at) * sizeof(float));
    }
}
