// conv_fused_grad.c: the CPU backward of a recorded fused convolution and transposed
// convolution (backend.h, conv2d_fused_backward, conv_transpose2d_fused_backward) and the
// elementwise epilogue on a stored sum (conv_epilogue).
//
// The backward first takes the epilogue's derivative (dz = scale dy times the activation's
// slope at its input, and the PReLU slope's gradient, in the fixed chunks of prelu.c), then
// the convolution's: zero padding as ac_cpu_conv2d_backward; reflection padding without a
// padded activation: the weight gradient by Winograd reading the borders reflected (3x3 stride
// 1) or from a padded copy in a workspace, the data gradient of the padded input into a
// workspace folded back onto x. Every value is what the op-by-op path (reflection_pad,
// conv2d, prelu, scale, add) computes, in the same order.
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/epilogue.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/winograd.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/workspace.h"
#include "core/chunked_sum.h"
#include "core/common.h"

// pre, y: (n)
void ac_cpu_conv_epilogue(size_t n, const ac_conv_epilogue *ep, const float *pre, float *y) {
    const float *res = ep->residual, *add = ep->add, *sub = ep->sub;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float v = ac_ep_activate(ep, pre[i]);
        if (res) v = res[i] + v;
        if (add) v = v + add[i];
        if (sub) v = v - sub[i];
        y[i] = v;
    }
}

// dz = act'(act_in) (scale dy), and dslope += sum over act_in <= 0 of act_in (scale dy).
static void epilogue_grad(size_t n, const ac_conv_epilogue *ep, const float *act_in,
                          const float *dy, float *dz, float *dslope) {
    const float s = ep->scale, a = ep->slope;
    const ac_act act = ep->act;
    if (act == AC_ACT_PRELU && dslope) {
        // One pass over memory: each fixed chunk of the slope's sum (as ac_cpu_prelu_backward
        // sums it, in prelu.c) is scaled, summed and turned into dz while it is in cache.
        double part[AC_SUM_MAX_CHUNKS];
        const size_t nch = ac_sum_chunks(n, n);
#pragma omp parallel for schedule(static) if (nch > 1)
        for (size_t c = 0; c < nch; c++) {
            const size_t lo = ac_chunk_lo(n, nch, c), hi = ac_chunk_hi(n, nch, c);
            const float *u = dy;
            if (s != 1.0f) {
                for (size_t i = lo; i < hi; i++) dz[i] = s * dy[i];
                u = dz;
            }
            part[c] = ac_dot_nonpos_f64(act_in + lo, u + lo, hi - lo);
            for (size_t i = lo; i < hi; i++) dz[i] = act_in[i] > 0.0f ? u[i] : a * u[i];
        }
        double t = 0;
        for (size_t c = 0; c < nch; c++) t += part[c];
        *dslope += (float)t;
        return;
    }
    const float *u = dy;
    if (s != 1.0f) {
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) dz[i] = s * dy[i];
        u = dz;
    }
    if (act == AC_ACT_NONE) {
        if (u != dz) memcpy(dz, u, n * sizeof(float));
        return;
    }
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        const float v = u[i];
        if (act == AC_ACT_RELU) dz[i] = act_in[i] > 0.0f ? v : 0.0f;
        else dz[i] = act_in[i] > 0.0f ? v : a * v;
    }
}

// The gradient of the sum, dz, for the gradient dy of the output: dy itself where the
// epilogue has no derivative to take and dy is packed, else the epilogue's derivative in a
// workspace (returned in *tmp, for the caller to free; NULL otherwise). dy and act_in hold
// `images` images of `per` floats, yb floats apart.
static const float *sum_grad(const ac_conv_epilogue *ep, int images, size_t per, size_t yb,
                             const float *act_in, const float *dy, float *dslope, float **tmp) {
    *tmp = NULL;
    if (ep->act == AC_ACT_NONE && ep->scale == 1.0f && yb == per) return dy;
    AC_ASSERT(ep->act == AC_ACT_NONE || act_in);
    const size_t n = (size_t)images * per;
    float *dz = ac_cpu_ws_alloc(n * sizeof(float));
    if (yb == per) {
        epilogue_grad(n, ep, act_in, dy, dz, ep->act == AC_ACT_PRELU ? dslope : NULL);
    } else {  // image by image into a packed dz (the PReLU's slope sum needs one partition)
        AC_ASSERT(ep->act != AC_ACT_PRELU);
        for (int i = 0; i < images; i++)
            epilogue_grad(per, ep, act_in ? act_in + (size_t)i * yb : NULL, dy + (size_t)i * yb,
                          dz + (size_t)i * per, NULL);
    }
    *tmp = dz;
    return dz;
}

