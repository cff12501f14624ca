// winograd.c: F(4x4, 3x3) and F(4x4, 2x2) Winograd convolution (see winograd.h).
//
// F(4x4, 3x3) matrices (points 0, 1, -1, 2, -2 and infinity):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Transformed index xi = 6 r + c for row r and column c of the 6x6 tile. F(4x4, 2x2) takes
// points 0, 1, -1, 2 and infinity and 5x5 tiles (xi = 5 r + c; matrices by bt5, g2, at5): the
// same steps and schedules below, with the tile side p->alpha and p->nxi positions.
//
// Three steps, with tiles along the vector lanes:
//   1. input transform: for each tile row and input channel, six input rows (padding applied
//      at the edges) are transformed down the columns (B^T, vectors along x), split into the
//      four column phases x mod 4 (vector shuffles) and transformed along the rows, giving
//      V[xi][ci][tile];
//   2. multiply: M[co][xi][tile] = sum over ci of U[xi][co][ci] V[xi][ci][tile];
//   3. output transform: A^T M A per tile, the four column phases interleaved back into
//      contiguous output rows, the epilogue applied, stored.
// Two schedules:
//   - blocked (many tiles, few output channels: the high-resolution layers): work items
//     (image, block of tiles, block of output channels) run the three steps on scratch that
//     stays in the core's cache; the multiply by a register-blocked kernel (CB output
//     channels x 1..3 vectors of tiles) over U packed as [xi][co / CB][ci][CB];
//   - whole (few tiles or many output channels): V of every tile up front (all images side by
//     side), shared by the items, which then run the multiply and the output transform.
//     With more output channels than tiles (the deep layers) U is larger than V: each item
//     then transforms the weights of its own output channels, a chunk of input channels at a
//     time, into its cache (fuse_u), so U never goes out to memory.
// All run the same arithmetic for every tile, and U's values do not depend on who computes
// them, so results do not depend on the schedule, on the other images of a batch or on the
// thread count. Otherwise U is computed once per call. The weight transform itself is in
// winograd_weights.c.
#include "backend/cpu/winograd.h"
#include "backend/cpu/winograd_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/epilogue.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

// ---------------------------------------------------------------- plan

#define WHOLE_MAX ((size_t)64 << 20)  // bytes of V for the whole schedule, at most
#define TBU (3 * VL)                  // tiles per block: a multiple of the widest product kernel
#define XI_LANES (6 * VL)             // lanes per block of the xi-major product
#define FUSED_TILES 128               // tiles per block at most when fuse_u
#define TMP_FLOATS (8 * 4 * VL)       // the output transform's scratch (two channels' rows)

static int forced_schedule;  // 0: by the rule below; 1: blocked; 2: whole; 3: whole, fused U;
                             // 4: whole, xi by xi

void ac_cpu_wino_force_schedule(int schedule) { forced_schedule = schedule; }

// Three quarters of the core's L2 cache, at least 512 KB: the bytes of M and the U chunk per
// thread when fuse_u, and of one xi's U, V and M for xi_major. With fuse_u, each item streams
// V of its block of tiles (all input channels) once for its output channels; the more
// channels an item takes, the less often V comes back from L3. VGG19's 512-channel 28x28
// layers at batch 3, 2 threads: 22-24 ms a call with 512 KB (16 output channels an item),
// 17-18 ms with 1.5 MB (64) on a 2 MB L2. The plan never changes a result (make_plan).
static size_t l2_budget(void) {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return AC_MAX((size_t)512 * 1024, l2 > 0 ? (size_t)l2 / 4 * 3 : 0);
}

