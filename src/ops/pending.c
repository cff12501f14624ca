// pending.c: placeholders for kernels not written yet; each aborts if reached. Delete a
// placeholder when its op file lands.
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"

#define PENDING(name) do { fprintf(stderr, "allclear: %s is not implemented\n", name); abort(); } while (0)

void ac_cpu_reflection_pad_forward(size_t nc, int h, int w, int top, int bottom, int left, int right, const float *x, float *y) { (void)nc; (void)h; (void)w; (void)top; (void)bottom; (void)left; (void)right; (void)x; (void)y; PENDING("reflection_pad"); }
void ac_cpu_reflection_pad_backward(size_t nc, int h, int w, int top, int bottom, int left, int right, const float *dy, float *dx) { (void)nc; (void)h; (void)w; (void)top; (void)bottom; (void)left; (void)right; (void)dy; (void)dx; PENDING("reflection_pad"); }
void ac_cpu_prelu_forward(size_t n, float slope, const float *x, float *y) { (void)n; (void)slope; (void)x; (void)y; PENDING("prelu"); }
void ac_cpu_prelu_backward(size_t n, float slope, const float *x, const float *dy, float *dx, float *dslope) { (void)n; (void)slope; (void)x; (void)dy; (void)dx; (void)dslope; PENDING("prelu"); }
void ac_cpu_resize_bilinear_forward(size_t nc, int h, int w, int oh, int ow, const float *x, float *y) { (void)nc; (void)h; (void)w; (void)oh; (void)ow; (void)x; (void)y; PENDING("resize_bilinear"); }
void ac_cpu_resize_bilinear_backward(size_t nc, int h, int w, int oh, int ow, const float *dy, float *dx) { (void)nc; (void)h; (void)w; (void)oh; (void)ow; (void)dy; (void)dx; PENDING("resize_bilinear"); }
void ac_cpu_maxpool2x2_forward(size_t nc, int h, int w, const float *x, float *y) { (void)nc; (void)h; (void)w; (void)x; (void)y; PENDING("maxpool2x2"); }
void ac_cpu_maxpool2x2_backward(size_t nc, int h, int w, const float *x, const float *dy, float *dx) { (void)nc; (void)h; (void)w; (void)x; (void)dy; (void)dx; PENDING("maxpool2x2"); }
void ac_cpu_copy_blocks(size_t outer, size_t len, const float *src, size_t src_stride, float *dst, size_t dst_stride) { (void)outer; (void)len; (void)src; (void)src_stride; (void)dst; (void)dst_stride; PENDING("copy_blocks"); }
void ac_cpu_acc_blocks(size_t outer, size_t len, const float *src, size_t src_stride, float *dst, size_t dst_stride) { (void)outer; (void)len; (void)src; (void)src_stride; (void)dst; (void)dst_stride; PENDING("acc_blocks"); }
float ac_cpu_l1_mean_forward(size_t n, const float *a, const float *b) { (void)n; (void)a; (void)b; PENDING("l1_mean"); }
void ac_cpu_l1_mean_backward(size_t n, const float *a, const float *b, float g, float *da, float *db) { (void)n; (void)a; (void)b; (void)g; (void)da; (void)db; PENDING("l1_mean"); }
float ac_cpu_l1_pairwise_forward(int batch, size_t m, const float *a, const float *b) { (void)batch; (void)m; (void)a; (void)b; PENDING("l1_pairwise"); }
void ac_cpu_l1_pairwise_backward(int batch, size_t m, const float *a, const float *b, float g, float *da, float *db) { (void)batch; (void)m; (void)a; (void)b; (void)g; (void)da; (void)db; PENDING("l1_pairwise"); }
