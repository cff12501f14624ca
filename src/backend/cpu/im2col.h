// im2col.h: the machinery under the CPU convolutions: unfolding image patches into GEMM
// columns (im2col), folding columns back with accumulation (col2im), and three parallel
// drivers that pair them with OpenBLAS GEMMs. conv2d and conv_transpose2d are both written
// with these drivers (one is the adjoint of the other).
//
// Patch layout: img (c, h, w); the unfolded matrix has K = c * kh * kw rows and P = oh * ow
// columns. Row r = (ci, ki, kj) and column p (oy = p / ow, ox = p % ow) hold
// img[ci, oy*stride - pad + ki, ox*stride - pad + kj], zero outside the image.
// A pointwise geometry (1x1 kernel, stride 1, no padding) is the image itself: the drivers
// then use it in place and copy nothing.
//
// Threads: OpenMP and a separately threaded OpenBLAS (the pthreads build) must not run side
// by side, or their spinning workers fight for the cores. The drivers therefore split the
// work over OpenMP threads and call single-threaded GEMMs when OpenBLAS runs one thread (or
// is the OpenMP build); when OpenBLAS has its own pool they stay serial and let each GEMM use
// it. Either way every output element is reduced in a fixed order: results are identical run
// to run for a given thread count.
#ifndef AC_IM2COL_H
#define AC_IM2COL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ac_patch_geom {
    int c, h, w;          // image
    int kh, kw, stride, pad;
    int oh, ow;           // grid of patch positions
} ac_patch_geom;

// col (r1 - r0, p1 - p0) = rows [r0, r1) and positions [p0, p1) of the unfolded img.
void ac_cpu_im2col(const ac_patch_geom *g, const float *img, int r0, int r1, int p0, int p1,
                   float *col);
// img (c, h, w) += the fold of col, which holds the rows of channels [c0, c1) at positions
// [p0, p1): ((c1 - c0) * kh * kw, p1 - p0).
void ac_cpu_col2im_add(const ac_patch_geom *g, const float *col, int c0, int c1, int p0, int p1,
                       float *img);

// The number of threads the drivers split work over (1: serial, GEMMs threaded by OpenBLAS).
int ac_cpu_conv_threads(void);

// For n < batch, with img_n = img + n * img_stride, out_n = out + n * out_stride, etc.:
// out_n (m, P) = a (m, K) unfold(img_n) + beta out_n.
void ac_cpu_conv_unfold_gemm(const ac_patch_geom *g, int batch, int m, const float *a,
                             const float *img, size_t img_stride, float beta, float *out,
                             size_t out_stride);
// img_n (c, h, w) += fold(a^T src_n), a (m, K), src_n (m, P).
void ac_cpu_conv_gemm_fold(const ac_patch_geom *g, int batch, int m, const float *a,
                           const float *src, size_t src_stride, float *img, size_t img_stride);
// dw (m, K) += sum over n, in order, of d_n (m, P) unfold(img_n)^T. With few output rows
// (m <= 32, not pointwise) and the direct kernels on, by direct_wgrad.c instead.
void ac_cpu_conv_weight_grad(const ac_patch_geom *g, int batch, int m, const float *d,
                             size_t d_stride, const float *img, size_t img_stride, float *dw);

// y (n, c, len): every row of channel k set to b[k] (to 0 when b is NULL).
void ac_cpu_fill_bias(int n, int c, size_t len, const float *b, float *y);
// dy (n, c, len): db[k] += sum over n and len of channel k (in double, fixed order).
void ac_cpu_bias_grad(int n, int c, size_t len, const float *dy, float *db);

// Overrides the scratch budget (floats per call, shared by the threads; 0 restores the
// default policy). For tests, which use a tiny budget to put block boundaries inside image
// rows, and for tuning; not thread-safe.
void ac_cpu_conv_set_block_budget(size_t floats);

#endif