static void make_plan(plan *p, const ac_fused_conv *c, int threads) {
    memset(p, 0, sizeof *p);
    p->c = c;
    p->r = c->kh;
    p->alpha = p->r + 3;
    p->nxi = p->alpha * p->alpha;
    p->oh = c->h + 2 * c->pad - (p->r - 1);
    p->ow = c->w + 2 * c->pad - (p->r - 1);
    p->th = ceil_div(p->oh, 4);
    p->tw = ceil_div(p->ow, 4);
    p->ntile = p->th * p->tw;
    p->ncb = ceil_div(c->cout, CB);
    const int cout_p = p->ncb * CB;
    p->nck = ceil_div(c->cin, CHUNK_IN);
    p->ck = ceil_div(c->cin, p->nck);
    p->cok = AC_MIN(cout_p, CHUNK_OUT);
    // Whole when the blocks of output channels would each transform the input again, or
    // the tiles are few; and V fits the budget. All the schedules run the same arithmetic for
    // every tile (the same kernel, the same chunks of input channels): the choice, which
    // depends on the batch, never changes a result, and an image's output does not depend on
    // the other images of the batch.
    const long long all = (long long)c->n * p->ntile;
    const int all_tbs = ceil_div((int)AC_MIN(all, INT32_MAX / 2), VL) * VL + VL;
    const double whole_bytes = (double)p->nxi * c->cin * all_tbs * sizeof(float);
    p->whole = (cout_p > CHUNK_OUT || all <= 8 * VL) && whole_bytes <= (double)WHOLE_MAX;
    // More output channels than tiles: the transformed weights U outweigh V. Rather than U
    // going out to memory and coming back once per block of tiles, each item then transforms
    // the weights of its own output channels, a chunk of input channels at a time, into its
    // cache, taking every tile in one block (fuse_u; with more tiles than a block holds, the
    // weights would be transformed once per block).
    // Otherwise the whole schedule would take the items (block of tiles, block of output
    // channels) one by one, each reading V and U of its block from memory again. Where one
    // xi's V, with the U and M of a block of output channels, fits the L2 budget, the product
    // rather goes xi by xi (xi_major); where V is far larger than L2, the blocked schedule,
    // which keeps its V in cache, runs faster. 2 threads, one call: VGG19's 256-channel 56x56
    // layers at batch 3 took 15-17 ms xi by xi, 19-21 ms whole; its 128-channel 112x112
    // layers 16 ms blocked, 24 ms whole; its 512-channel 28x28 ones at batch 6 32 ms xi by xi,
    // 39 ms with fuse_u. With fewer than 128 input channels the product is too short for the
    // memory traffic of xi by xi (64->128 112x112 batch 3: 8 ms blocked, 17 ms xi by xi).
    const double l2 = (double)l2_budget();
    const int cok_xi = AC_MIN(cout_p, CHUNK_OUT);
    const double xi_bytes = (double)sizeof(float) *
                            ((double)c->cin * all_tbs + (double)cok_xi * (c->cin + all_tbs));
    const bool fuse = cout_p > all && all <= FUSED_TILES;
    p->xi_major = p->whole && !fuse && c->cin >= 2 * CHUNK_IN && xi_bytes <= l2;
    if (p->whole && !fuse && !p->xi_major && cout_p <= all && whole_bytes > 4 * l2)
        p->whole = false;
    if (forced_schedule) {
        p->whole = forced_schedule >= 2;
        p->xi_major = forced_schedule == 4;
    }
    p->fuse_u = p->whole && !p->xi_major &&
                (forced_schedule ? forced_schedule == 3 : cout_p > all);
    p->lanes = p->whole ? (int)all : p->ntile;
    int tb;
    if (p->fuse_u) {
        // blocks of at most FUSED_TILES tiles, as even as they come (each block transforms
        // the weights again); output channels per item: M and the U chunk within the fused
        // budget
        const int nvec = ceil_div(p->lanes, VL), nb = ceil_div(nvec, FUSED_TILES / VL);
        tb = ceil_div(nvec, nb) * VL;
        const size_t per_co = (size_t)p->nxi * (size_t)(tb + VL + p->ck) * sizeof(float);
        p->cok = AC_MIN(p->cok, AC_MAX(CB, (int)((size_t)l2 / per_co) / CB * CB));
    } else {
        // Tiles per block: M (and V when blocked) of an item within the scratch budget.
        const size_t per_tile =
            (size_t)p->nxi * (size_t)((p->whole ? 0 : p->ck) + p->cok) * sizeof(float);
        tb = (int)(SCRATCH_BUDGET / per_tile) / TBU * TBU;
        tb = AC_MAX(tb, TBU);
        tb = AC_MIN(tb, 16 * VL / TBU * TBU);
        tb = AC_MIN(tb, ceil_div(p->lanes, TBU) * TBU);
    }
    // Enough items to keep every thread busy: smaller output-channel blocks, then smaller
    // tile blocks.
    const int images = p->whole ? 1 : c->n;
    for (;;) {
        p->nblk = ceil_div(p->lanes, tb);
        p->ncoc = ceil_div(cout_p, p->cok);
        long long items = (long long)images * p->nblk * p->ncoc;
        if (items >= 4LL * threads) break;
        if (p->cok > 2 * CB) p->cok = ceil_div(p->cok / 2, CB) * CB;
        else if (tb > TBU) tb -= p->fuse_u ? VL : TBU;
        else break;
    }
    p->tb = tb;
    p->tbs = tb + VL;
    p->items = images * p->nblk * p->ncoc;
    p->vtbs = p->whole ? all_tbs : p->tbs;
    p->vxs = odd_lines(p->whole ? (size_t)c->cin : (size_t)p->ck, p->vtbs);
    p->mcs = odd_lines((size_t)p->nxi, p->tbs);
    p->v_floats = p->whole ? 0 : p->vxs * p->nxi;
    p->m_floats = p->mcs * p->cok;
    p->u_floats = p->fuse_u ? (size_t)p->nxi * ((size_t)p->cok * p->ck + 16) : 0;
    p->thread_floats =
        p->v_floats + p->m_floats + p->u_floats + 6 * (size_t)TR_ROWLEN + TMP_FLOATS;
}

// ---------------------------------------------------------------- input transform

// For the tiles [t0, t1) of image xn and channels [c0, c1): v[xi * vxs + (ci - c0) * tbs +
// (t - t0)] = V. `tr` holds 6 rows of TR_ROWLEN floats.
//
// The tiles go by runs cut into segments (wino_segments). The column pass of segment s, whose
// first tile is lane l of the run, writes its columns at 4 l of `tr`: the phases x mod 4 of every
// tile of the run then lie one after another, as in a single long row, and the row pass reads
// them across the segments. The two columns past a segment's last tile (4 n and 4 n + 1 from
// its start), which the next segment's columns overwrite, are kept aside and put back into
// the lanes of the segments' last tiles.
// Lanes [x, x + VL) of phase px of a row of n floats padded by pad (mode):
// row[2 (x + l) + px - pad], reflected in the padding, zero beyond it.
static inline ac_vf load_phase(const float *row, int x, int px, int pad, int n, ac_pad_mode mode) {
    const int s = 2 * x + px - pad;
    if (s >= 0 && s + 2 * VL <= n) return ac_veven(ac_vload(row + s), ac_vload(row + s + VL));
    if (mode == AC_PAD_ZERO)
        return ac_veven(ac_vload_range(row, s, n), ac_vload_range(row, s + VL, n));
    float t[VL];  // an edge of a reflected row
    for (int l = 0; l < VL; l++) {
        const int m = map_coord(s + 2 * l, n, pad, mode);
        t[l] = m >= 0 ? row[m] : 0.0f;
    }
    return ac_vload(t);
}

