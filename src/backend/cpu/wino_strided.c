// wino_strided.c: the stride-2 convolutions and transposed convolutions with 3x3 and 4x4
// kernels (the fusion blocks' ConvBlock and DeconvBlock, the encoder's ConvLayers, the
// decoder's UpsampleConvLayers) as 2x2 stride-1 convolutions, which F(4x4, 2x2) Winograd
// (winograd.c) runs with 25 products per 4x4 tile where the direct kernels take 64 (4x4) or
// 36 (3x3).
//
//   - Convolution: the padded input's four phases P[ci][py][px][Y][X] = xpad[2 Y + py][2 X + px]
//     are 4 cin channels of planes hs x ws (read in place by the input transform, padding
//     by zeros or reflection applied there), and output (oy, ox) is
//     sum over (ci, py, px, u, v) of w[co][ci][2 u + py][2 v + px] P[ci][py][px][oy + u][ox + v]:
//     a 2x2 convolution without padding, weights w2[co][4 ci + 2 py + px][u][v] (zero past a
//     3x3 kernel).
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
#include "backend/cpu/winograd_internal.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

// A 3x3 kernel fills 9 of the 16 taps: 6.25 products per output and channel pair against the
// direct kernel's 9, which the transforms eat up with many channels (bench_layers, 2 threads,
// Intel AVX-512: 16->32 at 480x640 4.6 to 3.9 ms, 32->64 3.3 to 2.9, 64->128 3.2 either way,
// 128->256 3.2 to 3.7 ms): up to 64 x 64 channels.
bool ac_cpu_wino_strided_conv_fits(const ac_fused_conv *c) {
    return ac_cpu_conv_winograd_on() && c->kh == c->kw &&
           (c->kh == 4 || (c->kh == 3 && (long long)c->cin * c->cout <= 64 * 64)) &&
           c->stride == 2 && (c->h + 2 * c->pad) % 2 == 0 && (c->w + 2 * c->pad) % 2 == 0 &&
           c->h + 2 * c->pad >= 4 && c->w + 2 * c->pad >= 4 &&
           (c->mode == AC_PAD_ZERO || (c->pad < c->h && c->pad < c->w));
}

