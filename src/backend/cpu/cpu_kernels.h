// cpu_kernels.h: the CPU implementations of the backend table (backend.h). Each kernel lives
// in the src/ops file of its op, next to the graph glue, so that forward and backward read
// side by side; this header only gathers their names for cpu_backend.c and for kernel tests.
#ifndef AC_CPU_KERNELS_H
#define AC_CPU_KERNELS_H

#include <stdbool.h>

#include "backend/backend.h"

void ac_cpu_conv2d_forward(const ac_conv_geom *g, const float *x, const float *w, const float *b,
                           float *y);
void ac_cpu_conv2d_fused(const ac_fused_conv *c);
bool ac_cpu_conv2d_fused_takes_add_sub(const ac_fused_conv *c);
void ac_cpu_conv2d_fused_backward(const ac_fused_conv *c, const float *act_in, const float *dy,
                                  float *dx, float *dw, float *db, float *dslope);
void ac_cpu_conv_epilogue(size_t n, const ac_conv_epilogue *ep, const float *pre, float *y);
// 3x3 stride-1 convolutions use the Winograd kernel (when its geometry fits) unless this turns
// it off (benchmarks, tests).
void ac_cpu_conv_set_winograd(bool on);
// The backward passes (data and weight gradients) of 3x3 stride-1 convolutions by Winograd
// (default on). Off, they take the direct and im2col + GEMM paths while the forward keeps
// Winograd: Winograd's transforms amplify small perturbations of the upstream gradient about
// ten times more, which shows where gradients of different batch splits are compared
// (data-parallel training; see docs/performance.md).
void ac_cpu_conv_set_winograd_backward(bool on);
bool ac_cpu_conv_winograd_backward_on(void);
bool ac_cpu_conv_winograd_fits(int kh, int kw, int stride, int h, int w, int pad,
                               ac_pad_mode mode);
// Whether the Winograd kernels are on (ac_cpu_conv_set_winograd).
bool ac_cpu_conv_winograd_on(void);
// The 4x4 stride-2 convolutions (any padding giving even padded sides) and the stride-2
// transposed convolutions with 3x3 or 4x4 kernels (pad 0 or 1, kernel + output padding at
// most 4 + pad) by F(4x4, 2x2) Winograd (wino_strided.c), where the Winograd kernels are on;
// c as for ac_cpu_direct_conv / ac_cpu_direct_deconv.
bool ac_cpu_wino_strided_conv_fits(const ac_fused_conv *c);
void ac_cpu_wino_strided_conv(const ac_fused_conv *c);
bool ac_cpu_wino_strided_deconv_fits(const ac_fused_conv *c, int out_pad);
void ac_cpu_wino_strided_deconv(const ac_fused_conv *c, int out_pad);
// The convolution c (as ac_cpu_conv2d_fused takes it) by the first kernel that takes it: 3x3
// Winograd, the strided Winograd, the direct kernel (where on); false, with nothing done, where
// none does (the caller's im2col + GEMM). The plain and the fused convolution both come here,
// so they give the same bits.
bool ac_cpu_conv_by_kernel(const ac_fused_conv *c);
// Direct (tap-sum) kernels of direct_conv.c for the other convolutions and the transposed
// convolutions; turned off, those go through im2col + GEMM (benchmarks, tests).
void ac_cpu_conv_set_direct(bool on);
bool ac_cpu_conv_direct_on(void);
void ac_cpu_direct_conv(const ac_fused_conv *c);
// c->weight (cin, cout, kh, kw); zero padding only; output (oh, ow) of conv_transpose2d.
void ac_cpu_direct_deconv(const ac_fused_conv *c, int out_pad);
// The s x s phases of the padded images (direct_conv.c): plane (n, ci, py, px), `plane`
// floats apart (at least hs ws, zeros after), holds xpad[s Y + py][s X + px] for
// Y < hs = ceil((h + 2 pad) / s), X < ws = ceil((w + 2 pad) / s); zeros beyond the padding.
void ac_cpu_phase_split(const float *x, size_t x_batch, int batch, int cin, int h, int w,
                        int s, int pad, ac_pad_mode mode, size_t plane, float *src);
// The weight gradient of direct_wgrad.c, with the contract of ac_cpu_conv_weight_grad
// (im2col.h), for the geometries where ac_cpu_direct_wgrad_fits.
struct ac_patch_geom;
bool ac_cpu_direct_wgrad_fits(const struct ac_patch_geom *g, int m);
void ac_cpu_direct_weight_grad(const struct ac_patch_geom *g, int batch, int m, const float *d,
                               size_t d_stride, const float *img, size_t img_stride,
                               float *dw);