// A: the tile side, p->alpha (6 for 3x3 kernels, 5 for 2x2); PH: p->phases; each a constant
// in each instance.
__attribute__((always_inline)) static inline void input_transform(const plan *p, float *tr,
                                                                  const float *xn, int t0, int t1,
                                                                  int c0, int c1, float *v,
                                                                  size_t vxs, size_t tbs,
                                                                  const int A, const bool PH) {
    const ac_fused_conv *c = p->c;
    const size_t plane = PH ? (size_t)p->ph.h * p->ph.w : (size_t)c->h * c->w;
    const int rl = TR_ROWLEN;
    const ac_vi sh0 = MASK_SHIFT0, sh1 = MASK_SHIFT1;
    wino_seg sg[PACK_LANES];
    // per segment: the source rows of its 6 input rows (-1: zeros), and its reflected columns
    // (reflection padding, at most 2 pad): column `col` of its column pass reads `from`
    int ys[PACK_LANES][6], nrefl[PACK_LANES];
    struct {
        int col, from;
    } refl[PACK_LANES][4];
    float over[PACK_LANES][6][2];
    for (int k0 = t0; k0 < t1; k0 += PACK_LANES) {
        const int k1 = AC_MIN(t1, k0 + PACK_LANES), nq = ceil_div(k1 - k0, VL);
        const int nsg = wino_segments(p->tw, k0, k1, sg);
        for (int s = 0; s < nsg; s++) {
            for (int r = 0; r < A; r++)
                ys[s][r] = map_coord(4 * sg[s].i + r - c->pad, c->h, c->pad, c->mode);
            nrefl[s] = 0;
            const int xs = 4 * sg[s].ja - c->pad;
            for (int col = 0; c->mode == AC_PAD_REFLECT && col < 4 * sg[s].n + 2; col++) {
                const int x = xs + col, m = map_coord(x, c->w, c->pad, c->mode);
                if ((x < 0 || x >= c->w) && m >= 0) {
                    AC_ASSERT(nrefl[s] < 4);
                    refl[s][nrefl[s]].col = col;
                    refl[s][nrefl[s]++].from = m;
                }
            }
        }
        for (int ci = c0; ci < c1; ci++) {
            const float *src = xn + (size_t)(PH ? ci / 4 : ci) * plane;
            const int py = (ci / 2) % 2, px = ci % 2;
            for (int s = 0; s < nsg; s++) {
                // Columns xs .. xs + 4 n + 2 of the segment, in whole vectors (stale finite
                // values past them reach only unused lanes)
                const int n = sg[s].n, xs = 4 * sg[s].ja - c->pad, ncols = ceil_div(4 * n + 2, VL) * VL;
                float *out = tr + 4 * sg[s].lane;
                const float *row[6];
                for (int r = 0; r < A; r++) {
                    if (PH) {  // pixel row 2 Y + py - pad of the image, or zeros
                        const int y = ys[s][r] >= 0 ? map_coord(2 * ys[s][r] + py - p->ph.pad, p->ph.h,
                                                                p->ph.pad, p->ph.mode)
                                                    : -1;
                        row[r] = y >= 0 ? src + (size_t)y * p->ph.w : NULL;
                    } else {
                        row[r] = ys[s][r] >= 0 ? src + (size_t)ys[s][r] * c->w : NULL;
                    }
                }
                for (int k = 0; k < ncols; k += VL) {  // down the columns
                    const int x = xs + k;
                    ac_vf d[6], o[6];
                    if (PH) {  // (no padding of the phase planes themselves: c->pad is 0)
                        for (int r = 0; r < A; r++)
                            d[r] = row[r] ? load_phase(row[r], x, px, p->ph.pad, p->ph.w, p->ph.mode)
                                          : ac_vsplat(0.0f);
                    } else if (x >= 0 && x + VL <= c->w) {
                        for (int r = 0; r < A; r++) d[r] = row[r] ? ac_vload(row[r] + x) : ac_vsplat(0.0f);
                    } else {  // an edge: the row's part, then the reflected lanes
                        for (int r = 0; r < A; r++)
                            d[r] = row[r] ? ac_vload_range(row[r], x, c->w) : ac_vsplat(0.0f);
                        for (int e = 0; e < nrefl[s]; e++) {
                            const int l = refl[s][e].col - k, m = refl[s][e].from;
                            if (l < 0 || l >= VL) continue;
                            const ac_vi at = ac_viota() == l;
                            for (int r = 0; r < A; r++)
                                if (row[r]) d[r] = ac_vselect(at, ac_vsplat(row[r][m]), d[r]);
                        }
                    }
                    if (A == 6) bt6(d, o);
                    else bt5(d, o);
                    for (int r = 0; r < A; r++) ac_vstore(out + r * rl + k, o[r]);
                }
                for (int r = 0; r < A; r++) {
                    over[s][r][0] = out[r * rl + 4 * n];
                    over[s][r][1] = out[r * rl + 4 * n + 1];
                }
            }
            float *vb = v + (size_t)(ci - c0) * tbs + (k0 - t0);
            for (int r = 0; r < A; r++) {  // along the rows, one tile per lane
                const float *trr = tr + r * rl;
                int s = 0;  // the first segment whose last tile is in or after vector q
                for (int q = 0; q < nq; q++) {
                    ac_vf d[6], o[6];
                    deinterleave4(trr + 4 * VL * q, d);
                    const ac_vf next = ac_vload(trr + 4 * VL * (q + 1));
                    d[4] = __builtin_shuffle(d[0], next, sh0);
                    if (A == 6) d[5] = __builtin_shuffle(d[1], next, sh1);
                    // segments that end in this vector: their last tiles take the kept columns
                    for (; s < nsg && sg[s].lane + sg[s].n <= VL * (q + 1); s++) {
                        const ac_vi at = ac_viota() == sg[s].lane + sg[s].n - 1 - VL * q;
                        d[4] = ac_vselect(at, ac_vsplat(over[s][r][0]), d[4]);
                        if (A == 6) d[5] = ac_vselect(at, ac_vsplat(over[s][r][1]), d[5]);
                    }
                    if (A == 6) bt6(d, o);
                    else bt5(d, o);
                    for (int k = 0; k < A; k++) ac_vstore(vb + (A * r + k) * vxs + VL * q, o[k]);
                }
            }
        }
    }
}

