// test_restore_tiles.c: tiled restoration (src/restore).
// - Tile layout: starts on the 16-pixel grid, first at 0, last flush with the padded edge,
//   neighbours overlapping by at least the overlap, for many lengths.
// - Exactness of the machinery: with a network whose output depends only on pixels within 6
//   px (every parameter zero except conv_input and conv_output), tiles (64, overlap 32, so an
//   8 px margin is never used) reproduce the whole-image output to rounding, on a 90x125
//   image (bottom/right tiles take the reflection padding), also after the official resize.
// - Agreement with a network whose deeper levels are attenuated (a stand-in for a trained
//   network whose output depends mostly on nearby pixels), and no seams: no line where the
//   step of (tiled - whole) spikes above the steps around it, while hard tile edges
//   (overlap 0) do show as such spikes (the check can fail).
// - Memory: the estimate bounds the measured activation peak; the automatic tile fits the
//   budget (a 4000x3000 photo with the reference network within the 1 GB default).
// - Options are checked; tiny images restore whole; progress is reported per tile.
#include "image/image.h"
#include "restore/restore.h"
#include "test_golden_net.h"

#define H 90
#define W 125

static ac_tensor *test_image(int h, int w) {
    ac_tensor *x = ac_tensor_new4(1, 3, h, w);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int z = 0; z < w; z++)
                x->data[((size_t)c * h + y) * w + z] =
                    0.5f + 0.3f * sinf(z * 0.13f + c) * cosf(y * 0.09f) + 0.1f * (float)((y * 31 + z * 17 + c * 7) % 13) / 13.f;
    return x;
}

static bool has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

// A small network (width 4, one bottleneck block) with pattern weights: gain `near` for the
// parameters named in `near_names` (NULL-terminated), `far` for the rest (0 zeroes them,
// biases and slopes included).
static ac_net *pattern_net(const char *const *near_names, double near, double far) {
    ac_net_config cfg = {4, 1};
    ac_net *net = ac_net_new(&cfg, NULL);
    ac_params *p = ac_net_params(net);
    for (int i = 0; i < p->count; i++) {
        const char *n = p->items[i].name;
        ac_tensor *t = p->items[i].tensor;
        double g = far;
        for (int k = 0; near_names[k]; k++)
            if (has_prefix(n, near_names[k])) g = near;
        if (g == 0) continue;
        if (t->ndim >= 2) ac_tensor_fill_pattern(t, n, g);
        else if (strstr(n, "relu.weight") || strstr(n, "act.weight")) t->data[0] = 0.25f;
        else ac_tensor_fill_pattern(t, n, 1.0);
    }
    return net;
}

static const char *const io_layers[] = {"conv_input.", "conv_output.", NULL};
static const char *const full_res_path[] = {"conv_input.", "dense0.", "dense_1.", "conv_1.", "fusion_1.", "conv_output.", NULL};

static ac_tensor *run(ac_net *net, const ac_tensor *x, int tile, int overlap, bool official) {
    ac_restore_opts o;
    ac_restore_opts_init(&o);
    o.tile = tile;
    o.overlap = overlap;
    o.official_resize = official;
    ac_tensor *y = NULL;
    ac_status st = ac_restore_image(net, x, &o, &y);
    AC_ASSERT_MSG(st == AC_OK, ac_error_message());
    return y;
}

static void diff_stats(const ac_tensor *a, const ac_tensor *b, double *mean, double *max) {
    size_t n = ac_numel(a);
    double s = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a->data[i] - (double)b->data[i]);
        s += d;
        m = fmax(m, d);
    }
    *mean = s / (double)n;
    *max = m;
}

