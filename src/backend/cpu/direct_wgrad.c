// direct_wgrad.c: the weight gradient of a convolution (any kernel, stride, zero padding) as
// sums over output rows, without unfolding patches into a matrix: for the layers with few
// output channels, where the GEMM of im2col is a few rows deep and OpenBLAS spends much of
// its time packing (the 4x4 stride-2 layers with 16 and 32 output channels, the 11x11 input
// layer).
//
// dw[co][t] += sum over images n, rows oy, columns ox of d[n][co][oy][ox] src_t[oy][ox],
// tap t = (ci, ky, kx). As in direct_conv.c, the zero-padded image is split into its s x s
// phases, P[ci][py][px][Y][X] = img_pad[s Y + py][s X + px], so that src_t is one phase plane
// shifted by (ky / s, kx / s): a row of it is contiguous, like the row of d. The kernel holds
// CB output channels x NT taps of vector sums and reads CB runs of d and NT runs of sources a
// vector at a time, a band of rows (d copied onto the sources' row length) being one run.
//
// Threads take contiguous bands of rows (fixed bands, a static schedule), keep their vector
// sums across bands, add up each sum's lanes once at the end, and the threads' partial sums
// go into dw in thread order: results are the same run to run for a given thread count.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

#define VL AC_VL
#if AC_VL >= 16
#define CB 4  // output channels per register block
#define NT 6  // taps per register block: CB NT sums, CB + NT vectors loaded per step
#else
#define CB 3
#define NT 4
#endif
#define BAND_LANES 512  // lanes per band of output rows (at least one row)
#define MAX_M 32  // output channels at most: deeper GEMMs run well in OpenBLAS

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

// acc[r][q] += d_r[x] src_q[x] for x < n; the last vector reads d through a mask (lanes at
// and past n are zeros: they belong to the next band) and the sources whole (finite).
static inline void lane_sums(const float *const d[CB], const float *const s[NT], int n,
                             ac_vf acc[CB][NT]) {
    int x = 0;
    for (; x + VL <= n; x += VL) {
        ac_vf dv[CB];
        for (int r = 0; r < CB; r++) dv[r] = ac_vload(d[r] + x);
        for (int q = 0; q < NT; q++) {
            const ac_vf sv = ac_vload(s[q] + x);
            for (int r = 0; r < CB; r++) acc[r][q] = ac_vfma(dv[r], sv, acc[r][q]);
        }
    }
    if (x < n) {
        ac_vf dv[CB];
        for (int r = 0; r < CB; r++) dv[r] = ac_vload_range(d[r], x, n);
        for (int q = 0; q < NT; q++) {
            const ac_vf sv = ac_vload(s[q] + x);
            for (int r = 0; r < CB; r++) acc[r][q] = ac_vfma(dv[r], sv, acc[r][q]);
        }
    }
}

static float hsum(ac_vf v) {
    float s = 0.0f;
    for (int l = 0; l < VL; l++) s += v[l];
    return s;
}

bool ac_cpu_direct_wgrad_fits(const ac_patch_geom *g, int m) {
    return ac_cpu_conv_direct_on() && m <= MAX_M && g->kh * g->kw > 1;
}

