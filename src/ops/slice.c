// slice.c: the slice [start, end) of a tensor along dim 0 or 1 as a new contiguous tensor, and
// the channel split built on it. Viewing x as (outer, shape[dim] * inner), the slice is the
// columns [start * inner, end * inner) of every row; the backward adds dy back into them.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// outer = product of dims before dim, inner = product of dims after it.
static void dims_around(const ac_tensor *t, int dim, size_t *outer, size_t *inner) {
    size_t o = 1, in = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (d < dim) o *= (size_t)t->shape[d];
        if (d > dim) in *= (size_t)t->shape[d];
    }
    *outer = o;
    *inner = in;
}

static void slice_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *y = node->out;
    int dim = node->iarg[0], start = node->iarg[1], end = node->iarg[2];
    size_t outer, inner;
    dims_around(x, dim, &outer, &inner);
    size_t len = (size_t)(end - start) * inner, row = (size_t)x->shape[dim] * inner;
    float *dx = ac_graph_grad(g, x);
    ac_be()->acc_blocks(outer, len, y->grad, len, dx + (size_t)start * inner, row);
}

// x: (..., D at dim, ...) -> (..., end - start, ...)
ac_tensor *ac_slice(ac_graph *g, ac_tensor *x, int dim, int start, int end) {
    AC_ASSERT_MSG(dim == 0 || dim == 1, "slice: dim must be 0 or 1");
    AC_ASSERT_MSG(x->ndim > dim, "slice: dim out of range");
    AC_ASSERT_MSG(0 <= start && start < end && end <= x->shape[dim], "slice: bad range");
    int shape[AC_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[dim] = end - start;
    ac_tensor *y = ac_graph_tensor(g, x->ndim, shape);
    size_t outer, inner;
    dims_around(x, dim, &outer, &inner);
    size_t len = (size_t)(end - start) * inner, row = (size_t)x->shape[dim] * inner;
    ac_be()->copy_blocks(outer, len, x->data + (size_t)start * inner, row, y->data, len);
    ac_node *node = ac_graph_record(g, y, slice_backward, 1, &x);
    if (node) {
        node->iarg[0] = dim;
        node->iarg[1] = start;
        node->iarg[2] = end;
    }
    return y;
}

bool ac_split_channels_view(ac_graph *g, ac_tensor *x, ac_tensor **first, ac_tensor **second) {
    AC_ASSERT_MSG(x->ndim >= 2 && x->shape[1] % 2 == 0, "split_channels: odd channel count");
    const size_t half = ac_numel(x) / 2;
    if (ac_graph_recording(g) || x->shape[0] != 1 || half % 16) {
        ac_split_channels(g, x, first, second);
        return false;
    }
    int shape[AC_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[1] /= 2;
    *first = ac_graph_view(g, x, x->ndim, shape, 0);
    *second = ac_graph_view(g, x, x->ndim, shape, half);
    return true;
}

// x: (N, C, ...) with C even -> (N, C/2, ...) twice
void ac_split_channels(ac_graph *g, ac_tensor *x, ac_tensor **first, ac_tensor **second) {
    AC_ASSERT_MSG(x->ndim >= 2 && x->shape[1] % 2 == 0, "split_channels: odd channel count");
    int half = x->shape[1] / 2;
    *first = ac_slice(g, x, 1, 0, half);
    *second = ac_slice(g, x, 1, half, 2 * half);
}
