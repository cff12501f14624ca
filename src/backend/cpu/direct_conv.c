// direct_conv.c: direct convolution and transposed convolution for the shapes Winograd does
// not take (strides, 1x1, 4x4, 11x11), without unfolding patches into a matrix.
//
// Both are written as sums over "taps": output lane j (of a flattened grid of rows of
// `rowlen` lanes) is sum_t w_t * src[j + off_t], so one register-blocked kernel (CB output
// channels x NV vectors of lanes, the weights of a tap broadcast, the source loaded whole
// vectors at a time) serves every case:
//   - convolution, stride s: the padded input (reflection or zeros) is split into its s x s
//     phases, P[ci][py][px][Y][X] = xpad[s Y + py][s X + px]; output (oy, ox) is then
//     sum over (ci, ky, kx) of w * P[ci][ky % s][kx % s][oy + ky / s][ox + kx / s], lane
//     j = oy Ws + ox with Ws the phase width, offset (ky / s) Ws + kx / s. A 1x1 stride-1
//     convolution without padding reads x in place.
//   - transposed convolution, stride s: output phase (a, b), y[s Y + a][s X + b], is a
//     stride-1 correlation of the zero-padded input with the taps ky = a + pad (mod s),
//     kx = b + pad (mod s), at input offset ((a + pad - ky) / s, (b + pad - kx) / s).
// Lanes past the end of a grid row (X >= the phase width) are computed and thrown away.
// Work items are (image, phase, block of lanes, block of output channels), taken by the
// threads in runs (min_grab), each output element computed by one thread in a fixed order:
// results do not depend on the threads.
#include <omp.h>
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/epilogue.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

#define VL AC_VL
#if AC_VL >= 16
#define CB 8
#else
#define CB 4
#endif
// CB x NV accumulators: 24 of AVX-512's 32 registers (12 of AVX's 16). Three vectors of lanes
// instead of two load each tap's CB weights for 1.5 times the multiplies: the strided and
// transposed layers of the forward ran about 6% faster (bench_layers, 2 threads, Intel
// AVX-512). Work items of 6 NVL lanes keep about as many items as 8 x 2 vectors did.
#define NV 3
#define NVL (NV * VL)
#define JBLOCK (6 * NVL)  // lanes per work item

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

// The work items below are (block of lanes, block of ncb output channels), channels
// innermost, and the threads take them in long runs (guided schedule): each core streams
// through a stretch of the source of its own. Handed out one by one, the threads took turns
// at neighbouring blocks, and a layer ran no faster on two threads than on one (bench_layers
// on an Intel AVX-512 machine: the 16->32 4x4 stride-2 layer 2.5 ms on either; 1.3 to 1.5 ms
// in runs). The smallest run is all the channels of a block, fewer where there are not
// enough blocks to keep T threads busy.
static int min_grab(int ncb, long long units, int T) {
    const long long want = 4LL * T;
    if (units >= want) return ncb;
    return (int)AC_MAX(1LL, (long long)ncb * units / want);
}

// ---------------------------------------------------------------- the tap kernel

// acc[r][v] = sum_t w[t CB + r] src[off[t] + v VL + lane]. With `prefetch`, each tap asks for
// the lanes the next call reads, into L1. That pays where the taps are many whole channel
// planes read in place (a 1x1 convolution: one stream per input channel). The phase-split
// copies of the strided and transposed convolutions run fastest without: prefetching four
// calls ahead into L2 (as this kernel once did) made their layers about 25% slower than no
// prefetch at all (bench_layers, one thread).
#define PREFETCH_AHEAD NVL
#define PREFETCH_LEVEL 3
static inline void tap_kernel(int ntap, const float *src, const ptrdiff_t *off, const float *w,
                              ac_vf acc[CB][NV], bool prefetch) {
    // Unrolled and at least one tap (no path around the loop): the accumulators stay in
    // registers, where a rolled loop left GCC moving all of them through the stack.
    AC_UNROLL for (int r = 0; r < CB; r++)
        AC_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = ac_vsplat(0.0f);
    int t = 0;
    do {
        const float *p = src + off[t];
        if (prefetch)
            AC_UNROLL for (int v = 0; v < NV; v++)
                __builtin_prefetch(p + PREFETCH_AHEAD + v * VL, 0, PREFETCH_LEVEL);
        ac_vf x[NV];
        AC_UNROLL for (int v = 0; v < NV; v++) x[v] = ac_vload(p + v * VL);
        AC_UNROLL for (int r = 0; r < CB; r++) {
            const ac_vf b = ac_vsplat(w[t * CB + r]);
            AC_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = ac_vfma(b, x[v], acc[r][v]);
        }
    } while (++t < ntap);
}