static void test_axis_layout(void) {
    int starts[4096];
    bool ok = true;
    for (int len = 16; len <= 1600 && ok; len += 16)
        for (int tile = 32; tile <= 512 && ok; tile += 16)
            for (int ov = 0; 2 * ov <= tile && ok; ov += 16) {
                int n = ac_restore_axis_tiles(len, tile, ov, starts);
                if (tile >= len) {
                    ok = n == 1 && starts[0] == 0;
                    continue;
                }
                ok = n >= 2 && starts[0] == 0 && starts[n - 1] == len - tile;
                for (int i = 0; ok && i < n; i++) ok = starts[i] % 16 == 0;
                for (int i = 1; ok && i < n; i++)
                    ok = starts[i] > starts[i - 1] && starts[i - 1] + tile - starts[i] >= ov;
                // Not wasteful: one tile fewer could not keep the overlap.
                if (ok && n > 2) ok = (long)(n - 2) * (tile - ov) < len - ov;
                if (!ok) fprintf(stderr, "  len %d tile %d overlap %d: %d tiles\n", len, tile, ov, n);
            }
    CHECK(ok);
    CHECK(ac_restore_axis_tiles(128, 64, 32, starts) == 3 && starts[1] == 32);
    CHECK(ac_restore_axis_tiles(96, 64, 32, starts) == 2 && starts[1] == 32);
}

static void test_local_network_tiles_exactly(void) {
    ac_net *net = pattern_net(io_layers, 1.0, 0.0);
    ac_tensor *x = test_image(H, W);
    ac_tensor *whole = run(net, x, 0, 0, false);
    CHECK(whole->shape[2] == H && whole->shape[3] == W);
    int tiles[] = {64, 80}, ovs[] = {32, 32};  // margins of 8: beyond the 6 px reach
    for (int k = 0; k < 2; k++) {
        ac_tensor *t = run(net, x, tiles[k], ovs[k], false);
        char what[64];
        snprintf(what, sizeof what, "tile %d overlap %d", tiles[k], ovs[k]);
        t_close(what, t->data, whole->data, ac_numel(whole), 1e-5, 1e-5);
        ac_tensor_free(t);
    }
    // The official resize, then tiles.
    ac_tensor *wo = run(net, x, 0, 0, true), *to = run(net, x, 64, 32, true);
    CHECK(wo->shape[2] == 80 && wo->shape[3] == 112 && ac_same_shape(wo, to));
    t_close("official resize, tile 64", to->data, wo->data, ac_numel(wo), 1e-5, 1e-5);
    // Without overlap the tile edges show.
    ac_tensor *hard = run(net, x, 64, 0, false);
    double mean, max;
    diff_stats(hard, whole, &mean, &max);
    CHECK_MSG(max > 1e-2, "hard tile edges should differ (max %.3g)", max);
    ac_tensor_free(hard);
    ac_tensor_free(wo);
    ac_tensor_free(to);
    ac_tensor_free(whole);
    ac_tensor_free(x);
    ac_net_free(net);
}

// Mean over the image of |d(tiled - whole)| across each column boundary z-1 | z (axis 1) or
// row boundary (axis 0): a seam is a step in the error field.
static void seam_profile(const ac_tensor *t, const ac_tensor *w, int axis, double *prof) {
    int h = t->shape[2], wd = t->shape[3], len = axis ? wd : h;
    for (int z = 1; z < len; z++) {
        double s = 0;
        for (int c = 0; c < 3; c++)
            for (int a = 0; a < (axis ? h : wd); a++) {
                size_t i = axis ? ((size_t)c * h + a) * wd + z : ((size_t)c * h + z) * wd + a;
                size_t j = axis ? i - 1 : i - (size_t)wd;
                s += fabs((double)(t->data[i] - w->data[i]) - (double)(t->data[j] - w->data[j]));
            }
        prof[z] = s / (3.0 * (axis ? h : wd));
    }
    prof[0] = prof[1];
}

// The largest step of the error field across one line relative to the mean step across the
// lines 2 to 8 pixels either side of it (a seam is a spike; a smooth blend is not), over both
// axes.
static double seam_ratio(const ac_tensor *t, const ac_tensor *w) {
    double worst = 0, prof[W];
    for (int axis = 0; axis < 2; axis++) {
        int len = axis ? W : H;
        seam_profile(t, w, axis, prof);
        for (int z = 0; z < len; z++) {
            double s = 0;
            int n = 0;
            for (int d = 2; d <= 8; d++) {
                if (z - d >= 0) s += prof[z - d], n++;
                if (z + d < len) s += prof[z + d], n++;
            }
            worst = fmax(worst, prof[z] / (s / n));
        }
    }
    return worst;
}