void ac_cpu_conv2d_backward(const ac_conv_geom *g, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db);
// The same with the images of x and dx x_batch floats apart (x a channel prefix of a larger
// tensor when x_batch > cin h w); dx_overwrite: dx = the gradient (dx need not be initialised).
void ac_cpu_conv2d_backward_strided(const ac_conv_geom *g, const float *x, size_t x_batch,
                                    const float *w, const float *dy, float *dx, bool dx_overwrite,
                                    float *dw, float *db);
// The data gradient alone: dx += (overwrite: dx =) the gradient of x for dy.
void ac_cpu_conv2d_backward_data(const ac_conv_geom *g, const float *w, const float *dy, float *dx,
                                 bool overwrite);
void ac_cpu_conv_transpose2d_forward(const ac_conv_geom *g, const float *x, const float *w,
                                     const float *b, float *y);
void ac_cpu_conv_transpose2d_backward(const ac_conv_geom *g, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db);
// The same, with dx written instead of added to where dx_overwrite.
void ac_cpu_conv_transpose2d_backward_to(const ac_conv_geom *g, const float *x, const float *w,
                                         const float *dy, float *dx, bool dx_overwrite, float *dw,
                                         float *db);
void ac_cpu_conv_transpose2d_fused(const ac_fused_conv *c, int out_pad);
void ac_cpu_conv_transpose2d_fused_backward(const ac_fused_conv *c, int out_pad,
                                            const float *act_in, const float *dy, float *dx,
                                            float *dw, float *db, float *dslope);
void ac_cpu_reflection_pad_forward(size_t nc, int h, int w, int top, int bottom, int left,
                                   int right, const float *x, float *y);
void ac_cpu_reflection_pad_backward(size_t nc, int h, int w, int top, int bottom, int left,
                                    int right, const float *dy, float *dx);
// The same, with dx written instead of added to where overwrite (each plane zeroed just before
// its sums, while it is in cache).
void ac_cpu_reflection_pad_backward_to(size_t nc, int h, int w, int top, int bottom, int left,
                                       int right, const float *dy, float *dx, bool overwrite);
void ac_cpu_relu_forward(size_t n, const float *x, float *y);
void ac_cpu_relu_backward(size_t n, const float *y, const float *dy, float *dx);
void ac_cpu_prelu_forward(size_t n, float slope, const float *x, float *y);
void ac_cpu_prelu_backward(size_t n, float slope, const float *x, const float *dy, float *dx,
                           float *dslope);
void ac_cpu_resize_bilinear_forward(size_t nc, int h, int w, int oh, int ow, const float *x,
                                    float *y);
void ac_cpu_resize_bilinear_backward(size_t nc, int h, int w, int oh, int ow, const float *dy,
                                     float *dx);
void ac_cpu_maxpool2x2_forward(size_t nc, int h, int w, const float *x, float *y);
void ac_cpu_maxpool2x2_backward(size_t nc, int h, int w, const float *x, const float *dy,
                                float *dx, bool overwrite);
void ac_cpu_add(size_t n, const float *a, const float *b, float *y);
void ac_cpu_sub(size_t n, const float *a, const float *b, float *y);
void ac_cpu_scale(size_t n, float s, const float *x, float *y);
void ac_cpu_add_const(size_t n, float c, const float *x, float *y);
void ac_cpu_axpy(size_t n, float alpha, const float *x, float *y);
void ac_cpu_copy_blocks(size_t outer, size_t len, const float *src, size_t src_stride, float *dst,
                        size_t dst_stride);
void ac_cpu_acc_blocks(size_t outer, size_t len, const float *src, size_t src_stride, float *dst,
                       size_t dst_stride);
float ac_cpu_l1_mean_forward(size_t n, const float *a, const float *b, double count);
void ac_cpu_l1_mean_backward(size_t n, const float *a, const float *b, float g, double count,
                             float *da, bool da_overwrite, float *db, bool db_overwrite);
float ac_cpu_l1_pairwise_forward(int na, int nb, size_t m, const float *a, const float *b,
                                 double count);
void ac_cpu_l1_pairwise_backward(int na, int nb, size_t m, const float *a, const float *b,
                                 float g, double count, float *da, float *db);
float ac_cpu_sum_forward(size_t n, const float *x);

// Single-precision GEMM on row-major matrices through OpenBLAS:
// C (m x n) = alpha * op(A) op(B) + beta * C, op = transpose when trans_* is true.
void ac_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
