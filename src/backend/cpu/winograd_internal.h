// winograd_internal.h: what the Winograd forward (winograd.c), its strided forms
// (wino_strided.c) and the weight gradient (winograd_grad.c) share: block sizes, the splitting
// of rows into the four column phases of the tiles (vector shuffles), the 1-D transforms, the
// plan of a call, the input transform and the output's epilogue.
#ifndef AC_WINOGRAD_INTERNAL_H
#define AC_WINOGRAD_INTERNAL_H

#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/epilogue.h"
#include "backend/cpu/simd.h"
#include "core/common.h"

#define VL AC_VL
#if AC_VL >= 16
#define CB 8  // output channels per micro-kernel (rows of the register block); divides VL
#else
#define CB 4
#endif
// The product's widest micro-kernel takes 3 vectors of tiles: CB x 3 accumulators, 3 vectors
// of V and a broadcast use 28 of AVX-512's 32 registers, and all 16 of AVX's (CB = 4).
#define NXI 36  // transformed positions of F(4x4, 3x3)'s 6x6 tiles: the most of any kernel size
#define CHUNK_IN 64   // input channels transformed at a time
#define CHUNK_OUT 64  // output channels per work item (at most)
#define SCRATCH_BUDGET (256 * 1024)  // bytes of V and M per thread, about a share of L2
#define PACK_LANES (8 * VL)  // tiles per run of the input transform
#define TR_ROWLEN (4 * PACK_LANES + 2 * VL)  // floats per row of the transforms' column pass

// ---------------------------------------------------------------- shuffles


// t[0 .. 4 VL) -> p[c][j] = t[4 j + c]
static inline void deinterleave4(const float *t, ac_vf p[4]) {
    const ac_vf r0 = ac_vload(t), r1 = ac_vload(t + VL), r2 = ac_vload(t + 2 * VL),
                r3 = ac_vload(t + 3 * VL);
    const ac_vf e01 = ac_veven(r0, r1), o01 = ac_vodd(r0, r1);
    const ac_vf e23 = ac_veven(r2, r3), o23 = ac_vodd(r2, r3);
    p[0] = ac_veven(e01, e23);
    p[2] = ac_vodd(e01, e23);
    p[1] = ac_veven(o01, o23);
    p[3] = ac_vodd(o01, o23);
}

// The inverse: r[0 .. 4) hold t[0 .. 4 VL) with t[4 j + c] = p[c][j].
static inline void interleave4(const ac_vf p[4], ac_vf r[4]) {
    const ac_vf e01 = ac_vzip_lo(p[0], p[2]), e23 = ac_vzip_hi(p[0], p[2]);
    const ac_vf o01 = ac_vzip_lo(p[1], p[3]), o23 = ac_vzip_hi(p[1], p[3]);
    r[0] = ac_vzip_lo(e01, o01);
    r[1] = ac_vzip_hi(e01, o01);
    r[2] = ac_vzip_lo(e23, o23);
    r[3] = ac_vzip_hi(e23, o23);
}

// ---------------------------------------------------------------- 1-D transforms

// o = B^T d
static inline void bt6(const ac_vf d[6], ac_vf o[6]) {
    const ac_vf four = ac_vsplat(4.0f), mfour = ac_vsplat(-4.0f), mfive = ac_vsplat(-5.0f);
    o[0] = ac_vfma(four, d[0], ac_vfma(mfive, d[2], d[4]));
    const ac_vf t0 = ac_vfma(mfour, d[2], d[4]), t1 = ac_vfma(mfour, d[1], d[3]);
    o[1] = t0 + t1;
    o[2] = t0 - t1;
    const ac_vf t2 = d[4] - d[2], t3 = (d[3] - d[1]) * 2.0f;
    o[3] = t2 + t3;
    o[4] = t2 - t3;
    o[5] = ac_vfma(four, d[1], ac_vfma(mfive, d[3], d[5]));
}

// The same for F(4x4, 2x2), points 0, 1, -1, 2 and infinity:
//   B^T = [2 -1 -2 1 0; 0 -2 -1 1 0; 0 2 -3 1 0; 0 -1 0 1 0; 0 2 -1 -2 1]
static inline void bt5(const ac_vf d[5], ac_vf o[5]) {
    const ac_vf two = ac_vsplat(2.0f), mtwo = ac_vsplat(-2.0f), d31 = d[3] - d[1];
    o[0] = ac_vfma(two, d[0] - d[2], d31);
    o[1] = ac_vfma(mtwo, d[1], d[3] - d[2]);
    o[2] = ac_vfma(two, d[1], ac_vfma(ac_vsplat(-3.0f), d[2], d[3]));
    o[3] = d31;
    o[4] = ac_vfma(two, d[1] - d[3], d[4] - d[2]);
}

