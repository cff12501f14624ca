// synth.c: the haze, rain and snow generators (see synth.h and docs/synth.md).
#include "synth/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "synth/synth_util.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const char *const weather_names[AC_WEATHER_COUNT] = {"haze", "rain", "snow"};

const char *ac_weather_name(ac_weather w) {
    AC_ASSERT(w >= 0 && w < AC_WEATHER_COUNT);
    return weather_names[w];
}

bool ac_weather_parse(const char *s, ac_weather *out) {
    for (int i = 0; i < AC_WEATHER_COUNT; i++)
        if (!strcmp(s, weather_names[i])) {
            *out = (ac_weather)i;
            return true;
        }
    return false;
}

uint64_t ac_synth_seed(uint64_t seed, ac_weather w, const char *name, int variant) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a of the name
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    ac_rng r;
    ac_rng_seed(&r, seed ^ (h * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)w << 56) ^ ((uint64_t)(unsigned)variant << 32));
    return ac_rng_next(&r);
}

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

static void luminance(const float *rgb, size_t plane, float *out) {
    for (size_t i = 0; i < plane; i++) out[i] = 0.299f * rgb[i] + 0.587f * rgb[plane + i] + 0.114f * rgb[2 * plane + i];
}

// Atmospheric scattering over the whole image with per-pixel transmission t and airlight A.
static void scatter(float *img, size_t plane, const float *t, const float A[3]) {
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++) img[c * plane + i] = img[c * plane + i] * t[i] + A[c] * (1.0f - t[i]);
}

// ---- haze ----

static void haze(float *img, int h, int w, const ac_tensor *depth, ac_rng *r, char *desc, size_t dsz) {
    size_t plane = (size_t)h * w;
    float *d = ac_xmalloc(sizeof(float) * plane);
    float mix = 0, sigma = 0;
    if (depth) {
        memcpy(d, depth->data, sizeof(float) * plane);  // first channel
    } else {
        // Depth proxy: far at the top of the frame and where the image is bright (sky, distant
        // haze), both smooth. d = mix * vertical + (1 - mix) * blurred luminance.
        mix = ac_synth_uniform(r, 0.5f, 0.8f);
        sigma = (float)AC_MAX(h, w) / 24.0f;
        luminance(img, plane, d);
        ac_synth_gauss_blur(d, h, w, sigma);
        ac_synth_normalise(d, plane);
        for (int y = 0; y < h; y++) {
            float v = h > 1 ? 1.0f - (float)y / (float)(h - 1) : 0.0f;
            for (int x = 0; x < w; x++) d[(size_t)y * w + x] = mix * v + (1.0f - mix) * d[(size_t)y * w + x];
        }
    }
    ac_synth_normalise(d, plane);
    float beta = ac_synth_uniform(r, 0.6f, 1.8f), a = ac_synth_uniform(r, 0.8f, 1.0f);
    float A[3] = {a, a, a}, cast = 0;
    if (ac_rng_uniform(r) < 0.5f) {  // slight colour cast of the airlight: warm (+) or cool (-)
        cast = ac_synth_uniform(r, -0.06f, 0.06f);
        A[0] = clamp01(a * (1 + cast));
        A[2] = clamp01(a * (1 - cast));
    }
    for (size_t i = 0; i < plane; i++) d[i] = expf(-beta * d[i]);
    scatter(img, plane, d, A);
    free(d);
    if (desc)
        snprintf(desc, dsz, "haze beta=%.3f A=(%.3f,%.3f,%.3f) depth=%s mix=%.2f", beta, A[0], A[1], A[2],
                 depth ? "supplied" : "proxy", mix);
}

// ---- rain ----

