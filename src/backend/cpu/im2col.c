// im2col.c: patch unfolding (im2col) and folding with accumulation (col2im) for the CPU
// convolutions, plus their scratch-memory policy. See im2col.h for the layout.
#include "backend/cpu/im2col.h"

#include <limits.h>
#include <string.h>

#include "core/common.h"

// Valid output coordinates o in [lo, hi) of one kernel tap k: 0 <= o*s - pad + k < n.
static inline void tap_range(int n, int k, int s, int pad, int grid, int *lo, int *hi) {
    int first = pad - k;  // o*s >= first
    int l = first > 0 ? (first + s - 1) / s : 0;
    int last = n - 1 + pad - k;  // o*s <= last
    int h = last >= 0 ? last / s + 1 : 0;
    if (h > grid) h = grid;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static void check_geom(const ac_patch_geom *g, int p0, int p1) {
    AC_ASSERT(g->c > 0 && g->h > 0 && g->w > 0 && g->kh > 0 && g->kw > 0);
    AC_ASSERT(g->stride >= 1 && g->pad >= 0 && g->oh > 0 && g->ow > 0);
    AC_ASSERT((long long)g->oh * g->ow <= INT_MAX);
    AC_ASSERT(p0 >= 0 && p0 <= p1 && p1 <= g->oh * g->ow);
}

void ac_cpu_im2col(const ac_patch_geom *g, const float *img, int p0, int p1, float *col) {
    check_geom(g, p0, p1);
    const int kk = g->kh * g->kw, rows = g->c * kk, s = g->stride;
    const size_t ncols = (size_t)(p1 - p0), plane = (size_t)g->h * g->w;
#pragma omp parallel for schedule(static) if (rows * ncols > 32768)
    for (int r = 0; r < rows; r++) {
        const int ci = r / kk, ki = (r % kk) / g->kw, kj = r % g->kw;
        const float *src = img + (size_t)ci * plane;
        float *dst = col + (size_t)r * ncols;
        int xlo, xhi;
        tap_range(g->w, kj, s, g->pad, g->ow, &xlo, &xhi);
        int p = p0;
        while (p < p1) {
            const int oy = p / g->ow, ox0 = p - oy * g->ow;
            const int ox1 = AC_MIN(g->ow, ox0 + (p1 - p)), len = ox1 - ox0;
            const int iy = oy * s - g->pad + ki;
            if (iy < 0 || iy >= g->h) {
                memset(dst, 0, (size_t)len * sizeof(float));
            } else {
                const int a = AC_MIN(AC_MAX(xlo, ox0), ox1), b = AC_MAX(AC_MIN(xhi, ox1), a);
                for (int ox = ox0; ox < a; ox++) dst[ox - ox0] = 0.0f;
                if (b > a) {
                    // first valid tap of this row segment: ix = a*s - pad + kj >= 0
                    const float *srow = src + (size_t)iy * g->w + (a * s - g->pad + kj);
                    float *d = dst + (a - ox0);
                    if (s == 1) {
                        memcpy(d, srow, (size_t)(b - a) * sizeof(float));
                    } else {
                        for (int i = 0; i < b - a; i++) d[i] = srow[(size_t)i * s];
                    }
                }
                for (int ox = b; ox < ox1; ox++) dst[ox - ox0] = 0.0f;
            }
            dst += len;
            p += len;
        }
    }
}

void ac_cpu_col2im_add(const ac_patch_geom *g, const float *col, int p0, int p1, float *img) {
    check_geom(g, p0, p1);
    const int kk = g->kh * g->kw, s = g->stride;
    const size_t ncols = (size_t)(p1 - p0), plane = (size_t)g->h * g->w;
    // One channel per iteration: a channel's taps are added in a fixed order.
#pragma omp parallel for schedule(static) if ((size_t)g->c * kk * ncols > 32768)
    for (int ci = 0; ci < g->c; ci++) {
        float *dstc = img + (size_t)ci * plane;
        for (int t = 0; t < kk; t++) {
            const int ki = t / g->kw, kj = t % g->kw;
            const float *src = col + ((size_t)ci * kk + t) * ncols;
            int xlo, xhi;
            tap_range(g->w, kj, s, g->pad, g->ow, &xlo, &xhi);
            int p = p0;
            while (p < p1) {
                const int oy = p / g->ow, ox0 = p - oy * g->ow;
                const int ox1 = AC_MIN(g->ow, ox0 + (p1 - p)), len = ox1 - ox0;
                const int iy = oy * s - g->pad + ki;
                const int a = AC_MIN(AC_MAX(xlo, ox0), ox1), b = AC_MAX(AC_MIN(xhi, ox1), a);
                if (iy >= 0 && iy < g->h && b > a) {
                    float *drow = dstc + (size_t)iy * g->w + (a * s - g->pad + kj);
                    const float *srow = src + (a - ox0);
                    if (s == 1) {
                        for (int i = 0; i < b - a; i++) drow[i] += srow[i];
                    } else {
                        for (int i = 0; i < b - a; i++) drow[(size_t)i * s] += srow[i];
                    }
                }
                src += len;
                p += len;
            }
        }
    }
}

// y (cout, m): every row c set to b[c]
void ac_cpu_fill_bias(int cout, size_t m, const float *b, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)cout * m > 65536)
    for (int c = 0; c < cout; c++)
        for (size_t i = 0; i < m; i++) y[(size_t)c * m + i] = b[c];
}

// dy (n, cout, m) -> db (cout) += sum over n and m, in double, fixed order
void ac_cpu_bias_grad(int n, int cout, size_t m, const float *dy, float *db) {
#pragma omp parallel for schedule(static) if ((size_t)n * cout * m > 65536)
    for (int c = 0; c < cout; c++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            const float *p = dy + ((size_t)i * cout + c) * m;
            for (size_t k = 0; k < m; k++) s += p[k];
        }
        db[c] += (float)s;
    }
}

// Scratch budget for one column block (floats): large enough for efficient GEMMs, small
// enough to stay near the caches and to reuse the allocator's memory between calls.
#define AC_COL_BUDGET_DEFAULT ((size_t)1 << 21)
#define AC_COL_MIN 256
static size_t col_budget = AC_COL_BUDGET_DEFAULT;

void ac_cpu_conv_set_block_budget(size_t floats) {
    col_budget = floats ? floats : AC_COL_BUDGET_DEFAULT;
}

float *ac_cpu_scratch(size_t n) {
    size_t bytes;
    AC_ASSERT_MSG(ac_mul_size(n ? n : 1, sizeof(float), &bytes), "conv scratch size overflows");
    float *p = ac_aligned_alloc(bytes);
    AC_ASSERT_MSG(p != NULL, "out of memory for convolution scratch");
    return p;
}

int ac_cpu_col_block(size_t rows, int positions) {
    AC_ASSERT(rows > 0 && positions > 0);
    size_t nb = col_budget / rows, least = AC_MIN(col_budget, (size_t)AC_COL_MIN);
    if (nb < least) nb = least;
    return nb >= (size_t)positions ? positions : (int)nb;
}
