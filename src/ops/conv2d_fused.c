// conv2d_fused.c: the fused convolution (ops.h, ac_conv2d_fused): padding, bias, activation,
// scale, residual and the skip add/sub in one backend call (backend.h, ac_fused_conv). On a
// recording graph it is one node whose backward (backend conv2d_fused_backward) takes the
// epilogue's derivative and the convolution's without padded copies; a PReLU (or a ReLU
// followed by more of the epilogue) keeps its input, the sum, as a second activation, and the
// epilogue then runs as a pass of its own. Recorded, it may also read a channel prefix of x and
// write a channel slice of another tensor (an RDB's dense layers; see ac_copy_into).
#include "ops/ops.h"

bool ac_fused_ok(const ac_graph *g, ac_tensor *const *ts, int n) {
    if (!ac_graph_recording(g)) return true;
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->requires_grad) return false;
    return true;
}

bool ac_fused_node_grads(ac_graph *g, ac_node *node, int n_skips, const float *dy, size_t n,
                         ac_act act, bool whole_x, ac_fused_grads *out) {
    AC_ASSERT(node->n_in == 4 + n_skips);
    for (int i = 4; i < node->n_in; i++)
        ac_grad_add_scaled(g, node->in[i], i == node->n_in - 1 ? -1.0f : 1.0f, dy, n);
    *out = (ac_fused_grads){.dw = ac_graph_grad(g, node->in[1]),
                            .db = ac_graph_grad(g, node->in[2]),
                            .dslope = act == AC_ACT_PRELU ? ac_graph_grad(g, node->in[3]) : NULL};
    out->dx = whole_x ? ac_graph_grad_to_write(g, node->in[0], &out->dx_overwrite)
                      : ac_graph_grad(g, node->in[0]);
    return out->dx || out->dw || out->db || out->dslope;
}

// node->in = {x, w, b, slope, residual, add, sub} (NULL where absent), iarg = {stride, pad,
// mode, act, c0}, farg = {scale}, extra = the stored sum (the activation's input) or NULL.
// The output is channels [c0, c0 + cout) of node->out; the input the first cin channels of x.
static void fused_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *w = node->in[1], *y = node->out;
    const size_t ohw = (size_t)y->shape[2] * y->shape[3], c0 = (size_t)node->iarg[4];
    const float *dy = y->grad + c0 * ohw;
    const ac_act act = (ac_act)node->iarg[3];
    ac_fused_grads d;  // residual and add receive dy, sub -dy
    if (!ac_fused_node_grads(g, node, 3, dy, ac_numel(y), act, w->shape[1] == x->shape[1], &d))
        return;
    const ac_tensor *pre = node->extra;
    ac_fused_conv c = {.n = x->shape[0], .cin = w->shape[1], .h = x->shape[2], .w = x->shape[3],
                       .cout = w->shape[0], .kh = w->shape[2], .kw = w->shape[3],
                       .stride = node->iarg[0], .pad = node->iarg[1],
                       .mode = (ac_pad_mode)node->iarg[2], .x = x->data,
                       .x_batch = ac_numel(x) / (size_t)x->shape[0], .weight = w->data,
                       .y_batch = ac_numel(y) / (size_t)y->shape[0],
                       .ep = {.act = act, .slope = act == AC_ACT_PRELU ? node->in[3]->data[0] : 0.0f,
                              .scale = node->farg[0]},
                       .dx_overwrite = d.dx_overwrite};
    ac_be()->conv2d_fused_backward(&c, pre ? pre->data : y->data + c0 * ohw, dy, d.dx, d.dw,
                                   d.db, d.dslope);
}

// The call c with the skip add and sub of o: in the epilogue where the backend's kernel takes
// them, else in passes of their own over y.
static void run_with_skips(ac_fused_conv *c, const ac_conv_opts *o, ac_tensor *y) {
    const bool in_kernel = ac_be()->conv2d_fused_takes_add_sub && ac_be()->conv2d_fused_takes_add_sub(c);
    if (in_kernel) {
        c->ep.add = o->add ? o->add->data : NULL;
        c->ep.sub = o->sub ? o->sub->data : NULL;
    }
    ac_be()->conv2d_fused(c);
    if (!in_kernel && o->add) ac_be()->add(ac_numel(y), y->data, o->add->data, y->data);
    if (!in_kernel && o->sub) ac_be()->sub(ac_numel(y), y->data, o->sub->data, y->data);
}