// One grid of lanes: the source of one image, its taps, and where the lanes go.
typedef struct grid {
    int ntap;
    const ptrdiff_t *off;  // per tap, from the source
    const float *wp;       // [ncb][ntap][CB]
    const float *src;
    size_t avail;          // floats readable from src (reads past it go through a copy)
    ptrdiff_t max_off;
    bool prefetch;           // see tap_kernel
    int rowlen, rows, cols;  // lane j = Y rowlen + X is output (Y, X) when X < cols, Y < rows
    size_t yrs, ycs, yorg;   // ... stored at Y yrs + X ycs + yorg within the output channel
} grid;

// The skip tensors of an epilogue (residual, add, sub), NULL where absent.
typedef struct skips {
    const float *res, *add, *sub;
} skips;

// k moved on by off floats
static skips skips_from(skips k, size_t off) {
    return (skips){k.res ? k.res + off : NULL, k.add ? k.add + off : NULL,
                   k.sub ? k.sub + off : NULL};
}

static skips skips_at(const ac_conv_epilogue *ep, size_t off) {
    return skips_from((skips){ep->residual, ep->add, ep->sub}, off);
}

// Lanes [j0, j0 + NVL) of output channels [cb CB, cb CB + CB) of grid d, bias, activation
// and scale applied, into out[r ostride + lane]; returns how many of the CB channels exist.
// `scratch` holds ntap (NVL + 2) floats.
static int lanes_out(const grid *d, int cb, long j0, const ac_fused_conv *c, float *out,
                     size_t ostride, float *scratch) {
    AC_ASSERT(d->ntap > 0);
    ac_vf acc[CB][NV];
    const float *wp = d->wp + (size_t)cb * d->ntap * CB;
    if ((size_t)(j0 + d->max_off + NVL) <= d->avail) {
        // (prefetches are hints: past the end of the source they do no harm)
        tap_kernel(d->ntap, d->src + j0, d->off, wp, acc, d->prefetch);
    } else {  // near the end of the source: copy the readable lanes of each tap, zeros after
        ptrdiff_t *off = (ptrdiff_t *)scratch;
        float *lanes = (float *)(off + d->ntap);
        for (int t = 0; t < d->ntap; t++) {
            const long at = j0 + d->off[t];
            const long have = AC_MAX(0L, AC_MIN((long)NVL, (long)d->avail - at));
            memcpy(lanes + (size_t)t * NVL, d->src + at, (size_t)have * sizeof(float));
            memset(lanes + (size_t)t * NVL + have, 0, (size_t)(NVL - have) * sizeof(float));
            off[t] = (ptrdiff_t)t * NVL;
        }
        tap_kernel(d->ntap, lanes, off, wp, acc, false);
    }
    const ac_conv_epilogue *ep = &c->ep;
    const int nco = AC_MIN(CB, c->cout - cb * CB);
    AC_UNROLL for (int r = 0; r < CB; r++) {
        if (r == nco) break;
        const ac_vf bias = ac_vsplat(ep->bias ? ep->bias[cb * CB + r] : 0.0f);
        AC_UNROLL for (int v = 0; v < NV; v++)
            ac_vstore(out + r * ostride + v * VL, ac_ep_activate_v(ep, acc[r][v] + bias));
    }
    return nco;
}

