// conv2d.c: 2-D convolution with zero padding, any kernel size and stride, optional bias.
// Kernels: im2col + OpenBLAS GEMM per batch item, in column blocks that bound the scratch
// memory; a 1x1 stride-1 unpadded convolution is a plain GEMM on the input. Backward: data
// gradient = W^T dy folded back with col2im, weight gradient = dy col^T summed over the batch
// in order, bias gradient = sum of dy. All reductions run in a fixed order, so results are
// the same run to run for a given thread count.
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/im2col.h"
#include "ops/ops.h"

static bool conv_is_pointwise(const ac_conv_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->stride == 1 && g->pad == 0;
}

static ac_patch_geom conv_patches(const ac_conv_geom *g) {
    AC_ASSERT(g->n > 0 && g->cin > 0 && g->cout > 0 && g->stride >= 1 && g->pad >= 0);
    AC_ASSERT(g->oh == (g->h + 2 * g->pad - g->kh) / g->stride + 1 && g->oh > 0);
    AC_ASSERT(g->ow == (g->w + 2 * g->pad - g->kw) / g->stride + 1 && g->ow > 0);
    return (ac_patch_geom){.c = g->cin, .h = g->h, .w = g->w, .kh = g->kh, .kw = g->kw,
                           .stride = g->stride, .pad = g->pad, .oh = g->oh, .ow = g->ow};
}

// x (n, cin, h, w), w (cout, cin, kh, kw), b (cout) or NULL -> y (n, cout, oh, ow)
void ac_cpu_conv2d_forward(const ac_conv_geom *g, const float *x, const float *w, const float *b,
                           float *y) {
    const ac_patch_geom pg = conv_patches(g);
    const int K = g->cin * g->kh * g->kw, ohw = g->oh * g->ow;
    const size_t hw = (size_t)g->h * g->w;
    const float beta = b ? 1.0f : 0.0f;
    const bool pointwise = conv_is_pointwise(g);
    const int nb = ac_cpu_col_block((size_t)K, ohw);
    float *col = pointwise ? NULL : ac_cpu_scratch((size_t)K * nb);
    for (int n = 0; n < g->n; n++) {
        const float *xn = x + (size_t)n * g->cin * hw;
        float *yn = y + (size_t)n * g->cout * ohw;
        if (b) ac_cpu_fill_bias(g->cout, (size_t)ohw, b, yn);
        if (pointwise) {
            // y (cout, hw) = W (cout, cin) x (cin, hw)
            ac_cpu_sgemm(false, false, g->cout, ohw, K, 1.0f, w, K, xn, ohw, beta, yn, ohw);
            continue;
        }
        for (int p0 = 0; p0 < ohw; p0 += nb) {
            const int p1 = AC_MIN(ohw, p0 + nb), m = p1 - p0;
            ac_cpu_im2col(&pg, xn, p0, p1, col);
            // y[:, p0:p1] (cout, m) = W (cout, K) col (K, m)
            ac_cpu_sgemm(false, false, g->cout, m, K, 1.0f, w, K, col, m, beta, yn + p0, ohw);
        }
    }
    ac_aligned_free(col);
}