// The recording forward of ac_conv2d_fused: c is the call the inference path would make.
static ac_tensor *record(ac_graph *g, ac_fused_conv *c, ac_tensor *const *in,
                         const ac_conv_opts *o, ac_tensor *y, int c0, bool into) {
    ac_tensor *pre = NULL;
    const bool more = c->ep.scale != 1.0f || o->residual || o->add || o->sub;
    if (c->ep.act == AC_ACT_PRELU || (c->ep.act == AC_ACT_RELU && more)) {
        // The backward needs the activation's input: the sum + bias, then the epilogue.
        pre = ac_graph_tensor_like(g, y);
        ac_conv_epilogue ep = c->ep;
        ac_fused_conv cs = *c;
        cs.y = pre->data;
        cs.ep = (ac_conv_epilogue){.bias = c->ep.bias, .scale = 1.0f};
        ac_be()->conv2d_fused(&cs);
        ep.add = o->add ? o->add->data : NULL;
        ep.sub = o->sub ? o->sub->data : NULL;
        ac_be()->conv_epilogue(ac_numel(y), &ep, pre->data, y->data);
    } else {
        run_with_skips(c, o, y);
    }
    ac_node *node = ac_graph_record(g, y, fused_backward, 7, in);
    AC_ASSERT(node);
    node->iarg[0] = c->stride;
    node->iarg[1] = c->pad;
    node->iarg[2] = (int)c->mode;
    node->iarg[3] = (int)c->ep.act;
    node->iarg[4] = c0;
    node->farg[0] = c->ep.scale;
    node->extra = pre;
    node->writes_slice = into;
    return y;
}

ac_tensor *ac_conv2d_fused(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b,
                           const ac_conv_opts *o, ac_tensor *into, int c0) {
    AC_ASSERT_MSG(x->ndim == 4 && w->ndim == 4, "conv2d_fused: x and weight must be 4-D");
    AC_ASSERT_MSG(w->shape[1] <= x->shape[1], "conv2d_fused: weight has more in-channels than x");
    AC_ASSERT_MSG(o->stride >= 1 && o->pad >= 0, "conv2d_fused: bad stride or padding");
    const int n = x->shape[0], cin = w->shape[1], h = x->shape[2], wd = x->shape[3];
    const int cout = w->shape[0], kh = w->shape[2], kw = w->shape[3];
    AC_ASSERT_MSG(o->mode == AC_PAD_ZERO || (o->pad < h && o->pad < wd),
                  "conv2d_fused: reflection padding must be smaller than the input");
    AC_ASSERT_MSG(h + 2 * o->pad >= kh && wd + 2 * o->pad >= kw,
                  "conv2d_fused: kernel larger than the padded input");
    const int oh = (h + 2 * o->pad - kh) / o->stride + 1, ow = (wd + 2 * o->pad - kw) / o->stride + 1;
    AC_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == cout),
                  "conv2d_fused: bias must have one value per output channel");
    AC_ASSERT_MSG(o->act != AC_ACT_PRELU || (o->slope && ac_numel(o->slope) == 1),
                  "conv2d_fused: PReLU needs a one-element slope");
    ac_tensor *in[7] = {x, w, b, (ac_tensor *)o->slope, (ac_tensor *)o->residual,
                        (ac_tensor *)o->add, (ac_tensor *)o->sub};
    const bool rec = !ac_fused_ok(g, in, 7);
    AC_ASSERT_MSG(!rec || ((w->shape[1] == x->shape[1] && !into) ||
                           (o->mode == AC_PAD_ZERO && o->act != AC_ACT_PRELU &&
                            (o->scale == 0.0f || o->scale == 1.0f))),
                  "conv2d_fused: a recorded convolution that reads a channel prefix or writes a "
                  "slice needs zero padding, no PReLU and no scale");
    ac_tensor *y = into;
    if (into) {
        AC_ASSERT_MSG(into->ndim == 4 && into->shape[0] == n && into->shape[2] == oh &&
                          into->shape[3] == ow && c0 >= 0 && c0 + cout <= into->shape[1],
                      "conv2d_fused: the output slice does not fit");
        AC_ASSERT_MSG(!o->residual && !o->add && !o->sub,
                      "conv2d_fused: no residual when writing into a slice");
    } else {
        y = ac_graph_tensor4(g, n, cout, oh, ow);
        c0 = 0;
    }
    const ac_tensor *extra[3] = {o->residual, o->add, o->sub};
    for (int i = 0; i < 3; i++)
        AC_ASSERT_MSG(!extra[i] || ac_same_shape(extra[i], y),
                      "conv2d_fused: residual shape differs from the output");
    const size_t ohw = (size_t)oh * ow;
    ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = wd, .cout = cout, .kh = kh, .kw = kw,
                       .stride = o->stride, .pad = o->pad, .mode = o->mode, .x = x->data,
                       .x_batch = (size_t)x->shape[1] * h * wd, .weight = w->data,
                       .y = y->data + (size_t)c0 * ohw, .y_batch = (size_t)y->shape[1] * ohw,
                       .ep = {.bias = b ? b->data : NULL, .act = o->act,
                              .slope = o->act == AC_ACT_PRELU ? o->slope->data[0] : 0.0f,
                              .scale = o->scale == 0.0f ? 1.0f : o->scale,
                              .residual = o->residual ? o->residual->data : NULL}};
    if (rec) return record(g, &c, in, o, y, c0, into != NULL);
    run_with_skips(&c, o, y);
    return y;
}
