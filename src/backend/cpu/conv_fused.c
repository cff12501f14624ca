// conv_fused.c: the CPU fused convolution (backend.h, ac_fused_conv): padding, bias,
// activation, scale, residual and skip add/sub around the sum over the kernel, without
// separate passes over memory where the kernel allows. 3x3 stride-1 convolutions go to the
// Winograd kernel (winograd.h), which does everything on the fly, the others to the direct kernels
// (direct_conv.c). With those turned off (benchmarks): the im2col + GEMM drivers (im2col.h)
// on a reflection-padded copy when reflection padding is asked for, with the bias and a plain
// residual folded into the GEMM's accumulator and any other epilogue applied in one pass.
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/epilogue.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/winograd.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

static bool winograd_on = true, direct_on = true, winograd_backward_on = true;

void ac_cpu_conv_set_winograd(bool on) { winograd_on = on; }
bool ac_cpu_conv_winograd_on(void) { return winograd_on; }
void ac_cpu_conv_set_winograd_backward(bool on) { winograd_backward_on = on; }
bool ac_cpu_conv_winograd_backward_on(void) { return winograd_on && winograd_backward_on; }
void ac_cpu_conv_set_direct(bool on) { direct_on = on; }
bool ac_cpu_conv_direct_on(void) { return direct_on; }

bool ac_cpu_conv_winograd_fits(int kh, int kw, int stride, int h, int w, int pad,
                               ac_pad_mode mode) {
    return winograd_on && kh == 3 && kw == 3 && stride == 1 &&
           ac_cpu_wino_supported(h, w, pad, mode);
}

// The Winograd and direct kernels apply add and sub in their epilogues; the im2col + GEMM
// fallback does not.
bool ac_cpu_conv2d_fused_takes_add_sub(const ac_fused_conv *c) {
    return direct_on || ac_cpu_wino_strided_conv_fits(c) ||
           ac_cpu_conv_winograd_fits(c->kh, c->kw, c->stride, c->h, c->w, c->pad, c->mode);
}

bool ac_cpu_conv_by_kernel(const ac_fused_conv *c) {
    if (ac_cpu_conv_winograd_fits(c->kh, c->kw, c->stride, c->h, c->w, c->pad, c->mode))
        ac_cpu_wino_conv3x3(c);
    else if (ac_cpu_wino_strided_conv_fits(c))
        ac_cpu_wino_strided_conv(c);
    else if (direct_on)
        ac_cpu_direct_conv(c);
    else
        return false;
    return true;
}

// dst[0 .. n) = residual + scale * act(src + bias), src may equal dst.
static void epilogue_row(const ac_conv_epilogue *ep, float bias, const float *src, float *dst,
                         const float *res, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = ac_ep_activate(ep, src[i] + bias);
        if (res) v += res[i];
        dst[i] = v;
    }
}

void ac_cpu_conv2d_fused(const ac_fused_conv *c) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0 && c->stride >= 1 && c->pad >= 0);
    AC_ASSERT(c->mode == AC_PAD_ZERO || (c->pad < c->h && c->pad < c->w));
    if (ac_cpu_conv_by_kernel(c)) return;
    AC_ASSERT_MSG(!c->ep.add && !c->ep.sub,
                  "conv2d_fused: add/sub need the Winograd or the direct kernel");
    const ac_conv_epilogue *ep = &c->ep;
    const int oh = (c->h + 2 * c->pad - c->kh) / c->stride + 1;
    const int ow = (c->w + 2 * c->pad - c->kw) / c->stride + 1;
    AC_ASSERT(oh > 0 && ow > 0);
    const size_t ohw = (size_t)oh * ow;
    // The input: a reflection-padded copy, or x itself with zero padding in the unfolding.
    const float *x = c->x;
    size_t x_batch = c->x_batch;
    int h = c->h, w = c->w, pad = c->pad;
    float *padded = NULL;
    if (c->mode == AC_PAD_REFLECT && pad > 0) {
        h += 2 * pad;
        w += 2 * pad;
        x_batch = (size_t)c->cin * h * w;
        padded = ac_cpu_ws_alloc(x_batch * c->n * sizeof(float));
        for (int n = 0; n < c->n; n++)
            ac_cpu_reflection_pad_forward((size_t)c->cin, c->h, c->w, pad, pad, pad, pad,
                                          c->x + (size_t)n * c->x_batch, padded + (size_t)n * x_batch);
        x = padded;
        pad = 0;
    }
    const ac_patch_geom pg = {.c = c->cin, .h = h, .w = w, .kh = c->kh, .kw = c->kw,
                              .stride = c->stride, .pad = pad, .oh = oh, .ow = ow};
    const bool plain = ep->act == AC_ACT_NONE && ep->scale == 1.0f;
    if (plain) {
        // y = residual + bias, then y += W unfold(x) in the GEMM.
        const int T = ac_cpu_conv_threads();
        const long long rows = (long long)c->n * c->cout;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1 && rows * ohw > 65536)
        for (long long r = 0; r < rows; r++) {
            const size_t off = (size_t)(r / c->cout) * c->y_batch + (size_t)(r % c->cout) * ohw;
            const float b = ep->bias ? ep->bias[r % c->cout] : 0.0f;
            float *y = c->y + off;
            if (ep->residual) {
                const float *res = ep->residual + off;
                for (size_t i = 0; i < ohw; i++) y[i] = res[i] + b;
            } else {
                for (size_t i = 0; i < ohw; i++) y[i] = b;
            }
        }
        ac_cpu_conv_unfold_gemm(&pg, c->n, c->cout, c->weight, x, x_batch, 1.0f, c->y, c->y_batch);
    } else {
        // The sum into a scratch tensor, then the epilogue into y.
        float *t = ac_cpu_ws_alloc((size_t)c->n * c->cout * ohw * sizeof(float));
        ac_cpu_conv_unfold_gemm(&pg, c->n, c->cout, c->weight, x, x_batch, 0.0f, t,
                                (size_t)c->cout * ohw);
        const long long rows = (long long)c->n * c->cout;
        const int T = ac_cpu_conv_threads();
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1 && rows * ohw > 65536)
        for (long long r = 0; r < rows; r++) {
            const size_t off = (size_t)(r / c->cout) * c->y_batch + (size_t)(r % c->cout) * ohw;
            epilogue_row(ep, ep->bias ? ep->bias[r % c->cout] : 0.0f, t + (size_t)r * ohw,
                         c->y + off, ep->residual ? ep->residual + off : NULL, ohw);
        }
        ac_cpu_ws_free(t);
    }
    ac_cpu_ws_free(padded);
}
