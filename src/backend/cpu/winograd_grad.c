// winograd_grad.c: the weight gradient of a 3x3 stride-1 convolution by Winograd F(3x3, 4x4),
// the dual of the forward F(4x4, 3x3) (winograd.c). The forward is bilinear,
// y = A^T [(G g G^T) . (B^T d B)] A, so for an upstream gradient dy of a 4x4 output tile,
//   dL/dg = G^T [(A dy A^T) . (B^T d B)] G
// summed over the tiles: the 6x6 input tiles d are transformed exactly as in the forward, the
// 4x4 dy tiles by A (6x4), and the sum over tiles of their products, for each of the 36
// transformed positions, is a GEMM (cout x tiles) x (tiles x cin) with the long tile
// dimension as its reduction, four times fewer multiply-adds than the direct sum over pixels.
// The 6x6 sums are brought back to 3x3 by G^T . G.
//
// Work, few channels (blocked_products): blocks of one image's tiles, each transformed and
// multiplied by one thread in its cache, the blocks' products summed in fixed runs. Otherwise
// (grouped_products): per group of images (their tiles side by side), the input and dy
// transforms split over channels, then one GEMM per transformed position (OpenBLAS,
// single-threaded, split over the threads) accumulating over the groups in order. Either
// way the result does not depend on the threads.
#include <omp.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/winograd.h"
#include "backend/cpu/winograd_internal.h"
#include "backend/cpu/workspace.h"

#define GROUP_BYTES (16.0 * (1 << 20))  // more would leave the last-level cache
// Few channels (cout cin at most BLOCKED_MAX): blocks of at most BLOCK_TILES tiles of one
// image, transformed into buffers of the thread's own of about BLOCK_BYTES, multiplied at once.
#define BLOCKED_MAX 1024
#define BLOCK_TILES 256
#define BLOCK_BYTES (1 << 20)
#define NPART 8  // partial sums of the blocked products, each over a fixed run of blocks

static bool forced_grouped;
void ac_cpu_wino_wgrad_force_grouped(bool on) { forced_grouped = on; }

// o = A u for the 4 values u of a dy tile's column or row (A = (A^T)^T, 6x4).
static inline void a4(const ac_vf u[4], ac_vf o[6]) {
    const ac_vf s02 = u[0] + u[2], s13 = u[1] + u[3];
    o[0] = u[0];
    o[1] = s02 + s13;
    o[2] = s02 - s13;
    const ac_vf e = ac_vfma(ac_vsplat(4.0f), u[2], u[0]), f = ac_vfma(ac_vsplat(4.0f), u[3], u[1]);
    o[3] = ac_vfma(ac_vsplat(2.0f), f, e);   // u0 + 2 u1 + 4 u2 + 8 u3
    o[4] = ac_vfma(ac_vsplat(-2.0f), f, e);  // u0 - 2 u1 + 4 u2 - 8 u3
    o[5] = u[3];
}

// For the tiles [t0, t1) of image dyn (channels [c0, c1) of dy, oh x ow):
// out[xi * xs + (co - c0) * tbs + t - t0] = (A dY A^T)[xi], dY the tile's 4x4 values (zero past
// the edges); the stores of the last vector spill up to VL - 1 lanes past t1 - t0. `tr` holds
// 6 rows of TR_ROWLEN floats. As in the forward's input transform, the tiles go by runs cut
// into segments (wino_segments): each segment has its columns transformed at 4 l of `tr` (l
// its first tile's lane in the run), and the row pass reads the
// run as one long row (dy tiles do not overlap).
static void dy_transform(const plan *p, float *tr, const float *dyn, int t0, int t1, int c0,
                         int c1, float *out, size_t xs, size_t tbs) {
    const int rl = TR_ROWLEN;
    const size_t plane = (size_t)p->oh * p->ow;
    wino_seg sg[PACK_LANES];
    for (int k0 = t0; k0 < t1; k0 += PACK_LANES) {
        const int k1 = AC_MIN(t1, k0 + PACK_LANES), nq = ceil_div(k1 - k0, VL);
        const int nsg = wino_segments(p->tw, k0, k1, sg);
        for (int co = c0; co < c1; co++) {
            const float *src = dyn + (size_t)co * plane;
            for (int s = 0; s < nsg; s++) {
                const float *row[4];
                for (int r = 0; r < 4; r++) {
                    const int y = 4 * sg[s].i + r;
                    row[r] = y < p->oh ? src + (size_t)y * p->ow : NULL;
                }
                float *o = tr + 4 * sg[s].lane;
                for (int k = 0; k < 4 * sg[s].n; k += VL) {  // down the columns
                    const int x = 4 * sg[s].ja + k;
                    ac_vf u[4], t6[6];
                    for (int r = 0; r < 4; r++)
                        u[r] = !row[r] ? ac_vsplat(0.0f)
                               : x + VL <= p->ow ? ac_vload(row[r] + x)
                                                 : ac_vload_range(row[r], x, p->ow);
                    a4(u, t6);
                    for (int r = 0; r < 6; r++) ac_vstore(o + r * rl + k, t6[r]);
                }
            }
            float *ob = out + (size_t)(co - c0) * tbs + (k0 - t0);
            for (int r = 0; r < 6; r++)  // along the rows, one tile per lane
                for (int q = 0; q < nq; q++) {
                    ac_vf u[4], t6[6];
                    deinterleave4(tr + r * rl + 4 * VL * q, u);
                    a4(u, t6);
                    for (int k = 0; k < 6; k++) ac_vstore(ob + (6 * r + k) * xs + VL * q, t6[k]);
                }
        }
    }
}

