// winograd.h: 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and
// Gray 2016): each 4x4 output tile is A^T [(G g G^T) . (B^T d B)] A over a 6x6 input tile, so
// the channel reduction becomes 36 products per tile instead of 144. The input may be
// zero- or reflection-padded on the fly (no padded copy), may be a channel slice of a larger
// tensor (batch strides), and the output passes through a fused epilogue (bias, activation,
// scale, residual add) on its way to memory.
//
// Work is split over OpenMP threads by (image, block of tiles, block of output channels); each
// output element is computed by one thread in a fixed order, so results do not depend on the
// thread count.
#ifndef AC_WINOGRAD_H
#define AC_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ac_pad_mode { AC_PAD_ZERO = 0, AC_PAD_REFLECT = 1 } ac_pad_mode;
typedef enum ac_act { AC_ACT_NONE = 0, AC_ACT_RELU = 1, AC_ACT_PRELU = 2 } ac_act;

// y = residual + scale * act(conv(x) + bias), each part optional.
typedef struct ac_conv_epilogue {
    const float *bias;      // (cout) or NULL
    ac_act act;
    float slope;            // AC_ACT_PRELU: y = v > 0 ? v : slope v
    float scale;            // 1 for none
    const float *residual;  // like y (same batch stride), or NULL; may equal y (accumulate)
} ac_conv_epilogue;

// One 3x3 stride-1 convolution. Image n, channel c of x is at x + n * x_batch + c * h * w;
// of y at y + n * y_batch + c * oh * ow, with oh = h + 2 pad - 2, ow = w + 2 pad - 2.
typedef struct ac_wino_conv {
    int n, cin, h, w, cout, pad;
    ac_pad_mode mode;  // AC_PAD_REFLECT needs pad < h and pad < w
    const float *x;
    size_t x_batch;
    const float *weight;  // (cout, cin, 3, 3)
    float *y;
    size_t y_batch;
    ac_conv_epilogue ep;
} ac_wino_conv;

// Whether the kernel handles this geometry (pad 0..2, output at least 1x1).
bool ac_cpu_wino_supported(int h, int w, int pad, ac_pad_mode mode);
void ac_cpu_wino_conv3x3(const ac_wino_conv *c);
// Tests: 1 forces the blocked schedule, 2 the whole-layer one, 0 restores the automatic choice.
void ac_cpu_wino_force_schedule(int schedule);

#endif
