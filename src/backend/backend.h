// backend.h: the seam between the graph ops and the kernels that do the arithmetic. A backend
// is a table of kernels over raw float pointers; the graph ops (src/ops) check shapes, allocate
// outputs, call the active backend and record the tape. Only a CPU backend exists today; a
// CUDA one would provide the same table over device pointers.
//
// Conventions for every kernel:
// - forward kernels overwrite their output;
// - backward kernels ACCUMULATE (+=) into the gradient buffers they are given, and skip any
//   gradient pointer that is NULL (that input does not require a gradient);
// - sizes are in elements; all tensors are contiguous NCHW.
#ifndef AC_BACKEND_H
#define AC_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

// Geometry of a 2-D convolution or transposed convolution.
// conv2d:           x (n, cin, h, w), weight (cout, cin, kh, kw) -> y (n, cout, oh, ow),
//                   oh = (h + 2 pad - kh) / stride + 1
// conv_transpose2d: x (n, cin, h, w), weight (cin, cout, kh, kw) -> y (n, cout, oh, ow),
//                   oh = (h - 1) stride - 2 pad + kh + out_pad
typedef struct ac_conv_geom {
    int n, cin, h, w;
    int cout, oh, ow;
    int kh, kw, stride, pad, out_pad;
} ac_conv_geom;

// A convolution with its padding and epilogue fused (inference: no backward). Output channel
// co of image n is y + n * y_batch + co * oh * ow (oh, ow as for conv2d, with `pad` of the
// given mode on every side), so y may be a channel slice of a larger tensor; likewise x (its
// first cin channels are read). After the sum over the kernel:
//   y = residual + scale * act(sum + bias)
// each part optional; residual has y's layout and may be y itself (accumulate). Where the
// backend says so (conv2d_fused_takes_add_sub) the kernel also takes `add` and `sub` (y's
// layout): y = (y + add) - sub, in that order; otherwise ac_conv2d_fused applies them in
// passes of their own.
typedef enum ac_pad_mode { AC_PAD_ZERO = 0, AC_PAD_REFLECT = 1 } ac_pad_mode;
typedef enum ac_act { AC_ACT_NONE = 0, AC_ACT_RELU = 1, AC_ACT_PRELU = 2 } ac_act;

typedef struct ac_conv_epilogue {
    const float *bias;      // (cout) or NULL
    ac_act act;
    float slope;            // AC_ACT_PRELU: v > 0 ? v : slope v
    float scale;            // 1 for none
    const float *residual;  // or NULL
    const float *add, *sub;  // where the kernel takes them (see above), or NULL
} ac_conv_epilogue;

typedef struct ac_fused_conv {
    int n, cin, h, w, cout;
    int kh, kw, stride, pad;
    ac_pad_mode mode;  // AC_PAD_REFLECT needs pad < h and pad < w
    const float *x;
    size_t x_batch;
    const float *weight;  // (cout, cin, kh, kw)
    // 3x3 Winograd only (the data gradient of a 3x3 convolution): weight is laid out
    // (cin, cout, 3, 3), and kernel (co, ci) is weight[ci][co] turned by 180 degrees.
    bool weight_turned;
    float *y;
    size_t y_batch;
    ac_conv_epilogue ep;
    bool dx_overwrite;  // backward only: dx = the gradient of x (every element written), not +=
} ac_fused_conv;