// o = G^T v for the 6 values v of a transformed column or row (G^T 3x6), lane by lane.
static inline void gt6(const ac_vf v[6], ac_vf o[3]) {
    const ac_vf s12 = v[1] + v[2], s34 = v[3] + v[4];
    o[0] = ac_vfma(ac_vsplat(1.0f / 24.0f), s34, ac_vfma(ac_vsplat(-1.0f / 6.0f), s12, v[0] * 0.25f));
    o[1] = ac_vfma(ac_vsplat(1.0f / 12.0f), v[3] - v[4], (v[2] - v[1]) * (1.0f / 6.0f));
    o[2] = ac_vfma(ac_vsplat(1.0f / 6.0f), s34 - s12, v[5]);
}

// M[xi] = sum over the tiles of DY[xi] X[xi]^T (m: [xi] at mxs floats, cout x cin) for few
// channels. The grouped form below transforms all tiles of a group of images and then runs
// the GEMMs: for 16 channels at 224x224 the transformed tiles (14 MB an image) went out to
// memory and back, and the weight gradient took twice the forward's time. Here a block of
// one image's tiles is transformed for all channels into the thread's buffers (about 1 MB,
// in its L2) and multiplied right away. The blocks, in order, are cut into at most NPART runs;
// each run's products go into a partial sum of its own, in block order, and the partial sums
// are added in run order: the result does not depend on the threads.
static void blocked_products(const plan *p, const float *dy, size_t dy_batch, float *m,
                             size_t mxs, int T) {
    const ac_fused_conv *c = p->c;
    int tb = (int)(BLOCK_BYTES / ((double)NXI * (c->cin + c->cout) * sizeof(float))) / VL * VL;
    tb = AC_MAX(VL, AC_MIN(tb, BLOCK_TILES));
    const int per_image = ceil_div(p->ntile, tb), nblk = c->n * per_image;
    const int nrun = AC_MIN(NPART, nblk), tbs = tb + VL;
    const size_t vxs = odd_lines((size_t)c->cin, tbs), dxs = odd_lines((size_t)c->cout, tbs);
    const size_t per_thread = (size_t)NXI * (vxs + dxs), tr_floats = 6 * (size_t)TR_ROWLEN;
    float *part = ac_cpu_ws_alloc((size_t)nrun * NXI * mxs * sizeof(float));
    // the GEMMs read only a block's own lanes, all written; the transform rows: finite
    float *bufs = ac_cpu_ws_alloc((size_t)T * per_thread * sizeof(float));
    float *trs = ac_cpu_ws_alloc((size_t)T * tr_floats * sizeof(float));
    memset(trs, 0, (size_t)T * tr_floats * sizeof(float));
#pragma omp parallel num_threads(T) if (T > 1)
    {
        float *v = bufs + (size_t)omp_get_thread_num() * per_thread, *d = v + (size_t)NXI * vxs;
        float *tr = trs + (size_t)omp_get_thread_num() * tr_floats;
#pragma omp for schedule(dynamic, 1)
        for (int run = 0; run < nrun; run++) {
            const int b0 = (int)((long long)nblk * run / nrun);
            const int b1 = (int)((long long)nblk * (run + 1) / nrun);
            float *mp = part + (size_t)run * NXI * mxs;
            for (int b = b0; b < b1; b++) {
                const int n = b / per_image, t0 = (b % per_image) * tb;
                const int t1 = AC_MIN(p->ntile, t0 + tb);
                ac_wino_input_transform(p, tr, c->x + (size_t)n * c->x_batch, t0, t1, 0, c->cin,
                                        v, vxs, (size_t)tbs);
                dy_transform(p, tr, dy + (size_t)n * dy_batch, t0, t1, 0, c->cout, d, dxs,
                             (size_t)tbs);
                for (int xi = 0; xi < NXI; xi++)
                    ac_cpu_sgemm(false, true, c->cout, c->cin, t1 - t0, 1.0f,
                                 d + (size_t)xi * dxs, tbs, v + (size_t)xi * vxs, tbs,
                                 b > b0 ? 1.0f : 0.0f, mp + (size_t)xi * mxs, c->cin);
            }
        }
        // m = the runs' sums, in run order
        const size_t len = (size_t)c->cout * c->cin;
#pragma omp for schedule(static)
        for (int xi = 0; xi < NXI; xi++)
            for (size_t i = 0; i < len; i++) {
                float s = part[(size_t)xi * mxs + i];
                for (int run = 1; run < nrun; run++) s += part[((size_t)run * NXI + xi) * mxs + i];
                m[(size_t)xi * mxs + i] = s;
            }
    }
    ac_cpu_ws_free(trs);
    ac_cpu_ws_free(bufs);
    ac_cpu_ws_free(part);
}