// The runs of lanes [j0, j0 + NVL) of grid d that land in one output row (the same for every
// output channel): lane offset l, grid column X, length n and output position at; returns
// their count.
static int lane_runs(const grid *d, long j0, int run_l[NVL], int run_x[NVL], int run_n[NVL],
                     size_t run_at[NVL]) {
    int nrun = 0;
    for (int l = 0; l < NVL;) {
        const long j = j0 + l;
        const int Y = (int)(j / d->rowlen), X = (int)(j % d->rowlen);
        const int run = AC_MIN(NVL - l, d->rowlen - X);
        if (Y >= d->rows) break;
        const int n = AC_MIN(run, d->cols - X);
        if (n > 0) {
            run_l[nrun] = l;
            run_x[nrun] = X;
            run_n[nrun] = n;
            run_at[nrun++] = (size_t)Y * d->yrs + (size_t)X * d->ycs + d->yorg;
        }
        l += run;
    }
    return nrun;
}

// v with the skips of output element i added: ((res + v) + add) - sub.
static inline float with_skips(const skips *k, float v, size_t i) {
    if (k->res) v = k->res[i] + v;
    if (k->add) v = v + k->add[i];
    if (k->sub) v = v - k->sub[i];
    return v;
}

// The same for the vector of output elements i .. i + VL.
static inline ac_vf with_skips_v(const skips *k, ac_vf v, size_t i) {
    if (k->res) v = ac_vload(k->res + i) + v;
    if (k->add) v = v + ac_vload(k->add + i);
    if (k->sub) v = v - ac_vload(k->sub + i);
    return v;
}

// Lanes [j0, j0 + NVL) of output channels [cb CB, cb CB + CB) of grid d into y (channel 0 of
// one image; oplane floats per channel), the skips (residual, add, sub; channel 0 of the image)
// applied at the output positions. `tmp` holds CB NVL + ntap (NVL + 2) floats.
static void run_lanes(const grid *d, int cb, long j0, const ac_fused_conv *c, float *y,
                      const skips *sk, size_t oplane, float *tmp) {
    int run_l[NVL], run_x[NVL], run_n[NVL];
    size_t run_at[NVL];
    const int nrun = lane_runs(d, j0, run_l, run_x, run_n, run_at);
    const bool none = !sk->res && !sk->add && !sk->sub;
    if (nrun == 1 && run_n[0] == NVL && d->ycs == 1 && none) {
        // the lanes are one stretch of an output row: stored there from the registers
        lanes_out(d, cb, j0, c, y + (size_t)cb * CB * oplane + run_at[0], oplane,
                  tmp + (size_t)CB * NVL);
        return;
    }
    const int nco = lanes_out(d, cb, j0, c, tmp, NVL, tmp + (size_t)CB * NVL);
    for (int r = 0; r < nco; r++) {
        const size_t co_off = (size_t)(cb * CB + r) * oplane;
        float *yc = y + co_off;
        const skips kc = skips_from(*sk, co_off);
        const float *src = tmp + r * NVL;
        for (int k = 0; k < nrun; k++) {
            const float *s = src + run_l[k];
            const size_t at = run_at[k], st = d->ycs;
            const int n = run_n[k];
            if (none && st == 1) {
                memcpy(yc + at, s, (size_t)n * sizeof(float));
            } else if (none) {
                for (int i = 0; i < n; i++) yc[at + i * st] = s[i];
            } else {
                for (int i = 0; i < n; i++) yc[at + i * st] = with_skips(&kc, s[i], at + i * st);
            }
        }
    }
}

