// common.h: status codes, the per-thread error message, assertions and small helpers
// shared by every module. Two tiers of errors: AC_ASSERT for programmer bugs (aborts with
// file:line), ac_status returns for anything a user or a file can cause.
#ifndef AC_COMMON_H
#define AC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum ac_status {
    AC_OK = 0,
    AC_ERR_IO,        // cannot open/read/write a file
    AC_ERR_FORMAT,    // a file is malformed, truncated or unsupported
    AC_ERR_SHAPE,     // tensors do not match what the model expects
    AC_ERR_ARG,       // a bad argument or option value from the user
    AC_ERR_NOMEM,     // an allocation failed or a size limit was exceeded
    AC_ERR_NUMERIC,   // a non-finite value where a finite one is required
    AC_ERR_UNSUPPORTED,
} ac_status;

// Records a one-line message describing the last error on this thread (printf-style).
// Returns `st` so that `return ac_fail(AC_ERR_IO, "%s: cannot open", path);` reads well.
ac_status ac_fail(ac_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prefixes the current message, e.g. with the file name: "model.pth: <old message>".
void ac_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ac_error_message(void);
const char *ac_status_name(ac_status st);

void ac_assert_fail(const char *expr, const char *file, int line, const char *msg) __attribute__((noreturn));
#define AC_ASSERT(cond) \
    do { if (!(cond)) ac_assert_fail(#cond, __FILE__, __LINE__, NULL); } while (0)
#define AC_ASSERT_MSG(cond, msg) \
    do { if (!(cond)) ac_assert_fail(#cond, __FILE__, __LINE__, (msg)); } while (0)

// Allocation that never returns NULL: for internal buffers whose size the program controls
// (a failure is reported and the process aborts). Use ac_try_* where the size comes from a file.
void *ac_xmalloc(size_t bytes);
void *ac_xcalloc(size_t n, size_t size);
void *ac_xrealloc(void *p, size_t bytes);
char *ac_xstrdup(const char *s);
// 64-byte aligned storage for tensor data; free with ac_aligned_free. NULL on failure.
void *ac_aligned_alloc(size_t bytes);
void ac_aligned_free(void *p);

// p[0 .. n) = 0 and dst[0 .. n) = src[0 .. n), by all threads where n is large (a gradient
// buffer, a batch of feature maps): one thread alone leaves the others idle.
void ac_zero_floats(float *p, size_t n);
void ac_copy_floats(float *dst, const float *src, size_t n);

// Overflow-checked size arithmetic: return false when the result does not fit.
static inline bool ac_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool ac_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

#define AC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define AC_MAX(a, b) ((a) > (b) ? (a) : (b))
#define AC_ALIGN 64

#endif
