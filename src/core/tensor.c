// tensor.c: owned tensors (parameters, inputs) and shape helpers.
#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ac_shape_numel(int ndim, const int *shape, size_t *out) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !ac_mul_size(n, (size_t)shape[i], &n)) return false;
    }
    *out = n;
    return true;
}

ac_tensor *ac_tensor_try_new(int ndim, const int *shape) {
    if (ndim < 0 || ndim > AC_MAX_DIMS) {
        ac_fail(AC_ERR_FORMAT, "tensor has %d dimensions (at most %d supported)", ndim, AC_MAX_DIMS);
        return NULL;
    }
    size_t n, bytes;
    if (!ac_shape_numel(ndim, shape, &n) || !ac_mul_size(n, sizeof(float), &bytes)) {
        ac_fail(AC_ERR_NOMEM, "tensor size overflows");
        return NULL;
    }
    ac_tensor *t = calloc(1, sizeof *t);
    float *data = ac_aligned_alloc(bytes);
    if (!t || !data) {
        free(t);
        ac_aligned_free(data);
        ac_fail(AC_ERR_NOMEM, "out of memory for a tensor of %zu bytes", bytes);
        return NULL;
    }
    memset(data, 0, bytes);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->storage = AC_STORAGE_OWNED;
    t->slot = -1;
    return t;
}

ac_tensor *ac_tensor_new(int ndim, const int *shape) {
    ac_tensor *t = ac_tensor_try_new(ndim, shape);
    AC_ASSERT_MSG(t != NULL, ac_error_message());
    return t;
}

ac_tensor *ac_tensor_new4(int n, int c, int h, int w) {
    int shape[4] = {n, c, h, w};
    return ac_tensor_new(4, shape);
}

ac_tensor *ac_tensor_new1(int n) { return ac_tensor_new(1, &n); }

void ac_tensor_free(ac_tensor *t) {
    if (!t) return;
    AC_ASSERT(t->storage == AC_STORAGE_OWNED);
    ac_aligned_free(t->data);
    ac_aligned_free(t->grad);
    free(t);
}

void ac_tensor_enable_grad(ac_tensor *t) {
    AC_ASSERT(t->storage == AC_STORAGE_OWNED);
    t->requires_grad = true;
    if (!t->grad) {
        size_t bytes = ac_numel(t) * sizeof(float);
        t->grad = ac_aligned_alloc(bytes);
        AC_ASSERT_MSG(t->grad != NULL, "out of memory for a gradient buffer");
        memset(t->grad, 0, bytes);
    }
}

void ac_tensor_zero_grad(ac_tensor *t) {
    if (t->grad) ac_zero_floats(t->grad, ac_numel(t));
}

ac_tensor *ac_tensor_clone(const ac_tensor *t) {
    ac_tensor *c = ac_tensor_new(t->ndim, t->shape);
    memcpy(c->data, t->data, ac_numel(t) * sizeof(float));
    return c;
}

bool ac_same_shape(const ac_tensor *a, const ac_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *ac_shape_str(const ac_tensor *t, char *buf, size_t size) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, size - used, "[");
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ",%d" : "%d", t->shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}