void ac_wino_input_transform(const plan *p, float *tr, const float *xn, int t0, int t1, int c0,
                             int c1, float *v, size_t vxs, size_t tbs) {
    if (p->alpha == 6) input_transform(p, tr, xn, t0, t1, c0, c1, v, vxs, tbs, 6, false);
    else if (p->phases) input_transform(p, tr, xn, t0, t1, c0, c1, v, vxs, tbs, 5, true);
    else input_transform(p, tr, xn, t0, t1, c0, c1, v, vxs, tbs, 5, false);
}

// ---------------------------------------------------------------- multiply (blocked)

// m[r][j] (+)= sum_c u[c][r] v[c][j], r < CB, j < nv vectors, k >= 1; u: (k, CB), v and m:
// rows of stride vs / ms floats. One kernel for setting m and one for adding to it, the loop
// run at least once and the small loops unrolled (AC_UNROLL): with `add` a run-time flag, or
// a path around the loop, GCC kept the accumulators in a stack array and moved all of them
// through memory before and after the loop.
#define DEFINE_MICRO(name, nv, add)                                                             \
    static inline void name(int k, const float *u, const float *v, size_t vs, float *m,         \
                            size_t ms) {                                                        \
        ac_vf a[CB][nv];                                                                        \
        AC_UNROLL for (int r = 0; r < CB; r++)                                                  \
            AC_UNROLL for (int j = 0; j < nv; j++)                                              \
                a[r][j] = add ? ac_vload(m + r * ms + j * VL) : ac_vsplat(0.0f);                \
        int c = 0;                                                                              \
        do {                                                                                    \
            ac_vf x[nv];                                                                        \
            AC_UNROLL for (int j = 0; j < nv; j++) {                                            \
                x[j] = ac_vload(v + c * vs + j * VL);                                           \
                ac_vpin(x[j]); /* loaded once, used CB times */                                 \
            }                                                                                   \
            AC_UNROLL for (int r = 0; r < CB; r++) {                                            \
                const ac_vf b = ac_vsplat(u[c * CB + r]);                                       \
                AC_UNROLL for (int j = 0; j < nv; j++) a[r][j] = ac_vfma(b, x[j], a[r][j]);     \
            }                                                                                   \
        } while (++c < k);                                                                      \
        AC_UNROLL for (int r = 0; r < CB; r++)                                                  \
            AC_UNROLL for (int j = 0; j < nv; j++) ac_vstore(m + r * ms + j * VL, a[r][j]);     \
    }
DEFINE_MICRO(micro_3, 3, false)
DEFINE_MICRO(micro_2, 2, false)
DEFINE_MICRO(micro_1, 1, false)
DEFINE_MICRO(micro_3_add, 3, true)
DEFINE_MICRO(micro_2_add, 2, true)
DEFINE_MICRO(micro_1_add, 1, true)

// The kernels by [add][vectors of lanes - 1].
typedef void (*micro_fn)(int k, const float *u, const float *v, size_t vs, float *m, size_t ms);
static const micro_fn micro[2][3] = {{micro_1, micro_2, micro_3},
                                     {micro_1_add, micro_2_add, micro_3_add}};

// M[co - co0][xi][lane] (+)= sum over k input channels of U V, for nco output channels (a
// multiple of CB) and nl vectors of lanes. u: U at the first output channel and input channel
// (uxs floats per xi, ucbs per block of CB output channels); v: V at the first input channel
// and lane (rows of p->vtbs lanes, p->vxs floats per xi); m: M at the first lane (rows of
// p->tbs lanes, p->mcs floats per output channel).
static void multiply_xi(const plan *p, int xi, const float *u, size_t uxs, size_t ucbs,
                        const float *vs, float *ms, int k, int nco, int nl, bool add) {
    AC_ASSERT(k > 0);  // the micro-kernels run at least one input channel
    const size_t vt = (size_t)p->vtbs, mt = (size_t)p->tbs;
    const float *v = vs + (size_t)xi * p->vxs;
    for (int b = 0; b < nco / CB; b++) {
        const float *ub = u + (size_t)xi * uxs + (size_t)b * ucbs;
        float *m = ms + (size_t)b * CB * p->mcs + (size_t)xi * mt;
        // three vectors at a time, then the rest (1 or 2) at once
        for (int l = 0; l < nl;) {
            const int w = AC_MIN(3, nl - l);
            micro[add][w - 1](k, ub, v + l * VL, vt, m + l * VL, p->mcs);
            l += w;
        }
    }
}

