// maxpool2x2.c: nn.MaxPool2d(2): 2x2 windows, stride 2; an odd trailing row or column is
// dropped. Windows are scanned row by row and, as in PyTorch, a value replaces the running
// maximum only when it is strictly greater (or NaN), so on ties the first maximum wins and
// alone receives the gradient. The backward recomputes the winner from x.
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"
#include "ops/ops.h"

// Offset (0, 1, w or w + 1) of the winner of the window whose top-left element is p.
static inline size_t window_argmax(const float *p, size_t w) {
    const size_t off[4] = {0, 1, w, w + 1};
    size_t best = 0;
    float m = p[0];
    for (int k = 1; k < 4; k++) {
        float v = p[off[k]];
        if (v > m || isnan(v)) {
            m = v;
            best = off[k];
        }
    }
    return best;
}

// m after seeing v: v replaces m when greater or NaN (the scalar rule, lane by lane)
static inline ac_vf vmax_step(ac_vf m, ac_vf v) { return ac_vselect((v > m) | (v != v), v, m); }

// x: (nc, h, w) -> y: (nc, h/2, w/2). AC_VL windows at a time: the even and odd columns of two
// rows, in the scalar order (top left, top right, bottom left, bottom right).
void ac_cpu_maxpool2x2_forward(size_t nc, int h, int w, const float *x, float *y) {
    int oh = h / 2, ow = w / 2;
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if (nc * plane_out > 65536)
    for (size_t p = 0; p < nc; p++) {
        for (int oy = 0; oy < oh; oy++) {
            const float *xr = x + p * plane_in + (size_t)(2 * oy) * (size_t)w, *xr2 = xr + w;
            float *yr = y + p * plane_out + (size_t)oy * (size_t)ow;
            int ox = 0;
            for (; ox + AC_VL <= ow; ox += AC_VL) {
                const float *q = xr + 2 * ox, *q2 = xr2 + 2 * ox;
                const ac_vf t0 = ac_vload(q), t1 = ac_vload(q + AC_VL);
                const ac_vf b0 = ac_vload(q2), b1 = ac_vload(q2 + AC_VL);
                ac_vf m = ac_veven(t0, t1);
                m = vmax_step(m, ac_vodd(t0, t1));
                m = vmax_step(m, ac_veven(b0, b1));
                m = vmax_step(m, ac_vodd(b0, b1));
                ac_vstore(yr + ox, m);
            }
            for (; ox < ow; ox++) {
                const float *q = xr + 2 * ox;
                yr[ox] = q[window_argmax(q, (size_t)w)];
            }
        }
    }
}

// x, dx: (nc, h, w); dy: (nc, h/2, w/2). Windows do not overlap.
// overwrite: each plane of dx is zeroed just before its winners receive dy, while it is in
// cache (a separate zeroing pass costs a trip through memory).
void ac_cpu_maxpool2x2_backward(size_t nc, int h, int w, const float *x, const float *dy,
                                float *dx, bool overwrite) {
    int oh = h / 2, ow = w / 2;
    size_t plane_in = (size_t)h * (size_t)w, plane_out = (size_t)oh * (size_t)ow;
#pragma omp parallel for schedule(static) if (nc * plane_out > 65536)
    for (size_t p = 0; p < nc; p++) {
        if (overwrite) memset(dx + p * plane_in, 0, plane_in * sizeof(float));
        for (int oy = 0; oy < oh; oy++) {
            size_t row = p * plane_in + (size_t)(2 * oy) * (size_t)w;
            const float *dyr = dy + p * plane_out + (size_t)oy * (size_t)ow;
            for (int ox = 0; ox < ow; ox++) {
                size_t q = row + 2 * (size_t)ox;
                dx[q + window_argmax(x + q, (size_t)w)] += dyr[ox];
            }
        }
    }
}

static void maxpool2x2_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *y = node->out;
    bool overwrite;
    float *dx = ac_graph_grad_to_write(g, x, &overwrite);
    ac_be()->maxpool2x2_backward((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2],
                                 x->shape[3], x->data, y->grad, dx, overwrite);
}

// x: (N, C, H, W) -> (N, C, H/2, W/2)
ac_tensor *ac_maxpool2x2(ac_graph *g, ac_tensor *x) {
    AC_ASSERT_MSG(x->ndim == 4, "maxpool2x2: x must be 4-D");
    AC_ASSERT_MSG(x->shape[2] >= 2 && x->shape[3] >= 2, "maxpool2x2: input smaller than 2x2");
    ac_tensor *y = ac_graph_tensor4(g, x->shape[0], x->shape[1], x->shape[2] / 2, x->shape[3] / 2);
    ac_be()->maxpool2x2_forward((size_t)x->shape[0] * (size_t)x->shape[1], x->shape[2],
                                x->shape[3], x->data, y->data);
    ac_graph_record(g, y, maxpool2x2_backward, 1, &x);
    return y;
}
