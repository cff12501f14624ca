// bench_conv.c: GFLOP/s of the CPU convolution kernels (forward, backward data, backward
// weight) on the shapes of the restoration network and VGG19, next to OpenBLAS sgemm on a
// large square product measured in the same run, with the ratio to sgemm.
// Usage: bench_conv [--threads N] [--blas-threads B] [--reps R] [--quick] [--only SUBSTRING]
//                   [--budget FLOATS] [--no-winograd] [--cpu-time] [--pass P]
// --pass times only pass P (0 forward, 1 backward data, 2 backward weight).
// --blas-threads sets OpenBLAS's own thread count for the convolutions (the sgemm reference
// always uses N): 1 lets the conv drivers split the work over N OpenMP threads; the default
// is whatever ac_set_threads chose. --budget sets the conv scratch budget (floats per call).
// --no-winograd runs 3x3 stride-1 convolutions through im2col + GEMM as well (GFLOP/s are
// always counted as direct-convolution multiply-adds, so Winograd shows as a higher rate).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/im2col.h"
#include "core/common.h"
#include "core/rng.h"
#include "bench_util.h"

// --cpu-time: time by the process's CPU clock instead of the wall clock; on a machine shared
// with other work a single-threaded run then counts only the time it was on a core.
static clockid_t bench_clock = CLOCK_MONOTONIC;

typedef struct {
    double best, median;  // seconds
} timing;

typedef void (*bench_fn)(void *ctx);

// One warm-up call, then at least `reps` timed calls, more (up to 40) while they take under
// 0.4 s in all, fewer (3) when one call takes over half a second. The best of many calls is
// robust to a machine shared with other work; the median shows the spread.
static timing time_it(bench_fn fn, void *ctx, int reps) {
    double t0 = ac_bench_clock(bench_clock);
    fn(ctx);
    double first = ac_bench_clock(bench_clock) - t0;
    if (first > 0.5 && reps > 3) reps = 3;
    int cap = reps > 40 ? reps : 40;
    double *t = malloc((size_t)cap * sizeof *t), total = 0;
    int n = 0;
    while (n < cap && (n < reps || (total < 0.4 && first <= 0.5))) {
        double s = ac_bench_clock(bench_clock);
        fn(ctx);
        t[n] = ac_bench_clock(bench_clock) - s;
        total += t[n++];
    }
    qsort(t, (size_t)n, sizeof *t, ac_bench_cmp_double);
    timing r = {t[0], t[n / 2]};
    free(t);
    return r;
}

// OpenBLAS's pool threads spin for a while after a call; let them go to sleep before the
// convolutions (which may run on OpenMP threads) are timed.
static void pause_for_pools(void) {
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);
}

static float *rand_buf(ac_rng *r, size_t n) {
    float *p = ac_aligned_alloc(n * sizeof(float));
    AC_ASSERT(p != NULL);
    for (size_t i = 0; i < n; i++) p[i] = 2.0f * ac_rng_uniform(r) - 1.0f;
    return p;
}

typedef struct {
    int n;
    float *a, *b, *c;
} gemm_ctx;

static void run_gemm(void *p) {
    gemm_ctx *g = p;
    ac_cpu_sgemm(false, false, g->n, g->n, g->n, 1.0f, g->a, g->n, g->b, g->n, 0.0f, g->c, g->n);
}

typedef struct {
    const char *name;
    bool transposed;
    ac_conv_geom g;
} conv_shape;

typedef struct {
    const conv_shape *s;
    int pass;  // 0 forward, 1 backward data, 2 backward weight
    float *x, *w, *b, *y, *dy, *dx, *dw;
} conv_ctx;

static void run_conv(void *p) {
    conv_ctx *c = p;
    const ac_conv_geom *g = &c->s->g;
    if (c->s->transposed) {
        if (c->pass == 0) ac_cpu_conv_transpose2d_forward(g, c->x, c->w, c->b, c->y);
        else if (c->pass == 1) ac_cpu_conv_transpose2d_backward(g, c->x, c->w, c->dy, c->dx, NULL, NULL);
        else ac_cpu_conv_transpose2d_backward(g, c->x, c->w, c->dy, NULL, c->dw, NULL);
    } else {
        if (c->pass == 0) ac_cpu_conv2d_forward(g, c->x, c->w, c->b, c->y);
        else if (c->pass == 1) ac_cpu_conv2d_backward(g, c->x, c->w, c->dy, c->dx, NULL, NULL);
        else ac_cpu_conv2d_backward(g, c->x, c->w, c->dy, NULL, c->dw, NULL);
    }
}