// The same for any channel counts: per group of images (their tiles side by side), the input
// and dy transforms split over channels, then one GEMM per transformed position accumulating
// over the groups in order.
static void grouped_products(const plan *p, const float *dy, size_t dy_batch, float *m,
                             size_t mxs, int T) {
    const ac_fused_conv *c = p->c;
    // Images per group: the tiles of a group are the lanes of one GEMM (a longer reduction);
    // the transformed inputs and gradients of a group within GROUP_BYTES.
    int per = c->n;
    while (per > 1 &&
           (double)NXI * (c->cin + c->cout) * per * p->ntile * sizeof(float) > GROUP_BYTES)
        per--;
    const int lanes_max = per * p->ntile, tbs = ceil_div(lanes_max, VL) * VL + VL;
    const size_t xxs = odd_lines((size_t)c->cin, tbs), dxs = odd_lines((size_t)c->cout, tbs);
    const size_t per_thread = 6 * (size_t)TR_ROWLEN;
    float *xh = ac_cpu_ws_alloc((size_t)NXI * xxs * sizeof(float));
    float *dh = ac_cpu_ws_alloc((size_t)NXI * dxs * sizeof(float));
    float *scratch = ac_cpu_ws_alloc((size_t)T * per_thread * sizeof(float));
    // The GEMMs read lanes [0, tiles of the group), all written; scratch rows: finite.
    memset(scratch, 0, (size_t)T * per_thread * sizeof(float));
    const int cch_in = ceil_div(c->cin, 8), cch_out = ceil_div(c->cout, 8);
    for (int n0 = 0; n0 < c->n; n0 += per) {
        const int n1 = AC_MIN(c->n, n0 + per), lanes = (n1 - n0) * p->ntile;
#pragma omp parallel num_threads(T) if (T > 1)
        {
            float *tr = scratch + (size_t)omp_get_thread_num() * per_thread;
            // By chunks of 8 channels, each over the group's images in order: the stores of
            // an image's last row of tiles spill into the next image's lanes, written later.
#pragma omp for schedule(dynamic, 1)
            for (int k = 0; k < cch_in + cch_out; k++) {
                for (int n = n0; n < n1; n++) {
                    const size_t lane = (size_t)(n - n0) * p->ntile;
                    if (k < cch_in) {
                        const int c0 = 8 * k, c1 = AC_MIN(c->cin, c0 + 8);
                        ac_wino_input_transform(p, tr, c->x + (size_t)n * c->x_batch, 0, p->ntile,
                                                c0, c1, xh + (size_t)c0 * tbs + lane, xxs,
                                                (size_t)tbs);
                    } else {
                        const int c0 = 8 * (k - cch_in), c1 = AC_MIN(c->cout, c0 + 8);
                        dy_transform(p, tr, dy + (size_t)n * dy_batch, 0, p->ntile, c0, c1,
                                     dh + (size_t)c0 * tbs + lane, dxs, (size_t)tbs);
                    }
                }
            }
            // M[xi] (cout x cin) (+)= DY[xi] (cout x tiles) X[xi]^T (tiles x cin)
#pragma omp for schedule(dynamic, 1)
            for (int xi = 0; xi < NXI; xi++)
                ac_cpu_sgemm(false, true, c->cout, c->cin, lanes, 1.0f, dh + (size_t)xi * dxs, tbs,
                             xh + (size_t)xi * xxs, tbs, n0 > 0 ? 1.0f : 0.0f, m + (size_t)xi * mxs,
                             c->cin);
        }
    }
    ac_cpu_ws_free(scratch);
    ac_cpu_ws_free(dh);
    ac_cpu_ws_free(xh);
}