// o = A^T m
static inline void at6(const ac_vf m[6], ac_vf o[4]) {
    const ac_vf a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    o[0] = m[0] + a + c;
    o[1] = ac_vfma(ac_vsplat(2.0f), d, b);
    o[2] = ac_vfma(ac_vsplat(4.0f), c, a);
    o[3] = ac_vfma(ac_vsplat(8.0f), d, b) + m[5];
}

// The same for F(4x4, 2x2): A^T = [1 1 1 1 0; 0 1 -1 2 0; 0 1 1 4 0; 0 1 -1 8 1]
static inline void at5(const ac_vf m[5], ac_vf o[4]) {
    const ac_vf a = m[1] + m[2], b = m[1] - m[2];
    o[0] = m[0] + a + m[3];
    o[1] = ac_vfma(ac_vsplat(2.0f), m[3], b);
    o[2] = ac_vfma(ac_vsplat(4.0f), m[3], a);
    o[3] = ac_vfma(ac_vsplat(8.0f), m[3], b) + m[4];
}


// ---------------------------------------------------------------- plan

// The image whose stride-2 phases are a 2x2 convolution's input (plan.phases): h x w, padded by
// pad (mode).
typedef struct wino_phases {
    int h, w, pad;
    ac_pad_mode mode;
} wino_phases;

// The stride-2 output into which a 2x2 convolution's channels go as phases (plan.interleave).
typedef struct wino_interleave {
    int h, w, off;
} wino_interleave;

typedef struct plan {
    const ac_fused_conv *c;
    int r, alpha, nxi;    // kernel side (3, or 2), input tile side (r + 3), alpha^2 positions
    // Phases (2x2 kernels only): input channel 4 ci + 2 py + px, pixel (Y, X) is pixel
    // (2 Y + py - pad, 2 X + px - pad) of channel ci of an image h x w padded by ph.mode (zero
    // beyond the padding), read in place from c->x (images c->x_batch apart) instead of a
    // phase-split copy.
    bool phases;
    wino_phases ph;
    // Phases of a transposed convolution's output (2x2 kernels only): output channel
    // 4 co + 2 a + b, window (R, C), goes to y[co][2 R + a - off][2 C + b - off] of an output
    // h x w (yi).
    bool interleave;
    wino_interleave yi;
    int oh, ow, th, tw, ntile;  // per image
    bool whole;           // V of all tiles up front (else per item)
    bool fuse_u;          // whole, and each item transforms its own weights (U) chunk by chunk
    bool xi_major;        // whole, not fuse_u, and the product xi by xi (run_whole_xi)
    int lanes;            // whole: tiles of all images, n ntile; blocked: ntile
    int vtbs;             // lanes per row of V: whole, all lanes rounded up + VL; else tb + VL
    size_t vxs;           // floats per xi of V
    int tb, tbs;          // tiles per block, lanes per row of M (tb + VL)
    size_t mcs;           // floats per output channel of M
    int ck, nck;          // input channels per chunk, number of chunks
    int cok, ncoc;        // output channels per item (multiple of CB), number of such blocks
    int ncb;              // output channel blocks of CB in all
    int nblk, items;
    size_t v_floats, m_floats, u_floats, thread_floats;
    float *u;             // [NXI][ncb][cin][CB] (NULL when fuse_u)
} plan;

static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

// The transforms take tiles by runs of at most PACK_LANES, whatever rows of tiles they span,
// so that the lanes stay full when the rows of tiles are short. A run [k0, k1) is cut into
// segments, one per row of tiles it touches: segment s holds the n tiles from column ja of
// the row of tiles i, at lanes [lane, lane + n) of the run.
typedef struct wino_seg {
    int lane, n, i, ja;
} wino_seg;

// The segments of the run [k0, k1) (k1 - k0 <= PACK_LANES) for rows of tw tiles; returns
// their count.
static inline int wino_segments(int tw, int k0, int k1, wino_seg sg[PACK_LANES]) {
    int nsg = 0;
    for (int t = k0; t < k1; nsg++) {
        const int ja = t % tw, n = AC_MIN(tw - ja, k1 - t);
        sg[nsg] = (wino_seg){.lane = t - k0, .n = n, .i = t / tw, .ja = ja};
        t += n;
    }
    return nsg;
}

