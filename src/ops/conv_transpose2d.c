// conv_transpose2d.c: 2-D transposed convolution (PyTorch ConvTranspose2d: weight
// (cin, cout, kh, kw), stride, padding, output padding, optional bias). It is the adjoint of a
// conv2d from the output grid to the input grid, so the kernels reuse im2col/col2im with the
// roles swapped: forward = GEMM W^T x then col2im into y; backward data = W im2col(dy);
// backward weight = x im2col(dy)^T summed over the batch in order; bias = sum of dy.
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/im2col.h"
#include "ops/ops.h"

// The patches of y (cout, oh, ow) seen from the positions of the input grid (h, w).
static ac_patch_geom deconv_patches(const ac_conv_geom *g) {
    AC_ASSERT(g->n > 0 && g->cin > 0 && g->cout > 0 && g->stride >= 1 && g->pad >= 0);
    AC_ASSERT(g->out_pad >= 0 && g->out_pad < g->stride);
    AC_ASSERT(g->oh == (g->h - 1) * g->stride - 2 * g->pad + g->kh + g->out_pad && g->oh > 0);
    AC_ASSERT(g->ow == (g->w - 1) * g->stride - 2 * g->pad + g->kw + g->out_pad && g->ow > 0);
    return (ac_patch_geom){.c = g->cout, .h = g->oh, .w = g->ow, .kh = g->kh, .kw = g->kw,
                           .stride = g->stride, .pad = g->pad, .oh = g->h, .ow = g->w};
}

static bool deconv_is_pointwise(const ac_conv_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->stride == 1 && g->pad == 0;
}

// x (n, cin, h, w), w (cin, cout, kh, kw), b (cout) or NULL -> y (n, cout, oh, ow)
void ac_cpu_conv_transpose2d_forward(const ac_conv_geom *g, const float *x, const float *w,
                                     const float *b, float *y) {
    const ac_patch_geom pg = deconv_patches(g);
    const int K = g->cout * g->kh * g->kw, hw = g->h * g->w;
    const size_t ohw = (size_t)g->oh * g->ow;
    const bool pointwise = deconv_is_pointwise(g);
    const int nb = ac_cpu_col_block((size_t)K, hw);
    float *col = pointwise ? NULL : ac_cpu_scratch((size_t)K * nb);
    for (int n = 0; n < g->n; n++) {
        const float *xn = x + (size_t)n * g->cin * hw;
        float *yn = y + (size_t)n * g->cout * ohw;
        if (b) ac_cpu_fill_bias(g->cout, ohw, b, yn);
        if (pointwise) {
            // y (cout, hw) = W^T (cout, cin) x (cin, hw)
            ac_cpu_sgemm(true, false, K, hw, g->cin, 1.0f, w, K, xn, hw, b ? 1.0f : 0.0f, yn, hw);
            continue;
        }
        if (!b) memset(yn, 0, (size_t)g->cout * ohw * sizeof(float));
        for (int p0 = 0; p0 < hw; p0 += nb) {
            const int p1 = AC_MIN(hw, p0 + nb), m = p1 - p0;
            // col (K, m) = W^T (K, cin) x[:, p0:p1] (cin, m), folded into y
            ac_cpu_sgemm(true, false, K, m, g->cin, 1.0f, w, K, xn + p0, hw, 0.0f, col, m);
            ac_cpu_col2im_add(&pg, col, p0, p1, yn);
        }
    }
    ac_aligned_free(col);
}