void ac_cpu_wino_weight_grad(const ac_fused_conv *c, const float *dy, size_t dy_batch,
                             float *dw) {
    AC_ASSERT(c->n > 0 && c->cin > 0 && c->cout > 0);
    AC_ASSERT(c->kh == 3 && c->kw == 3 && c->stride == 1);
    AC_ASSERT_MSG(ac_cpu_wino_supported(c->h, c->w, c->pad, c->mode),
                  "winograd: unsupported geometry");
    plan p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.r = 3;
    p.alpha = 6;
    p.nxi = NXI;
    p.oh = c->h + 2 * c->pad - 2;
    p.ow = c->w + 2 * c->pad - 2;
    p.th = ceil_div(p.oh, 4);
    p.tw = ceil_div(p.ow, 4);
    p.ntile = p.th * p.tw;
    // floats per M[xi] (an odd number of cache lines: the inverse transform reads the 36
    // matrices at the same offset, which at a multiple of 4 KB apart would all fall into the
    // same cache sets)
    const size_t mxs = odd_lines((size_t)c->cout, c->cin);
    const int T = ac_cpu_conv_threads();
    float *m = ac_cpu_ws_alloc((size_t)NXI * mxs * sizeof(float));
    if (c->cout * c->cin <= BLOCKED_MAX && !forced_grouped)
        blocked_products(&p, dy, dy_batch, m, mxs, T);
    else
        grouped_products(&p, dy, dy_batch, m, mxs, T);
    // dw += G^T M G for every (co, ci), VL input channels per vector (M is [xi][co][ci]).
    const int ncg = ceil_div(c->cin, VL);
    const long long groups = (long long)c->cout * ncg;
#pragma omp parallel for num_threads(T) schedule(guided) if (T > 1 && groups > 64)
    for (long long gi = 0; gi < groups; gi++) {
        const int co = (int)(gi / ncg), ci0 = (int)(gi % ncg) * VL, nl = AC_MIN(VL, c->cin - ci0);
        const float *mb = m + (size_t)co * c->cin + ci0;
        ac_vf v[NXI], t[3][6], w[3][3];
        for (int xi = 0; xi < NXI; xi++)
            v[xi] = nl == VL ? ac_vload(mb + (size_t)xi * mxs) : ac_vload_range(mb + (size_t)xi * mxs, 0, nl);
        for (int j = 0; j < 6; j++) {  // down the columns: t[a][j] = sum_i G[i][a] v[i][j]
            ac_vf col[6] = {v[j], v[6 + j], v[12 + j], v[18 + j], v[24 + j], v[30 + j]}, o[3];
            gt6(col, o);
            for (int a = 0; a < 3; a++) t[a][j] = o[a];
        }
        for (int a = 0; a < 3; a++) gt6(t[a], w[a]);  // along the rows
        float *d = dw + ((size_t)co * c->cin + ci0) * 9;  // the nl kernels: 9 nl floats
#if AC_VL >= 9
        // lane l of w[k] is tap k of kernel l: transposed, row l holds kernel l's 9 taps
        ac_vf r[VL];
        for (int k = 0; k < VL; k++) r[k] = k < 9 ? w[k / 3][k % 3] : ac_vsplat(0.0f);
        ac_vtranspose(r);
        for (int l = 0; l < nl; l++) ac_vstore_n(d + 9 * l, ac_vload_range(d + 9 * l, 0, 9) + r[l], 9);
#else
        float out[9][VL];
        for (int k = 0; k < 9; k++) ac_vstore(out[k], w[k / 3][k % 3]);
        for (int l = 0; l < nl; l++)
            for (int k = 0; k < 9; k++) d[9 * l + k] += out[k][l];
#endif
    }
    ac_cpu_ws_free(m);
}