// Stride 2: the two column phases (a, 0) and (a, 1) of a transposed convolution at once (same
// source, same rows of lanes), interleaved into whole output rows: no stores of every other
// element, and no two work items writing the same cache lines. Output cols: ow. `tmp` holds
// 2 CB NVL + ntap (NVL + 2) floats (ntap the larger of the two).
static void run_lanes_pair(const grid *d0, const grid *d1, int cb, long j0,
                           const ac_fused_conv *c, float *y, const skips *sk, size_t oplane,
                           int ow, float *tmp) {
    float *t0 = tmp, *t1 = tmp + (size_t)CB * NVL, *scratch = tmp + (size_t)2 * CB * NVL;
    const int nco = lanes_out(d0, cb, j0, c, t0, NVL, scratch);
    lanes_out(d1, cb, j0, c, t1, NVL, scratch);
    int run_l[NVL], run_x[NVL], run_n[NVL];
    size_t run_at[NVL];
    const int nrun = lane_runs(d0, j0, run_l, run_x, run_n, run_at);  // d0: column 2 X, X < cols0
    for (int r = 0; r < nco; r++) {
        const size_t co_off = (size_t)(cb * CB + r) * oplane;
        float *yc = y + co_off;
        for (int k = 0; k < nrun; k++) {
            const float *s0 = t0 + r * NVL + run_l[k], *s1 = t1 + r * NVL + run_l[k];
            const size_t at = co_off + run_at[k];
            const int n = AC_MIN(2 * run_n[k], ow - 2 * run_x[k]);
            float *dst = yc + run_at[k];
            const skips kr = skips_from(*sk, at);
            int i = 0;
            for (; i + 2 * VL <= n; i += 2 * VL) {  // VL pairs: two vectors of output
                const ac_vf a = ac_vload(s0 + i / 2), b = ac_vload(s1 + i / 2);
                ac_vstore(dst + i, with_skips_v(&kr, ac_vzip_lo(a, b), (size_t)i));
                ac_vstore(dst + i + VL, with_skips_v(&kr, ac_vzip_hi(a, b), (size_t)i + VL));
            }
            for (; i < n; i++) dst[i] = with_skips(&kr, (i % 2 ? s1 : s0)[i / 2], (size_t)i);
        }
    }
}

// Weights w (for each tap t: w[co * co_stride + wsrc[t]]) packed as [ncb][ntap][CB].
static float *pack_weights(const float *w, int cout, size_t co_stride, const size_t *wsrc,
                           int ntap) {
    const int ncb = ceil_div(cout, CB);
    float *wp = ac_cpu_ws_alloc((size_t)ncb * ntap * CB * sizeof(float));
    for (int cb = 0; cb < ncb; cb++)
        for (int t = 0; t < ntap; t++)
            for (int r = 0; r < CB; r++) {
                const int co = cb * CB + r;
                wp[((size_t)cb * ntap + t) * CB + r] = co < cout ? w[co * co_stride + wsrc[t]] : 0.0f;
            }
    return wp;
}

static ptrdiff_t max_of(const ptrdiff_t *v, int n) {
    ptrdiff_t m = 0;
    for (int i = 0; i < n; i++) m = AC_MAX(m, v[i]);
    return m;
}

// ---------------------------------------------------------------- convolution

static inline int map_coord(int v, int n, ac_pad_mode mode) {
    if (v >= 0 && v < n) return v;
    if (mode == AC_PAD_ZERO || v < -(n - 1) || v > 2 * (n - 1)) return -1;
    return v < 0 ? -v : 2 * (n - 1) - v;
}

