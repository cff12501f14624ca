// ops.h: the differentiable operations. Each op checks shapes (a mismatch is a programmer bug
// and asserts), allocates its output from the graph, runs the backend kernel and, when the
// graph records and an input requires a gradient, appends its backward to the tape.
// One op per file in src/ops; tensors are float32 NCHW (4-D) unless stated.
#ifndef AC_OPS_H
#define AC_OPS_H

#include "backend/backend.h"
#include "core/graph.h"

// x (N, Cin, H, W), w (Cout, Cin, KH, KW), b (Cout) or NULL; zero padding `pad` on all sides.
ac_tensor *ac_conv2d(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b, int stride, int pad);
// x (N, Cin, H, W), w (Cin, Cout, KH, KW), b (Cout) or NULL;
// out H = (H - 1) stride - 2 pad + KH + out_pad.
ac_tensor *ac_conv_transpose2d(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b, int stride,
                               int pad, int out_pad);
// The same followed by an activation (none, ReLU, or PReLU with a one-element slope), then
// + add and - sub (each NULL or of the output's shape): one pass through the kernel's epilogue
// when nothing is recorded; recorded, one node (a PReLU keeps its input, as ac_conv2d_fused).
ac_tensor *ac_conv_transpose2d_act(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b,
                                   int stride, int pad, int out_pad, ac_act act,
                                   ac_tensor *slope, ac_tensor *add, ac_tensor *sub);
// Fused convolution: out = residual + scale * act(conv2d(pad(x), w) + b), computed in one pass
// where the kernel allows (backend.h, ac_fused_conv). Only the first w->shape[1] channels of x
// are read. With `into` the result is written to channels [c0, c0 + cout) of `into` (same
// batch and spatial size; no residual then) and `into` is returned; otherwise to a new tensor.
// When the graph records and an input requires a gradient it is one node of the tape, with no
// padded copy and no separate activation, scale or addition tensors (a PReLU keeps its
// input). Recorded, reading a channel prefix of x or writing into a slice needs zero padding,
// no PReLU and no scale; `into` must then have been made by ac_copy_into on this graph (the
// node that creates it), and each slice written once.
typedef struct ac_conv_opts {
    int stride, pad;
    ac_pad_mode mode;
    ac_act act;
    const ac_tensor *slope;  // AC_ACT_PRELU: one element
    float scale;             // 0 stands for 1
    const ac_tensor *residual;  // shaped like the output, or NULL
    // then out = (out + add) - sub (shaped like the output, each optional; no slices)
    const ac_tensor *add, *sub;
} ac_conv_opts;
ac_tensor *ac_conv2d_fused(ac_graph *g, ac_tensor *x, ac_tensor *w, ac_tensor *b,
                           const ac_conv_opts *o, ac_tensor *into, int c0);
// Copies src (N, C, H, W) into channels [c0, c0 + C) of dst, a new activation of g (recorded:
// src's gradient gets that slice of dst's); returns dst. dst's other channels are for
// ac_conv2d_fused's slices.
ac_tensor *ac_copy_into(ac_graph *g, ac_tensor *src, ac_tensor *dst, int c0);
// Whether a fused op may be used for these tensors on this graph (nothing to record).
bool ac_fused_ok(const ac_graph *g, ac_tensor *const *ts, int n);
// t's gradient += a src (n floats, t's size), or = a src where t has no gradient yet (see
// ac_graph_grad_to_write); nothing where t needs none.
void ac_grad_add_scaled(ac_graph *g, ac_tensor *t, float a, const float *src, size_t n);
// For the backward of a fused node (conv2d_fused.c, conv_transpose2d.c) whose inputs are
// {x, w, b, slope, skips...} with the subtracted skip last: adds dy (n floats) to the skips'
// gradients (-dy to the last; written where a skip has none yet), then finds the gradient
// buffers of x, w, b and, for a PReLU, the slope (NULL where not wanted); false when none is
// wanted. whole_x: the op writes all of x's gradient (not a channel prefix), so a new one is
// left unzeroed and dx_overwrite set (ac_graph_grad_to_write).
typedef struct ac_fused_grads {
    float *dx, *dw, *db, *dslope;
    bool dx_overwrite;
} ac_fused_grads;
bool ac_fused_node_grads(ac_graph *g, ac_node *node, int n_skips, const float *dy, size_t n,
                         ac_act act, bool whole_x, ac_fused_grads *out);
