// testlib_fixture.h: reading golden fixtures (named tensors written by tools/golden/*.py) in
// tests: look a tensor up by a formatted name, and make an owned trainable copy of an input.
#ifndef AC_TESTLIB_FIXTURE_H
#define AC_TESTLIB_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>

#include "core/common.h"
#include "core/tensor.h"
#include "io/tensor_map.h"

// The tensor named by printf-style fmt, or NULL when the fixture lacks it.
static inline ac_tensor *t_fixture(const ac_tensor_map *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline ac_tensor *t_fixture(const ac_tensor_map *m, const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ac_tensor_map_get(m, name);
}

// An owned copy of a fixture input that collects gradients.
static inline ac_tensor *t_trainable(const ac_tensor *t) {
    AC_ASSERT(t != NULL);
    ac_tensor *c = ac_tensor_clone(t);
    ac_tensor_enable_grad(c);
    return c;
}

#endif
