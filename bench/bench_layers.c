// bench_layers.c: where the restoration network's forward time goes, layer shape by layer
// shape. Each convolution and transposed convolution of Net(16, 18) on a 480x640 input (the
// shapes and counts of one forward, listed below) runs through the backend kernels the
// inference path uses (the fused convolution, the transposed convolution); the table gives
// the time per call, per forward (times the count) and the share of the total.
// Usage: bench_layers [--threads N] [--reps R] [--cpu-time] [--only SUBSTRING] [--no-direct]
// --cpu-time times by the process's CPU clock (for single-threaded runs on a busy machine);
// --no-direct sends the convolutions the direct kernels take to im2col + GEMM instead.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/common.h"
#include "core/rng.h"
#include "bench_util.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

typedef struct layer {
    int count;
    bool deconv;
    int k, stride, pad, cin, cout, h, w;  // h, w: the input as the layer sees it (unpadded)
    ac_pad_mode mode;
    ac_act act;
    bool residual;
} layer;

#define Z AC_PAD_ZERO
#define R AC_PAD_REFLECT
// count, deconv, k, stride, pad, cin, cout, h, w, mode, act, residual
static const layer layers[] = {
    {1, false, 11, 1, 5, 3, 16, 480, 640, R, AC_ACT_NONE, false},       // conv_input
    {12, false, 3, 1, 1, 16, 16, 480, 640, R, AC_ACT_PRELU, false},     // res blocks (conv1)
    {12, false, 3, 1, 1, 32, 32, 240, 320, R, AC_ACT_PRELU, false},
    {12, false, 3, 1, 1, 64, 64, 120, 160, R, AC_ACT_PRELU, false},
    {12, false, 3, 1, 1, 128, 128, 60, 80, R, AC_ACT_PRELU, false},
    {36, false, 3, 1, 1, 256, 256, 30, 40, R, AC_ACT_PRELU, false},     // dehaze
    {1, false, 3, 1, 1, 16, 3, 480, 640, R, AC_ACT_NONE, false},        // conv_output
    {1, false, 3, 2, 1, 16, 32, 480, 640, R, AC_ACT_NONE, false},       // conv2x .. conv16x
    {1, false, 3, 2, 1, 32, 64, 240, 320, R, AC_ACT_NONE, false},
    {1, false, 3, 2, 1, 64, 128, 120, 160, R, AC_ACT_NONE, false},
    {1, false, 3, 2, 1, 128, 256, 60, 80, R, AC_ACT_NONE, false},
    // RDB dense layers (zero padding, ReLU), by input channels
    {1, false, 3, 1, 1, 8, 8, 480, 640, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 16, 8, 480, 640, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 24, 8, 480, 640, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 32, 8, 480, 640, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 16, 16, 240, 320, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 32, 16, 240, 320, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 48, 16, 240, 320, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 64, 16, 240, 320, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 32, 32, 120, 160, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 64, 32, 120, 160, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 96, 32, 120, 160, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 128, 32, 120, 160, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 64, 64, 60, 80, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 128, 64, 60, 80, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 192, 64, 60, 80, Z, AC_ACT_RELU, false},
    {2, false, 3, 1, 1, 256, 64, 60, 80, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 128, 128, 30, 40, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 256, 128, 30, 40, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 384, 128, 30, 40, Z, AC_ACT_RELU, false},
    {1, false, 3, 1, 1, 512, 128, 30, 40, Z, AC_ACT_RELU, false},
    // RDB 1x1 fusion convolutions (+ residual)
    {1, false, 1, 1, 0, 40, 8, 480, 640, Z, AC_ACT_NONE, true},
    {2, false, 1, 1, 0, 80, 16, 240, 320, Z, AC_ACT_NONE, true},
    {2, false, 1, 1, 0, 160, 32, 120, 160, Z, AC_ACT_NONE, true},
    {2, false, 1, 1, 0, 320, 64, 60, 80, Z, AC_ACT_NONE, true},
    {1, false, 1, 1, 0, 640, 128, 30, 40, Z, AC_ACT_NONE, true},
    // fusion blocks: ConvBlock (conv 4x4 s2 p1 + PReLU) and DeconvBlock (deconv 4x4 s2 p1)
    {8, false, 4, 2, 1, 8, 16, 480, 640, Z, AC_ACT_PRELU, false},
    {12, false, 4, 2, 1, 16, 32, 240, 320, Z, AC_ACT_PRELU, false},
    {12, false, 4, 2, 1, 32, 64, 120, 160, Z, AC_ACT_PRELU, false},
    {8, false, 4, 2, 1, 64, 128, 60, 80, Z, AC_ACT_PRELU, false},
    {8, true, 4, 2, 1, 16, 8, 240, 320, Z, AC_ACT_NONE, false},
    {12, true, 4, 2, 1, 32, 16, 120, 160, Z, AC_ACT_NONE, false},
    {12, true, 4, 2, 1, 64, 32, 60, 80, Z, AC_ACT_NONE, false},
    {8, true, 4, 2, 1, 128, 64, 30, 40, Z, AC_ACT_NONE, false},
    // upsampling (deconv 3x3 s2 p0)
    {1, true, 3, 2, 0, 32, 16, 240, 320, Z, AC_ACT_NONE, false},
    {1, true, 3, 2, 0, 64, 32, 120, 160, Z, AC_ACT_NONE, false},
    {1, true, 3, 2, 0, 128, 64, 60, 80, Z, AC_ACT_NONE, false},
    {1, true, 3, 2, 0, 256, 128, 30, 40, Z, AC_ACT_NONE, false},
};

