// winograd.h: 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and
// Gray 2016): each 4x4 output tile is A^T [(G g G^T) . (B^T d B)] A over a 6x6 input tile, so
// the channel reduction becomes 36 products per tile instead of 144; and 2x2 stride-1
// convolution by F(4x4, 2x2) over 5x5 tiles, 25 products instead of 64. The input may be
// zero- or reflection-padded on the fly (no padded copy), may be a channel slice of a larger
// tensor (batch strides), and the output passes through a fused epilogue (bias, activation,
// scale, residual add) on its way to memory.
//
// Work is split over OpenMP threads by (image, block of tiles, block of output channels); each
// output element is computed by one thread in a fixed order, so results do not depend on the
// thread count. The arguments are those of the backend's fused convolution (backend.h).
#ifndef AC_WINOGRAD_H
#define AC_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"

// Whether the kernel handles this geometry (pad 0..2, output at least 1x1).
bool ac_cpu_wino_supported(int h, int w, int pad, ac_pad_mode mode);
// c: kh = kw = 3, stride 1, a supported geometry.
void ac_cpu_wino_conv3x3(const ac_fused_conv *c);
// The same for 2x2 kernels by F(4x4, 2x2) (25 products per 4x4 tile instead of 64): kh = kw =
// 2, stride 1, pad 0 to 2. The strided 4x4 convolutions and transposed convolutions run
// through it (wino_strided.c).
void ac_cpu_wino_conv2x2(const ac_fused_conv *c);
// The same over the stride-2 phases of images h x w padded by pad (zeros or reflection, pad <
// h and w), read in place: input channel 4 ci + 2 py + px, pixel (Y, X), is pixel
// (2 Y + py - pad, 2 X + px - pad) of channel ci of the image at c->x (c->x_batch apart),
// zero beyond the padding. c: cin 4 times the images' channels, h and w the phase planes'
// sides, pad 0, zero mode.
void ac_cpu_wino_conv2x2_phases(const ac_fused_conv *c, int h, int w, int pad, ac_pad_mode mode);
// A 2x2 convolution whose output channels are the four phases of a stride-2 output: channel
// 4 co + 2 a + b at (R, C) goes to y[co][2 R + a - off][2 C + b - off] where that lies in
// oh x ow, through the epilogue of output channel co (c->y, c->y_batch and c->ep describe that
// output, with c->cout / 4 channels). c->cout a multiple of 4, zero padding.
void ac_cpu_wino_conv2x2_interleave(const ac_fused_conv *c, int oh, int ow, int off);
// dw (cout, cin, 3, 3) += the weight gradient of the convolution c (x, geometry, padding;
// y, weight and epilogue unused) for dy (n, cout, oh, ow), image n at dy + n * dy_batch.
void ac_cpu_wino_weight_grad(const ac_fused_conv *c, const float *dy, size_t dy_batch,
                             float *dw);
// Tests: 1 forces the blocked schedule, 2 the whole-layer one, 3 the whole-layer one with each
// work item transforming its own weights, 4 the whole-layer one xi by xi, 0 restores the
// automatic choice.
void ac_cpu_wino_force_schedule(int schedule);
// Tests: true sends every weight gradient through the grouped form (transforms of whole
// images, then the GEMMs), false restores the automatic choice (blocked for few channels).
void ac_cpu_wino_wgrad_force_grouped(bool on);

#endif
