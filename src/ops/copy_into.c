// copy_into.c: writes a tensor into a channel slice of a larger one (inference: the fused
// blocks build a concatenation in place). No backward; asserts that none is needed.
#include "ops/ops.h"

ac_tensor *ac_copy_into(ac_graph *g, ac_tensor *src, ac_tensor *dst, int c0) {
    AC_ASSERT_MSG(src->ndim == 4 && dst->ndim == 4 && src->shape[0] == dst->shape[0] &&
                      src->shape[2] == dst->shape[2] && src->shape[3] == dst->shape[3] &&
                      c0 >= 0 && c0 + src->shape[1] <= dst->shape[1],
                  "copy_into: the source does not fit the channel slice");
    ac_tensor *check[2] = {src, dst};
    AC_ASSERT_MSG(ac_fused_ok(g, check, 2), "copy_into has no backward (an input requires a gradient)");
    const size_t plane = (size_t)src->shape[2] * src->shape[3];
    const size_t len = (size_t)src->shape[1] * plane;
    ac_be()->copy_blocks((size_t)src->shape[0], len, src->data, len, dst->data + (size_t)c0 * plane,
                         (size_t)dst->shape[1] * plane);
    return dst;
}