void ac_cpu_wino_strided_conv(const ac_fused_conv *c) {
    AC_ASSERT(ac_cpu_wino_strided_conv_fits(c));
    const int k = c->kh, cin4 = 4 * c->cin;
    // w (cout, cin, k, k) -> w2 (cout, 4 cin, 2, 2): tap (u, v) of phase (py, px) is
    // (2 u + py, 2 v + px), zero past the kernel
    float *w2 = ac_cpu_ws_alloc((size_t)c->cout * cin4 * 4 * sizeof(float));
    for (int co = 0; co < c->cout; co++)
        for (int ci = 0; ci < c->cin; ci++)
            for (int ky = 0; ky < 4; ky++)
                for (int kx = 0; kx < 4; kx++) {
                    const int q = 4 * ci + 2 * (ky % 2) + kx % 2;
                    w2[(((size_t)co * cin4 + q) * 2 + ky / 2) * 2 + kx / 2] =
                        ky < k && kx < k ? c->weight[(((size_t)co * c->cin + ci) * k + ky) * k + kx]
                                         : 0.0f;
                }
    ac_fused_conv c2 = *c;
    c2.cin = cin4;
    c2.h = (c->h + 2 * c->pad) / 2;
    c2.w = (c->w + 2 * c->pad) / 2;
    c2.pad = 0;
    c2.mode = AC_PAD_ZERO;
    c2.kh = c2.kw = 2;
    c2.stride = 1;
    c2.weight = w2;
    ac_cpu_wino_conv2x2_phases(&c2, c->h, c->w, c->pad, c->mode);
    ac_cpu_ws_free(w2);
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

// ---------------------------------------------------------------- interleaved output

// The rows[r][k] (vectors of the 4 VL columns of output rows r = 0..3) of channel `ch` of M
// (F(4x4, 2x2)) for the tiles of vector q.
static inline void tile_rows5(const float *m, size_t mcs, size_t tbs, int ch, int q,
                              ac_vf rows[4][4]) {
    const float *mrow = m + (size_t)ch * mcs;
    ac_vf h[5][4];
    for (int r = 0; r < 5; r++) {
        ac_vf mv[5];
        for (int k = 0; k < 5; k++) mv[k] = ac_vload(mrow + (5 * r + k) * tbs + VL * q);
        at5(mv, h[r]);
    }
    for (int k = 0; k < 4; k++) {
        ac_vf col[5], o[4];
        for (int r = 0; r < 5; r++) col[r] = h[r][k];
        at5(col, o);
        for (int r = 0; r < 4; r++) h[r][k] = o[r];
    }
    for (int r = 0; r < 4; r++) interleave4(h[r], rows[r]);
}

// The output transform of a transposed convolution's phases (plan.interleave): channel
// q = 4 co + 2 a + b of M, window (R, C), is y[co][2 R + a - off][2 C + b - off]. The
// channels go by pairs b = 0, 1: window column C gives y columns 2 C - off and 2 C + 1 - off,
// so the two channels' rows zipped are a stretch of y's row from column 2 x0 - off, stored
// with the epilogue (clipped to the row).
void ac_wino_output_interleaved(const plan *p, float *tmp, const float *m, size_t tbs, int n,
                                int t0, int t1, int co0, int co1) {
    const ac_fused_conv *c = p->c;
    const ac_conv_epilogue *ep = &c->ep;
    const int oh = p->yi.h, ow = p->yi.w;
    const size_t oplane = (size_t)oh * ow;
    wino_seg sg[PACK_LANES];
    AC_ASSERT(co0 % 2 == 0 && co1 % 2 == 0);
    for (int k0 = t0; k0 < t1; k0 += PACK_LANES) {
        const int k1 = AC_MIN(t1, k0 + PACK_LANES), nq = ceil_div(k1 - k0, VL);
        const int nsg = wino_segments(p->tw, k0, k1, sg);
        for (int q2 = co0; q2 < co1; q2 += 2) {
            const int co = q2 / 4, a = (q2 / 2) % 2;
            const float *mq = m + (k0 - t0);
            const out_chan oc = out_chan_at(c, n, co, oplane);
            int s = 0;  // the first segment with tiles in vector q
            for (int q = 0; q < nq; q++) {
                ac_vf r0[4][4], r1[4][4];
                tile_rows5(mq, p->mcs, tbs, q2 - co0, q, r0);
                tile_rows5(mq, p->mcs, tbs, q2 + 1 - co0, q, r1);
                // row r of the vector: 8 VL floats of y, (b = 0, b = 1) per window column
                for (int r = 0; r < 4; r++)
                    for (int k = 0; k < 4; k++) {
                        ac_vstore(tmp + (8 * r + 2 * k) * VL, ac_vzip_lo(r0[r][k], r1[r][k]));
                        ac_vstore(tmp + (8 * r + 2 * k + 1) * VL, ac_vzip_hi(r0[r][k], r1[r][k]));
                    }
                const int q0 = VL * q, q1 = q0 + VL;
                for (; s < nsg && sg[s].lane < q1; s++) {
                    const int end = sg[s].lane + sg[s].n;
                    const int lo = AC_MAX(sg[s].lane, q0), hi = AC_MIN(end, q1);
                    const int i = sg[s].i, x0 = 4 * (sg[s].ja + lo - sg[s].lane);
                    for (int r = 0; r < 4; r++) {
                        const int Y = 2 * (4 * i + r) + a - p->yi.off;
                        if (Y < 0 || Y >= oh) continue;
                        // y columns [2 x0 - off, 2 x0 - off + 8 (hi - lo)) within [0, ow)
                        int ya = 2 * x0 - p->yi.off, yb = AC_MIN(ow, ya + 8 * (hi - lo));
                        const float *src = tmp + 8 * (r * VL + lo - q0);
                        if (ya < 0) {
                            src -= ya;
                            ya = 0;
                        }
                        if (yb <= ya) continue;
                        const size_t at = (size_t)Y * ow + ya;
                        finish_row(ep, oc.bias, src, oc.y + at, oc.res ? oc.res + at : NULL,
                                   oc.add ? oc.add + at : NULL, oc.sub ? oc.sub + at : NULL, yb - ya);
                    }
                    if (end > q1) break;  // the segment goes on in the next vector
                }
            }
        }
    }
}