static void multiply(const plan *p, const float *u, size_t uxs, size_t ucbs, const float *vs,
                     float *ms, int k, int nco, int nl, bool add) {
    for (int xi = 0; xi < p->nxi; xi++) multiply_xi(p, xi, u, uxs, ucbs, vs, ms, k, nco, nl, add);
}

// U of the output channels [co0, co0 + nco) and input channels [c0, c1) for multiply(): the
// call's U, or (fuse_u) those weights transformed into ub.
static const float *u_chunk(const plan *p, float *ub, int co0, int nco, int c0, int c1,
                            size_t *uxs, size_t *ucbs) {
    if (p->fuse_u) {
        *ucbs = (size_t)(c1 - c0) * CB;
        *uxs = odd_lines((size_t)(nco / CB), (int)*ucbs);  // (see ac_wino_whole_u_at)
        ac_wino_transform_weight_block(p, co0, nco, c0, c1, ub, *uxs, *ucbs);
        return ub;
    }
    return ac_wino_whole_u_at(p, co0, c0, uxs, ucbs);
}

// ---------------------------------------------------------------- output transform

// Output channels [co0, co1) of image n for the tiles [t0, t1), from
// m[(co - co0) * mcs + xi * tbs + (t - t0)]. `tmp` holds TMP_FLOATS floats.
// As in the input transform, the tiles go by runs cut into segments (wino_segments): each
// vector of lanes is transformed once, and its 4 VL output columns (per output row)
// are stored piece by piece, one piece per row of tiles the vector touches (whole vectors,
// with the epilogue in registers, where a piece is a whole vector).
// A: the tile side, p->alpha, a constant in each instance.
__attribute__((always_inline)) static inline void output_transform_a(const plan *p, float *tmp,
                                                                     const float *m, size_t tbs,
                                                                     int n, int t0, int t1,
                                                                     int co0, int co1,
                                                                     const int A) {
    const ac_fused_conv *c = p->c;
    const ac_conv_epilogue *ep = &c->ep;
    const size_t oplane = (size_t)p->oh * p->ow;
    wino_seg sg[PACK_LANES];
    for (int k0 = t0; k0 < t1; k0 += PACK_LANES) {
        const int k1 = AC_MIN(t1, k0 + PACK_LANES), nq = ceil_div(k1 - k0, VL);
        const int nsg = wino_segments(p->tw, k0, k1, sg);
        for (int co = co0; co < co1; co++) {
            const float *mrow = m + (size_t)(co - co0) * p->mcs + (k0 - t0);
            const out_chan oc = out_chan_at(c, n, co, oplane);
            float *yp = oc.y;
            const float *rp = oc.res, *ap = oc.add, *sp = oc.sub;
            const float bias = oc.bias;
            const ac_vf vb = ac_vsplat(bias);
            int s = 0;  // the first segment with tiles in vector q
            for (int q = 0; q < nq; q++) {
                ac_vf h[6][4];
                AC_UNROLL for (int r = 0; r < A; r++) {
                    ac_vf mv[6];
                    AC_UNROLL for (int k = 0; k < A; k++) mv[k] = ac_vload(mrow + (A * r + k) * tbs + VL * q);
                    if (A == 6) at6(mv, h[r]);
                    else at5(mv, h[r]);
                }
                AC_UNROLL for (int k = 0; k < 4; k++) {
                    ac_vf col[6], o[4];
                    AC_UNROLL for (int r = 0; r < A; r++) col[r] = h[r][k];
                    if (A == 6) at6(col, o);
                    else at5(col, o);
                    AC_UNROLL for (int r = 0; r < 4; r++) h[r][k] = o[r];  // rows 0..3 now hold Y
                }
                ac_vf rows[4][4];
                AC_UNROLL for (int r = 0; r < 4; r++) interleave4(h[r], rows[r]);
                const int q0 = VL * q, q1 = q0 + VL;
                // pieces other than a whole vector are stored from tmp (once for all of them)
                if (!(sg[s].lane <= q0 && sg[s].lane + sg[s].n >= q1 &&
                      4 * (sg[s].ja + q0 - sg[s].lane + VL) <= p->ow))
                    for (int r = 0; r < 4; r++)
                        for (int k = 0; k < 4; k++) ac_vstore(tmp + (4 * r + k) * VL, rows[r][k]);
                for (; s < nsg && sg[s].lane < q1; s++) {
                    // the piece of segment s in this vector: lanes [a, b)
                    const int end = sg[s].lane + sg[s].n;
                    const int a = AC_MAX(sg[s].lane, q0), b = AC_MIN(end, q1);
                    const int i = sg[s].i, x0 = 4 * (sg[s].ja + a - sg[s].lane);
                    const int ncol = AC_MIN(4 * (b - a), p->ow - x0);
                    const int nrow = AC_MIN(4, p->oh - 4 * i);
                    for (int r = 0; r < nrow; r++) {
                        const size_t at = (size_t)(4 * i + r) * p->ow + x0;
                        if (ncol == 4 * VL) {  // a whole vector: the epilogue in registers
                            for (int k = 0; k < 4; k++) {
                                const size_t o = at + (size_t)k * VL;
                                ac_ep_finish_v(ep, rows[r][k], vb, yp + o, rp ? rp + o : NULL,
                                           ap ? ap + o : NULL, sp ? sp + o : NULL);
                            }
                            continue;
                        }
                        const float *src = tmp + 4 * (r * VL + a - q0);
                        finish_row(ep, bias, src, yp + at, rp ? rp + at : NULL,
                                   ap ? ap + at : NULL, sp ? sp + at : NULL, ncol);
                    }
                    if (end > q1) break;  // the segment goes on in the next vector
                }
            }
        }
    }
}

