// test_synth.c: the weather generators: determinism, value range, the haze model's physics
// (no change at zero depth, more haze farther away, lower contrast), streak orientation of
// rain, flake coverage of snow, seeds per output, and speed on a 480x640 image.
#include <time.h>

#include "image/image.h"
#include "synth/synth.h"
#include "testlib.h"

static ac_tensor *photo(void) {
    ac_tensor *t = NULL;
    CHECK(ac_image_read("data/samples/train/coffee.jpg", &t) == AC_OK);
    return t;
}

static double mean(const float *p, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s / (double)n;
}

static double stddev(const float *p, size_t n) {
    double m = mean(p, n), s = 0;
    for (size_t i = 0; i < n; i++) s += (p[i] - m) * (p[i] - m);
    return sqrt(s / (double)n);
}

static void test_names_and_seeds(void) {
    ac_weather w;
    CHECK(ac_weather_parse("rain", &w) && w == AC_WEATHER_RAIN && !strcmp(ac_weather_name(w), "rain"));
    CHECK(ac_weather_parse("snow", &w) && w == AC_WEATHER_SNOW);
    CHECK(!ac_weather_parse("fog", &w));
    uint64_t a = ac_synth_seed(1, AC_WEATHER_RAIN, "x", 0);
    CHECK(a == ac_synth_seed(1, AC_WEATHER_RAIN, "x", 0));
    CHECK(a != ac_synth_seed(2, AC_WEATHER_RAIN, "x", 0) && a != ac_synth_seed(1, AC_WEATHER_SNOW, "x", 0) &&
          a != ac_synth_seed(1, AC_WEATHER_RAIN, "y", 0) && a != ac_synth_seed(1, AC_WEATHER_RAIN, "x", 1));
}

static void test_deterministic_and_in_range(void) {
    ac_tensor *clean = photo();
    if (!clean) return;
    size_t n = ac_numel(clean);
    for (int w = 0; w < AC_WEATHER_COUNT; w++) {
        ac_tensor *a, *b, *c;
        char desc[512];
        CHECK(ac_synth_apply((ac_weather)w, clean, NULL, 42, &a, desc, sizeof desc) == AC_OK);
        CHECK(ac_synth_apply((ac_weather)w, clean, NULL, 42, &b, NULL, 0) == AC_OK);
        CHECK(ac_synth_apply((ac_weather)w, clean, NULL, 43, &c, NULL, 0) == AC_OK);
        CHECK(ac_same_shape(a, clean));
        CHECK_MSG(!memcmp(a->data, b->data, n * sizeof(float)), "%s: same seed, different output", ac_weather_name(w));
        CHECK_MSG(memcmp(a->data, c->data, n * sizeof(float)) != 0, "%s: seed ignored", ac_weather_name(w));
        bool in = true;
        double diff = 0;
        for (size_t i = 0; i < n; i++) {
            in &= a->data[i] >= 0.0f && a->data[i] <= 1.0f;
            diff += fabs(a->data[i] - clean->data[i]);
        }
        CHECK(in);
        CHECK_MSG(diff / (double)n > 0.02, "%s changes the photo by only %.4f on average", ac_weather_name(w), diff / (double)n);
        CHECK(!strncmp(desc, ac_weather_name(w), 4));
        ac_tensor_free(a);
        ac_tensor_free(b);
        ac_tensor_free(c);
    }
    ac_tensor_free(clean);
}