static void test_attenuated_network_agrees_without_seams(void) {
    ac_net *net = pattern_net(full_res_path, 1.0, 0.3);
    ac_tensor *x = test_image(H, W);
    ac_tensor *whole = run(net, x, 0, 0, false);
    struct { int tile, overlap; double mean, max; } cases[] = {{64, 32, 1e-2, 5e-2}, {96, 32, 2e-3, 1.5e-2}};
    for (int k = 0; k < 2; k++) {
        ac_tensor *t = run(net, x, cases[k].tile, cases[k].overlap, false);
        double mean, max, ratio = seam_ratio(t, whole);
        diff_stats(t, whole, &mean, &max);
        printf("  tile %d overlap %d vs whole: mean abs diff %.2e, max %.2e; largest step of the "
               "difference %.2fx the steps around it\n", cases[k].tile, cases[k].overlap, mean, max, ratio);
        CHECK_MSG(mean < cases[k].mean && max < cases[k].max, "tile %d: mean %.3g max %.3g", cases[k].tile, mean, max);
        CHECK_MSG(ratio < 2.0, "tile %d: a seam (step %.2fx the steps around it)", cases[k].tile, ratio);
        ac_tensor_free(t);
    }
    ac_tensor *hard = run(net, x, 64, 0, false);
    double ratio = seam_ratio(hard, whole);
    printf("  tile 64 without overlap: largest step %.2fx the steps around it\n", ratio);
    CHECK_MSG(ratio > 2.5, "hard tile edges should show as seams (step %.2fx)", ratio);
    ac_tensor_free(hard);
    ac_tensor_free(whole);
    ac_tensor_free(x);
    ac_net_free(net);
}

static void test_memory_estimate_and_plan(void) {
    for (int b = 8; b <= 16; b += 8) {
        ac_net_config cfg = {b, 1};
        ac_net *net = ac_net_new(&cfg, NULL);
        int sizes[][2] = {{64, 64}, {32, 96}};
        for (int s = 0; s < 2; s++) {
            ac_tensor *x = ac_tensor_new4(1, 3, sizes[s][0], sizes[s][1]);
            ac_graph *g = ac_graph_new(false);
            ac_net_forward(net, g, x, NULL);
            size_t peak = ac_graph_peak_bytes(g), est = ac_restore_tile_bytes(&cfg, sizes[s][0], sizes[s][1]);
            CHECK_MSG(peak < est, "b=%d %dx%d: peak %zu > estimate %zu", b, sizes[s][0], sizes[s][1], peak, est);
            ac_graph_free(g);
            ac_tensor_free(x);
        }
        ac_net_free(net);
    }

    ac_net_config ref = {16, 18};
    ac_net *net = ac_net_new(&ref, NULL);
    ac_restore_opts o;
    ac_restore_opts_init(&o);
    int th, tw;
    ac_restore_plan(net, &o, 480, 640, &th, &tw);  // fits: whole
    CHECK(th == 480 && tw == 640);
    ac_restore_plan(net, &o, 20, 50, &th, &tw);  // at least 32 pixels a side
    CHECK(th == 32 && tw == 64);
    ac_restore_plan(net, &o, 3000, 4000, &th, &tw);
    size_t total = ac_restore_fixed_bytes(net, 3000, 4000) + ac_restore_tile_bytes(&ref, th, tw);
    printf("  4000x3000 with the reference network, %d MB budget: tiles %dx%d, estimate %zu MB\n",
           AC_RESTORE_DEFAULT_MAX_MB, tw, th, total >> 20);
    CHECK(th % 16 == 0 && tw % 16 == 0 && th >= 512 && tw >= 512 && th < 3008 && tw < 4000);
    CHECK(total <= o.max_bytes);
    // Tiles no larger than their count needs: 16 px less would take more tiles.
    CHECK(ac_restore_axis_tiles(3008, th - 16, 64, NULL) > ac_restore_axis_tiles(3008, th, 64, NULL));
    CHECK(ac_restore_axis_tiles(4000, tw - 16, 64, NULL) > ac_restore_axis_tiles(4000, tw, 64, NULL));
    o.max_bytes = (size_t)300 << 20;  // below the image buffers: the smallest automatic tile
    ac_restore_plan(net, &o, 3000, 4000, &th, &tw);
    CHECK(th == AC_RESTORE_MIN_AUTO_TILE && tw == AC_RESTORE_MIN_AUTO_TILE);
    o.max_bytes = (size_t)512 << 20;  // a narrow panorama: the long side takes the area
    ac_restore_plan(net, &o, 100, 20000, &th, &tw);
    CHECK(th == 112 && tw > 1000 && tw % 16 == 0);
    o.tile = 0;
    ac_restore_plan(net, &o, 3000, 4000, &th, &tw);
    CHECK(th == 3008 && tw == 4000);
    o.tile = 256;
    ac_restore_plan(net, &o, 100, 4000, &th, &tw);
    CHECK(th == 112 && tw == 256);
    ac_net_free(net);
}

