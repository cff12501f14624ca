// metrics.h: image quality metrics with the reference's definitions (shared spec
// training.md, Metrics): PSNR on images clamped to [0, 1]; SSIM with an 11x11 Gaussian window
// (sigma 1.5), zero padding, C1 = 0.01^2, C2 = 0.03^2, per channel, mean over the whole map,
// applied to the prediction as it is (unclamped); and the Y-channel variants (MATLAB rgb2ycbcr
// luma of the clamped images). Images are planar float: C planes of H x W. Sums in double.
#ifndef AC_METRICS_H
#define AC_METRICS_H

#include "core/tensor.h"

// 20 log10(1 / rmse) over n samples after clamping both to [0, 1]; +inf when identical.
double ac_psnr(const float *pred, const float *gt, size_t n);
// Mean SSIM over c planes of h x w (no clamping).
double ac_ssim(const float *pred, const float *gt, int c, int h, int w);
// y[i] = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B clamped to [0, 1].
void ac_rgb_to_y(const float *rgb, int h, int w, float *y);

typedef struct ac_metrics {
    double psnr, ssim;
} ac_metrics;

// PSNR and SSIM of two images (1, 3, H, W) or (3, H, W); with y_channel, both on the Y
// (luma) channel. AC_ERR_SHAPE (message naming both shapes) when the sizes differ.
ac_status ac_metrics_compute(const ac_tensor *pred, const ac_tensor *gt, bool y_channel, ac_metrics *out);

#endif
