// conv_transpose2d.c: 2-D transposed convolution (PyTorch ConvTranspose2d: weight
// (cin, cout, kh, kw), stride, padding, output padding, optional bias). It is the adjoint of a
// conv2d from the output grid to the input grid, so the kernels reuse im2col/col2im with the
// roles swapped (the forward goes to the direct kernel of backend/cpu/direct_conv.c unless
// it is turned off): forward = GEMM W^T x then col2im into y; backward data = W im2col(dy);
// backward weight = x im2col(dy)^T summed over the batch in order; bias = sum of dy.
// ac_conv_transpose2d_act adds the epilogue (activation, skip add and sub) in the kernel, and
// recorded is one node whose backend backward takes the epilogue's derivative first.
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

// The transposed convolution c by the strided Winograd or the direct kernel (where on); false,
// with nothing done, where neither takes it. The plain and the fused transposed convolution
// both come here, so they give the same bits.
static bool deconv_by_kernel(const ac_fused_conv *c, int out_pad) {
    if (ac_cpu_wino_strided_deconv_fits(c, out_pad))
        ac_cpu_wino_strided_deconv(c, out_pad);
    else if (ac_cpu_conv_direct_on())
        ac_cpu_direct_deconv(c, out_pad);
    else
        return false;
    return true;
}

// x (n, cin, h, w), w (cin, cout, kh, kw), b (cout) or NULL -> y (n, cout, oh, ow)
void ac_cpu_conv_transpose2d_forward(const ac_conv_geom *g, const float *x, const float *w,
                                     const float *b, float *y) {
    const ac_patch_geom pg = deconv_patches(g);
    const size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    const ac_fused_conv c = {.n = g->n, .cin = g->cin, .h = g->h, .w = g->w, .cout = g->cout,
                             .kh = g->kh, .kw = g->kw, .stride = g->stride, .pad = g->pad,
                             .mode = AC_PAD_ZERO, .x = x, .x_batch = g->cin * hw, .weight = w,
                             .y = y, .y_batch = g->cout * ohw, .ep = {.bias = b, .scale = 1.0f}};
    if (deconv_by_kernel(&c, g->out_pad)) return;
    ac_cpu_fill_bias(g->n, g->cout, ohw, b, y);
    // y_n += fold(W^T x_n): W (cin, K = cout kh kw), x_n (cin, hw)
    ac_cpu_conv_gemm_fold(&pg, g->n, g->cin, w, x, g->cin * hw, y, g->cout * ohw);
}

// c: x (n, cin, h, w) at x_batch, weight (cin, cout, kh, kw) -> y (n, cout, oh, ow) at y_batch,
// through the epilogue c->ep
void ac_cpu_conv_transpose2d_fused(const ac_fused_conv *c, int out_pad) {
    AC_ASSERT(c->mode == AC_PAD_ZERO);
    if (deconv_by_kernel(c, out_pad)) return;
    // the plain transposed convolution, then the epilogue in place
    const ac_conv_geom g = {.n = c->n, .cin = c->cin, .h = c->h, .w = c->w, .cout = c->cout,
                            .kh = c->kh, .kw = c->kw, .stride = c->stride, .pad = c->pad,
                            .out_pad = out_pad,
                            .oh = (c->h - 1) * c->stride - 2 * c->pad + c->kh + out_pad,
                            .ow = (c->w - 1) * c->stride - 2 * c->pad + c->kw + out_pad};
    const size_t ohw = (size_t)g.oh * g.ow;
    AC_ASSERT(c->x_batch == (size_t)c->cin * c->h * c->w && c->y_batch == (size_t)c->cout * ohw);
    ac_cpu_conv_transpose2d_forward(&g, c->x, c->weight, c->ep.bias, c->y);
    ac_conv_epilogue ep = c->ep;
    ep.bias = NULL;
    ac_cpu_conv_epilogue((size_t)c->n * c->cout * ohw, &ep, c->y, c->y);
}

// dy (n, cout, oh, ow); dx like x, dw like w, db (cout): accumulated, NULL ones skipped
void ac_cpu_conv_transpose2d_backward(const ac_conv_geom *g, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db) {
    ac_cpu_conv_transpose2d_backward_to(g, x, w, dy, dx, false, dw, db);
}

void ac_cpu_conv_transpose2d_backward_to(const ac_conv_geom *g, const float *x, const float *w,
                                         const float *dy, float *dx, bool dx_overwrite, float *dw,
                                         float *db) {
    const ac_patch_geom pg = deconv_patches(g);
    const size_t hw = (size_t)g->h * g->w, ohw = (size_t)g->oh * g->ow;
    if (db) ac_cpu_bias_grad(g->n, g->cout, ohw, dy, db);
    // dx_n (cin, hw) += W (cin, K) unfold(dy_n) (K, hw): the convolution of dy with the
    // weight read as (out = cin, in = cout, kh, kw), by the direct kernel when it is on
    if (dx && ac_cpu_conv_direct_on()) {
        ac_fused_conv c = {.n = g->n, .cin = g->cout, .h = g->oh, .w = g->ow, .cout = g->cin,
                           .kh = g->kh, .kw = g->kw, .stride = g->stride, .pad = g->pad,
                           .mode = AC_PAD_ZERO, .x = dy, .x_batch = g->cout * ohw, .weight = w,
                           .y = dx, .y_batch = g->cin * hw,
                           .ep = {.scale = 1.0f, .residual = dx_overwrite ? NULL : dx}};
        ac_cpu_direct_conv(&c);  // (direct, as the convolution's data gradient: conv2d.c)
    } else if (dx) {
        ac_cpu_conv_unfold_gemm(&pg, g->n, g->cin, w, dy, g->cout * ohw, dx_overwrite ? 0.0f : 1.0f,
                                dx, g->cin * hw);
    }
    // dW (cin, K) += sum_n x_n (cin, hw) unfold(dy_n)^T
    if (dw) ac_cpu_conv_weight_grad(&pg, g->n, g->cin, x, g->cin * hw, dy, g->cout * ohw, dw);
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

// The geometry of an op's call, its bias checked too.
static ac_conv_geom op_geom(const ac_tensor *x, const ac_tensor *w, const ac_tensor *b,
                            int stride, int pad, int out_pad) {
    ac_conv_geom geom = deconv_geom(x, w, stride, pad, out_pad);
    AC_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == geom.cout),
                  "conv_transpose2d: bias must have one value per output channel");
    return geom;
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
    ac_conv_geom geom = op_geom(x, w, b, stride, pad, out_pad);
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

