// metrics.c: PSNR, SSIM (separable Gaussian window evaluated row by row through a ring of
// 11 horizontally filtered rows, so memory stays O(width)) and the Y-channel variants.
#include "metrics/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIN 11
#define RAD 5

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

double ac_psnr(const float *pred, const float *gt, size_t n) {
    AC_ASSERT(n > 0);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)clamp01(pred[i]) - (double)clamp01(gt[i]);
        sum += d * d;
    }
    double mse = sum / (double)n;
    if (mse == 0) return INFINITY;
    return 20.0 * log10(1.0 / sqrt(mse));
}

// The normalised Gaussian in double. (The reference builds it in float32; SSIM is sensitive
// to the window's sum through E[x^2] - mu^2, so that rounding alone moves the reference's
// figure by ~1e-5; the exact window is the definition implemented here.)
static void gaussian_window(double g[WIN]) {
    double s = 0;
    for (int i = 0; i < WIN; i++) {
        double d = i - RAD;
        g[i] = exp(-d * d / (2.0 * 1.5 * 1.5));
        s += g[i];
    }
    for (int i = 0; i < WIN; i++) g[i] /= s;
}

// Horizontal pass of one row for the five quantities x, y, x^2, y^2, xy (zero padding).
static void filter_row(const float *x, const float *y, int w, const double g[WIN], double *out) {
    double *ox = out, *oy = out + w, *oxx = out + 2 * w, *oyy = out + 3 * w, *oxy = out + 4 * w;
    for (int j = 0; j < w; j++) {
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        int k0 = j - RAD < 0 ? RAD - j : 0, k1 = j + RAD >= w ? w - 1 - j + RAD : WIN - 1;
        for (int k = k0; k <= k1; k++) {
            double a = x[j + k - RAD], b = y[j + k - RAD], gk = g[k];
            sx += gk * a;
            sy += gk * b;
            sxx += gk * a * a;
            syy += gk * b * b;
            sxy += gk * a * b;
        }
        ox[j] = sx;
        oy[j] = sy;
        oxx[j] = sxx;
        oyy[j] = syy;
        oxy[j] = sxy;
    }
}

static double ssim_plane(const float *x, const float *y, int h, int w, const double g[WIN], double *ring) {
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    const size_t stride = (size_t)5 * w;
    int next = 0;  // next source row to filter into the ring
    double total = 0;
    for (int i = 0; i < h; i++) {
        for (; next < h && next <= i + RAD; next++)
            filter_row(x + (size_t)next * w, y + (size_t)next * w, w, g, ring + (size_t)(next % WIN) * stride);
        int k0 = i - RAD < 0 ? RAD - i : 0, k1 = i + RAD >= h ? h - 1 - i + RAD : WIN - 1;
        double row_sum = 0;
        for (int j = 0; j < w; j++) {
            double m[5] = {0, 0, 0, 0, 0};
            for (int k = k0; k <= k1; k++) {
                const double *r = ring + (size_t)((i + k - RAD) % WIN) * stride + j;
                for (int q = 0; q < 5; q++) m[q] += g[k] * r[(size_t)q * w];
            }
            double mu1 = m[0], mu2 = m[1];
            double s1 = m[2] - mu1 * mu1, s2 = m[3] - mu2 * mu2, s12 = m[4] - mu1 * mu2;
            row_sum += ((2 * mu1 * mu2 + C1) * (2 * s12 + C2)) / ((mu1 * mu1 + mu2 * mu2 + C1) * (s1 + s2 + C2));
        }
        total += row_sum;
    }
    return total;
}

double ac_ssim(const float *pred, const float *gt, int c, int h, int w) {
    AC_ASSERT(c > 0 && h > 0 && w > 0);
    double g[WIN];
    gaussian_window(g);
    double *ring = ac_xmalloc(sizeof(double) * 5 * WIN * (size_t)w);
    double total = 0;
    size_t plane = (size_t)h * w;
    for (int p = 0; p < c; p++) total += ssim_plane(pred + p * plane, gt + p * plane, h, w, g, ring);
    free(ring);
    return total / ((double)c * (double)plane);
}

void ac_rgb_to_y(const float *rgb, int h, int w, float *y) {
    size_t plane = (size_t)h * w;
    for (size_t i = 0; i < plane; i++) {
        double r = clamp01(rgb[i]), g = clamp01(rgb[plane + i]), b = clamp01(rgb[2 * plane + i]);
        y[i] = (float)((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0);
    }
}

ac_status ac_metrics_compute(const ac_tensor *pred, const ac_tensor *gt, bool y_channel, ac_metrics *out) {
    char a[64], b[64];
    bool ok = pred->ndim == gt->ndim && (pred->ndim == 3 || (pred->ndim == 4 && pred->shape[0] == 1)) &&
              ac_same_shape(pred, gt) && pred->shape[pred->ndim - 3] == 3;
    if (!ok)
        return ac_fail(AC_ERR_SHAPE, "images differ in size: %s and %s", ac_shape_str(pred, a, sizeof a),
                       ac_shape_str(gt, b, sizeof b));
    int h = pred->shape[pred->ndim - 2], w = pred->shape[pred->ndim - 1];
    if (!y_channel) {
        out->psnr = ac_psnr(pred->data, gt->data, (size_t)3 * h * w);
        out->ssim = ac_ssim(pred->data, gt->data, 3, h, w);
        return AC_OK;
    }
    float *yp = ac_xmalloc(sizeof(float) * 2 * (size_t)h * w), *yg = yp + (size_t)h * w;
    ac_rgb_to_y(pred->data, h, w, yp);
    ac_rgb_to_y(gt->data, h, w, yg);
    out->psnr = ac_psnr(yp, yg, (size_t)h * w);
    out->ssim = ac_ssim(yp, yg, 1, h, w);
    free(yp);
    return AC_OK;
}