// rows * tbs floats, plus one cache line when that makes the count of lines even: the kernels
// walk the 36 transformed positions or the channels at this stride, and an odd number of
// lines spreads them over every set of the L1 cache instead of a few.
static inline size_t odd_lines(size_t rows, int tbs) {
    size_t f = rows * (size_t)tbs, lines = f / 16;
    return lines % 2 ? f : f + 16;
}

// Source index of coordinate v (of a side of length n) after padding, or -1 for a zero.
static inline int map_coord(int v, int n, int pad, ac_pad_mode mode) {
    if (v < -pad || v >= n + pad) return -1;  // beyond the padded image: tile overhang
    if (v >= 0 && v < n) return v;
    if (mode == AC_PAD_ZERO) return -1;
    return v < 0 ? -v : 2 * (n - 1) - v;
}

#if AC_VL == 16
#define MASK_SHIFT0 {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
#define MASK_SHIFT1 {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17}
#elif AC_VL == 8
#define MASK_SHIFT0 {1, 2, 3, 4, 5, 6, 7, 8}
#define MASK_SHIFT1 {1, 2, 3, 4, 5, 6, 7, 9}
#else
#define MASK_SHIFT0 {1, 2, 3, 4}
#define MASK_SHIFT1 {1, 2, 3, 5}
#endif

// For the tiles [t0, t1) of image xn (tile t = row t / tw, column t % tw) and channels
// [c0, c1): v[xi * vxs + (ci - c0) * tbs + (t - t0)] = (B^T d B)[xi] of the tile's 6x6 input
// (padding applied). `tr` holds 6 rows of TR_ROWLEN floats. Uses p->c (x geometry, padding)
// and p->tw only. The vector stores of a row of tiles spill up to VL - 1 lanes past
// its last tile (into lanes a later row overwrites, or padding).
void ac_wino_input_transform(const plan *p, float *tr, const float *xn, int t0, int t1, int c0,
                             int c1, float *v, size_t vxs, size_t tbs);

// ---------------------------------------------------------------- weights (winograd_weights.c)

// U = (G g G^T)[xi] of the kernels (co, ci) for output channels [co0, co0 + nco) (nco a
// multiple of CB; zero past cout) and input channels [c0, c1):
// u[xi uxs + (co - co0) / CB ucbs + (ci - c0) CB + co % CB].
void ac_wino_transform_weight_block(const plan *p, int co0, int nco, int c0, int c1, float *u,
                                    size_t uxs, size_t ucbs);
// The call's whole U into p->u (a workspace the caller frees).
void ac_wino_transform_weights(plan *p);
// Where the block of output channels co0.. and input channels c0.. of p->u starts, and its
// strides.
float *ac_wino_whole_u_at(const plan *p, int co0, int c0, size_t *uxs, size_t *ucbs);

// ---------------------------------------------------------------- output

// Output channel co of image n (planes of oplane floats): where it goes, its skips (NULL
// where absent) and its bias.
typedef struct out_chan {
    float *y;
    const float *res, *add, *sub;
    float bias;
} out_chan;

static inline out_chan out_chan_at(const ac_fused_conv *c, int n, int co, size_t oplane) {
    const ac_conv_epilogue *ep = &c->ep;
    const size_t off = (size_t)n * c->y_batch + (size_t)co * oplane;
    return (out_chan){.y = c->y + off,
                      .res = ep->residual ? ep->residual + off : NULL,
                      .add = ep->add ? ep->add + off : NULL,
                      .sub = ep->sub ? ep->sub + off : NULL,
                      .bias = ep->bias ? ep->bias[co] : 0.0f};
}

// dst[0 .. n) = ((residual + scale * act(src + bias)) + add) - sub
static inline void finish_row(const ac_conv_epilogue *ep, float bias, const float *src,
                              float *dst, const float *res, const float *add, const float *sub,
                              int n) {
    const ac_vf vb = ac_vsplat(bias);
    int i = 0;
    for (; i + VL <= n; i += VL)
        ac_ep_finish_v(ep, ac_vload(src + i), vb, dst + i, res ? res + i : NULL,
                       add ? add + i : NULL, sub ? sub + i : NULL);
    for (; i < n; i++) {
        float v = ac_ep_activate(ep, src[i] + bias);
        if (res) v += res[i];
        if (add) v += add[i];
        if (sub) v -= sub[i];
        dst[i] = v;
    }
}

// The output transform of plan.interleave (wino_strided.c): output channels [co0, co1) of
// image n for the tiles [t0, t1), from m as in winograd.c's output transform; `tmp` holds
// 8 * 4 * VL floats.
void ac_wino_output_interleaved(const plan *p, float *tmp, const float *m, size_t tbs, int n,
                                int t0, int t1, int co0, int co1);

#endif
