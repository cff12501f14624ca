// copy_into.c: writes a tensor into a channel slice of a larger one, which the fused blocks
// then fill with convolutions writing into the other slices (a concatenation built in place).
// Recorded, it is the node that creates dst: its backward adds the slice of dst's gradient to
// src's, and the slice-writing convolutions after it keep dst's gradient for it.
#include "ops/ops.h"

// node->in = {src}, iarg = {c0}
static void copy_into_backward(ac_graph *g, ac_node *node) {
    ac_tensor *src = node->in[0], *dst = node->out;
    float *dsrc = ac_graph_grad(g, src);
    if (!dsrc) return;
    const size_t plane = (size_t)src->shape[2] * src->shape[3];
    const size_t len = (size_t)src->shape[1] * plane, dst_batch = (size_t)dst->shape[1] * plane;
    const float *ddst = dst->grad + (size_t)node->iarg[0] * plane;
    for (int n = 0; n < src->shape[0]; n++)  // src's gradient, image n += its slice of dst's
        ac_be()->axpy(len, 1.0f, ddst + (size_t)n * dst_batch, dsrc + (size_t)n * len);
}

ac_tensor *ac_copy_into(ac_graph *g, ac_tensor *src, ac_tensor *dst, int c0) {
    AC_ASSERT_MSG(src->ndim == 4 && dst->ndim == 4 && src->shape[0] == dst->shape[0] &&
                      src->shape[2] == dst->shape[2] && src->shape[3] == dst->shape[3] &&
                      c0 >= 0 && c0 + src->shape[1] <= dst->shape[1],
                  "copy_into: the source does not fit the channel slice");
    AC_ASSERT_MSG(!dst->requires_grad, "copy_into: dst must be a new activation");
    const size_t plane = (size_t)src->shape[2] * src->shape[3];
    const size_t len = (size_t)src->shape[1] * plane;
    ac_be()->copy_blocks((size_t)src->shape[0], len, src->data, len, dst->data + (size_t)c0 * plane,
                         (size_t)dst->shape[1] * plane);
    ac_node *node = ac_graph_record(g, dst, copy_into_backward, 1, &src);
    if (node) node->iarg[0] = c0;
    return dst;
}
