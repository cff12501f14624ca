// im2col.h: unfolding image patches into GEMM columns (im2col) and folding columns back with
// accumulation (col2im), the data movement under the CPU convolutions; also their bias
// helpers and scratch-memory policy.
//
// Layout: img (c, h, w); col (c * kh * kw, p1 - p0), row-major. Row r = (ci, ki, kj) and
// column j stand for kernel tap (ki, kj) of channel ci at output position p = p0 + j of an
// oh x ow grid (oy = p / ow, ox = p % ow), i.e. img[ci, oy*stride - pad + ki,
// ox*stride - pad + kj], zero outside the image. Working on a column range [p0, p1) lets the
// callers bound their scratch memory.
#ifndef AC_IM2COL_H
#define AC_IM2COL_H

#include <stddef.h>

typedef struct ac_patch_geom {
    int c, h, w;          // image
    int kh, kw, stride, pad;
    int oh, ow;           // grid of patch positions
} ac_patch_geom;

// col = patches of img at positions [p0, p1) (overwrites col).
void ac_cpu_im2col(const ac_patch_geom *g, const float *img, int p0, int p1, float *col);
// img += the fold of col (positions [p0, p1)); each image element receives its contributions
// in a fixed order, so the result does not depend on the thread count.
void ac_cpu_col2im_add(const ac_patch_geom *g, const float *col, int p0, int p1, float *img);

// Bias helpers shared by the convolutions.
// y (cout, m): every row c set to b[c]
void ac_cpu_fill_bias(int cout, size_t m, const float *b, float *y);
// dy (n, cout, m): db[c] += sum over n and m of dy[., c, .] (in double, fixed order)
void ac_cpu_bias_grad(int n, int cout, size_t m, const float *dy, float *db);

// Scratch for column blocks: a 64-byte aligned buffer of n floats; aborts when memory is out
// (like activation allocation). Free with ac_aligned_free.
float *ac_cpu_scratch(size_t n);
// Number of grid positions per column block for a GEMM whose column matrix has `rows` rows,
// so that the block stays within the scratch budget (at least a few hundred columns).
int ac_cpu_col_block(size_t rows, int positions);
// Changes the scratch budget per block (floats; 0 restores the default). For tests, which
// use a tiny budget to exercise the block boundaries; not thread-safe.
void ac_cpu_conv_set_block_budget(size_t floats);

#endif
