// winograd_weights.c: the weight transform of the Winograd convolution (winograd.c):
// U = G g G^T of each kernel (F(4x4, 3x3): G 6x3; F(4x4, 2x2): G 5x2), gathered VL output
// channels at a time from the weight as laid out (or turned, for the data gradient) and stored
// packed as U[xi][co / CB][ci][CB] for the product's register blocks: for a whole call up
// front, or block by block by the work items that transform their own (fuse_u).
#include "backend/cpu/winograd_internal.h"

#include "backend/cpu/workspace.h"

// o = G g for the 3 taps g of one kernel row or column, VL output channels at a time.
static inline void g3(const ac_vf g[3], ac_vf o[6]) {
    const ac_vf s = g[0] + g[2];
    o[0] = g[0] * 0.25f;
    o[1] = (s + g[1]) * (-1.0f / 6.0f);
    o[2] = (s - g[1]) * (-1.0f / 6.0f);
    const ac_vf a = g[0] * (1.0f / 24.0f) + g[2] * (1.0f / 6.0f), b = g[1] * (1.0f / 12.0f);
    o[3] = a + b;
    o[4] = a - b;
    o[5] = g[2];
}

#define WCHUNK 32  // input channels per piece of the whole weight transform

// o = G g for the 2 taps g of a 2x2 kernel's row or column (F(4x4, 2x2)):
//   G = [1/2 0; -1/2 -1/2; -1/6 1/6; 1/6 1/3; 0 1]
static inline void g2(const ac_vf g[2], ac_vf o[5]) {
    o[0] = g[0] * 0.5f;
    o[1] = (g[0] + g[1]) * -0.5f;
    o[2] = (g[1] - g[0]) * (1.0f / 6.0f);
    o[3] = (g[0] + g[1] * 2.0f) * (1.0f / 6.0f);
    o[4] = g[1];
}

#define KG 16  // input channels per gather: 9 KG floats of each output channel, a multiple of VL

#define TURNED_AHEAD 2  // input channels ahead that gather_turned prefetches

// gather_kernels for c->weight_turned: kernel (co, ci) is weight[ci][co] turned by 180 degrees, so
// the VL kernels (cg .. cg + VL, ci) are 9 VL consecutive floats (cg + k's taps at 9 k,
// reversed), read VL taps of each at a time and transposed.
static void gather_turned(const ac_fused_conv *c, int cg, int nk, int c0, int c1,
                          float t[9 * KG][VL]) {
    const size_t total = (size_t)c->cin * c->cout * 9;
    for (int ci = c0; ci < c1; ci++) {
        const size_t base = ((size_t)ci * c->cout + cg) * 9;
        if (ci + TURNED_AHEAD < c1) {  // the next channels' kernels lie a whole row further on
            const char *next = (const char *)(c->weight + base + TURNED_AHEAD * (size_t)c->cout * 9);
            for (int l = 0; l < 9 * nk * (int)sizeof(float); l += 64) __builtin_prefetch(next + l, 0, 3);
        }
        for (int f0 = 0; f0 < 9; f0 += VL) {
            ac_vf r[VL];
            for (int k = 0; k < VL; k++) {
                const size_t at = base + 9 * (size_t)k + f0;
                if (k >= nk) {
                    r[k] = ac_vsplat(0.0f);
                } else if (at + VL <= total) {
                    r[k] = ac_vload(c->weight + at);
                } else {  // the last kernels of the array: no reading past its end
                    float tail[VL] = {0};
                    memcpy(tail, c->weight + at, (total - at) * sizeof(float));
                    r[k] = ac_vload(tail);
                }
            }
            ac_vtranspose(r);  // r[i][k]: tap f0 + i of kernel k as stored
            for (int i = 0; i < VL && f0 + i < 9; i++)
                ac_vstore(t[9 * (ci - c0) + 8 - (f0 + i)], r[i]);
        }
    }
}

// t[taps (ci - c0) + j][k] = tap j of the kernel (cg + k, ci) for ci in [c0, c1),
// c1 - c0 <= KG, and k < nk (zero past it): the kernels (cg + k, c0 .. c1) are taps (c1 - c0)
// consecutive floats, read VL at a time for VL output channels and transposed.
static void gather_kernels(const ac_fused_conv *c, int taps, int cg, int nk, int c0, int c1,
                           float t[9 * KG][VL]) {
    if (c->weight_turned) {
        AC_ASSERT(taps == 9);
        gather_turned(c, cg, nk, c0, c1, t);
        return;
    }
    const int nf = taps * (c1 - c0);
    for (int f0 = 0; f0 < nf; f0 += VL) {
        const int n = AC_MIN(VL, nf - f0);
        ac_vf r[VL];
        for (int k = 0; k < VL; k++) {
            if (k >= nk) {
                r[k] = ac_vsplat(0.0f);
                continue;
            }
            const float *src = c->weight + ((size_t)(cg + k) * c->cin + c0) * taps + f0;
            if (n == VL) {
                r[k] = ac_vload(src);
            } else {
                float tail[VL] = {0};
                memcpy(tail, src, (size_t)n * sizeof(float));
                r[k] = ac_vload(tail);
            }
        }
        ac_vtranspose(r);
        for (int i = 0; i < VL; i++) ac_vstore(t[f0 + i], r[i]);
    }
}