// P[n][ci][py][px][Y][X] = xpad[s Y + py][s X + px] for Y < hs = ceil((h + 2 pad) / s),
// X < ws = ceil((w + 2 pad) / s), each (n, ci, py, px) plane `plane` floats apart with zeros
// after its hs ws floats; xpad is x padded by `pad` (reflection or zeros), zero beyond.
void ac_cpu_phase_split(const float *x, size_t x_batch, int batch, int cin, int h, int w,
                        int s, int pad, ac_pad_mode mode, size_t plane, float *src) {
    const int hp = h + 2 * pad, wpd = w + 2 * pad;
    const int hs = ceil_div(hp, s), ws = ceil_div(wpd, s), nph = s * s;
    AC_ASSERT(plane >= (size_t)hs * ws);
    const size_t img = (size_t)cin * nph * plane;
    const int T = ac_cpu_conv_threads();
    const long long rows = (long long)batch * cin * nph * hs;
#pragma omp parallel for num_threads(T) schedule(guided) if (T > 1 && rows * ws > 65536)
    for (long long it = 0; it < rows; it++) {
        const int Y = (int)(it % hs), ph = (int)(it / hs % nph);
        const int ci = (int)(it / ((long long)hs * nph) % cin), n = (int)(it / ((long long)hs * nph * cin));
        const int py = ph / s, px = ph % s;
        float *dst = src + (size_t)n * img + (size_t)(ci * nph + ph) * plane + (size_t)Y * ws;
        const int yy = s * Y + py;
        const int sy = yy < hp ? map_coord(yy - pad, h, mode) : -1;
        if (sy < 0) {
            memset(dst, 0, (size_t)ws * sizeof(float));
        } else {
            const float *row = x + (size_t)n * x_batch + ((size_t)ci * h + sy) * w;
            // columns X with s X + px - pad inside the row: lo <= X < hi; edges mapped
            const int lo = AC_MIN(ws, ceil_div(AC_MAX(0, pad - px), s));
            const int hi = AC_MAX(lo, AC_MIN(ws, ceil_div(w + pad - px, s)));
            for (int X = 0; X < lo; X++) {
                const int sx = map_coord(s * X + px - pad, w, mode);
                dst[X] = sx >= 0 ? row[sx] : 0.0f;
            }
            const float *from = row + (s * lo + px - pad);
            if (s == 1) {
                memcpy(dst + lo, from, (size_t)(hi - lo) * sizeof(float));
            } else {
                int X = lo;
                if (s == 2) {  // the even lanes of two vectors, while both lie in the row
                    const int left = w - (s * lo + px - pad);  // floats of the row from `from`
                    for (; X + VL <= hi && 2 * (X - lo) + 2 * VL <= left; X += VL) {
                        const float *f = from + 2 * (size_t)(X - lo);
                        ac_vstore(dst + X, ac_veven(ac_vload(f), ac_vload(f + VL)));
                    }
                }
                for (; X < hi; X++) dst[X] = from[(size_t)s * (X - lo)];
            }
            for (int X = hi; X < ws; X++) {
                const int xx = s * X + px;
                const int sx = xx < wpd ? map_coord(xx - pad, w, mode) : -1;
                dst[X] = sx >= 0 ? row[sx] : 0.0f;
            }
        }
        if (Y == hs - 1)  // the slack after the plane
            memset(dst + ws, 0, (plane - (size_t)hs * ws) * sizeof(float));
    }
}