static void output_transform(const plan *p, float *tmp, const float *m, size_t tbs, int n,
                             int t0, int t1, int co0, int co1) {
    if (p->interleave) ac_wino_output_interleaved(p, tmp, m, tbs, n, t0, t1, co0, co1);
    else if (p->alpha == 6) output_transform_a(p, tmp, m, tbs, n, t0, t1, co0, co1, 6);
    else output_transform_a(p, tmp, m, tbs, n, t0, t1, co0, co1, 5);
}

// ---------------------------------------------------------------- driver

bool ac_cpu_wino_supported(int h, int w, int pad, ac_pad_mode mode) {
    if (pad < 0 || pad > 2 || h + 2 * pad < 3 || w + 2 * pad < 3) return false;
    if (mode == AC_PAD_REFLECT && (pad >= h || pad >= w)) return false;
    return true;
}

// count blocks of n floats, uninitialised
static float *alloc_floats(size_t n, size_t count) {
    size_t bytes;
    AC_ASSERT_MSG(ac_mul_size(n * sizeof(float), count, &bytes), "winograd scratch size overflows");
    return ac_cpu_ws_alloc(bytes);
}

// The output transform reads whole vectors from each image's first tile: up to VL - 1 lanes
// past the nl vectors that multiply() writes. Those lanes (thrown away) are zeroed in
// the nco output channels' rows of M, so that they hold finite values (tbs >= nl VL + VL).
static void zero_after_lanes(const plan *p, float *m, int nco, int nl) {
    AC_ASSERT(nl * VL + VL <= p->tbs);
    const ac_vf z = ac_vsplat(0.0f);
    for (int co = 0; co < nco; co++)
        for (int xi = 0; xi < p->nxi; xi++)
            ac_vstore(m + (size_t)co * p->mcs + (size_t)xi * p->tbs + (size_t)nl * VL, z);
}

// The items of every schedule go to the threads in long runs of neighbouring blocks (guided),
// not one at a time: a core then reads a stretch of the input of its own (see direct_conv.c).
// The 3x3 layers of a 480x640 forward took about 5% less time on two threads. But where the
// items are few (at most 8 a thread) they go one at a time (schedule(dynamic, 1)): guided's
// first grab is half of them with two threads, and with a handful of items of unequal cost
// (an image's last, partial block of tiles) the threads then finished far apart. 64->64
// channels at 56x56 on two threads: 0.43 to 0.31 ms at batch 1, 1.03 to 0.99 ms at batch 3.
static inline bool few_items(int items, int threads) { return items <= 8 * threads; }

// The tiles [t0, t1) and output channels [co0, co1) of block of tiles blk and block of output
// channels coc; nco: co1 - co0 rounded up to CB, nl: vectors of lanes.
typedef struct item_span {
    int t0, t1, co0, co1, nco, nl;
} item_span;

static item_span item_at(const plan *p, int blk, int coc) {
    item_span s;
    s.t0 = blk * p->tb;
    s.t1 = AC_MIN(p->lanes, s.t0 + p->tb);
    s.co0 = coc * p->cok;
    s.co1 = AC_MIN(p->c->cout, s.co0 + p->cok);
    s.nco = ceil_div(s.co1 - s.co0, CB) * CB;
    s.nl = ceil_div(s.t1 - s.t0, VL);
    return s;
}

// Item it of run_blocked: its tiles' V, a chunk of input channels at a time, their product
// with U into M, and the output transform.
static void blocked_item(const plan *p, int it, float *v, float *m, float *tr, float *tmp) {
    const ac_fused_conv *c = p->c;
    const int per_image = p->nblk * p->ncoc, n = it / per_image;
    const item_span s = item_at(p, (it % per_image) / p->ncoc, it % p->ncoc);
    zero_after_lanes(p, m, s.nco, s.nl);
    for (int k = 0; k < p->nck; k++) {
        const int c0 = k * p->ck, c1 = AC_MIN(c->cin, c0 + p->ck);
        ac_wino_input_transform(p, tr, c->x + (size_t)n * c->x_batch, s.t0, s.t1, c0, c1, v,
                                p->vxs, (size_t)p->vtbs);
        size_t uxs, ucbs;
        const float *u = u_chunk(p, NULL, s.co0, s.nco, c0, c1, &uxs, &ucbs);
        multiply(p, u, uxs, ucbs, v, m, c1 - c0, s.nco, s.nl, k > 0);
    }
    output_transform(p, tmp, m, (size_t)p->tbs, n, s.t0, s.t1, s.co0, s.co1);
}

static void run_blocked(const plan *p, int threads) {
    float *all = alloc_floats(p->thread_floats, (size_t)threads);
    const bool few = few_items(p->items, threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        float *v = all + (size_t)omp_get_thread_num() * p->thread_floats;
        float *m = v + p->v_floats, *tr = m + p->m_floats, *tmp = tr + 6 * (size_t)TR_ROWLEN;
        // The transform rows are read past what is written (stale lanes): finite. V is
        // written by the input transform in whole vectors (from those rows) before multiply()
        // reads it, M by multiply(), but for the vector after an item's lanes, zeroed per item.
        memset(tr, 0, (6 * (size_t)TR_ROWLEN + TMP_FLOATS) * sizeof(float));
        if (few) {
#pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < p->items; it++) blocked_item(p, it, v, m, tr, tmp);
        } else {
#pragma omp for schedule(guided)
            for (int it = 0; it < p->items; it++) blocked_item(p, it, v, m, tr, tmp);
        }
    }
    ac_cpu_ws_free(all);
}