void ac_cpu_conv2d_fused_backward(const ac_fused_conv *c, const float *act_in, const float *dy,
                                  float *dx, float *dw, float *db, float *dslope) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0 && c->stride >= 1 && c->pad >= 0);
    AC_ASSERT(c->x_batch >= (size_t)c->cin * c->h * c->w);
    AC_ASSERT(!c->dx_overwrite || c->x_batch == (size_t)c->cin * c->h * c->w);
    const int oh = (c->h + 2 * c->pad - c->kh) / c->stride + 1;
    const int ow = (c->w + 2 * c->pad - c->kw) / c->stride + 1;
    const size_t ohw = (size_t)oh * ow, per = (size_t)c->cout * ohw;
    const size_t yb = c->y_batch ? c->y_batch : per;  // dy and act_in: images yb floats apart
    AC_ASSERT(yb >= per);
    float *tmp;
    const float *dz = sum_grad(&c->ep, c->n, per, yb, act_in, dy, dslope, &tmp);
    if (c->mode == AC_PAD_ZERO || c->pad == 0) {
        const ac_conv_geom g = {.n = c->n, .cin = c->cin, .h = c->h, .w = c->w, .cout = c->cout,
                                .oh = oh, .ow = ow, .kh = c->kh, .kw = c->kw,
                                .stride = c->stride, .pad = c->pad};
        if (dx || dw || db)
            ac_cpu_conv2d_backward_strided(&g, c->x, c->x_batch, c->weight, dz, dx,
                                           c->dx_overwrite, dw, db);
        ac_cpu_ws_free(tmp);
        return;
    }
    AC_ASSERT(c->x_batch == (size_t)c->cin * c->h * c->w);
    // Reflection padding: the convolution of the padded input xp (hp x wp) with no padding.
    const int p = c->pad, hp = c->h + 2 * p, wp = c->w + 2 * p;
    const size_t nc = (size_t)c->n * c->cin, plane_p = (size_t)hp * wp;
    const ac_conv_geom gp = {.n = c->n, .cin = c->cin, .h = hp, .w = wp, .cout = c->cout,
                             .oh = oh, .ow = ow, .kh = c->kh, .kw = c->kw,
                             .stride = c->stride, .pad = 0};
    if (db) ac_cpu_bias_grad(c->n, c->cout, ohw, dz, db);
    if (dw) {
        if (c->kh == 3 && c->kw == 3 && c->stride == 1 && ac_cpu_conv_winograd_backward_on() &&
            ac_cpu_conv_winograd_fits(3, 3, 1, c->h, c->w, p, AC_PAD_REFLECT)) {
            ac_cpu_wino_weight_grad(c, dz, (size_t)c->cout * ohw, dw);
        } else {
            float *xp = ac_cpu_ws_alloc(nc * plane_p * sizeof(float));
            ac_cpu_reflection_pad_forward(nc, c->h, c->w, p, p, p, p, c->x, xp);
            ac_cpu_conv2d_backward(&gp, xp, c->weight, dz, NULL, dw, NULL);
            ac_cpu_ws_free(xp);
        }
    }
    if (dx) {
        float *dxp = ac_cpu_ws_alloc(nc * plane_p * sizeof(float));
        ac_cpu_conv2d_backward_data(&gp, c->weight, dz, dxp, true);
        ac_cpu_reflection_pad_backward_to(nc, c->h, c->w, p, p, p, p, dxp, dx, c->dx_overwrite);
        ac_cpu_ws_free(dxp);
    }
    ac_cpu_ws_free(tmp);
}

void ac_cpu_conv_transpose2d_fused_backward(const ac_fused_conv *c, int out_pad,
                                            const float *act_in, const float *dy, float *dx,
                                            float *dw, float *db, float *dslope) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0 && c->mode == AC_PAD_ZERO);
    const ac_conv_geom g = {.n = c->n, .cin = c->cin, .h = c->h, .w = c->w, .cout = c->cout,
                            .kh = c->kh, .kw = c->kw, .stride = c->stride, .pad = c->pad,
                            .out_pad = out_pad,
                            .oh = (c->h - 1) * c->stride - 2 * c->pad + c->kh + out_pad,
                            .ow = (c->w - 1) * c->stride - 2 * c->pad + c->kw + out_pad};
    AC_ASSERT(c->x_batch == (size_t)c->cin * c->h * c->w);
    const size_t per = (size_t)c->cout * g.oh * g.ow;
    float *tmp;
    const float *dz = sum_grad(&c->ep, c->n, per, per, act_in, dy, dslope, &tmp);
    if (dx || dw || db)
        ac_cpu_conv_transpose2d_backward_to(&g, c->x, c->weight, dz, dx, c->dx_overwrite, dw, db);
    ac_cpu_ws_free(tmp);
}