void ac_cpu_direct_conv(const ac_fused_conv *c) {
    const int s = c->stride, pad = c->pad, kh = c->kh, kw = c->kw;
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0 && s >= 1 && pad >= 0);
    AC_ASSERT(c->mode == AC_PAD_ZERO || (pad < c->h && pad < c->w));
    const int oh = (c->h + 2 * pad - kh) / s + 1, ow = (c->w + 2 * pad - kw) / s + 1;
    AC_ASSERT(oh > 0 && ow > 0);
    const bool in_place = s == 1 && pad == 0;
    const int hp = c->h + 2 * pad, wpd = c->w + 2 * pad;
    const int hs = in_place ? c->h : ceil_div(hp, s), ws = in_place ? c->w : ceil_div(wpd, s);
    const int nph = s * s;
    // phase planes: hs ws floats, plus slack so that the last lanes of a row read in bounds
    const size_t plane = in_place ? (size_t)c->h * c->w
                                  : ((size_t)hs * ws + (size_t)ws + NVL + 15) / 16 * 16;
    const size_t img = in_place ? c->x_batch : (size_t)c->cin * nph * plane;
    const int ntap = c->cin * kh * kw;
    ptrdiff_t *off = malloc((size_t)ntap * sizeof *off);
    size_t *wsrc = malloc((size_t)ntap * sizeof *wsrc);
    AC_ASSERT_MSG(off && wsrc, "out of memory for convolution taps");
    for (int ci = 0, t = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++, t++) {
                off[t] = (ptrdiff_t)((size_t)(ci * nph + (ky % s) * s + kx % s) * plane) +
                         (ptrdiff_t)(ky / s) * ws + kx / s;
                wsrc[t] = ((size_t)ci * kh + ky) * kw + kx;
            }
    float *wp = pack_weights(c->weight, c->cout, (size_t)c->cin * kh * kw, wsrc, ntap);
    const int T = ac_cpu_conv_threads();
    float *src = NULL;
    if (!in_place) {  // the padded, phase-split input of every image
        src = ac_cpu_ws_alloc(img * c->n * sizeof(float));
        ac_cpu_phase_split(c->x, c->x_batch, c->n, c->cin, c->h, c->w, s, pad, c->mode, plane, src);
    }
    const grid d = {.ntap = ntap, .off = off, .wp = wp, .avail = in_place ? (size_t)c->cin * c->h * c->w : img,
                    .max_off = max_of(off, ntap), .prefetch = in_place,
                    .rowlen = ws, .rows = oh, .cols = ow,
                    .yrs = (size_t)ow, .ycs = 1, .yorg = 0};
    const size_t oplane = (size_t)oh * ow;
    const long lanes = (long)(oh - 1) * ws + ow;
    const int nblk = (int)((lanes + JBLOCK - 1) / JBLOCK), ncb = ceil_div(c->cout, CB);
    const long long items = (long long)c->n * nblk * ncb;
    float *scratch = ac_cpu_ws_alloc((size_t)T * ((size_t)CB * NVL + (size_t)ntap * (NVL + 2)) * sizeof(float));
    const int grab = min_grab(ncb, (long long)c->n * nblk, T);
#pragma omp parallel num_threads(T) if (T > 1)
    {
        float *tmp = scratch + (size_t)omp_get_thread_num() * ((size_t)CB * NVL + (size_t)ntap * (NVL + 2));
#pragma omp for schedule(guided, grab)
        for (long long it = 0; it < items; it++) {
            const int n = (int)(it / ((long long)nblk * ncb)), blk = (int)(it / ncb % nblk);
            const int cb = (int)(it % ncb);
            grid g = d;
            g.src = in_place ? c->x + (size_t)n * c->x_batch : src + (size_t)n * img;
            const skips sk = skips_at(&c->ep, (size_t)n * c->y_batch);
            const long end = AC_MIN(lanes, (long)(blk + 1) * JBLOCK);
            for (long j0 = (long)blk * JBLOCK; j0 < end; j0 += NVL)
                run_lanes(&g, cb, j0, c, c->y + (size_t)n * c->y_batch, &sk, oplane, tmp);
        }
    }
    ac_cpu_ws_free(scratch);
    ac_cpu_ws_free(src);
    ac_cpu_ws_free(wp);
    free(off);
    free(wsrc);
}

// ---------------------------------------------------------------- transposed convolution

