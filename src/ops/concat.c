// concat.c: concatenation of n tensors along dim 0 (batch) or 1 (channels), and the strided
// block copy/accumulate kernels that concat and slice share. Viewing each tensor as
// (outer, len) with outer = the product of the dims before `dim`, input i occupies columns
// [off_i, off_i + len_i) of the output's rows; the backward adds those columns back.
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// src: (outer, src_stride), dst: (outer, dst_stride); dst[o, :len] = src[o, :len]
void ac_cpu_copy_blocks(size_t outer, size_t len, const float *src, size_t src_stride, float *dst,
                        size_t dst_stride) {
    if (outer == 1) {  // one long block (dim 0): split the elements instead
        ac_copy_floats(dst, src, len);
        return;
    }
#pragma omp parallel for schedule(static) if (outer * len > 262144)
    for (size_t o = 0; o < outer; o++)
        memcpy(dst + o * dst_stride, src + o * src_stride, len * sizeof(float));
}

// src: (outer, src_stride), dst: (outer, dst_stride); dst[o, :len] += src[o, :len]
void ac_cpu_acc_blocks(size_t outer, size_t len, const float *src, size_t src_stride, float *dst,
                       size_t dst_stride) {
    if (outer == 1) {  // one long block (dim 0): split the elements instead
#pragma omp parallel for schedule(static) if (len > 65536)
        for (size_t i = 0; i < len; i++) dst[i] += src[i];
        return;
    }
#pragma omp parallel for schedule(static) if (outer * len > 65536)
    for (size_t o = 0; o < outer; o++) {
        const float *s = src + o * src_stride;
        float *d = dst + o * dst_stride;
        for (size_t i = 0; i < len; i++) d[i] += s[i];
    }
}

// Product of the dims of t before `dim` (outer) and from `dim` on (len).
static void split_at(const ac_tensor *t, int dim, size_t *outer, size_t *len) {
    size_t o = 1, l = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (d < dim) o *= (size_t)t->shape[d];
        else l *= (size_t)t->shape[d];
    }
    *outer = o;
    *len = l;
}

static void concat_backward(ac_graph *g, ac_node *node) {
    ac_tensor *y = node->out;
    int dim = node->iarg[0];
    size_t outer, total, off = 0;
    split_at(y, dim, &outer, &total);
    for (int i = 0; i < node->n_in; i++) {
        size_t o, len;
        split_at(node->in[i], dim, &o, &len);
        bool fresh;  // a new gradient is written, not added to
        float *dx = ac_graph_grad_to_write(g, node->in[i], &fresh);
        if (dx && fresh) ac_be()->copy_blocks(outer, len, y->grad + off, total, dx, len);
        else if (dx) ac_be()->acc_blocks(outer, len, y->grad + off, total, dx, len);
        off += len;
    }
}

// xs[i]: shapes equal except along dim -> the concatenation along dim
ac_tensor *ac_concat(ac_graph *g, ac_tensor *const *xs, int n, int dim) {
    AC_ASSERT_MSG(n >= 1, "concat: no inputs");
    AC_ASSERT_MSG(dim == 0 || dim == 1, "concat: dim must be 0 or 1");
    const ac_tensor *x0 = xs[0];
    AC_ASSERT_MSG(x0->ndim > dim, "concat: dim out of range");
    int shape[AC_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        AC_ASSERT_MSG(xs[i]->ndim == x0->ndim, "concat: ranks differ");
        for (int d = 0; d < x0->ndim; d++)
            AC_ASSERT_MSG(d == dim || xs[i]->shape[d] == x0->shape[d], "concat: shapes differ");
        shape[dim] += xs[i]->shape[dim];
    }
    ac_tensor *y = ac_graph_tensor(g, x0->ndim, shape);
    size_t outer, total, off = 0;
    split_at(y, dim, &outer, &total);
    for (int i = 0; i < n; i++) {
        size_t o, len;
        split_at(xs[i], dim, &o, &len);
        ac_be()->copy_blocks(outer, len, xs[i]->data, len, y->data + off, total);
        off += len;
    }
    ac_node *node = ac_graph_record(g, y, concat_backward, n, xs);
    if (node) node->iarg[0] = dim;
    return y;
}