static void rain(float *img, int h, int w, ac_rng *r, char *desc, size_t dsz) {
    size_t plane = (size_t)h * w;
    float *s = ac_xmalloc(sizeof(float) * plane);
    float angle = ac_synth_uniform(r, 60.0f, 120.0f);
    int layers = 2 + (int)ac_rng_below(r, 2);
    int n = snprintf(desc, desc ? dsz : 0, "rain angle=%.1f layers=%d", angle, layers);
    for (int l = 0; l < layers; l++) {
        float len = ac_synth_uniform(r, 20.0f, 60.0f);
        float density = ac_synth_uniform(r, 0.0005f, 0.0025f);  // drops per pixel
        float opacity = ac_synth_uniform(r, 0.2f, 0.6f);
        float a = (angle + ac_synth_uniform(r, -4.0f, 4.0f)) * (float)M_PI / 180.0f;
        float dx = cosf(a), dy = sinf(a);
        int width = ac_rng_uniform(r) < 0.3f ? 2 : 1;
        float soft = ac_synth_uniform(r, 0.4f, 0.9f);
        memset(s, 0, sizeof(float) * plane);
        // Sparse drops motion-blurred along the fall direction: each drop is drawn as its
        // blur trail, a segment of `len` pixels with a tapered profile (bilinear splats).
        // Drops start in a margin above/beside the frame so that streaks enter from outside.
        float mx = len * fabsf(dx), my = len * dy;
        float area = ((float)w + mx) * ((float)h + my);
        int drops = (int)(density * area + 0.5f);
        int steps = (int)ceilf(len);
        for (int k = 0; k < drops; k++) {
            float x0 = ac_synth_uniform(r, dx < 0 ? 0.0f : -mx, (float)w + (dx < 0 ? mx : 0.0f));
            float y0 = ac_synth_uniform(r, -my, (float)h);
            float v = ac_synth_uniform(r, 0.5f, 1.0f);
            for (int t = 0; t <= steps; t++) {
                float u = (float)t / (float)steps;
                float taper = sqrtf(sinf((float)M_PI * (0.05f + 0.9f * u)));
                float x = x0 + dx * len * u, y = y0 + dy * len * u;
                for (int q = 0; q < width; q++) ac_synth_splat(s, h, w, x + (float)q, y, v * taper);
            }
        }
        ac_synth_gauss_blur(s, h, w, soft);
        // screen blend: bright, semi-transparent streaks
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < plane; i++) {
                float m = opacity * clamp01(s[i] * 1.2f);
                img[c * plane + i] = 1.0f - (1.0f - img[c * plane + i]) * (1.0f - m);
            }
        if (desc && n < (int)dsz)
            n += snprintf(desc + n, dsz - (size_t)n, " [len=%.0f density=%.4f opacity=%.2f width=%d]", len, density,
                          opacity, width);
    }
    if (ac_rng_uniform(r) < 0.6f) {  // rain fog: a uniform veil from the drops in the air
        float t = ac_synth_uniform(r, 0.7f, 0.9f), a = ac_synth_uniform(r, 0.7f, 0.9f);
        for (size_t i = 0; i < plane; i++) s[i] = t;
        scatter(img, plane, s, (float[3]){a, a, a});
        if (desc && n < (int)dsz) snprintf(desc + n, dsz - (size_t)n, " fog t=%.2f A=%.2f", t, a);
    }
    free(s);
}

// ---- snow ----

typedef struct flake_layer {
    const char *name;
    float zoom[2], density[2], length[2], opacity[2], defocus[2];
} flake_layer;

// density: flakes per 1000 pixels; zoom: flake size in pixels; length: motion blur.
static const flake_layer flake_layers[3] = {
    {"small", {1.2f, 2.0f}, {4.0f, 12.0f}, {2.0f, 5.0f}, {0.6f, 0.9f}, {0.0f, 0.4f}},
    {"medium", {2.5f, 4.0f}, {0.8f, 2.5f}, {3.0f, 7.0f}, {0.7f, 0.95f}, {0.4f, 0.9f}},
    {"large", {4.5f, 7.0f}, {0.1f, 0.4f}, {4.0f, 10.0f}, {0.75f, 1.0f}, {0.8f, 2.0f}},
};

static float smoothstep(float e0, float e1, float x) {
    float t = clamp01((x - e0) / (e1 - e0));
    return t * t * (3.0f - 2.0f * t);
}