static void test_haze_physics(void) {
    ac_tensor *clean = photo();
    if (!clean) return;
    int h = clean->shape[2], w = clean->shape[3];
    size_t plane = (size_t)h * w;
    // depth: 0 in the bottom half, rising to 1 at the top
    ac_tensor *depth = ac_tensor_new4(1, 1, h, w);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) depth->data[(size_t)y * w + x] = y >= h / 2 ? 0.0f : (float)(h / 2 - y) / (float)(h / 2);
    ac_tensor *out;
    CHECK(ac_synth_apply(AC_WEATHER_HAZE, clean, depth, 7, &out, NULL, 0) == AC_OK);
    // zero depth: transmission 1, the photo unchanged
    bool same = true;
    for (int c = 0; c < 3; c++)
        for (size_t i = plane / 2 + w; i < plane; i++) same &= fabsf(out->data[c * plane + i] - clean->data[c * plane + i]) < 1e-6f;
    CHECK(same);
    // the far top rows move towards the (bright) airlight more than nearer rows
    double d_top = 0, d_mid = 0;
    for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++) {
            d_top += out->data[c * plane + (size_t)1 * w + x] - clean->data[c * plane + (size_t)1 * w + x];
            d_mid += out->data[c * plane + (size_t)(h / 3) * w + x] - clean->data[c * plane + (size_t)(h / 3) * w + x];
        }
    CHECK_MSG(d_top > d_mid && d_mid > 0, "haze brightening top %.3f, middle %.3f", d_top, d_mid);
    ac_tensor_free(out);
    // proxy depth: contrast drops
    CHECK(ac_synth_apply(AC_WEATHER_HAZE, clean, NULL, 7, &out, NULL, 0) == AC_OK);
    CHECK(stddev(out->data, plane) < 0.9 * stddev(clean->data, plane));
    ac_tensor_free(out);
    // a depth map of another size is refused
    ac_tensor *bad = ac_tensor_new4(1, 1, h + 1, w);
    CHECK(ac_synth_apply(AC_WEATHER_HAZE, clean, bad, 7, &out, NULL, 0) == AC_ERR_SHAPE && out == NULL);
    ac_tensor_free(bad);
    ac_tensor_free(depth);
    ac_tensor_free(clean);
}

static void test_rain_streaks_and_snow_flakes(void) {
    const int h = 160, w = 200;
    size_t plane = (size_t)h * w;
    ac_tensor *black = ac_tensor_new4(1, 3, h, w);
    int vertical = 0;
    for (int seed = 0; seed < 4; seed++) {
        ac_tensor *out;
        CHECK(ac_synth_apply(AC_WEATHER_RAIN, black, NULL, (uint64_t)seed, &out, NULL, 0) == AC_OK);
        // streaks fall at 60..120 degrees: brightness changes more across x than along y
        double gx = 0, gy = 0;
        for (int y = 1; y < h; y++)
            for (int x = 1; x < w; x++) {
                float v = out->data[(size_t)y * w + x];
                gx += fabsf(v - out->data[(size_t)y * w + x - 1]);
                gy += fabsf(v - out->data[(size_t)(y - 1) * w + x]);
            }
        vertical += gx > 1.5 * gy;
        CHECK(mean(out->data, plane) > 0.02);
        ac_tensor_free(out);
        CHECK(ac_synth_apply(AC_WEATHER_SNOW, black, NULL, (uint64_t)seed, &out, NULL, 0) == AC_OK);
        // the veil lifts black; flakes are bright and cover a small part of the frame
        size_t bright = 0;
        float lo = 1;
        for (size_t i = 0; i < plane; i++) {
            bright += out->data[i] > 0.5f;
            lo = fminf(lo, out->data[i]);
        }
        CHECK_MSG(bright > plane / 200 && bright < plane / 3, "snow covers %zu of %zu pixels", bright, plane);
        CHECK(lo > 0.8f * 0.08f - 1e-6f);
        ac_tensor_free(out);
    }
    CHECK_MSG(vertical == 4, "rain looked vertical in %d of 4 images", vertical);
    ac_tensor_free(black);
}

static void test_speed(void) {
    ac_tensor *clean = photo();
    if (!clean) return;
    ac_tensor *big = ac_image_resize(clean, 480, 640);
    for (int w = 0; w < AC_WEATHER_COUNT; w++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ac_tensor *out;
        CHECK(ac_synth_apply((ac_weather)w, big, NULL, 3, &out, NULL, 0) == AC_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("  %s on 480x640: %.3f s\n", ac_weather_name(w), s);
        CHECK_MSG(s < 3.0, "%s took %.2f s", ac_weather_name(w), s);  // generous for sanitizer builds
        ac_tensor_free(out);
    }
    ac_tensor_free(big);
    ac_tensor_free(clean);
}

int main(void) {
    RUN(test_names_and_seeds);
    RUN(test_deterministic_and_in_range);
    RUN(test_haze_physics);
    RUN(test_rain_streaks_and_snow_flakes);
    RUN(test_speed);
    return ac_test_finish();
}