static conv_shape conv(const char *name, int n, int cin, int h, int w, int cout, int k, int s,
                       int p) {
    return (conv_shape){name, false,
                        {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                         .stride = s, .pad = p, .oh = (h + 2 * p - k) / s + 1,
                         .ow = (w + 2 * p - k) / s + 1}};
}

static conv_shape deconv(const char *name, int n, int cin, int h, int w, int cout, int k, int s,
                         int p) {
    return (conv_shape){name, true,
                        {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                         .stride = s, .pad = p, .oh = (h - 1) * s - 2 * p + k,
                         .ow = (w - 1) * s - 2 * p + k}};
}

int main(int argc, char **argv) {
    int threads = 2, reps = 7, blas_threads = 0, pass_only = -1;
    bool quick = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--blas-threads") && i + 1 < argc) blas_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--budget") && i + 1 < argc)
            ac_cpu_conv_set_block_budget((size_t)atol(argv[++i]));
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--no-winograd")) ac_cpu_conv_set_winograd(false);
        else if (!strcmp(argv[i], "--cpu-time")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (!strcmp(argv[i], "--pass") && i + 1 < argc) pass_only = atoi(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s [--threads N] [--blas-threads B] [--reps R] [--quick] "
                    "[--only SUBSTRING] [--budget FLOATS] [--no-winograd] [--cpu-time] [--pass 0|1|2]\n",
                    argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || blas_threads < 0) {
        fprintf(stderr, "threads and reps must be >= 1\n");
        return 2;
    }
    ac_set_threads(threads);
    const int library_blas_threads = openblas_get_num_threads();  // what ac_set_threads chose
    if (blas_threads == 0) blas_threads = library_blas_threads;
    openblas_set_num_threads(threads);  // the reference always uses every thread
    ac_rng r;
    ac_rng_seed(&r, 1);

    gemm_ctx gc = {.n = quick ? 1024 : 2048};
    const size_t nn = (size_t)gc.n * gc.n;
    gc.a = rand_buf(&r, nn);
    gc.b = rand_buf(&r, nn);
    gc.c = rand_buf(&r, nn);
    const double gemm_flops = 2.0 * (double)nn * gc.n;
    timing tg = time_it(run_gemm, &gc, reps);
    printf("threads %d; sgemm %d^3 before: best %.1f GFLOP/s (median %.1f)\n", threads, gc.n,
           gemm_flops / tg.best * 1e-9, gemm_flops / tg.median * 1e-9);
    double gemm_best = tg.best;
    openblas_set_num_threads(blas_threads);
    pause_for_pools();
    printf("convolutions: OpenBLAS %d thread(s), drivers split over %d thread(s)\n",
           openblas_get_num_threads(), ac_cpu_conv_threads());

    const conv_shape shapes[] = {
        conv("conv3x3 16->16 224 b1", 1, 16, 224, 224, 16, 3, 1, 1),
        conv("conv3x3 16->16 224 b3", 3, 16, 224, 224, 16, 3, 1, 1),
        conv("conv3x3 64->64 56 b1", 1, 64, 56, 56, 64, 3, 1, 1),
        conv("conv3x3 64->64 56 b3", 3, 64, 56, 56, 64, 3, 1, 1),
        conv("conv3x3 256->256 14 b1", 1, 256, 14, 14, 256, 3, 1, 1),
        conv("conv3x3 256->256 14 b3", 3, 256, 14, 14, 256, 3, 1, 1),
        conv("vgg3x3 128->128 112 b1", 1, 128, 112, 112, 128, 3, 1, 1),
        conv("vgg3x3 256->256 56 b3", 3, 256, 56, 56, 256, 3, 1, 1),
        conv("vgg3x3 512->512 28 b3", 3, 512, 28, 28, 512, 3, 1, 1),
        conv("vgg3x3 512->512 28 b6", 6, 512, 28, 28, 512, 3, 1, 1),
        conv("vgg3x3 512->512 14 b6", 6, 512, 14, 14, 512, 3, 1, 1),
        conv("dense3x3 8->8 224 b3", 3, 8, 224, 224, 8, 3, 1, 1),
        conv("dense3x3 32->8 224 b3", 3, 32, 224, 224, 8, 3, 1, 1),
        conv("dense3x3 16->16 112 b3", 3, 16, 112, 112, 16, 3, 1, 1),
        conv("dense3x3 64->16 112 b3", 3, 64, 112, 112, 16, 3, 1, 1),
        conv("conv11x11 3->16 234p0 b1", 1, 3, 234, 234, 16, 11, 1, 0),
        conv("conv3x3 s2 16->32 226p0 b1", 1, 16, 226, 226, 32, 3, 2, 0),
        conv("conv4x4 s2 8->16 224 b3", 3, 8, 224, 224, 16, 4, 2, 1),
        conv("conv4x4 s2 16->32 112 b3", 3, 16, 112, 112, 32, 4, 2, 1),
        conv("conv4x4 s2 32->64 112 b1", 1, 32, 112, 112, 64, 4, 2, 1),
        conv("conv4x4 s2 64->128 56 b3", 3, 64, 56, 56, 128, 4, 2, 1),
        conv("conv1x1 80->16 224 b1", 1, 80, 224, 224, 16, 1, 1, 0),
        conv("conv1x1 320->64 56 b3", 3, 320, 56, 56, 64, 1, 1, 0),
        deconv("deconv3x3 s2 128->64 14 b1", 1, 128, 14, 14, 64, 3, 2, 0),
        deconv("deconv3x3 s2 64->32 28 b3", 3, 64, 28, 28, 32, 3, 2, 0),
        deconv("deconv4x4 s2 16->8 112 b3", 3, 16, 112, 112, 8, 4, 2, 1),
        deconv("deconv4x4 s2 32->16 56 b3", 3, 32, 56, 56, 16, 4, 2, 1),
        deconv("deconv4x4 s2 64->32 28 b1", 1, 64, 28, 28, 32, 4, 2, 1),
        deconv("deconv4x4 s2 128->64 28 b3", 3, 128, 28, 28, 64, 4, 2, 1),
    };
    const char *pass_name[3] = {"fwd", "bwd-data", "bwd-weight"};
    enum { NS = sizeof shapes / sizeof shapes[0] };
    double flops_of[NS] = {0};
    timing times[NS][3];
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const conv_shape *s = &shapes[i];
        if (only && !strstr(s->name, only)) continue;
        const ac_conv_geom *g = &s->g;
        size_t nx = (size_t)g->n * g->cin * g->h * g->w, ny = (size_t)g->n * g->cout * g->oh * g->ow;
        size_t nw = (size_t)g->cout * g->cin * g->kh * g->kw;
        // multiply-adds: every (input, tap, output channel) of a conv output or deconv input
        double flops = s->transposed
                           ? 2.0 * (double)nx * g->cout * g->kh * g->kw
                           : 2.0 * (double)ny * g->cin * g->kh * g->kw;
        conv_ctx c = {.s = s};
        c.x = rand_buf(&r, nx);
        c.w = rand_buf(&r, nw);
        c.b = rand_buf(&r, (size_t)g->cout);
        c.y = rand_buf(&r, ny);
        c.dy = rand_buf(&r, ny);
        c.dx = rand_buf(&r, nx);
        c.dw = rand_buf(&r, nw);
        flops_of[i] = flops;
        for (int pass = 0; pass < 3; pass++) {
            if (pass_only >= 0 && pass != pass_only) {
                times[i][pass] = (timing){1e9, 1e9};
                continue;
            }
            c.pass = pass;
            times[i][pass] = time_it(run_conv, &c, quick ? 2 : reps);
        }
        ac_aligned_free(c.x);
        ac_aligned_free(c.w);
        ac_aligned_free(c.b);
        ac_aligned_free(c.y);
        ac_aligned_free(c.dy);
        ac_aligned_free(c.dx);
        ac_aligned_free(c.dw);
    }

    // The reference again (the machine's speed drifts); the faster of the two counts.
    openblas_set_num_threads(threads);
    tg = time_it(run_gemm, &gc, reps);
    printf("sgemm %d^3 after: best %.1f GFLOP/s (median %.1f)\n", gc.n,
           gemm_flops / tg.best * 1e-9, gemm_flops / tg.median * 1e-9);
    if (tg.best < gemm_best) gemm_best = tg.best;
    const double gemm_gf = gemm_flops / gemm_best * 1e-9;
    printf("reference sgemm: %.1f GFLOP/s\n", gemm_gf);
    printf("%-28s %-10s %9s %9s %9s %7s\n", "shape", "pass", "best ms", "GFLOP/s", "median",
           "%sgemm");
    for (size_t i = 0; i < NS; i++) {
        if (flops_of[i] == 0) continue;
        for (int pass = 0; pass < 3; pass++) {
            const timing t = times[i][pass];
            const double gf = flops_of[i] / t.best * 1e-9;
            printf("%-28s %-10s %9.3f %9.1f %9.1f %6.0f%%\n", shapes[i].name, pass_name[pass],
                   t.best * 1e3, gf, flops_of[i] / t.median * 1e-9, 100.0 * gf / gemm_gf);
        }
    }
    ac_aligned_free(gc.a);
    ac_aligned_free(gc.b);
    ac_aligned_free(gc.c);
    return 0;
}