void ac_cpu_direct_deconv(const ac_fused_conv *c, int out_pad) {
    const int s = c->stride, pad = c->pad, kh = c->kh, kw = c->kw;
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0 && s >= 1 && pad >= 0);
    AC_ASSERT(c->mode == AC_PAD_ZERO && out_pad >= 0 && out_pad < s);
    const int oh = (c->h - 1) * s - 2 * pad + kh + out_pad;
    const int ow = (c->w - 1) * s - 2 * pad + kw + out_pad;
    AC_ASSERT(oh > 0 && ow > 0);
    // Input offsets of the taps: dy = (a + pad - ky) / s over phases a and taps ky.
    int dymin = 0, dymax = 0, dxmin = 0, dxmax = 0;
    for (int a = 0; a < s; a++)
        for (int k = 0; k < AC_MAX(kh, kw); k++) {
            const int q = a + pad - k;
            if (q % s) continue;
            if (k < kh) dymin = AC_MIN(dymin, q / s), dymax = AC_MAX(dymax, q / s);
            if (k < kw) dxmin = AC_MIN(dxmin, q / s), dxmax = AC_MAX(dxmax, q / s);
        }
    const int rows_max = ceil_div(oh, s), cols_max = ceil_div(ow, s);
    const int mt = -dymin, ml = -dxmin;
    const int mb = AC_MAX(0, rows_max - 1 + dymax - (c->h - 1));
    const int mr = AC_MAX(0, cols_max - 1 + dxmax - (c->w - 1));
    const int hq = c->h + mt + mb, wq = c->w + ml + mr;
    const size_t plane = ((size_t)hq * wq + (size_t)wq + NVL + 15) / 16 * 16;
    const size_t img = (size_t)c->cin * plane;
    const int T = ac_cpu_conv_threads();
    float *src = ac_cpu_ws_alloc(img * c->n * sizeof(float));
    const long long prow = (long long)c->n * c->cin;
#pragma omp parallel for num_threads(T) schedule(guided) if (T > 1 && prow * plane > 65536)
    for (long long it = 0; it < prow; it++) {
        float *dst = src + (size_t)it * plane;
        const float *x = c->x + (size_t)(it / c->cin) * c->x_batch + (size_t)(it % c->cin) * c->h * c->w;
        // each float written once: the top margin rows, then each row's left margin, the row
        // and its right margin (which runs into the next row's left margin), then the rest
        memset(dst, 0, ((size_t)mt * wq + ml) * sizeof(float));
        for (int y = 0; y < c->h; y++) {
            float *row = dst + (size_t)(y + mt) * wq + ml;
            memcpy(row, x + (size_t)y * c->w, (size_t)c->w * sizeof(float));
            if (y + 1 < c->h) memset(row + c->w, 0, (size_t)(wq - c->w) * sizeof(float));
        }
        const size_t done = (size_t)(c->h - 1 + mt) * wq + ml + c->w;
        memset(dst + done, 0, (plane - done) * sizeof(float));
    }
    // The s x s phases: taps, offsets, packed weights. Weight (ci, co, ky, kx).
    const int nph = s * s, ncb = ceil_div(c->cout, CB);
    grid *gs = calloc((size_t)nph, sizeof *gs);
    int maxtap = 0;
    AC_ASSERT_MSG(gs != NULL, "out of memory for convolution taps");
    for (int ph = 0; ph < nph; ph++) {
        const int a = ph / s, b = ph % s;
        grid *g = &gs[ph];
        ptrdiff_t *off = malloc((size_t)c->cin * kh * kw * sizeof *off + 1);
        size_t *wsrc = malloc((size_t)c->cin * kh * kw * sizeof *wsrc + 1);
        AC_ASSERT_MSG(off && wsrc, "out of memory for convolution taps");
        int t = 0;
        for (int ci = 0; ci < c->cin; ci++)
            for (int ky = 0; ky < kh; ky++) {
                if ((a + pad - ky) % s) continue;
                for (int kx = 0; kx < kw; kx++) {
                    if ((b + pad - kx) % s) continue;
                    const int dy = (a + pad - ky) / s, dx = (b + pad - kx) / s;
                    off[t] = (ptrdiff_t)((size_t)ci * plane) + (ptrdiff_t)(dy + mt) * wq + dx + ml;
                    wsrc[t] = (size_t)ci * c->cout * kh * kw + (size_t)ky * kw + kx;
                    t++;
                }
            }
        g->ntap = t;
        g->off = off;
        g->wp = pack_weights(c->weight, c->cout, (size_t)kh * kw, wsrc, t);
        free(wsrc);
        g->avail = img;
        g->max_off = max_of(off, t);
        g->rowlen = wq;
        g->rows = a < oh ? ceil_div(oh - a, s) : 0;
        g->cols = b < ow ? ceil_div(ow - b, s) : 0;
        g->yrs = (size_t)s * ow;
        g->ycs = (size_t)s;
        g->yorg = (size_t)a * ow + b;
        maxtap = AC_MAX(maxtap, t);
    }
    const size_t oplane = (size_t)oh * ow;
    const long lanes = (long)(rows_max - 1) * wq + cols_max;
    const int nblk = (int)((lanes + JBLOCK - 1) / JBLOCK);
    // Stride 2: the column phases (a, 0) and (a, 1) run as one pair where both have taps and
    // output (see run_lanes_pair); a pair is one "phase" of the items below.
    bool paired = s == 2;
    for (int ph = 0; ph < nph && paired; ph++)
        paired = gs[ph].ntap > 0 && gs[ph].rows > 0 && gs[ph].cols > 0;
    const int nitem_ph = paired ? s : nph;
    const long long items = (long long)c->n * nitem_ph * nblk * ncb;
    const size_t per_thread = (size_t)2 * CB * NVL + (size_t)maxtap * (NVL + 2);
    float *scratch = ac_cpu_ws_alloc((size_t)T * per_thread * sizeof(float));
    const int grab = min_grab(ncb, (long long)c->n * nitem_ph * nblk, T);
