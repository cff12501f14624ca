// reflection_pad.c: PyTorch's ReflectionPad2d. The border mirrors the interior without
// repeating the edge (index -1 reads 1, index h reads h - 2), so every pad must be smaller
// than the side it pads. The backward adds each output gradient back to the input element it
// was read from, so border gradients accumulate onto the mirrored interior.
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// Source index of padded index i - pad for a side of n (|offset| < n).
static inline int reflect(int i, int n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * (n - 1) - i;
    return i;
}

// x: (nc, h, w) -> y: (nc, h + top + bottom, w + left + right)
void ac_cpu_reflection_pad_forward(size_t nc, int h, int w, int top, int bottom, int left,
                                   int right, const float *x, float *y) {
    int oh = h + top + bottom, ow = w + left + right;
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if (nc * plane_out > 65536)
    for (size_t p = 0; p < nc; p++) {
        const float *xp = x + p * plane_in;
        float *yp = y + p * plane_out;
        for (int oy = 0; oy < oh; oy++) {
            const float *xr = xp + (size_t)reflect(oy - top, h) * (size_t)w;
            float *yr = yp + (size_t)oy * (size_t)ow;
            for (int ox = 0; ox < left; ox++) yr[ox] = xr[left - ox];           // reflect(ox - left)
            memcpy(yr + left, xr, (size_t)w * sizeof(float));
            for (int ox = 0; ox < right; ox++) yr[left + w + ox] = xr[w - 2 - ox];  // reflect(w + ox)
        }
    }
}

static void add_row(float *restrict x, const float *restrict y, int w) {
    for (int i = 0; i < w; i++) x[i] += y[i];
}

// dy: (nc, h + top + bottom, w + left + right) -> dx: (nc, h, w), accumulated in output
// scan order within each plane (planes are independent, so the result does not depend on threads).
// A row's left border, its interior (one contiguous add the compiler vectorises) and its right
// border are added in that order, which is the scan order.
void ac_cpu_reflection_pad_backward(size_t nc, int h, int w, int top, int bottom, int left,
                                    int right, const float *dy, float *dx) {
    ac_cpu_reflection_pad_backward_to(nc, h, w, top, bottom, left, right, dy, dx, false);
}

void ac_cpu_reflection_pad_backward_to(size_t nc, int h, int w, int top, int bottom, int left,
                                       int right, const float *dy, float *dx, bool overwrite) {
    int oh = h + top + bottom, ow = w + left + right;
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if (nc * plane_out > 65536)
    for (size_t p = 0; p < nc; p++) {
        float *xp = dx + p * plane_in;
        const float *yp = dy + p * plane_out;
        if (overwrite) memset(xp, 0, plane_in * sizeof(float));
        for (int oy = 0; oy < oh; oy++) {
            float *xr = xp + (size_t)reflect(oy - top, h) * (size_t)w;
            const float *yr = yp + (size_t)oy * (size_t)ow;
            for (int ox = 0; ox < left; ox++) xr[left - ox] += yr[ox];  // reflect(ox - left)
            add_row(xr, yr + left, w);
            for (int ox = 0; ox < right; ox++) xr[w - 2 - ox] += yr[left + w + ox];
        }
    }
}

static void reflection_pad_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *y = node->out;
    ac_be()->reflection_pad_backward((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2],
                                     x->shape[3], node->iarg[0], node->iarg[1], node->iarg[2],
                                     node->iarg[3], y->grad, ac_graph_grad(g, x));
}

// x: (N, C, H, W) -> (N, C, H + top + bottom, W + left + right)
ac_tensor *ac_reflection_pad(ac_graph *g, ac_tensor *x, int top, int bottom, int left, int right) {
    AC_ASSERT_MSG(x->ndim == 4, "reflection_pad: x must be 4-D");
    int h = x->shape[2], w = x->shape[3];
    AC_ASSERT_MSG(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, "reflection_pad: negative pad");
    AC_ASSERT_MSG(top < h && bottom < h && left < w && right < w,
                  "reflection_pad: each pad must be smaller than the side it pads");
    ac_tensor *y = ac_graph_tensor4(g, x->shape[0], x->shape[1], h + top + bottom, w + left + right);
    ac_be()->reflection_pad_forward((size_t)x->shape[0] * (size_t)x->shape[1], h, w, top, bottom,
                                    left, right, x->data, y->data);
    ac_node *node = ac_graph_record(g, y, reflection_pad_backward, 1, &x);
    if (node) {
        node->iarg[0] = top;
        node->iarg[1] = bottom;
        node->iarg[2] = left;
        node->iarg[3] = right;
    }
    return y;
}
