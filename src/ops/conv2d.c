// conv2d.c: 2-D convolution with zero padding, any kernel size and stride, optional bias.
// Kernels: forward by Winograd for 3x3 stride 1 (backend/cpu/winograd.h), by the direct
// kernel otherwise (direct_conv.c); the backward (and the forward when those are turned off)
// through the drivers of backend/cpu/im2col.h: forward = W unfold(x) per batch item,
// in column blocks that bound the scratch memory (a 1x1 stride-1 unpadded convolution uses x
// in place); backward data = W^T dy folded back with col2im; backward weight = dy unfold(x)^T
// summed over the batch in order; bias gradient = sum of dy. Every reduction runs in a fixed
// order, so results are the same run to run for a given thread count.
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/winograd.h"
#include "ops/ops.h"


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
    const size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    const ac_fused_conv c = {.n = g->n, .cin = g->cin, .h = g->h, .w = g->w, .cout = g->cout,
                             .kh = g->kh, .kw = g->kw, .stride = g->stride, .pad = g->pad,
                             .mode = AC_PAD_ZERO, .x = x, .x_batch = g->cin * hw, .weight = w,
                             .y = y, .y_batch = g->cout * ohw, .ep = {.bias = b, .scale = 1.0f}};
    if (ac_cpu_conv_by_kernel(&c)) return;
    if (b) ac_cpu_fill_bias(g->n, g->cout, ohw, b, y);
    // y_n (cout, ohw) = W (cout, K) unfold(x_n) (K, ohw) [+ bias]
    ac_cpu_conv_unfold_gemm(&pg, g->n, g->cout, w, x, g->cin * hw, b ? 1.0f : 0.0f, y,
                            g->cout * ohw);
}

// dx += the gradient of x for dy. 3x3 stride 1: dx = dy correlated with the kernels turned
// by 180 degrees and transposed (cin <-> cout) over a 2 - pad border, by Winograd (which reads
// them so from w: ac_fused_conv.weight_turned),
// accumulating through the epilogue. Other strides and sizes (not 1x1): the transposed
// convolution of dy (the direct kernel, the weight read as (cout, cin, kh, kw) = the
// transposed convolution's (in, out, kh, kw)), output padding to reach x's size. Otherwise
// dx_n += fold(W^T dy_n).
// overwrite: dx = the gradient instead of dx += (dx need not be initialised). Images of dx lie
// x_batch floats apart (cin h w, or more when x is a channel prefix of a larger tensor).
static void backward_data(const ac_conv_geom *g, const ac_patch_geom *pg, const float *w,
                          const float *dy, float *dx, size_t x_batch, bool overwrite) {
    const size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    if (ac_cpu_conv_winograd_backward_on() && g->kh == 3 && g->kw == 3 && g->stride == 1 &&
        g->pad <= 2 &&
        ac_cpu_conv_winograd_fits(3, 3, 1, g->oh, g->ow, 2 - g->pad, AC_PAD_ZERO)) {
        // w (cout, cin, 3, 3) read as the turned, transposed kernels (no turned copy)
        ac_fused_conv c = {.n = g->n, .cin = g->cout, .h = g->oh, .w = g->ow, .cout = g->cin,
                           .kh = 3, .kw = 3, .stride = 1, .pad = 2 - g->pad,
                           .mode = AC_PAD_ZERO, .x = dy, .x_batch = g->cout * ohw, .weight = w,
                           .weight_turned = true, .y = dx, .y_batch = x_batch,
                           .ep = {.scale = 1.0f, .residual = overwrite ? NULL : dx}};
        ac_cpu_wino_conv3x3(&c);
        return;
    }
    const int op = g->h - ((g->oh - 1) * g->stride - 2 * g->pad + g->kh);
    if (ac_cpu_conv_direct_on() && !(g->kh == 1 && g->kw == 1) && op >= 0 && op < g->stride &&
        g->w - ((g->ow - 1) * g->stride - 2 * g->pad + g->kw) == op) {
        ac_fused_conv c = {.n = g->n, .cin = g->cout, .h = g->oh, .w = g->ow, .cout = g->cin,
                           .kh = g->kh, .kw = g->kw, .stride = g->stride, .pad = g->pad,
                           .mode = AC_PAD_ZERO, .x = dy, .x_batch = g->cout * ohw, .weight = w,
                           .y = dx, .y_batch = x_batch,
                           .ep = {.scale = 1.0f, .residual = overwrite ? NULL : dx}};
        // (not F(4x4, 2x2) as in the forward: through the strided layers' data gradients its
        // rounding reached 8.6e-5 relative in test_golden_net's PReLU slope gradient, whose
        // tolerance is 1e-4 and which sits at 8.2e-5 on AMD AVX2 cores already)
        ac_cpu_direct_deconv(&c, op);
        return;
    }
    if (overwrite)
        for (int n = 0; n < g->n; n++) memset(dx + (size_t)n * x_batch, 0, (size_t)g->cin * hw * sizeof(float));
    ac_cpu_conv_gemm_fold(pg, g->n, g->cout, w, dy, g->cout * ohw, dx, x_batch);
}

// dy (n, cout, oh, ow); dx like x, dw like w, db (cout): accumulated, NULL ones skipped
void ac_cpu_conv2d_backward(const ac_conv_geom *g, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db) {
    ac_cpu_conv2d_backward_strided(g, x, (size_t)g->cin * g->h * g->w, w, dy, dx, false, dw, db);
}

void ac_cpu_conv2d_backward_strided(const ac_conv_geom *g, const float *x, size_t x_batch,
                                    const float *w, const float *dy, float *dx, bool dx_overwrite,
                                    float *dw, float *db) {
    const ac_patch_geom pg = conv_patches(g);
    const size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    AC_ASSERT(x_batch >= (size_t)g->cin * hw);
    if (db) ac_cpu_bias_grad(g->n, g->cout, ohw, dy, db);
    // dW (cout, K) += sum_n dy_n (cout, ohw) unfold(x_n)^T; 3x3 stride 1 by Winograd
    if (dw && ac_cpu_conv_winograd_backward_on() &&
        ac_cpu_conv_winograd_fits(g->kh, g->kw, g->stride, g->h, g->w, g->pad, AC_PAD_ZERO)) {
        ac_fused_conv c = {.n = g->n, .cin = g->cin, .h = g->h, .w = g->w, .cout = g->cout,
                           .kh = 3, .kw = 3, .stride = 1, .pad = g->pad, .mode = AC_PAD_ZERO,
                           .x = x, .x_batch = x_batch};
        ac_cpu_wino_weight_grad(&c, dy, g->cout * ohw, dw);
    } else if (dw) {
        ac_cpu_conv_weight_grad(&pg, g->n, g->cout, dy, g->cout * ohw, x, x_batch, dw);
    }
    if (dx) backward_data(g, &pg, w, dy, dx, x_batch, dx_overwrite);
}

void ac_cpu_conv2d_backward_data(const ac_conv_geom *g, const float *w, const float *dy, float *dx,
                                 bool overwrite) {
    const ac_patch_geom pg = conv_patches(g);
    backward_data(g, &pg, w, dy, dx, (size_t)g->cin * g->h * g->w, overwrite);
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