// node->in = {x, w, b, slope, add, sub} (NULL where absent), iarg = {stride, pad, out_pad,
// act}, extra = the stored sum (the activation's input) or NULL.
static void fused_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *w = node->in[1], *y = node->out;
    const float *dy = y->grad;
    const ac_act act = (ac_act)node->iarg[3];
    ac_fused_grads d;  // add receives dy, sub -dy
    if (!ac_fused_node_grads(g, node, 2, dy, ac_numel(y), act, true, &d)) return;
    const ac_tensor *pre = node->extra;
    ac_fused_conv c = {.n = x->shape[0], .cin = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                       .cout = w->shape[1], .kh = w->shape[2], .kw = w->shape[3],
                       .stride = node->iarg[0], .pad = node->iarg[1], .mode = AC_PAD_ZERO,
                       .x = x->data, .x_batch = ac_numel(x) / (size_t)x->shape[0],
                       .weight = w->data, .y_batch = ac_numel(y) / (size_t)y->shape[0],
                       .ep = {.act = act, .slope = act == AC_ACT_PRELU ? node->in[3]->data[0] : 0.0f,
                              .scale = 1.0f},
                       .dx_overwrite = d.dx_overwrite};
    ac_be()->conv_transpose2d_fused_backward(&c, node->iarg[2], pre ? pre->data : y->data, dy,
                                             d.dx, d.dw, d.db, d.dslope);
}

ac_tensor *ac_conv_transpose2d_act(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b,
                                   int stride, int pad, int out_pad, ac_act act,
                                   ac_tensor *slope, ac_tensor *add, ac_tensor *sub) {
    AC_ASSERT_MSG(act != AC_ACT_PRELU || (slope && ac_numel(slope) == 1),
                  "conv_transpose2d: PReLU needs a one-element slope");
    ac_conv_geom geom = op_geom(x, w, b, stride, pad, out_pad);
    ac_tensor *y = ac_graph_tensor4(g, geom.n, geom.cout, geom.oh, geom.ow);
    AC_ASSERT_MSG((!add || ac_same_shape(add, y)) && (!sub || ac_same_shape(sub, y)),
                  "conv_transpose2d: add/sub shape differs from the output");
    ac_fused_conv c = {.n = geom.n, .cin = geom.cin, .h = geom.h, .w = geom.w, .cout = geom.cout,
                       .kh = geom.kh, .kw = geom.kw, .stride = stride, .pad = pad,
                       .mode = AC_PAD_ZERO, .x = x->data,
                       .x_batch = (size_t)geom.cin * geom.h * geom.w, .weight = w->data,
                       .y = y->data, .y_batch = (size_t)geom.cout * geom.oh * geom.ow,
                       .ep = {.bias = b ? b->data : NULL, .act = act,
                              .slope = act == AC_ACT_PRELU ? slope->data[0] : 0.0f,
                              .scale = 1.0f, .add = add ? add->data : NULL,
                              .sub = sub ? sub->data : NULL}};
    ac_tensor *ts[6] = {x, w, b, slope, add, sub};
    if (ac_fused_ok(g, ts, 6)) {
        ac_be()->conv_transpose2d_fused(&c, out_pad);
        return y;
    }
    // Recorded: one node. Its backward needs the activation's input where the output does not
    // tell it: the sum + bias is stored, then the epilogue runs as a pass of its own.
    ac_tensor *pre = NULL;
    if (act == AC_ACT_PRELU || (act == AC_ACT_RELU && (add || sub))) {
        pre = ac_graph_tensor_like(g, y);
        ac_fused_conv cs = c;
        cs.y = pre->data;
        cs.ep = (ac_conv_epilogue){.bias = c.ep.bias, .scale = 1.0f};
        ac_be()->conv_transpose2d_fused(&cs, out_pad);
        ac_conv_epilogue ep = c.ep;
        ep.bias = NULL;
        ac_be()->conv_epilogue(ac_numel(y), &ep, pre->data, y->data);
    } else {
        ac_be()->conv_transpose2d_fused(&c, out_pad);
    }
    ac_node *node = ac_graph_record(g, y, fused_backward, 6, ts);
    AC_ASSERT(node);
    node->iarg[0] = stride;
    node->iarg[1] = pad;
    node->iarg[2] = out_pad;
    node->iarg[3] = (int)act;
    node->extra = pre;
    return y;
}
