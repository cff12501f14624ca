// conv_ref.h: naive double-precision references for the convolution kernel tests: padded
// index mapping, the fused epilogue and the whole fused convolution (backend.h's
// ac_fused_conv: any kernel size and stride, zero or reflection padding, channel slices) and
// the transposed convolution with its epilogue.
#ifndef AC_TEST_CONV_REF_H
#define AC_TEST_CONV_REF_H

#include <stddef.h>
#include <stdlib.h>

#include "backend/backend.h"

// Index v of a side of length n after padding by pad (mode), or -1 where it reads a zero.
static inline int t_pad_index(int v, int n, int pad, ac_pad_mode mode) {
    if (v >= 0 && v < n) return v;
    if (mode == AC_PAD_ZERO || v < -pad || v >= n + pad) return -1;
    return v < 0 ? -v : 2 * (n - 1) - v;
}

// The epilogue of output channel co applied to the sum s, then res added.
static inline double t_epilogue_ref(const ac_conv_epilogue *ep, double s, int co, double res) {
    if (ep->bias) s += ep->bias[co];
    if (ep->act == AC_ACT_RELU && !(s > 0)) s = 0;
    if (ep->act == AC_ACT_PRELU && !(s > 0)) s *= ep->slope;
    return s * ep->scale + res;
}

// Reference of the fused convolution c into want (y's layout and strides), summed in double;
// y_before: y before the call (the residual when it accumulates into y).
static inline void t_conv_ref(const ac_fused_conv *c, const float *y_before, float *want) {
    const int oh = (c->h + 2 * c->pad - c->kh) / c->stride + 1;
    const int ow = (c->w + 2 * c->pad - c->kw) / c->stride + 1;
    for (int n = 0; n < c->n; n++)
        for (int co = 0; co < c->cout; co++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = 0;
                    for (int ci = 0; ci < c->cin; ci++)
                        for (int ky = 0; ky < c->kh; ky++)
                            for (int kx = 0; kx < c->kw; kx++) {
                                int iy = t_pad_index(oy * c->stride + ky - c->pad, c->h, c->pad, c->mode);
                                int ix = t_pad_index(ox * c->stride + kx - c->pad, c->w, c->pad, c->mode);
                                if (iy < 0 || ix < 0) continue;
                                s += (double)c->x[n * c->x_batch + ((size_t)ci * c->h + iy) * c->w + ix] *
                                     c->weight[((co * c->cin + ci) * c->kh + ky) * c->kw + kx];
                            }
                    size_t yi = n * c->y_batch + ((size_t)co * oh + oy) * ow + ox;
                    double res = c->ep.residual == c->y ? y_before[yi]
                                 : c->ep.residual ? c->ep.residual[yi] : 0.0;
                    want[yi] = (float)t_epilogue_ref(&c->ep, s, co, res);
                }
}

// Reference of the transposed convolution c (weight (cin, cout, kh, kw)), output padding op.
static inline void t_deconv_ref(const ac_fused_conv *c, int op, const float *y_before, float *want) {
    const int oh = (c->h - 1) * c->stride - 2 * c->pad + c->kh + op;
    const int ow = (c->w - 1) * c->stride - 2 * c->pad + c->kw + op;
    const size_t oplane = (size_t)oh * ow;
    double *acc = calloc((size_t)c->n * c->cout * oplane, sizeof *acc);
    if (!acc) abort();  // a test's reference: nothing to report but the crash
    for (int n = 0; n < c->n; n++)
        for (int ci = 0; ci < c->cin; ci++)
            for (int iy = 0; iy < c->h; iy++)
                for (int ix = 0; ix < c->w; ix++)
                    for (int co = 0; co < c->cout; co++)
                        for (int ky = 0; ky < c->kh; ky++)
                            for (int kx = 0; kx < c->kw; kx++) {
                                int oy = iy * c->stride - c->pad + ky, ox = ix * c->stride - c->pad + kx;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                acc[((size_t)n * c->cout + co) * oplane + (size_t)oy * ow + ox] +=
                                    (double)c->x[n * c->x_batch + ((size_t)ci * c->h + iy) * c->w + ix] *
                                    c->weight[((ci * c->cout + co) * c->kh + ky) * c->kw + kx];
                            }
    for (int n = 0; n < c->n; n++)
        for (int co = 0; co < c->cout; co++)
            for (size_t i = 0; i < oplane; i++) {
                size_t yi = n * c->y_batch + co * oplane + i;
                double res = c->ep.residual == c->y ? y_before[yi]
                             : c->ep.residual ? c->ep.residual[yi] : 0.0;
                want[yi] = (float)t_epilogue_ref(&c->ep, acc[((size_t)n * c->cout + co) * oplane + i], co, res);
            }
    free(acc);
}

#endif