// Reflection padding (PyTorch ReflectionPad2d); each pad must be < the side it pads.
ac_tensor *ac_reflection_pad(ac_graph *g, ac_tensor *x, int top, int bottom, int left, int right);
ac_tensor *ac_relu(ac_graph *g, ac_tensor *x);
// PReLU with one shared slope: slope is a one-element tensor.
ac_tensor *ac_prelu(ac_graph *g, ac_tensor *x, ac_tensor *slope);
// Bilinear resize to (oh, ow), align_corners = false, no antialias (PyTorch's interpolate).
ac_tensor *ac_resize_bilinear(ac_graph *g, ac_tensor *x, int oh, int ow);
// 2x2 max pool, stride 2 (odd trailing rows/columns are dropped).
ac_tensor *ac_maxpool2x2(ac_graph *g, ac_tensor *x);

// Elementwise, same shapes, any rank.
ac_tensor *ac_add(ac_graph *g, ac_tensor *a, ac_tensor *b);
ac_tensor *ac_sub(ac_graph *g, ac_tensor *a, ac_tensor *b);
ac_tensor *ac_scale(ac_graph *g, ac_tensor *x, float s);
ac_tensor *ac_add_const(ac_graph *g, ac_tensor *x, float c);

// Concatenation of n tensors along dim (0 = batch, 1 = channels); other dims must agree.
ac_tensor *ac_concat(ac_graph *g, ac_tensor *const *xs, int n, int dim);
// The slice [start, end) of x along dim (0 or 1), as a new contiguous tensor.
ac_tensor *ac_slice(ac_graph *g, ac_tensor *x, int dim, int start, int end);
// Cuts the channels into two equal halves.
void ac_split_channels(ac_graph *g, ac_tensor *x, ac_tensor **first, ac_tensor **second);
// The same without copies where it can: for one image in an inference graph the halves are
// views into x (ac_graph_view; x must outlive them), and it returns true; otherwise it splits
// by copies as above and returns false.
bool ac_split_channels_view(ac_graph *g, ac_tensor *x, ac_tensor **first, ac_tensor **second);

// Reductions and scalar arithmetic; a scalar is a one-element tensor of shape (1).
ac_tensor *ac_l1_mean(ac_graph *g, ac_tensor *a, ac_tensor *b);  // mean |a - b|
// a, b: (B, ...). mean over all pairs (i, j) of items and elements of |a_i - b_j|,
// computed without materialising B*B copies.
// a (Ba, ...) and b (Bb, ...) may differ in batch size.
ac_tensor *ac_l1_pairwise_mean(ac_graph *g, ac_tensor *a, ac_tensor *b);
// Parts of a larger mean (data-parallel training): the sums of ac_l1_mean and
// ac_l1_pairwise_mean divided by `count` instead of their own element (pair) count.
ac_tensor *ac_l1_mean_over(ac_graph *g, ac_tensor *a, ac_tensor *b, double count);
ac_tensor *ac_l1_pairwise_mean_over(ac_graph *g, ac_tensor *a, ac_tensor *b, double count);
ac_tensor *ac_sum(ac_graph *g, ac_tensor *x);                 // sum of all elements -> scalar
ac_tensor *ac_div(ac_graph *g, ac_tensor *a, ac_tensor *b);   // scalar a / scalar b

// Data-parallel collectives (dist.h): every rank calls them at the same point of its step.
// The sum over ranks of a scalar; backward passes the gradient through unchanged (so that
// summing parameter gradients over ranks gives the global loss's gradient). One process: x.
ac_tensor *ac_allreduce_scalar(ac_graph *g, ac_tensor *x);
// Every rank's share (ac_dist_share of global_batch) of a constant, concatenated in rank
// order: (global_batch, ...). One process: x.
ac_tensor *ac_allgather_batch(ac_graph *g, ac_tensor *x, int global_batch);

#endif