// Tiles [t0, t1) of the lanes of all images (lane n ntile + t): the output transform image
// by image, from m at lane t0.
static void output_lanes(const plan *p, float *tmp, const float *m, int t0, int t1, int co0,
                         int co1) {
    for (int t = t0; t < t1;) {
        const int n = t / p->ntile, a = t % p->ntile, b = AC_MIN(p->ntile, a + (t1 - t));
        output_transform(p, tmp, m + (t - t0), (size_t)p->tbs, n, a, b, co0, co1);
        t += b - a;
    }
}

// V of every tile (all images along the lanes) for the input channels [8 k, 8 k + 8), each
// image in order: the vector stores of a row of tiles spill past its last tile into lanes
// that the next row overwrites (past the last image, into the padding lanes).
static void whole_v_chunk(const plan *p, float *tr, float *v, int k) {
    const ac_fused_conv *c = p->c;
    const int c0 = 8 * k, c1 = AC_MIN(c->cin, c0 + 8);
    // lanes past the last tile are read (never used): zeroed, before the transform's stores
    // spill into the first of them (VL to 2 VL - 1 floats per row: vector stores rather than
    // a memset call per row)
    const int pad = p->vtbs - p->lanes;
    for (int xi = 0; xi < p->nxi; xi++)
        for (int ci = c0; ci < c1; ci++) {
            float *row = v + xi * p->vxs + (size_t)ci * p->vtbs + p->lanes;
            for (int i = 0; i < pad; i += VL) ac_vstore_n(row + i, ac_vsplat(0.0f), AC_MIN(VL, pad - i));
        }
    for (int n = 0; n < c->n; n++)
        ac_wino_input_transform(p, tr, c->x + (size_t)n * c->x_batch, 0, p->ntile, c0, c1,
                                v + (size_t)c0 * p->vtbs + (size_t)n * p->ntile, p->vxs,
                                (size_t)p->vtbs);
}

// Item it of run_whole (block of lanes, block of output channels): the product of its lanes
// of v with U (ub: the chunk of U that it transforms itself, with fuse_u) into M, and the
// output transform.
static void whole_item(const plan *p, int it, const float *v, float *m, float *tmp, float *ub) {
    const ac_fused_conv *c = p->c;
    const item_span s = item_at(p, it / p->ncoc, it % p->ncoc);
    zero_after_lanes(p, m, s.nco, s.nl);
    for (int k = 0; k < p->nck; k++) {
        const int c0 = k * p->ck, c1 = AC_MIN(c->cin, c0 + p->ck);
        size_t uxs, ucbs;
        const float *u = u_chunk(p, ub, s.co0, s.nco, c0, c1, &uxs, &ucbs);
        multiply(p, u, uxs, ucbs, v + (size_t)c0 * p->vtbs + s.t0, m, c1 - c0, s.nco, s.nl, k > 0);
    }
    output_lanes(p, tmp, m, s.t0, s.t1, s.co0, s.co1);
}

// V of every tile up front, then the items (block of lanes, block of output channels) as in
// run_blocked without the input transform.
static void run_whole(const plan *p, int threads) {
    const ac_fused_conv *c = p->c;
    float *v = alloc_floats(p->vxs, (size_t)p->nxi);
    float *all = alloc_floats(p->thread_floats, (size_t)threads);
    const int cch = ceil_div(c->cin, 8);  // chunks of whole_v_chunk
    const bool few = few_items(p->items, threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        float *m = all + (size_t)omp_get_thread_num() * p->thread_floats;
        float *tr = m + p->m_floats, *tmp = tr + 6 * (size_t)TR_ROWLEN, *ub = tmp + TMP_FLOATS;
        // The transform rows are read past what is written (stale lanes): finite. M and the U
        // chunk are written before they are read, but for the vector of M after an item's
        // lanes, zeroed per item below.
        memset(tr, 0, (6 * (size_t)TR_ROWLEN + TMP_FLOATS) * sizeof(float));
#pragma omp for schedule(guided)
        for (int k = 0; k < cch; k++) whole_v_chunk(p, tr, v, k);
        if (few) {
#pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < p->items; it++) whole_item(p, it, v, m, tmp, ub);
        } else {
#pragma omp for schedule(guided)
            for (int it = 0; it < p->items; it++) whole_item(p, it, v, m, tmp, ub);
        }
    }
    ac_cpu_ws_free(all);
    ac_cpu_ws_free(v);
}