static void snow(float *img, int h, int w, ac_rng *r, char *desc, size_t dsz) {
    size_t plane = (size_t)h * w;
    float *m = ac_xmalloc(sizeof(float) * plane), *mb = ac_xmalloc(sizeof(float) * plane);
    float angle = ac_synth_uniform(r, 60.0f, 120.0f) * (float)M_PI / 180.0f;
    float dx = cosf(angle), dy = sinf(angle);
    int n = snprintf(desc, desc ? dsz : 0, "snow angle=%.1f", angle * 180.0f / (float)M_PI);
    // the veil first (the air between camera and scene), flakes in front of it
    float t = ac_synth_uniform(r, 0.7f, 0.92f), a = ac_synth_uniform(r, 0.8f, 0.95f);
    for (size_t i = 0; i < plane; i++) m[i] = t;
    scatter(img, plane, m, (float[3]){a, a, a});
    if (desc && n < (int)dsz) n += snprintf(desc + n, dsz - (size_t)n, " veil t=%.2f A=%.2f", t, a);
    for (int l = 0; l < 3; l++) {
        const flake_layer *L = &flake_layers[l];
        float z = ac_synth_uniform(r, L->zoom[0], L->zoom[1]);
        float density = ac_synth_uniform(r, L->density[0], L->density[1]);
        float len = ac_synth_uniform(r, L->length[0], L->length[1]);
        float opacity = ac_synth_uniform(r, L->opacity[0], L->opacity[1]);
        float defocus = ac_synth_uniform(r, L->defocus[0], L->defocus[1]);
        float white = ac_synth_uniform(r, 0.92f, 1.0f);
        // 1. sparse noise on a grid z times coarser than the image
        int lh = (int)ceilf((float)h / z) + 2, lw = (int)ceilf((float)w / z) + 2;
        float p = AC_MIN(density / 1000.0f * z * z, 0.5f);
        float *grid = ac_xmalloc(sizeof(float) * (size_t)lh * lw);
        for (size_t i = 0; i < (size_t)lh * lw; i++) grid[i] = ac_rng_uniform(r) < p ? ac_synth_uniform(r, 0.7f, 1.0f) : 0.0f;
        float ox = ac_rng_uniform(r), oy = ac_rng_uniform(r);
        // 2. zoomed up (bilinear) and 3. thresholded into round-ish soft flakes
        for (int y = 0; y < h; y++) {
            float gy = ((float)y + 0.5f) / z + oy;
            int y0 = (int)gy;
            float fy = gy - (float)y0;
            for (int x = 0; x < w; x++) {
                float gx = ((float)x + 0.5f) / z + ox;
                int x0 = (int)gx;
                float fx = gx - (float)x0;
                const float *g0 = grid + (size_t)y0 * lw + x0, *g1 = g0 + lw;
                float v = (1 - fy) * ((1 - fx) * g0[0] + fx * g0[1]) + fy * ((1 - fx) * g1[0] + fx * g1[1]);
                m[(size_t)y * w + x] = smoothstep(0.3f, 0.6f, v);
            }
        }
        free(grid);
        // 4. out of focus (larger flakes are nearer the camera) and motion-blurred by the fall
        ac_synth_gauss_blur(m, h, w, defocus);
        ac_synth_motion_blur(m, mb, h, w, dx, dy, len);
        float gain = 1.0f + len / (2.0f * z);  // keeps the smeared flakes' peak near opaque
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < plane; i++) {
                float alpha = opacity * clamp01(mb[i] * gain);
                img[c * plane + i] = img[c * plane + i] * (1 - alpha) + white * alpha;
            }
        if (desc && n < (int)dsz)
            n += snprintf(desc + n, dsz - (size_t)n, " [%s size=%.1f density=%.2f len=%.1f opacity=%.2f]", L->name, z,
                          density, len, opacity);
    }
    free(m);
    free(mb);
}

ac_status ac_synth_apply(ac_weather w, const ac_tensor *clean, const ac_tensor *depth, uint64_t seed,
                         ac_tensor **out, char *desc, size_t desc_size) {
    *out = NULL;
    AC_ASSERT(w >= 0 && w < AC_WEATHER_COUNT);
    AC_ASSERT(clean->ndim == 4 && clean->shape[0] == 1 && clean->shape[1] == 3);
    int h = clean->shape[2], wd = clean->shape[3];
    if (depth && (depth->ndim != 4 || depth->shape[0] != 1 || depth->shape[2] != h || depth->shape[3] != wd)) {
        char a[64], b[64];
        return ac_fail(AC_ERR_SHAPE, "depth map %s does not match the image %s", ac_shape_str(depth, b, sizeof b),
                       ac_shape_str(clean, a, sizeof a));
    }
    if (desc && desc_size) desc[0] = '\0';
    ac_tensor *img = ac_tensor_clone(clean);
    size_t n = ac_numel(img);
    for (size_t i = 0; i < n; i++) img->data[i] = clamp01(img->data[i]);
    ac_rng r;
    ac_rng_seed(&r, seed);
    switch (w) {
    case AC_WEATHER_HAZE: haze(img->data, h, wd, depth, &r, desc, desc_size); break;
    case AC_WEATHER_RAIN: rain(img->data, h, wd, &r, desc, desc_size); break;
    case AC_WEATHER_SNOW: snow(img->data, h, wd, &r, desc, desc_size); break;
    default: break;
    }
    for (size_t i = 0; i < n; i++) img->data[i] = clamp01(img->data[i]);
    *out = img;
    return AC_OK;
}