#pragma omp parallel num_threads(T) if (T > 1)
    {
        float *tmp = scratch + (size_t)omp_get_thread_num() * per_thread;
        // guided, not static: the phases of a kernel not divisible by the stride differ in taps
#pragma omp for schedule(guided, grab)
        for (long long it = 0; it < items; it++) {
            const int cb = (int)(it % ncb), blk = (int)(it / ncb % nblk);
            const int ph = (int)(it / ((long long)ncb * nblk) % nitem_ph);
            const int n = (int)(it / ((long long)ncb * nblk * nitem_ph));
            const skips sk = skips_at(&c->ep, (size_t)n * c->y_batch);
            float *y = c->y + (size_t)n * c->y_batch;
            const long end = AC_MIN(lanes, (long)(blk + 1) * JBLOCK);
            if (paired) {  // ph is the row phase a
                grid g0 = gs[2 * ph], g1 = gs[2 * ph + 1];
                g0.src = g1.src = src + (size_t)n * img;
                for (long j0 = (long)blk * JBLOCK; j0 < end; j0 += NVL)
                    run_lanes_pair(&g0, &g1, cb, j0, c, y, &sk, oplane, ow, tmp);
                continue;
            }
            grid g = gs[ph];
            if (g.ntap == 0 || g.rows == 0 || g.cols == 0) continue;  // no taps: bias only, below
            g.src = src + (size_t)n * img;
            for (long j0 = (long)blk * JBLOCK; j0 < end; j0 += NVL)
                run_lanes(&g, cb, j0, c, y, &sk, oplane, tmp);
        }
    }
    // Phases without taps (kernel smaller than the stride) get the epilogue of a zero sum.
    for (int ph = 0; ph < nph; ph++) {
        const grid *g = &gs[ph];
        if (g->ntap > 0) continue;
        for (int n = 0; n < c->n; n++)
            for (int co = 0; co < c->cout; co++) {
                const size_t off = (size_t)n * c->y_batch + (size_t)co * oplane;
                float *yc = c->y + off;
                const skips kc = skips_at(&c->ep, off);
                const float bias = c->ep.bias ? c->ep.bias[co] : 0.0f;
                for (int Y = 0; Y < g->rows; Y++)
                    for (int X = 0; X < g->cols; X++) {
                        const size_t at = (size_t)Y * g->yrs + (size_t)X * g->ycs + g->yorg;
                        yc[at] = with_skips(&kc, ac_ep_activate(&c->ep, 0.0f + bias), at);
                    }
            }
    }
    for (int ph = 0; ph < nph; ph++) {
        free((void *)gs[ph].off);
        ac_cpu_ws_free((void *)gs[ph].wp);
    }
    free(gs);
    ac_cpu_ws_free(scratch);
    ac_cpu_ws_free(src);
}
