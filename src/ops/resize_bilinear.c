// resize_bilinear.c: bilinear resampling with align_corners = false and no antialias, as
// PyTorch 1.13's F.interpolate(mode='bilinear'). Along each axis the scale is in/out (float);
// output index d reads source coordinate s = scale (d + 0.5) - 0.5 (evaluated in double and
// rounded to float, as PyTorch does), clamped below at 0; i0 = floor(s), i1 = min(i0 + 1, in - 1),
// lambda1 = s - i0, lambda0 = 1 - lambda1. The backward scatters dy with the same weights.
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

typedef struct axis_tap {
    int i0, i1;
    float l0, l1;
} axis_tap;

// taps: (out) for one axis resized from `in` to `out` samples
static void axis_taps(int in, int out, axis_tap *taps) {
    float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        axis_tap *t = &taps[d];
        if (in == out) {  // PyTorch copies; the formula would give the same
            t->i0 = t->i1 = d;
            t->l0 = 1.0f;
            t->l1 = 0.0f;
            continue;
        }
        float s = (float)((double)scale * ((double)d + 0.5) - 0.5);
        if (s < 0.0f) s = 0.0f;
        t->i0 = (int)s;
        t->i1 = t->i0 + (t->i0 < in - 1 ? 1 : 0);
        float l1 = s - (float)t->i0;
        t->l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
        t->l0 = 1.0f - t->l1;
    }
}

// x: (nc, h, w) -> y: (nc, oh, ow)
void ac_cpu_resize_bilinear_forward(size_t nc, int h, int w, int oh, int ow, const float *x,
                                    float *y) {
    axis_tap *th = ac_xmalloc((size_t)oh * sizeof *th), *tw = ac_xmalloc((size_t)ow * sizeof *tw);
    axis_taps(h, oh, th);
    axis_taps(w, ow, tw);
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if (nc * plane_out > 65536)
    for (size_t p = 0; p < nc; p++) {
        const float *xp = x + p * plane_in;
        float *yp = y + p * plane_out;
        for (int oy = 0; oy < oh; oy++) {
            const axis_tap *ty = &th[oy];
            const float *r0 = xp + (size_t)ty->i0 * (size_t)w, *r1 = xp + (size_t)ty->i1 * (size_t)w;
            float *yr = yp + (size_t)oy * (size_t)ow;
            for (int ox = 0; ox < ow; ox++) {
                const axis_tap *tx = &tw[ox];
                float t0 = r0[tx->i0] * tx->l0 + r0[tx->i1] * tx->l1;
                float t1 = r1[tx->i0] * tx->l0 + r1[tx->i1] * tx->l1;
                yr[ox] = t0 * ty->l0 + t1 * ty->l1;
            }
        }
    }
    free(th);
    free(tw);
}

// dy: (nc, oh, ow) -> dx: (nc, h, w), scattered in output scan order within each plane
void ac_cpu_resize_bilinear_backward(size_t nc, int h, int w, int oh, int ow, const float *dy,
                                     float *dx) {
    axis_tap *th = ac_xmalloc((size_t)oh * sizeof *th), *tw = ac_xmalloc((size_t)ow * sizeof *tw);
    axis_taps(h, oh, th);
    axis_taps(w, ow, tw);
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if (nc * plane_out > 65536)
    for (size_t p = 0; p < nc; p++) {
        float *xp = dx + p * plane_in;
        const float *yp = dy + p * plane_out;
        for (int oy = 0; oy < oh; oy++) {
            const axis_tap *ty = &th[oy];
            float *r0 = xp + (size_t)ty->i0 * (size_t)w, *r1 = xp + (size_t)ty->i1 * (size_t)w;
            const float *yr = yp + (size_t)oy * (size_t)ow;
            for (int ox = 0; ox < ow; ox++) {
                const axis_tap *tx = &tw[ox];
                float d = yr[ox];
                r0[tx->i0] += ty->l0 * tx->l0 * d;
                r0[tx->i1] += ty->l0 * tx->l1 * d;
                r1[tx->i0] += ty->l1 * tx->l0 * d;
                r1[tx->i1] += ty->l1 * tx->l1 * d;
            }
        }
    }
    free(th);
    free(tw);
}

static void resize_bilinear_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *y = node->out;
    ac_be()->resize_bilinear_backward((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2],
                                      x->shape[3], y->shape[2], y->shape[3], y->grad,
                                      ac_graph_grad(g, x));
}

// x: (N, C, H, W) -> (N, C, oh, ow)
ac_tensor *ac_resize_bilinear(ac_graph *g, ac_tensor *x, int oh, int ow) {
    AC_ASSERT_MSG(x->ndim == 4, "resize_bilinear: x must be 4-D");
    AC_ASSERT_MSG(oh >= 1 && ow >= 1 && x->shape[2] >= 1 && x->shape[3] >= 1,
                  "resize_bilinear: empty size");
    ac_tensor *y = ac_graph_tensor4(g, x->shape[0], x->shape[1], oh, ow);
    ac_be()->resize_bilinear_forward((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2],
                                     x->shape[3], oh, ow, x->data, y->data);
    ac_graph_record(g, y, resize_bilinear_backward, 1, &x);
    return y;
}