typedef struct ac_backend {
    const char *name;

    void (*conv2d_forward)(const ac_conv_geom *g, const float *x, const float *w, const float *b,
                           float *y);
    void (*conv2d_backward)(const ac_conv_geom *g, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db);
    void (*conv2d_fused)(const ac_fused_conv *c);
    // The backward of a recorded conv2d_fused: c as in the forward (x and x_batch, weight,
    // geometry, padding mode, ep.act, ep.slope, ep.scale; y, bias, residual, add and sub
    // unused), dy the gradient of its output y, laid out as y (image n at n y_batch, or packed
    // when y_batch is 0). act_in (y's layout): the input of the activation (sum + bias) for
    // PReLU; for ReLU that or y when nothing follows the ReLU; unused without activation.
    // Accumulates the gradients of x (dx laid out as x; written instead where c->dx_overwrite),
    // weight, bias and the PReLU slope (each may be NULL), not those of residual, add and sub
    // (each receives dy). x a channel prefix
    // (x_batch > cin h w) or y a slice (y_batch > cout oh ow) needs zero padding (or none) and
    // no PReLU.
    void (*conv2d_fused_backward)(const ac_fused_conv *c, const float *act_in, const float *dy,
                                  float *dx, float *dw, float *db, float *dslope);
    // The epilogue of conv2d_fused on a stored sum (bias included): for i < n,
    // y = ((residual + scale * act(pre)) + add) - sub, each part optional (ep.bias unused).
    void (*conv_epilogue)(size_t n, const ac_conv_epilogue *ep, const float *pre, float *y);
    // Whether conv2d_fused applies ep.add / ep.sub for the call c (its geometry, whatever its
    // epilogue).
    bool (*conv2d_fused_takes_add_sub)(const ac_fused_conv *c);
    void (*conv_transpose2d_forward)(const ac_conv_geom *g, const float *x, const float *w,
                                     const float *b, float *y);
    void (*conv_transpose2d_backward)(const ac_conv_geom *g, const float *x, const float *w,
                                      const float *dy, float *dx, float *dw, float *db);
    // conv_transpose2d with an epilogue (bias, activation, scale, residual, add and sub), for
    // inference: c as for conv2d_fused with c->weight (cin, cout, kh, kw), zero padding, and
    // the output (oh, ow) of conv_transpose2d with out_pad.
    void (*conv_transpose2d_fused)(const ac_fused_conv *c, int out_pad);
    // The backward of a recorded conv_transpose2d_fused, as conv2d_fused_backward (c as in the
    // forward, packed x and dy; act_in for PReLU, or for ReLU when add or sub follows).
    void (*conv_transpose2d_fused_backward)(const ac_fused_conv *c, int out_pad,
                                            const float *act_in, const float *dy, float *dx,
                                            float *dw, float *db, float *dslope);

    // x (nc, h, w) -> y (nc, h + top + bottom, w + left + right), reflection (no edge repeat)
    void (*reflection_pad_forward)(size_t nc, int h, int w, int top, int bottom, int left,
                                   int right, const float *x, float *y);
    void (*reflection_pad_backward)(size_t nc, int h, int w, int top, int bottom, int left,
                                    int right, const float *dy, float *dx);

    void (*relu_forward)(size_t n, const float *x, float *y);
    void (*relu_backward)(size_t n, const float *y, const float *dy, float *dx);
    // one shared slope: y = x > 0 ? x : slope * x
    void (*prelu_forward)(size_t n, float slope, const float *x, float *y);
    void (*prelu_backward)(size_t n, float slope, const float *x, const float *dy, float *dx,
                           float *dslope);

    // x (nc, h, w) -> y (nc, oh, ow), bilinear, align_corners = false (PyTorch)
    void (*resize_bilinear_forward)(size_t nc, int h, int w, int oh, int ow, const float *x,
                                    float *y);
    void (*resize_bilinear_backward)(size_t nc, int h, int w, int oh, int ow, const float *dy,
                                     float *dx);

    // x (nc, h, w) -> y (nc, h/2, w/2), 2x2 window, stride 2, first maximum wins
    void (*maxpool2x2_forward)(size_t nc, int h, int w, const float *x, float *y);
    // dx += (overwrite: dx =) the gradient of x for dy
    void (*maxpool2x2_backward)(size_t nc, int h, int w, const float *x, const float *dy,
                                float *dx, bool overwrite);

    // elementwise
    void (*add)(size_t n, const float *a, const float *b, float *y);          // y = a + b
    void (*sub)(size_t n, const float *a, const float *b, float *y);          // y = a - b
    void (*scale)(size_t n, float s, const float *x, float *y);               // y = s x
    void (*add_const)(size_t n, float c, const float *x, float *y);           // y = x + c
    void (*axpy)(size_t n, float alpha, const float *x, float *y);            // y += alpha x
    // for o < outer: dst[o*dst_stride + i] (+)= src[o*src_stride + i], i < len
    void (*copy_blocks)(size_t outer, size_t len, const float *src, size_t src_stride, float *dst,
                        size_t dst_stride);
    void (*acc_blocks)(size_t outer, size_t len, const float *src, size_t src_stride, float *dst,
                       size_t dst_stride);

    // reductions to a scalar (accumulated in double)
    // sum |a - b| / count (count = n: the mean); g = d(loss)/d(result)
    float (*l1_mean_forward)(size_t n, const float *a, const float *b, double count);
    // da += (da_overwrite: da =) g sign(a - b) / count; db likewise with -g
    void (*l1_mean_backward)(size_t n, const float *a, const float *b, float g, double count,
                             float *da, bool da_overwrite, float *db, bool db_overwrite);
    // a: (na, m), b: (nb, m). sum over i < na, j < nb, k < m of |a[i,k] - b[j,k]|, / count
    float (*l1_pairwise_forward)(int na, int nb, size_t m, const float *a, const float *b,
                                 double count);
    void (*l1_pairwise_backward)(int na, int nb, size_t m, const float *a, const float *b,
                                 float g, double count, float *da, float *db);
    float (*sum_forward)(size_t n, const float *x);
} ac_backend;

// The backend the ops use (CPU today).
const ac_backend *ac_be(void);
const ac_backend *ac_backend_cpu(void);

// Threading (OpenMP and OpenBLAS). Results are identical run to run for a given count.
void ac_set_threads(int n);
int ac_get_threads(void);

// Runs job(ctx, i) for every i in [0, n), in groups of P = ac_get_threads() jobs in order of
// i: the jobs of a group of k run side by side, P / k threads each and the first P % k of them
// one more (the kernels they call see only that share), so with 2 threads and 3 jobs, jobs 0
// and 1 on one thread each, then job 2 on both; with 3 threads and 2 jobs, 2 and 1. For
// independent pieces of work that scale poorly over threads on their own (a small image
// through a network); jobs must not share a graph. Results are those of running the
// jobs one after another wherever the kernels' results do not depend on the thread count
// (true of every forward kernel).
void ac_run_jobs(int n, void (*job)(void *ctx, int i), void *ctx);

#endif