static float *rand_buf(ac_rng *r, size_t n, float scale) {
    float *p = ac_aligned_alloc(n * sizeof(float));
    AC_ASSERT(p != NULL);
    for (size_t i = 0; i < n; i++) p[i] = scale * (2.0f * ac_rng_uniform(r) - 1.0f);
    return p;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 3;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--no-direct")) ac_cpu_conv_set_direct(false);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps R] [--cpu-time] [--only SUBSTRING] [--no-direct]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1) return 2;
    ac_set_threads(threads);
    const ac_backend *be = ac_be();
    ac_rng r;
    ac_rng_seed(&r, 3);
    enum { NL = sizeof layers / sizeof layers[0] };
    double per_call[NL], total = 0, gflop_all = 0;
    char names[NL][96];
    for (int i = 0; i < NL; i++) {
        const layer *l = &layers[i];
        int oh, ow;
        if (l->deconv) {
            oh = (l->h - 1) * l->stride - 2 * l->pad + l->k;
            ow = (l->w - 1) * l->stride - 2 * l->pad + l->k;
        } else {
            oh = (l->h + 2 * l->pad - l->k) / l->stride + 1;
            ow = (l->w + 2 * l->pad - l->k) / l->stride + 1;
        }
        snprintf(names[i], sizeof names[i], "%s%dx%d s%d %s %d->%d %dx%d%s%s",
                 l->deconv ? "deconv" : "conv", l->k, l->k, l->stride,
                 l->mode == R ? "refl" : "zero", l->cin, l->cout, l->h, l->w,
                 l->act == AC_ACT_PRELU ? " prelu" : l->act == AC_ACT_RELU ? " relu" : "",
                 l->residual ? " +res" : "");
        per_call[i] = -1;
        if (only && !strstr(names[i], only)) continue;
        const size_t nx = (size_t)l->cin * l->h * l->w, ny = (size_t)l->cout * oh * ow;
        const size_t nw = (size_t)l->cin * l->cout * l->k * l->k;
        float *x = rand_buf(&r, nx, 1.0f), *w = rand_buf(&r, nw, 0.05f);
        float *b = rand_buf(&r, (size_t)l->cout, 0.1f), *y = rand_buf(&r, ny, 1.0f);
        float *res = rand_buf(&r, ny, 1.0f);
        ac_conv_geom dg = {.n = 1, .cin = l->cin, .h = l->h, .w = l->w, .cout = l->cout,
                           .oh = oh, .ow = ow, .kh = l->k, .kw = l->k, .stride = l->stride,
                           .pad = l->pad};
        ac_fused_conv fc = {.n = 1, .cin = l->cin, .h = l->h, .w = l->w, .cout = l->cout,
                            .kh = l->k, .kw = l->k, .stride = l->stride, .pad = l->pad,
                            .mode = l->mode, .x = x, .x_batch = nx, .weight = w, .y = y,
                            .y_batch = ny,
                            .ep = {.bias = l->residual ? NULL : b, .act = l->act, .slope = 0.25f,
                                   .scale = 1.0f, .residual = l->residual ? res : NULL}};
        double best = 1e30;
        for (int k = 0; k <= reps; k++) {
            double s = ac_bench_clock(bench_clock);
            if (l->deconv) be->conv_transpose2d_forward(&dg, x, w, b, y);
            else be->conv2d_fused(&fc);
            double t = ac_bench_clock(bench_clock) - s;
            if (k > 0 && t < best) best = t;  // call 0 warms up
        }
        per_call[i] = best;
        total += best * l->count;
        gflop_all += 2.0 * (double)(l->deconv ? nx * l->cout : ny * l->cin) * l->k * l->k *
                     l->count * 1e-9;
        ac_aligned_free(x), ac_aligned_free(w), ac_aligned_free(b), ac_aligned_free(y);
        ac_aligned_free(res);
    }
    printf("threads %d, %s time; per forward: %.3f s for %.1f GFLOP (direct count), %.1f GFLOP/s\n",
           threads, bench_clock == CLOCK_MONOTONIC ? "wall" : "CPU", total, gflop_all,
           gflop_all / total);
    printf("%-44s %5s %10s %10s %6s %8s\n", "layer", "count", "ms/call", "ms/fwd", "share",
           "GFLOP/s");
    for (int i = 0; i < NL; i++) {
        if (per_call[i] < 0) continue;
        const layer *l = &layers[i];
        int oh = l->deconv ? (l->h - 1) * l->stride - 2 * l->pad + l->k
                           : (l->h + 2 * l->pad - l->k) / l->stride + 1;
        int ow = l->deconv ? (l->w - 1) * l->stride - 2 * l->pad + l->k
                           : (l->w + 2 * l->pad - l->k) / l->stride + 1;
        double fl = 2.0 * (l->deconv ? (double)l->cin * l->h * l->w * l->cout
                                     : (double)l->cout * oh * ow * l->cin) * l->k * l->k;
        printf("%-44s %5d %10.3f %10.1f %5.1f%% %8.1f\n", names[i], l->count, per_call[i] * 1e3,
               per_call[i] * l->count * 1e3, 100.0 * per_call[i] * l->count / total,
               fl / per_call[i] * 1e-9);
    }
    return 0;
}