// dy (n, cout, oh, ow); dx like x, dw like w, db (cout): accumulated, NULL ones skipped
void ac_cpu_conv_transpose2d_backward(const ac_conv_geom *g, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db) {
    const ac_patch_geom pg = deconv_patches(g);
    const int K = g->cout * g->kh * g->kw, hw = g->h * g->w;
    const size_t ohw = (size_t)g->oh * g->ow;
    if (db) ac_cpu_bias_grad(g->n, g->cout, ohw, dy, db);
    if (!dx && !dw) return;
    const bool pointwise = deconv_is_pointwise(g);
    const int nb = pointwise ? hw : ac_cpu_col_block((size_t)K, hw);
    float *col = pointwise ? NULL : ac_cpu_scratch((size_t)K * nb);
    for (int n = 0; n < g->n; n++) {
        const float *xn = x + (size_t)n * g->cin * hw;
        const float *dyn = dy + (size_t)n * g->cout * ohw;
        float *dxn = dx ? dx + (size_t)n * g->cin * hw : NULL;
        for (int p0 = 0; p0 < hw; p0 += nb) {
            const int p1 = AC_MIN(hw, p0 + nb), m = p1 - p0;
            // the patches of dy at the input positions [p0, p1): (K, m), ld ldc
            const float *c = dyn + p0;
            int ldc = hw;
            if (!pointwise) {
                ac_cpu_im2col(&pg, dyn, p0, p1, col);
                c = col;
                ldc = m;
            }
            // dx[:, p0:p1] (cin, m) += W (cin, K) c (K, m)
            if (dx) ac_cpu_sgemm(false, false, g->cin, m, K, 1.0f, w, K, c, ldc, 1.0f, dxn + p0, hw);
            // dW (cin, K) += x[:, p0:p1] (cin, m) c^T (m, K)
            if (dw) ac_cpu_sgemm(false, true, g->cin, K, m, 1.0f, xn + p0, hw, c, ldc, 1.0f, dw, K);
        }
    }
    ac_aligned_free(col);
}

static ac_conv_geom deconv_geom(const ac_tensor *x, const ac_tensor *w, int stride, int pad,
                                int out_pad) {
    AC_ASSERT_MSG(x->ndim == 4 && w->ndim == 4, "conv_transpose2d: x and weight must be 4-D");
    AC_ASSERT_MSG(w->shape[0] == x->shape[1], "conv_transpose2d: weight in-channels differ from x");
    AC_ASSERT_MSG(stride >= 1 && pad >= 0 && out_pad >= 0 && out_pad < stride,
                  "conv_transpose2d: bad stride, padding or output padding");
    ac_conv_geom g = {.n = x->shape[0], .cin = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                      .cout = w->shape[1], .kh = w->shape[2], .kw = w->shape[3],
                      .stride = stride, .pad = pad, .out_pad = out_pad};
    g.oh = (g.h - 1) * stride - 2 * pad + g.kh + out_pad;
    g.ow = (g.w - 1) * stride - 2 * pad + g.kw + out_pad;
    AC_ASSERT_MSG(g.oh > 0 && g.ow > 0, "conv_transpose2d: padding leaves no output");
    return g;
}

// node->in = {x, w, b (may be NULL)}, iarg = {stride, pad, out_pad}
static void conv_transpose2d_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
    ac_conv_geom geom = deconv_geom(x, w, node->iarg[0], node->iarg[1], node->iarg[2]);
    ac_be()->conv_transpose2d_backward(&geom, x->data, w->data, node->out->grad,
                                       ac_graph_grad(g, x), ac_graph_grad(g, w),
                                       ac_graph_grad(g, b));
}

ac_tensor *ac_conv_transpose2d(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b, int stride,
                               int pad, int out_pad) {
    ac_conv_geom geom = deconv_geom(x, w, stride, pad, out_pad);
    AC_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == geom.cout),
                  "conv_transpose2d: bias must have one value per output channel");
    ac_tensor *y = ac_graph_tensor4(g, geom.n, geom.cout, geom.oh, geom.ow);
    ac_be()->conv_transpose2d_forward(&geom, x->data, w->data, b ? b->data : NULL, y->data);
    ac_tensor *in[3] = {x, w, b};
    ac_node *node = ac_graph_record(g, y, conv_transpose2d_backward, 3, in);
    if (node) {
        node->iarg[0] = stride;
        node->iarg[1] = pad;
        node->iarg[2] = out_pad;
    }
    return y;
}
