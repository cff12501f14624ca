// synth_util.c: blurs, splats and small helpers for the weather generators.
#include "synth/synth_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void box_line(const float *src, float *dst, int n, size_t stride, int r) {
    // running sum over a window of 2r + 1 with clamped indices
    double s = 0;
    for (int k = -r; k <= r; k++) s += src[(size_t)AC_MIN(AC_MAX(k, 0), n - 1) * stride];
    const double inv = 1.0 / (2 * r + 1);
    for (int i = 0; i < n; i++) {
        dst[i] = (float)(s * inv);
        int add = AC_MIN(i + r + 1, n - 1), sub = AC_MAX(i - r, 0);
        s += src[(size_t)add * stride] - src[(size_t)sub * stride];
    }
}

void ac_synth_box_blur(float *p, int h, int w, int r) {
    if (r <= 0) return;
    float *line = ac_xmalloc(sizeof(float) * (size_t)AC_MAX(h, w));
    for (int y = 0; y < h; y++) {
        box_line(p + (size_t)y * w, line, w, 1, r);
        memcpy(p + (size_t)y * w, line, sizeof(float) * (size_t)w);
    }
    for (int x = 0; x < w; x++) {
        box_line(p + x, line, h, (size_t)w, r);
        for (int y = 0; y < h; y++) p[(size_t)y * w + x] = line[y];
    }
    free(line);
}

void ac_synth_gauss_blur(float *p, int h, int w, float sigma) {
    if (sigma <= 0.0f) return;
    // three boxes of radius r have variance 3 * ((2r+1)^2 - 1) / 12 = r (r + 1)
    int r = (int)floorf(0.5f * (sqrtf(1.0f + 4.0f * sigma * sigma) - 1.0f) + 0.5f);
    if (r < 1) {
        // small sigma: one 3-tap pass per axis with weights (a, 1 - 2a, a), variance 2a
        float a = AC_MIN(sigma * sigma / 2.0f, 1.0f / 3.0f);
        float *tmp = ac_xmalloc(sizeof(float) * (size_t)h * w);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const float *row = p + (size_t)y * w;
                tmp[(size_t)y * w + x] = (1 - 2 * a) * row[x] + a * (row[AC_MAX(x - 1, 0)] + row[AC_MIN(x + 1, w - 1)]);
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                p[(size_t)y * w + x] = (1 - 2 * a) * tmp[(size_t)y * w + x] +
                                       a * (tmp[(size_t)AC_MAX(y - 1, 0) * w + x] + tmp[(size_t)AC_MIN(y + 1, h - 1) * w + x]);
        free(tmp);
        return;
    }
    for (int k = 0; k < 3; k++) ac_synth_box_blur(p, h, w, r);
}

static inline float sample_zero(const float *p, int h, int w, float x, float y) {
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - (float)x0, fy = y - (float)y0, v = 0;
    for (int j = 0; j < 2; j++) {
        int yy = y0 + j;
        if (yy < 0 || yy >= h) continue;
        float wy = j ? fy : 1 - fy;
        for (int i = 0; i < 2; i++) {
            int xx = x0 + i;
            if (xx < 0 || xx >= w) continue;
            v += wy * (i ? fx : 1 - fx) * p[(size_t)yy * w + xx];
        }
    }
    return v;
}

void ac_synth_motion_blur(const float *src, float *dst, int h, int w, float dx, float dy, float length) {
    int n = AC_MAX(1, (int)ceilf(length));
    float step = n > 1 ? length / (float)(n - 1) : 0.0f, start = -0.5f * length;
    if (n == 1) start = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int k = 0; k < n; k++) {
                float t = start + step * (float)k;
                s += sample_zero(src, h, w, (float)x + t * dx, (float)y + t * dy);
            }
            dst[(size_t)y * w + x] = s / (float)n;
        }
}

void ac_synth_splat(float *p, int h, int w, float x, float y, float v) {
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - (float)x0, fy = y - (float)y0;
    for (int j = 0; j < 2; j++) {
        int yy = y0 + j;
        if (yy < 0 || yy >= h) continue;
        float wy = j ? fy : 1 - fy;
        for (int i = 0; i < 2; i++) {
            int xx = x0 + i;
            if (xx < 0 || xx >= w) continue;
            p[(size_t)yy * w + xx] += v * wy * (i ? fx : 1 - fx);
        }
    }
}

float ac_synth_uniform(ac_rng *r, float lo, float hi) { return lo + (hi - lo) * ac_rng_uniform(r); }

void ac_synth_normalise(float *p, size_t n) {
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < lo) lo = p[i];
        if (p[i] > hi) hi = p[i];
    }
    float span = hi - lo;
    for (size_t i = 0; i < n; i++) p[i] = span > 0 ? (p[i] - lo) / span : 0.0f;
}
