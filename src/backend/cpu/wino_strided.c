// wino_strided.c: the 4x4 stride-2 convolutions and transposed convolutions (the fusion
// blocks' ConvBlock and DeconvBlock) as 2x2 stride-1 convolutions, which F(4x4, 2x2) Winograd
// (winograd.c) runs with 25 products per 4x4 tile where the direct kernels take 64.
//
//   - Convolution: the padded input's four phases P[ci][py][px][Y][X] = xpad[2 Y + py][2 X + px]
//     are 4 cin channels of planes hs x ws (read in place by the input transform where the
//     padding is zeros, else a copy by ac_cpu_phase_split), and output (oy, ox) is
//     sum over (ci, py, px, u, v) of w[co][ci][2 u + py][2 v + px] P[ci][py][px][oy + u][ox + v]:
//     a 2x2 convolution without padding, weights w2[co][4 ci + 2 py + px][u][v].
//   - Transposed convolution, kernel 3 or 4, pad p (0 or 1): y[oy] gathers x[iy] w[ky] for
//     oy = 2 iy - p + ky. Over the input zero-padded by 1, window R covers x rows R - 1 and R,
//     so output row 2 R + a - p (phase a) takes the taps ky = 2 + a - 2 u (u = 0, 1; zero past
//     the kernel), and the same along the columns. The four phases are the 4 cout output
//     channels 4 co + 2 a + b of one 2x2 convolution with padding 1 ((h + 1) x (w + 1)
//     windows), whose output transform interleaves them into y with the epilogue
//     (ac_cpu_wino_conv2x2_interleave). The UpsampleConvLayers' 3x3 kernels thus take 16
//     taps a window where 9 are used: 6.25 products per input pixel and channel pair where
//     the direct kernel takes 9.
// Both give each output element one fixed sum, whoever computes it: results do not depend on
// the threads (winograd.c).
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/winograd.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

bool ac_cpu_wino_strided_conv_fits(const ac_fused_conv *c) {
    return ac_cpu_conv_winograd_on() && c->kh == 4 && c->kw == 4 && c->stride == 2 &&
           (c->h + 2 * c->pad) % 2 == 0 && (c->w + 2 * c->pad) % 2 == 0 &&
           c->h + 2 * c->pad >= 4 && c->w + 2 * c->pad >= 4 &&
           (c->mode == AC_PAD_ZERO || (c->pad < c->h && c->pad < c->w));
}

void ac_cpu_wino_strided_conv(const ac_fused_conv *c) {
    AC_ASSERT(ac_cpu_wino_strided_conv_fits(c));
    const int hs = (c->h + 2 * c->pad) / 2, ws = (c->w + 2 * c->pad) / 2, cin4 = 4 * c->cin;
    const bool in_place = c->mode == AC_PAD_ZERO;  // else a phase-split copy, reflection applied
    const size_t plane = (size_t)hs * ws, img = (size_t)cin4 * plane;
    float *src = NULL;
    if (!in_place) {
        src = ac_cpu_ws_alloc(img * c->n * sizeof(float));
        ac_cpu_phase_split(c->x, c->x_batch, c->n, c->cin, c->h, c->w, 2, c->pad, c->mode, plane, src);
    }
    // w (cout, cin, 4, 4) -> w2 (cout, 4 cin, 2, 2)
    float *w2 = ac_cpu_ws_alloc((size_t)c->cout * cin4 * 4 * sizeof(float));
    for (int co = 0; co < c->cout; co++)
        for (int ci = 0; ci < c->cin; ci++)
            for (int ky = 0; ky < 4; ky++)
                for (int kx = 0; kx < 4; kx++) {
                    const int q = 4 * ci + 2 * (ky % 2) + kx % 2;
                    w2[(((size_t)co * cin4 + q) * 2 + ky / 2) * 2 + kx / 2] =
                        c->weight[(((size_t)co * c->cin + ci) * 4 + ky) * 4 + kx];
                }
    ac_fused_conv c2 = *c;
    if (!in_place) {
        c2.x = src;
        c2.x_batch = img;
    }
    c2.cin = cin4;
    c2.h = hs;
    c2.w = ws;
    c2.pad = 0;
    c2.mode = AC_PAD_ZERO;
    c2.kh = c2.kw = 2;
    c2.stride = 1;
    c2.weight = w2;
    if (in_place) ac_cpu_wino_conv2x2_phases(&c2, c->h, c->w, c->pad);
    else ac_cpu_wino_conv2x2(&c2);
    ac_cpu_ws_free(w2);
    if (src) ac_cpu_ws_free(src);
}

bool ac_cpu_wino_strided_deconv_fits(const ac_fused_conv *c, int out_pad) {
    return ac_cpu_conv_winograd_on() && c->kh == c->kw && (c->kh == 3 || c->kh == 4) &&
           c->stride == 2 && (c->pad == 0 || c->pad == 1) && out_pad >= 0 &&
           c->kh + out_pad <= 4 + c->pad && c->mode == AC_PAD_ZERO;
}

void ac_cpu_wino_strided_deconv(const ac_fused_conv *c, int out_pad) {
    AC_ASSERT(ac_cpu_wino_strided_deconv_fits(c, out_pad));
    const int cout = c->cout, cout4 = 4 * cout, k = c->kh;
    // w (cin, cout, k, k) -> w2 (4 cout, cin, 2, 2), channel 4 co + 2 a + b, tap (u, v) =
    // (2 + a - 2 u, 2 + b - 2 v), zero past the kernel
    float *w2 = ac_cpu_ws_alloc((size_t)cout4 * c->cin * 4 * sizeof(float));
    for (int co = 0; co < cout; co++)
        for (int ph = 0; ph < 4; ph++)
            for (int ci = 0; ci < c->cin; ci++)
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++) {
                        const int ky = 2 + ph / 2 - 2 * u, kx = 2 + ph % 2 - 2 * v;
                        w2[((((size_t)4 * co + ph) * c->cin + ci) * 2 + u) * 2 + v] =
                            ky < k && kx < k ? c->weight[(((size_t)ci * cout + co) * k + ky) * k + kx]
                                             : 0.0f;
                    }
    ac_fused_conv c2 = *c;
    c2.cout = cout4;
    c2.kh = c2.kw = 2;
    c2.stride = 1;
    c2.pad = 1;
    c2.weight = w2;
    const int oh = (c->h - 1) * 2 - 2 * c->pad + k + out_pad;
    const int ow = (c->w - 1) * 2 - 2 * c->pad + k + out_pad;
    ac_cpu_wino_conv2x2_interleave(&c2, oh, ow, c->pad);
    ac_cpu_ws_free(w2);
}