// Lanes k .. k + CB of v (output channels cg + k) to dst + (k / CB) ucbs, for the nw lanes
// kept: one store of CB floats per block of output channels, from the register.
#if AC_VL == CB
static inline void store_u(float *dst, size_t ucbs, int nw, ac_vf v) {
    (void)ucbs;
    (void)nw;
    ac_vstore(dst, v);
}
#elif AC_VL == 2 * CB
typedef float cb_floats __attribute__((vector_size(CB * sizeof(float))));
#if AC_VL == 16
#define LO_LANES 0, 1, 2, 3, 4, 5, 6, 7
#define HI_LANES 8, 9, 10, 11, 12, 13, 14, 15
#else
#define LO_LANES 0, 1, 2, 3
#define HI_LANES 4, 5, 6, 7
#endif
static inline void store_u(float *dst, size_t ucbs, int nw, ac_vf v) {
    const cb_floats lo = __builtin_shufflevector(v, v, LO_LANES);
    const cb_floats hi = __builtin_shufflevector(v, v, HI_LANES);
    memcpy(dst, &lo, sizeof lo);
    if (nw > CB) memcpy(dst + ucbs, &hi, sizeof hi);
}
#else
#error "store_u: VL must be CB or 2 CB"
#endif

// o = G g for the R taps g of one kernel row or column (R + 3 values).
static inline void g_taps(const int R, const ac_vf *g, ac_vf *o) {
    if (R == 3) g3(g, o);
    else g2(g, o);
}

// U[xi] = (G g G^T)[xi] of the R x R kernel whose taps are t[0 .. R^2) (one output channel
// per lane), stored by store_u at dst + xi uxs: down the columns first, then row by row, each
// row's R + 3 positions stored as they come (few vectors live: none go through the stack).
// R: 3 or 2, a constant in each instance (the loops unroll, the arrays stay in registers).
__attribute__((always_inline)) static inline void transform_store(const int R, const float t[9][VL],
                                                                  float *dst, size_t uxs,
                                                                  size_t ucbs, int nw) {
    ac_vf col[3][6];  // col[b][i] = sum_a G[i][a] g[a][b]
    AC_UNROLL for (int b = 0; b < R; b++) {
        ac_vf g[3];
        AC_UNROLL for (int a = 0; a < R; a++) g[a] = ac_vload(t[R * a + b]);
        g_taps(R, g, col[b]);
    }
    AC_UNROLL for (int i = 0; i < R + 3; i++) {
        ac_vf row[3], o[6];
        AC_UNROLL for (int b = 0; b < R; b++) row[b] = col[b][i];
        g_taps(R, row, o);
        AC_UNROLL for (int j = 0; j < R + 3; j++)
            store_u(dst + (size_t)((R + 3) * i + j) * uxs, ucbs, nw, o[j]);
    }
}

// U = (G g G^T)[xi] of the kernels (co, ci) for output channels [co0, co0 + nco) (nco a
// multiple of CB; zero past cout) and input channels [c0, c1):
// u[xi uxs + (co - co0) / CB ucbs + (ci - c0) CB + co % CB].
void ac_wino_transform_weight_block(const plan *p, int co0, int nco, int c0, int c1, float *u,
                                   size_t uxs, size_t ucbs) {
    const ac_fused_conv *c = p->c;
    const int r = p->r, taps = r * r;
    for (int cg = co0; cg < co0 + nco; cg += VL) {
        const int nk = AC_MIN(VL, c->cout - cg), nw = AC_MIN(VL, co0 + nco - cg);
        for (int g0 = c0; g0 < c1; g0 += KG) {
            const int g1 = AC_MIN(c1, g0 + KG);
            float t[9 * KG][VL];
            gather_kernels(c, taps, cg, nk, g0, g1, t);
            for (int ci = g0; ci < g1; ci++) {
                float *dst = u + (size_t)(cg - co0) / CB * ucbs + (size_t)(ci - c0) * CB;
                if (r == 3) transform_store(3, t + taps * (ci - g0), dst, uxs, ucbs, nw);
                else transform_store(2, t + taps * (ci - g0), dst, uxs, ucbs, nw);
            }
        }
    }
}

// Where the block of output channels co0.. and input channels c0.. of the call's whole U
// ([xi][cb][ci][k] for co = cb CB + k) starts, and its strides. U's transformed positions lie
// an odd number of cache lines apart (odd_lines): the weight transform stores a kernel's
// 36 positions at once, and at a power of two apart (64 KB for 128 x 128 channels) those
// stores all went to one set of the L1 cache.
float *ac_wino_whole_u_at(const plan *p, int co0, int c0, size_t *uxs, size_t *ucbs) {
    const int cin = p->c->cin;
    *ucbs = (size_t)cin * CB;
    *uxs = odd_lines((size_t)p->ncb, (int)*ucbs);
    return p->u + ((size_t)(co0 / CB) * cin + c0) * CB;
}

// The call's whole U, by pieces of VL output channels and WCHUNK input channels.
void ac_wino_transform_weights(plan *p) {
    const ac_fused_conv *c = p->c;
    const int cin = c->cin, cout_p = p->ncb * CB;
    const size_t n = (size_t)p->nxi * odd_lines((size_t)p->ncb, cin * CB);
    p->u = ac_cpu_ws_alloc(n * sizeof(float));
    const int groups = ceil_div(cout_p, VL), pieces = ceil_div(cin, WCHUNK);
#pragma omp parallel for schedule(guided) if (n > 65536)
    for (int it = 0; it < groups * pieces; it++) {
        const int cg = (it / pieces) * VL, c0 = (it % pieces) * WCHUNK;
        size_t uxs, ucbs;
        float *u = ac_wino_whole_u_at(p, cg, c0, &uxs, &ucbs);
        ac_wino_transform_weight_block(p, cg, AC_MIN(VL, cout_p - cg), c0, AC_MIN(cin, c0 + WCHUNK), u, uxs, ucbs);
    }
}