// V of every tile up front, as in run_whole, then M of every tile: the product as NXI
// separate matrix products (each xi's U, V and M together are about a cache's worth where
// the whole V and U are not), then the output transform. The same micro-kernel calls as the
// other schedules, on the same chunks of input channels: the same results.
static void run_whole_xi(const plan *p, int threads) {
    const ac_fused_conv *c = p->c;
    plan q = *p;  // M of all lanes: rows of vtbs lanes
    q.tbs = p->vtbs;
    q.mcs = odd_lines((size_t)p->nxi, q.tbs);
    const int cout_p = p->ncb * CB;
    float *v = alloc_floats(p->vxs, (size_t)p->nxi);
    float *m = alloc_floats(q.mcs, (size_t)cout_p);
    const size_t per_thread = 6 * (size_t)TR_ROWLEN + TMP_FLOATS;
    float *all = alloc_floats(per_thread, (size_t)threads);
    const int cch = ceil_div(c->cin, 8), nl_all = ceil_div(p->lanes, VL);
    const int nlb = ceil_div(p->lanes, XI_LANES), ncoc = ceil_div(cout_p, p->cok);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        float *tr = all + (size_t)omp_get_thread_num() * per_thread, *tmp = tr + 6 * (size_t)TR_ROWLEN;
        memset(tr, 0, per_thread * sizeof(float));  // read past what is written: finite
#pragma omp for schedule(guided)
        for (int k = 0; k < cch; k++) whole_v_chunk(p, tr, v, k);
        // (xi, block of output channels): lanes by blocks of XI_LANES, each over the chunks
        // of input channels
#pragma omp for schedule(guided)
        for (int it = 0; it < p->nxi * ncoc; it++) {
            const int xi = it / ncoc, co0 = (it % ncoc) * p->cok;
            const int nco = AC_MIN(p->cok, cout_p - co0);
            float *mc = m + (size_t)co0 * q.mcs;
            for (int t0 = 0; t0 < p->lanes; t0 += XI_LANES) {
                const int nl = ceil_div(AC_MIN(XI_LANES, p->lanes - t0), VL);
                for (int k = 0; k < p->nck; k++) {
                    const int c0 = k * p->ck, c1 = AC_MIN(c->cin, c0 + p->ck);
                    size_t uxs, ucbs;
                    const float *u = ac_wino_whole_u_at(p, co0, c0, &uxs, &ucbs);
                    multiply_xi(&q, xi, u, uxs, ucbs, v + (size_t)c0 * q.vtbs + t0, mc + t0,
                                c1 - c0, nco, nl, k > 0);
                }
            }
            // the vector after the last lanes: read by the output transform, thrown away
            for (int co = 0; co < nco; co++)
                ac_vstore(mc + (size_t)co * q.mcs + (size_t)xi * q.tbs + (size_t)nl_all * VL, ac_vsplat(0.0f));
        }
#pragma omp for schedule(guided)
        for (int it = 0; it < nlb * ncoc; it++) {
            const int t0 = (it / ncoc) * XI_LANES, t1 = AC_MIN(p->lanes, t0 + XI_LANES);
            const int co0 = (it % ncoc) * p->cok, co1 = AC_MIN(c->cout, co0 + p->cok);
            output_lanes(&q, tmp, m + (size_t)co0 * q.mcs + t0, t0, t1, co0, co1);
        }
    }
    ac_cpu_ws_free(all);
    ac_cpu_ws_free(m);
    ac_cpu_ws_free(v);
}

// ph: NULL, or the image whose phases are c's input (plan.phases); yi: NULL, or the output into
// which c's output channels go as phases (plan.interleave).
static void wino_conv(const ac_fused_conv *c, const wino_phases *ph, const wino_interleave *yi) {
    const int threads = ac_cpu_conv_threads();
    plan p;
    make_plan(&p, c, threads);
    if (ph) {
        p.phases = true;
        p.ph = *ph;
    }
    if (yi) {
        p.interleave = true;
        p.yi = *yi;
    }
    if (!p.fuse_u) ac_wino_transform_weights(&p);
    if (p.xi_major) run_whole_xi(&p, threads);
    else if (p.whole) run_whole(&p, threads);
    else run_blocked(&p, threads);
    if (p.u) ac_cpu_ws_free(p.u);
}

void ac_cpu_wino_conv3x3(const ac_fused_conv *c) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0);
    AC_ASSERT(c->kh == 3 && c->kw == 3 && c->stride == 1);
    AC_ASSERT_MSG(ac_cpu_wino_supported(c->h, c->w, c->pad, c->mode),
                  "winograd: unsupported geometry");
    wino_conv(c, NULL, NULL);
}

void ac_cpu_wino_conv2x2(const ac_fused_conv *c) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0);
    AC_ASSERT(c->kh == 2 && c->kw == 2 && c->stride == 1);
    AC_ASSERT_MSG(c->pad >= 0 && c->pad <= 2 && c->h + 2 * c->pad >= 2 && c->w + 2 * c->pad >= 2 &&
                      (c->mode == AC_PAD_ZERO || (c->pad < c->h && c->pad < c->w)),
                  "winograd: unsupported geometry");
    wino_conv(c, NULL, NULL);
}

void ac_cpu_wino_conv2x2_phases(const ac_fused_conv *c, int h, int w, int pad, ac_pad_mode mode) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cin % 4 == 0 && c->cout > 0);
    AC_ASSERT(c->kh == 2 && c->kw == 2 && c->stride == 1 && c->pad == 0 && c->mode == AC_PAD_ZERO);
    AC_ASSERT(c->h >= 2 && c->w >= 2 && 2 * c->h >= h + 2 * pad && 2 * c->w >= w + 2 * pad);
    AC_ASSERT(mode == AC_PAD_ZERO || (pad < h && pad < w));
    const wino_phases ph = {.h = h, .w = w, .pad = pad, .mode = mode};
    wino_conv(c, &ph, NULL);
}

void ac_cpu_wino_conv2x2_interleave(const ac_fused_conv *c, int oh, int ow, int off) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0 && c->cout % 4 == 0);
    AC_ASSERT(c->kh == 2 && c->kw == 2 && c->stride == 1 && c->mode == AC_PAD_ZERO);
    AC_ASSERT(c->pad >= 0 && c->pad <= 2 && c->h + 2 * c->pad >= 2 && c->w + 2 * c->pad >= 2);
    AC_ASSERT(off >= 0 && oh >= 1 && ow >= 1 && oh + off <= 2 * (c->h + 2 * c->pad - 1) &&
              ow + off <= 2 * (c->w + 2 * c->pad - 1));
    const wino_interleave yi = {.h = oh, .w = ow, .off = off};
    wino_conv(c, NULL, &yi);
}
