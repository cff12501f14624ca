// im2col.c: patch unfolding/folding and the parallel GEMM drivers of the CPU convolutions,
// with their scratch-memory and threading policy. See im2col.h for the layout and the rules.
#include "backend/cpu/im2col.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/workspace.h"
#include "core/common.h"

// ---------------------------------------------------------------- im2col / col2im

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
    AC_ASSERT((long long)g->c * g->kh * g->kw <= INT_MAX);
    AC_ASSERT(p0 >= 0 && p0 <= p1 && p1 <= g->oh * g->ow);
}

void ac_cpu_im2col(const ac_patch_geom *g, const float *img, int r0, int r1, int p0, int p1,
                   float *col) {
    check_geom(g, p0, p1);
    const int kk = g->kh * g->kw, s = g->stride;
    AC_ASSERT(r0 >= 0 && r0 <= r1 && r1 <= g->c * kk);
    const size_t ncols = (size_t)(p1 - p0), plane = (size_t)g->h * g->w;
    for (int r = r0; r < r1; r++) {
        const int ci = r / kk, ki = (r % kk) / g->kw, kj = r % g->kw;
        const float *src = img + (size_t)ci * plane;
        float *dst = col + (size_t)(r - r0) * ncols;
        int xlo, xhi;
        tap_range(g->w, kj, s, g->pad, g->ow, &xlo, &xhi);
        int p = p0;
        while (p < p1) {  // one output row segment at a time
            const int oy = p / g->ow, ox0 = p - oy * g->ow;
            const int ox1 = AC_MIN(g->ow, ox0 + (p1 - p)), len = ox1 - ox0;
            const int iy = oy * s - g->pad + ki;
            if (iy < 0 || iy >= g->h) {
                memset(dst, 0, (size_t)len * sizeof(float));
            } else {
                const int a = AC_MIN(AC_MAX(xlo, ox0), ox1), b = AC_MAX(AC_MIN(xhi, ox1), a);
                for (int ox = ox0; ox < a; ox++) dst[ox - ox0] = 0.0f;
                if (b > a) {
                    // first valid tap of this segment: ix = a*s - pad + kj >= 0
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

void ac_cpu_col2im_add(const ac_patch_geom *g, const float *col, int c0, int c1, int p0, int p1,
                       float *img) {
    check_geom(g, p0, p1);
    AC_ASSERT(c0 >= 0 && c0 <= c1 && c1 <= g->c);
    const int kk = g->kh * g->kw, s = g->stride;
    const size_t ncols = (size_t)(p1 - p0), plane = (size_t)g->h * g->w;
    for (int ci = c0; ci < c1; ci++) {
        float *dstc = img + (size_t)ci * plane;
        for (int t = 0; t < kk; t++) {  // taps in a fixed order
            const int ki = t / g->kw, kj = t % g->kw;
            const float *src = col + ((size_t)(ci - c0) * kk + t) * ncols;
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

// ---------------------------------------------------------------- threads and scratch

int ac_cpu_conv_threads(void) {
    int t = omp_get_max_threads();
    if (t <= 1) return 1;
    // OpenBLAS with its own pthreads pool: keep OpenMP out of its way.
    if (openblas_get_parallel() == 1 && openblas_get_num_threads() > 1) return 1;
    return t;
}

// Scratch budget (floats): 2^21 (8 MB) when one thread unfolds for a GEMM that OpenBLAS
// threads (larger GEMMs thread better), 2^19 (2 MB, about one L2 cache) per thread when the
// threads split the work; measured on the network's shapes. Tests may override the total.
#define AC_COL_BUDGET_SERIAL ((size_t)1 << 21)
#define AC_COL_BUDGET_PER_THREAD ((size_t)1 << 19)
#define AC_COL_MIN 256
static size_t budget_override;

void ac_cpu_conv_set_block_budget(size_t floats) { budget_override = floats; }

// Positions per column block for `rows` scratch rows, one of `threads` blocks in flight.
static int block_cols(size_t rows, int positions, int threads) {
    size_t budget = budget_override ? budget_override / (size_t)threads
                    : threads == 1  ? AC_COL_BUDGET_SERIAL
                                    : AC_COL_BUDGET_PER_THREAD;
    size_t nb = budget / (rows ? rows : 1), least = AC_MIN(budget, (size_t)AC_COL_MIN);
    if (nb < least) nb = least;
    if (nb < 1) nb = 1;
    return nb >= (size_t)positions ? positions : (int)nb;
}

static float *scratch(size_t threads, size_t rows, size_t cols) {
    size_t n, bytes;
    AC_ASSERT_MSG(ac_mul_size(threads * rows, cols, &n) && ac_mul_size(n, sizeof(float), &bytes),
                  "conv scratch size overflows");
    return ac_cpu_ws_alloc(bytes);
}

static bool is_pointwise(const ac_patch_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->stride == 1 && g->pad == 0 && g->oh == g->h &&
           g->ow == g->w;
}

// ---------------------------------------------------------------- drivers

// The drivers below cut each image into pieces that depend on the image's shape and the
// thread count, never on the batch size: OpenBLAS's kernels may round a row or column
// differently at another place in the product (its edge kernels, seen with the AVX2 kernels),
// so an image must meet the same GEMM calls whether it comes alone or in a batch.

// Work items (n, chunk of positions), as many chunks per image as the budget needs and, when
// threaded, a multiple of the thread count (an even share per thread for any batch). Each
// item unfolds its chunk and runs one GEMM.
void ac_cpu_conv_unfold_gemm(const ac_patch_geom *g, int batch, int m, const float *a,
                             const float *img, size_t img_stride, float beta, float *out,
                             size_t out_stride) {
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, T = ac_cpu_conv_threads();
    check_geom(g, 0, P);
    const bool pw = is_pointwise(g);
    const int most = block_cols(pw ? 0 : (size_t)K, P, T);
    int nch = (P + most - 1) / most;
    while (T > 1 && nch % T != 0 && nch < P) nch++;
    const int width = (P + nch - 1) / nch;
    float *col = pw ? NULL : scratch((size_t)T, (size_t)K, (size_t)width);
    const long long items = (long long)batch * nch;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (long long it = 0; it < items; it++) {
        const int n = (int)(it / nch), ch = (int)(it % nch);
        const int p0 = (int)((long long)ch * P / nch), p1 = (int)((long long)(ch + 1) * P / nch);
        const float *in = img + (size_t)n * img_stride;
        const float *b = in + p0;
        int ldb = P;
        if (!pw) {
            float *mine = col + (size_t)omp_get_thread_num() * K * width;
            ac_cpu_im2col(g, in, 0, K, p0, p1, mine);
            b = mine;
            ldb = p1 - p0;
        }
        ac_cpu_sgemm(false, false, m, p1 - p0, K, 1.0f, a, K, b, ldb, beta,
                     out + (size_t)n * out_stride + p0, P);
    }
    ac_cpu_ws_free(col);
}

// Units (n, group of channels): each image's channels cut into min(c, T) groups, so that each
// image channel is folded by one thread; the units split into one contiguous range per thread.
// Per unit and block of positions: GEMM a^T src into the scratch, then col2im.
void ac_cpu_conv_gemm_fold(const ac_patch_geom *g, int batch, int m, const float *a,
                           const float *src, size_t src_stride, float *img, size_t img_stride) {
    const int kk = g->kh * g->kw, K = g->c * kk, P = g->oh * g->ow, T = ac_cpu_conv_threads();
    check_geom(g, 0, P);
    const bool pw = is_pointwise(g);
    const int groups = AC_MIN(g->c, T), most_ch = (g->c + groups - 1) / groups;
    const long long units = (long long)batch * groups;
    const int width = pw ? P : block_cols((size_t)most_ch * kk, P, T);
    float *col = pw ? NULL : scratch((size_t)T, (size_t)most_ch * kk, (size_t)width);
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *mine = pw ? NULL : col + (size_t)t * most_ch * kk * width;
        const long long u1 = units * (t + 1) / nt;
        for (long long u = units * t / nt; u < u1; u++) {
            const int n = (int)(u / groups), gi = (int)(u % groups);
            const int c0 = (int)((long long)g->c * gi / groups);
            const int c1 = (int)((long long)g->c * (gi + 1) / groups);
            const float *sn = src + (size_t)n * src_stride;
            float *in = img + (size_t)n * img_stride;
            for (int p0 = 0; p0 < P; p0 += width) {
                const int p1 = AC_MIN(P, p0 + width), mc = p1 - p0;
                if (pw) {
                    ac_cpu_sgemm(true, false, c1 - c0, mc, m, 1.0f, a + c0, K, sn + p0, P, 1.0f,
                                 in + (size_t)c0 * P + p0, P);
                } else {
                    ac_cpu_sgemm(true, false, (c1 - c0) * kk, mc, m, 1.0f, a + (size_t)c0 * kk, K,
                                 sn + p0, P, 0.0f, mine, mc);
                    ac_cpu_col2im_add(g, mine, c0, c1, p0, p1, in);
                }
            }
        }
    }
    ac_cpu_ws_free(col);
}

// Rows of dw (columns of the unfolded matrix) split over threads; each thread sums its rows
// over the batch and the blocks in order.
void ac_cpu_conv_weight_grad(const ac_patch_geom *g, int batch, int m, const float *d,
                             size_t d_stride, const float *img, size_t img_stride, float *dw) {
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, T = ac_cpu_conv_threads();
    check_geom(g, 0, P);
    if (ac_cpu_direct_wgrad_fits(g, m)) {
        ac_cpu_direct_weight_grad(g, batch, m, d, d_stride, img, img_stride, dw);
        return;
    }
    const bool pw = is_pointwise(g);
    const int most_rows = (K + T - 1) / T;
    const int width = pw ? P : block_cols((size_t)most_rows, P, T);
    float *col = pw ? NULL : scratch((size_t)T, (size_t)most_rows, (size_t)width);
#pragma omp parallel num_threads(T) if (T > 1)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int r0 = (int)((long long)K * t / nt), r1 = (int)((long long)K * (t + 1) / nt);
        float *mine = pw ? NULL : col + (size_t)t * most_rows * width;
        for (int n = 0; n < batch && r1 > r0; n++) {
            const float *dn = d + (size_t)n * d_stride, *in = img + (size_t)n * img_stride;
            for (int p0 = 0; p0 < P; p0 += width) {
                const int p1 = AC_MIN(P, p0 + width), mc = p1 - p0;
                const float *b = in + (size_t)r0 * P + p0;
                int ldb = P;
                if (!pw) {
                    ac_cpu_im2col(g, in, r0, r1, p0, p1, mine);
                    b = mine;
                    ldb = mc;
                }
                ac_cpu_sgemm(false, true, m, r1 - r0, mc, 1.0f, dn + p0, P, b, ldb, 1.0f, dw + r0,
                             K);
            }
        }
    }
    ac_cpu_ws_free(col);
}

// ---------------------------------------------------------------- bias

void ac_cpu_fill_bias(int n, int c, size_t len, const float *b, float *y) {
    const int T = ac_cpu_conv_threads();
    const long long rows = (long long)n * c;
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1 && rows * len > 65536)
    for (long long r = 0; r < rows; r++) {
        float *p = y + (size_t)r * len, v = b ? b[r % c] : 0.0f;
        for (size_t i = 0; i < len; i++) p[i] = v;
    }
}

void ac_cpu_bias_grad(int n, int c, size_t len, const float *dy, float *db) {
    const int T = ac_cpu_conv_threads();
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1 && (size_t)n * c * len > 65536)
    for (int k = 0; k < c; k++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += ac_sum_f64(dy + ((size_t)i * c + k) * len, len);
        db[k] += (float)s;
    }
}