static int progress_calls, progress_total;
static void on_progress(void *ctx, int done, int total) {
    (void)ctx;
    progress_calls++;
    CHECK(done == progress_calls);
    progress_total = total;
}

static void test_options_tiny_images_progress(void) {
    ac_restore_opts o;
    ac_restore_opts_init(&o);
    CHECK(ac_restore_opts_check(&o) == AC_OK);
    o.tile = 40;
    CHECK(ac_restore_opts_check(&o) == AC_ERR_ARG);
    o.tile = 16;
    CHECK(ac_restore_opts_check(&o) == AC_ERR_ARG);
    o.tile = 64;
    o.overlap = 33;  // rounds up to 48 > 32
    CHECK(ac_restore_opts_check(&o) == AC_ERR_ARG);
    CHECK_MSG(strstr(ac_error_message(), "half the tile") != NULL, "%s", ac_error_message());
    o.overlap = -1;
    CHECK(ac_restore_opts_check(&o) == AC_ERR_ARG);

    // A 5x7 image restores whole: reflection padding repeated to 32x32 (the smallest input
    // whose 1/16 level can be reflection-padded), then cropped.
    ac_net *net = pattern_net(full_res_path, 1.0, 0.3);
    ac_tensor *x = test_image(5, 7);
    ac_tensor *y = run(net, x, AC_RESTORE_TILE_AUTO, AC_RESTORE_DEFAULT_OVERLAP, false);
    ac_tensor *pad = ac_image_pad_reflect(x, 27, 25);
    ac_graph *g = ac_graph_new(false);
    ac_tensor *full = ac_net_forward(net, g, pad, NULL);
    ac_tensor *crop = ac_image_crop(full, 0, 0, 5, 7);
    CHECK(y->shape[2] == 5 && y->shape[3] == 7);
    t_close("5x7 image", y->data, crop->data, ac_numel(crop), 0, 0);
    ac_tensor_free(crop);
    ac_graph_free(g);
    ac_tensor_free(pad);
    ac_tensor_free(y);
    ac_tensor_free(x);

    x = test_image(40, 60);
    ac_restore_opts_init(&o);
    o.tile = 32;
    o.overlap = 16;
    o.progress = on_progress;
    CHECK(ac_restore_image(net, x, &o, &y) == AC_OK);
    CHECK(progress_calls == 6 && progress_total == 6);  // 2 x 3 tiles over 48 x 64
    ac_tensor_free(y);
    ac_tensor_free(x);
    ac_net_free(net);
}

int main(void) {
    RUN(test_axis_layout);
    RUN(test_local_network_tiles_exactly);
    RUN(test_attenuated_network_agrees_without_seams);
    RUN(test_memory_estimate_and_plan);
    RUN(test_options_tiny_images_progress);
    return ac_test_finish();
}