// dy (n, cout, oh, ow); dx like x, dw like w, db (cout): accumulated, NULL ones skipped
void ac_cpu_conv2d_backward(const ac_conv_geom *g, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db) {
    const ac_patch_geom pg = conv_patches(g);
    const int K = g->cin * g->kh * g->kw, ohw = g->oh * g->ow;
    const size_t hw = (size_t)g->h * g->w;
    if (db) ac_cpu_bias_grad(g->n, g->cout, (size_t)ohw, dy, db);
    if (!dx && !dw) return;
    const bool pointwise = conv_is_pointwise(g);
    const int nb = ac_cpu_col_block((size_t)K, ohw);
    float *col = pointwise ? NULL : ac_cpu_scratch((size_t)K * nb);
    for (int n = 0; n < g->n; n++) {
        const float *xn = x + (size_t)n * g->cin * hw;
        const float *dyn = dy + (size_t)n * g->cout * ohw;
        float *dxn = dx ? dx + (size_t)n * g->cin * hw : NULL;
        if (pointwise) {
            // dW (cout, cin) += dy (cout, hw) x^T (hw, cin); dx (cin, hw) += W^T dy
            if (dw) ac_cpu_sgemm(false, true, g->cout, K, ohw, 1.0f, dyn, ohw, xn, ohw, 1.0f, dw, K);
            if (dx) ac_cpu_sgemm(true, false, K, ohw, g->cout, 1.0f, w, K, dyn, ohw, 1.0f, dxn, ohw);
            continue;
        }
        for (int p0 = 0; p0 < ohw; p0 += nb) {
            const int p1 = AC_MIN(ohw, p0 + nb), m = p1 - p0;
            if (dw) {
                // dW (cout, K) += dy[:, p0:p1] (cout, m) col^T (m, K)
                ac_cpu_im2col(&pg, xn, p0, p1, col);
                ac_cpu_sgemm(false, true, g->cout, K, m, 1.0f, dyn + p0, ohw, col, m, 1.0f, dw, K);
            }
            if (dx) {
                // dcol (K, m) = W^T (K, cout) dy[:, p0:p1] (cout, m), folded into dx
                ac_cpu_sgemm(true, false, K, m, g->cout, 1.0f, w, K, dyn + p0, ohw, 0.0f, col, m);
                ac_cpu_col2im_add(&pg, col, p0, p1, dxn);
            }
        }
    }
    ac_aligned_free(col);
}

static ac_conv_geom conv_geom(const ac_tensor *x, const ac_tensor *w, int stride, int pad) {
    AC_ASSERT_MSG(x->ndim == 4 && w->ndim == 4, "conv2d: x and weight must be 4-D");
    AC_ASSERT_MSG(w->shape[1] == x->shape[1], "conv2d: weight in-channels differ from x");
    AC_ASSERT_MSG(stride >= 1 && pad >= 0, "conv2d: bad stride or padding");
    ac_conv_geom g = {.n = x->shape[0], .cin = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                      .cout = w->shape[0], .kh = w->shape[2], .kw = w->shape[3],
                      .stride = stride, .pad = pad, .out_pad = 0};
    AC_ASSERT_MSG(g.h + 2 * pad >= g.kh && g.w + 2 * pad >= g.kw,
                  "conv2d: kernel larger than the padded input");
    g.oh = (g.h + 2 * pad - g.kh) / stride + 1;
    g.ow = (g.w + 2 * pad - g.kw) / stride + 1;
    return g;
}

// node->in = {x, w, b (may be NULL)}, iarg = {stride, pad}
static void conv2d_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *w = node->in[1], *b = node->in[2];
    ac_conv_geom geom = conv_geom(x, w, node->iarg[0], node->iarg[1]);
    ac_be()->conv2d_backward(&geom, x->data, w->data, node->out->grad, ac_graph_grad(g, x),
                             ac_graph_grad(g, w), ac_graph_grad(g, b));
}

ac_tensor *ac_conv2d(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b, int stride, int pad) {
    ac_conv_geom geom = conv_geom(x, w, stride, pad);
    AC_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == geom.cout),
                  "conv2d: bias must have one value per output channel");
    ac_tensor *y = ac_graph_tensor4(g, geom.n, geom.cout, geom.oh, geom.ow);
    ac_be()->conv2d_forward(&geom, x->data, w->data, b ? b->data : NULL, y->data);
    ac_tensor *in[3] = {x, w, b};
    ac_node *node = ac_graph_record(g, y, conv2d_backward, 3, in);
    if (node) {
        node->iarg[0] = stride;
        node->iarg[1] = pad;
    }
    return y;
}