void ac_cpu_direct_weight_grad(const ac_patch_geom *g, int batch, int m, const float *d,
                               size_t d_stride, const float *img, size_t img_stride,
                               float *dw) {
    const int s = g->stride, pad = g->pad, kh = g->kh, kw = g->kw, oh = g->oh, ow = g->ow;
    AC_ASSERT(batch > 0 && m > 0 && s >= 1 && pad >= 0 && oh > 0 && ow > 0);
    const int hp = g->h + 2 * pad, wpd = g->w + 2 * pad;
    const int hs = ceil_div(hp, s), ws = ceil_div(wpd, s), nph = s * s;
    AC_ASSERT((oh - 1) + (kh - 1) / s < hs && (ow - 1) + (kw - 1) / s < ws);
    // phase planes of hs ws floats, plus slack: a band's last vector reads up to VL - 1 lanes
    // past its last row (shifted by up to (kw - 1) / s), into the next row or the slack
    const size_t plane = ((size_t)hs * ws + (size_t)(kw - 1) / s + VL + 15) / 16 * 16;
    const size_t per_img = (size_t)g->c * nph * plane;
    const int K = g->c * kh * kw, T = ac_cpu_conv_threads();
    float *src = ac_cpu_ws_alloc(per_img * batch * sizeof(float));
    ac_cpu_phase_split(img, img_stride, batch, g->c, g->h, g->w, s, pad, AC_PAD_ZERO, plane, src);
    ptrdiff_t *off = malloc((size_t)K * sizeof *off);
    AC_ASSERT_MSG(off != NULL, "out of memory for weight gradient taps");
    for (int ci = 0, t = 0; ci < g->c; ci++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++, t++)
                off[t] = (ptrdiff_t)(((size_t)ci * nph + (size_t)(ky % s) * s + kx % s) * plane) +
                         (ptrdiff_t)(ky / s) * ws + kx / s;
    // d on the grid of the sources: rows of ws lanes, zeros past ow and after the last row
    // (up to a whole vector), so that a band of rows is one run of lanes for d and every tap
    const size_t dplane = ((size_t)oh * ws + VL + 15) / 16 * 16;
    float *dg = ac_cpu_ws_alloc((size_t)batch * m * dplane * sizeof(float));
    const long long drow = (long long)batch * m;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1 && drow * dplane > 65536)
    for (long long it = 0; it < drow; it++) {
        const int co = (int)(it % m), n = (int)(it / m);
        float *dst = dg + (size_t)it * dplane;
        const float *from = d + (size_t)n * d_stride + (size_t)co * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            memcpy(dst + (size_t)oy * ws, from + (size_t)oy * ow, (size_t)ow * sizeof(float));
            memset(dst + (size_t)oy * ws + ow, 0, (size_t)(ws - ow) * sizeof(float));
        }
        memset(dst + (size_t)oh * ws, 0, (dplane - (size_t)oh * ws) * sizeof(float));
    }
    // a run of zeros for the channels and taps past m and K in the last register blocks
    const int run_max = ceil_div(AC_MAX(1, BAND_LANES / ws) * ws, VL) * VL;
    float *zeros = ac_cpu_ws_alloc((size_t)run_max * sizeof(float));
    memset(zeros, 0, (size_t)run_max * sizeof(float));
    // bands of about BAND_LANES lanes: d and the sources of a block of taps stay in L1
    // while the register blocks of output channels go over them
    const int band = AC_MAX(1, BAND_LANES / ws);
    const int bands_per_img = ceil_div(oh, band), nbands = batch * bands_per_img;
    const int ncb = ceil_div(m, CB), ntb = ceil_div(K, NT);
    const size_t mk = (size_t)m * K, nvec = (size_t)ncb * ntb * CB * NT;
    float *part = ac_cpu_ws_alloc((size_t)T * mk * sizeof(float));
    float *vsum = ac_cpu_ws_alloc((size_t)T * nvec * VL * sizeof(float));
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int me = omp_get_thread_num();
        float *mine = part + (size_t)me * mk, *vs = vsum + (size_t)me * nvec * VL;
        memset(vs, 0, nvec * VL * sizeof(float));
#pragma omp for schedule(static)
        for (int b = 0; b < nbands; b++) {
            const int n = b / bands_per_img, y0 = (b % bands_per_img) * band;
            const int y1 = AC_MIN(oh, y0 + band);
            const int run = (y1 - y0) * ws;  // lanes of the band
            const float *dn = dg + (size_t)n * m * dplane + (size_t)y0 * ws;
            const float *sn = src + (size_t)n * per_img + (size_t)y0 * ws;
            for (int tb = 0; tb < ntb; tb++) {
                const float *sr[NT];
                for (int q = 0; q < NT; q++) {
                    const int t = tb * NT + q;
                    sr[q] = t < K ? sn + off[t] : zeros;
                }
                for (int cb = 0; cb < ncb; cb++) {
                    const float *dr[CB];
                    for (int r = 0; r < CB; r++) {
                        const int co = cb * CB + r;
                        dr[r] = co < m ? dn + (size_t)co * dplane : zeros;
                    }
                    float *at = vs + ((size_t)tb * ncb + cb) * CB * NT * VL;
                    ac_vf acc[CB][NT];
                    for (int r = 0; r < CB; r++)
                        for (int q = 0; q < NT; q++) acc[r][q] = ac_vload(at + (r * NT + q) * VL);
                    lane_sums(dr, sr, run, acc);
                    for (int r = 0; r < CB; r++)
                        for (int q = 0; q < NT; q++) ac_vstore(at + (r * NT + q) * VL, acc[r][q]);
                }
            }
        }
        // the lanes of each sum added up once, into this thread's partial dw (every element)
        for (int tb = 0; tb < ntb; tb++)
            for (int cb = 0; cb < ncb; cb++) {
                const float *at = vs + ((size_t)tb * ncb + cb) * CB * NT * VL;
                for (int r = 0; r < CB && cb * CB + r < m; r++)
                    for (int q = 0; q < NT && tb * NT + q < K; q++)
                        mine[(size_t)(cb * CB + r) * K + tb * NT + q] =
                            hsum(ac_vload(at + (r * NT + q) * VL));
            }
    }
    // dw += the partial sums, thread by thread
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1 && mk > 65536)
    for (size_t i = 0; i < mk; i++) {
        float v = dw[i];
        for (int t = 0; t < T; t++) v += part[(size_t)t * mk + i];
        dw[i] = v;
    }
    ac_cpu_ws_free(part);
    ac_cpu_ws_free(vsum);
    ac_cpu_ws_free(zeros);
    ac_cpu_ws_free(dg);
    free(off);
    ac_cpu_ws_free(src);
}
