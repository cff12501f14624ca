// test_winograd.c: the F(4x4, 3x3) and F(4x4, 2x2) Winograd kernels against a naive
// double-precision 3x3 or 2x2 convolution (and the 4x4 stride-2 convolution over phases read
// in place, wino_strided.c): zero and reflection padding 0..2, odd and tiny sides (partial tiles, rows of
// tiles that wrap inside a block), input channels split into chunks, output channels that are
// not a multiple of the register block, every epilogue (bias, ReLU, PReLU, scale, residual,
// accumulate into y), channel slices of larger tensors (batch strides), 1..3 threads, both
// schedules (blocked and whole-layer) as well as the automatic choice, and bit-identical
// results across thread counts, schedules and batches (an image's output does not depend on
// the other images), also with the kernels' workspaces filled with NaNs beforehand. The weight gradient by F(3x3, 4x4) against the direct sum,
// over the same kinds of geometry, bit-identical over 1..3 threads.
#include <omp.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/winograd.h"
#include "backend/cpu/workspace.h"
#include "conv_ref.h"
#include "testlib.h"

typedef struct wcase {
    int n, cin, h, w, cout, pad;
    ac_pad_mode mode;
    bool bias;
    ac_act act;
    float scale;
    int residual;  // 0 none, 1 separate tensor, 2 accumulate into y
    int x_extra, y_extra;  // extra channels around the slice (batch strides)
    int ksize;             // 3 (also when 0: F(4x4, 3x3)) or 2 (F(4x4, 2x2))
} wcase;

static void run_case(const wcase *k, int threads) {
    ac_rng r;
    ac_rng_seed(&r, 1000 + (uint64_t)k->cin * 31 + k->h * 7 + k->w);
    const int ks = k->ksize ? k->ksize : 3;
    const int oh = k->h + 2 * k->pad - (ks - 1), ow = k->w + 2 * k->pad - (ks - 1);
    const size_t x_batch = (size_t)(k->cin + k->x_extra) * k->h * k->w;
    const size_t y_batch = (size_t)(k->cout + k->y_extra) * oh * ow;
    const size_t nx = x_batch * k->n, ny = y_batch * k->n, nw = (size_t)k->cout * k->cin * ks * ks;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(k->cout * sizeof *b);
    float *y = malloc(ny * sizeof *y), *res = malloc(ny * sizeof *res), *y0 = malloc(ny * sizeof *y0);
    float *want = malloc(ny * sizeof *want);
    t_fill_uniform(&r, x, nx, -1, 1);
    const float bound = 1.0f / sqrtf((float)(ks * ks * k->cin));
    t_fill_uniform(&r, w, nw, -bound, bound);
    t_fill_uniform(&r, b, k->cout, -0.5f, 0.5f);
    t_fill_uniform(&r, y, ny, -1, 1);
    t_fill_uniform(&r, res, ny, -1, 1);
    memcpy(y0, y, ny * sizeof *y);
    // The slice starts after x_extra / 2 channels of the larger tensor.
    const size_t xoff = (size_t)(k->x_extra / 2) * k->h * k->w, yoff = (size_t)(k->y_extra / 2) * oh * ow;
    ac_fused_conv c = {.n = k->n, .cin = k->cin, .h = k->h, .w = k->w, .cout = k->cout,
                      .kh = ks, .kw = ks, .stride = 1, .pad = k->pad, .mode = k->mode, .x = x + xoff, .x_batch = x_batch,
                      .weight = w, .y = y + yoff, .y_batch = y_batch,
                      .ep = {.bias = k->bias ? b : NULL, .act = k->act, .slope = 0.3f,
                             .scale = k->scale}};
    if (k->residual == 1) c.ep.residual = res + yoff;
    if (k->residual == 2) c.ep.residual = c.y;
    for (size_t i = 0; i < ny; i++) want[i] = y0[i];  // outside the slice: untouched
    t_conv_ref(&c, y0 + yoff, want + yoff);  // the slice, through want + yoff with y's strides
    omp_set_num_threads(threads);
    if (ks == 3) ac_cpu_wino_conv3x3(&c);
    else ac_cpu_wino_conv2x2(&c);
    char what[160];
    snprintf(what, sizeof what,
             "k%d n%d cin%d %dx%d cout%d pad%d %s bias%d act%d scale%g res%d extra%d/%d t%d", ks, k->n,
             k->cin, k->h, k->w, k->cout, k->pad, k->mode ? "reflect" : "zero", k->bias,
             k->act, k->scale, k->residual, k->x_extra, k->y_extra, threads);
    t_close(what, y, want, ny, 2e-5, 1e-5);
    free(x), free(w), free(b), free(y), free(res), free(y0), free(want);
}

static void test_geometries(void) {
    const wcase cases[] = {
        {1, 1, 1, 1, 1, 1, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {1, 2, 3, 3, 1, 0, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {2, 3, 5, 7, 3, 1, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {1, 3, 9, 6, 5, 1, AC_PAD_REFLECT, true, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {1, 4, 2, 2, 4, 1, AC_PAD_REFLECT, true, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {2, 5, 6, 11, 9, 2, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {1, 8, 17, 70, 8, 1, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {1, 16, 33, 150, 16, 1, AC_PAD_REFLECT, true, AC_ACT_PRELU, 1, 0, 0, 0, 3},
        {1, 70, 10, 14, 70, 1, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {2, 130, 6, 9, 20, 1, AC_PAD_REFLECT, false, AC_ACT_NONE, 1, 0, 0, 0, 3},
        // more than one chunk of input channels (CHUNK_IN) over blocks of 3 vectors of tiles:
        // the product's adding kernels
        {1, 80, 26, 36, 16, 1, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 3},
        {1, 24, 40, 36, 136, 1, AC_PAD_ZERO, false, AC_ACT_RELU, 1, 0, 0, 0, 3},
        {3, 6, 13, 12, 7, 1, AC_PAD_REFLECT, true, AC_ACT_PRELU, 0.1f, 1, 0, 0, 3},
        {2, 6, 13, 12, 7, 1, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 2, 0, 0, 3},
        {2, 6, 12, 20, 4, 1, AC_PAD_ZERO, false, AC_ACT_RELU, 1, 0, 5, 6, 3},
        {2, 5, 8, 8, 3, 0, AC_PAD_ZERO, true, AC_ACT_NONE, 0.5f, 1, 3, 2, 3},
        // rows of 64 outputs and more: the epilogue on whole vectors in registers
        {1, 6, 9, 70, 7, 1, AC_PAD_REFLECT, true, AC_ACT_PRELU, 0.1f, 1, 2, 2, 3},
        {2, 5, 6, 75, 4, 1, AC_PAD_ZERO, true, AC_ACT_RELU, 1, 2, 0, 0, 3},
        // F(4x4, 2x2): the 5x5 tiles, with and without padding, odd sides, many channels
        // (the strided 4x4 layers' phase planes), every epilogue, slices
        {1, 1, 2, 2, 1, 0, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 0, 0, 0, 2},
        {1, 2, 1, 1, 3, 1, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 2},
        {2, 3, 5, 7, 3, 1, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 2},
        {1, 3, 9, 6, 5, 1, AC_PAD_REFLECT, true, AC_ACT_PRELU, 1, 0, 0, 0, 2},
        {2, 5, 6, 11, 9, 2, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 0, 0, 0, 2},
        {1, 32, 17, 70, 16, 0, AC_PAD_ZERO, true, AC_ACT_PRELU, 1, 0, 0, 0, 2},
        {1, 64, 21, 41, 20, 0, AC_PAD_ZERO, true, AC_ACT_PRELU, 1, 2, 0, 0, 2},
        {2, 130, 6, 9, 20, 1, AC_PAD_ZERO, false, AC_ACT_NONE, 1, 0, 0, 0, 2},
        {1, 80, 22, 44, 12, 0, AC_PAD_ZERO, true, AC_ACT_NONE, 1, 0, 0, 0, 2},
        {1, 24, 12, 16, 136, 1, AC_PAD_ZERO, false, AC_ACT_RELU, 1, 0, 0, 0, 2},
        {3, 6, 13, 12, 7, 1, AC_PAD_ZERO, true, AC_ACT_PRELU, 0.1f, 1, 0, 0, 2},
        {2, 6, 12, 20, 4, 0, AC_PAD_ZERO, false, AC_ACT_RELU, 1, 0, 5, 6, 2},
        {1, 6, 9, 70, 7, 1, AC_PAD_REFLECT, true, AC_ACT_PRELU, 0.1f, 1, 2, 2, 2},
        {2, 5, 7, 81, 4, 0, AC_PAD_ZERO, true, AC_ACT_RELU, 1, 2, 0, 0, 2},
    };
    // then with every workspace filled with NaNs first: scratch lanes read before they are
    // written (past a block's last tile) must not reach the output
    for (int poison = 0; poison < 2; poison++) {
        ac_cpu_ws_set_poison(poison);
        for (int sched = 0; sched <= 4; sched++) {
            ac_cpu_wino_force_schedule(sched);
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                for (int t = 1; t <= 3; t++) run_case(&cases[i], t);
        }
    }
    ac_cpu_ws_set_poison(false);
    ac_cpu_wino_force_schedule(0);
}

static void strided_conv(const ac_fused_conv *c, int unused) {
    (void)unused;
    ac_cpu_wino_strided_conv(c);
}

// call(c, arg) into y (from y0 each time) against want, in every schedule, with 1..3 threads,
// and again with NaN-filled workspaces.
static void every_schedule(const char *name, void (*call)(const ac_fused_conv *, int),
                           const ac_fused_conv *c, int arg, float *y, const float *y0,
                           const float *want, size_t ny) {
    for (int poison = 0; poison < 2; poison++) {
        ac_cpu_ws_set_poison(poison);
        for (int sched = 0; sched <= 4; sched++) {
            ac_cpu_wino_force_schedule(sched);
            for (int t = 1; t <= 3; t++) {
                memcpy(y, y0, ny * sizeof *y);
                omp_set_num_threads(t);
                call(c, arg);
                char what[192];
                snprintf(what, sizeof what, "%s sched%d t%d poison%d", name, sched, t, poison);
                t_close(what, y, want, ny, 2e-5, 1e-5);
            }
        }
    }
    ac_cpu_ws_set_poison(false);
    ac_cpu_wino_force_schedule(0);
}

// Stride-2 convolutions (3x3 and 4x4 kernels) as F(4x4, 2x2) over the phases of the input read
// in place (wino_strided.c, ac_cpu_wino_conv2x2_phases), against the naive sum: every
// schedule, 1..3 threads, NaN-filled workspaces, odd and even sides, pad 0..2, zero and
// reflection padding, slices and skips.
static void test_strided_phases(void) {
    const struct {
        int n, cin, h, w, cout, pad, res, x_extra, k;
        ac_pad_mode mode;
    } cases[] = {{1, 1, 2, 2, 1, 1, 0, 0, 4, AC_PAD_ZERO},    {2, 3, 6, 10, 5, 1, 1, 0, 4, AC_PAD_ZERO},
                 {1, 8, 18, 70, 16, 1, 0, 2, 4, AC_PAD_ZERO},  {1, 5, 9, 11, 7, 1, 2, 0, 4, AC_PAD_ZERO},
                 {2, 16, 12, 40, 9, 2, 0, 1, 4, AC_PAD_ZERO},  {1, 64, 8, 10, 20, 0, 1, 0, 4, AC_PAD_ZERO},
                 {1, 2, 34, 100, 3, 1, 0, 0, 4, AC_PAD_ZERO},  {1, 3, 6, 10, 4, 1, 1, 0, 4, AC_PAD_REFLECT},
                 {2, 6, 16, 18, 10, 1, 0, 1, 3, AC_PAD_REFLECT}, {1, 5, 8, 12, 9, 1, 2, 0, 3, AC_PAD_ZERO},
                 {1, 16, 20, 70, 32, 1, 0, 0, 3, AC_PAD_REFLECT}, {1, 4, 7, 9, 3, 1, 0, 0, 3, AC_PAD_REFLECT},
                 {1, 2, 4, 6, 3, 2, 1, 0, 3, AC_PAD_REFLECT},  {1, 3, 2, 2, 2, 1, 0, 0, 3, AC_PAD_REFLECT}};
    ac_rng r;
    ac_rng_seed(&r, 77);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int n = cases[i].n, cin = cases[i].cin, h = cases[i].h, w = cases[i].w;
        const int cout = cases[i].cout, pad = cases[i].pad, k = cases[i].k;
        const int oh = (h + 2 * pad - k) / 2 + 1, ow = (w + 2 * pad - k) / 2 + 1;
        const size_t x_batch = (size_t)(cin + cases[i].x_extra) * h * w, ny = (size_t)n * cout * oh * ow;
        const size_t nw = (size_t)cout * cin * k * k;
        float *x = malloc(x_batch * n * 4), *wt = malloc(nw * 4), *b = malloc(cout * 4);
        float *y = malloc(ny * 4), *res = malloc(ny * 4), *y0 = malloc(ny * 4), *want = malloc(ny * 4);
        t_fill_uniform(&r, x, x_batch * n, -1, 1);
        t_fill_uniform(&r, wt, nw, -0.2f, 0.2f);
        t_fill_uniform(&r, b, cout, -0.5f, 0.5f);
        t_fill_uniform(&r, y0, ny, -1, 1);
        t_fill_uniform(&r, res, ny, -1, 1);
        ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                           .stride = 2, .pad = pad, .mode = cases[i].mode,
                           .x = x + (size_t)cases[i].x_extra * h * w, .x_batch = x_batch,
                           .weight = wt, .y = y, .y_batch = (size_t)cout * oh * ow,
                           .ep = {.bias = b, .act = AC_ACT_PRELU, .slope = 0.2f, .scale = 1}};
        if (cases[i].res == 1) c.ep.residual = res;
        if (cases[i].res == 2) c.ep.residual = y;
        CHECK(ac_cpu_wino_strided_conv_fits(&c) == ((h + 2 * pad) % 2 == 0 && (w + 2 * pad) % 2 == 0));
        if (!ac_cpu_wino_strided_conv_fits(&c)) goto next;
        t_conv_ref(&c, y0, want);
        char what[128];
        snprintf(what, sizeof what, "%dx%d s2 n%d cin%d %dx%d cout%d pad%d %s res%d", k, k, n, cin,
                 h, w, cout, pad, cases[i].mode ? "reflect" : "zero", cases[i].res);
        every_schedule(what, strided_conv, &c, 0, y, y0, want, ny);
    next:
        free(x), free(wt), free(b), free(y), free(res), free(y0), free(want);
    }
}

// Stride-2 transposed convolutions (3x3 and 4x4 kernels, pad 0 and 1, output padding) as
// F(4x4, 2x2) with four phases of output channels interleaved by the output transform
// (ac_cpu_wino_strided_deconv), against the naive sum: every schedule, 1..3 threads,
// NaN-filled workspaces, rows of more and fewer than a vector of tiles, skips (add and sub),
// slices.
static void test_strided_deconv(void) {
    const struct {
        int n, cin, h, w, cout, res, y_extra, k, pad, op;
    } cases[] = {{1, 1, 1, 1, 1, 0, 0, 4, 1, 0},    {2, 3, 5, 9, 2, 1, 0, 4, 1, 0},
                 {1, 16, 12, 40, 8, 0, 2, 4, 1, 0},  {1, 6, 7, 70, 5, 2, 0, 4, 1, 0},
                 {2, 40, 6, 8, 24, 1, 1, 4, 1, 0},   {1, 4, 3, 131, 3, 0, 0, 4, 1, 0},
                 {1, 5, 6, 9, 3, 1, 0, 4, 1, 1},     {1, 3, 5, 7, 2, 0, 0, 4, 0, 0},
                 {2, 8, 7, 11, 4, 1, 1, 3, 0, 0},    {1, 16, 9, 37, 8, 2, 0, 3, 0, 0},
                 {1, 5, 6, 9, 3, 0, 0, 3, 0, 1},     {1, 4, 5, 8, 3, 1, 0, 3, 1, 1},
                 {1, 1, 1, 1, 2, 0, 0, 3, 0, 0}};
    ac_rng r;
    ac_rng_seed(&r, 91);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int n = cases[i].n, cin = cases[i].cin, h = cases[i].h, w = cases[i].w;
        const int cout = cases[i].cout, k = cases[i].k, pad = cases[i].pad, op = cases[i].op;
        const int oh = (h - 1) * 2 - 2 * pad + k + op, ow = (w - 1) * 2 - 2 * pad + k + op;
        const size_t x_batch = (size_t)cin * h * w;
        const size_t y_batch = (size_t)(cout + cases[i].y_extra) * oh * ow, ny = y_batch * n;
        const size_t nw = (size_t)cin * cout * k * k;
        float *x = malloc(x_batch * n * 4), *wt = malloc(nw * 4), *b = malloc(cout * 4);
        float *y = malloc(ny * 4), *sk = malloc((ny + 2) * 4), *y0 = malloc(ny * 4), *want = malloc(ny * 4);
        t_fill_uniform(&r, x, x_batch * n, -1, 1);
        t_fill_uniform(&r, wt, nw, -0.2f, 0.2f);
        t_fill_uniform(&r, b, cout, -0.5f, 0.5f);
        t_fill_uniform(&r, y0, ny, -1, 1);
        t_fill_uniform(&r, sk, ny + 2, -1, 1);
        ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                           .stride = 2, .pad = pad, .mode = AC_PAD_ZERO, .x = x, .x_batch = x_batch,
                           .weight = wt, .y = y, .y_batch = y_batch,
                           .ep = {.bias = b, .act = AC_ACT_PRELU, .slope = 0.2f, .scale = 1}};
        if (cases[i].res == 1) c.ep.residual = sk;
        if (cases[i].res == 2) c.ep.residual = y;
        if (cases[i].res == 1) {  // the skips: ((residual + act) + add) - sub
            c.ep.add = sk + 1;
            c.ep.sub = sk + 2;
        }
        CHECK(ac_cpu_wino_strided_deconv_fits(&c, op) &&
              !ac_cpu_wino_strided_deconv_fits(&c, 5 + pad - k));
        memcpy(want, y0, ny * 4);  // outside the slice: untouched
        t_deconv_ref(&c, op, y0, want);
        for (int k = 0; k < n && c.ep.add; k++)
            for (size_t e = 0; e < (size_t)cout * oh * ow; e++) {
                const size_t at = (size_t)k * y_batch + e;
                want[at] = (want[at] + c.ep.add[at]) - c.ep.sub[at];
            }
        char what[128];
        snprintf(what, sizeof what, "deconv %dx%d s2 p%d op%d n%d cin%d %dx%d cout%d res%d", k, k,
                 pad, op, n, cin, h, w, cout, cases[i].res);
        every_schedule(what, ac_cpu_wino_strided_deconv, &c, op, y, y0, want, ny);
        free(x), free(wt), free(b), free(y), free(sk), free(y0), free(want);
    }
}

// The same call with 1, 2 and 3 threads gives the same bits, in either schedule.
static void test_thread_invariance(void) {
    ac_rng r;
    ac_rng_seed(&r, 7);
    const int n = 2, cin = 20, h = 23, w = 45, cout = 12;
    const size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w;
    float *x = malloc(nx * 4), *wt = malloc((size_t)cout * cin * 9 * 4), *y[3];
    t_fill_uniform(&r, x, nx, -1, 1);
    t_fill_uniform(&r, wt, (size_t)cout * cin * 9, -0.1f, 0.1f);
    for (int sched = 1; sched <= 4; sched++) {
        ac_cpu_wino_force_schedule(sched);
        for (int t = 0; t < 3; t++) {
            y[t] = malloc(ny * 4);
            ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = 3, .kw = 3,
                               .stride = 1, .pad = 1, .mode = AC_PAD_REFLECT, .x = x,
                               .x_batch = (size_t)cin * h * w, .weight = wt, .y = y[t],
                               .y_batch = (size_t)cout * h * w, .ep = {.scale = 1}};
            omp_set_num_threads(t + 1);
            ac_cpu_wino_conv3x3(&c);
        }
        CHECK_MSG(memcmp(y[0], y[1], ny * 4) == 0, "schedule %d: 1 and 2 threads differ", sched);
        CHECK_MSG(memcmp(y[0], y[2], ny * 4) == 0, "schedule %d: 1 and 3 threads differ", sched);
        for (int t = 0; t < 3; t++) free(y[t]);
    }
    ac_cpu_wino_force_schedule(0);
    free(x), free(wt);
}

// The weight gradient (F(3x3, 4x4)) against the direct sum in double, accumulated into dw, in
// both forms (blocked and grouped); the 3-thread run with its workspaces filled with NaNs first.
static void test_weight_grad(void) {
    const struct {
        int n, cin, h, w, cout, pad, x_extra;
        ac_pad_mode mode;
    } cases[] = {
        {1, 1, 1, 1, 1, 1, 0, AC_PAD_ZERO},  {2, 3, 5, 7, 4, 1, 0, AC_PAD_ZERO},
        {1, 4, 9, 6, 3, 1, 2, AC_PAD_REFLECT}, {2, 5, 6, 11, 9, 2, 0, AC_PAD_ZERO},
        {1, 6, 8, 8, 5, 0, 1, AC_PAD_ZERO},  {3, 16, 17, 40, 16, 1, 0, AC_PAD_ZERO},
        {1, 24, 12, 13, 20, 1, 0, AC_PAD_REFLECT},
        {2, 3, 45, 70, 4, 1, 0, AC_PAD_REFLECT},  // more tiles than a run of the transforms
        {3, 2, 100, 120, 3, 1, 0, AC_PAD_ZERO},   // blocked: 3 blocks an image, 8 runs of them
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ac_rng r;
        ac_rng_seed(&r, 300 + k);
        const int n = cases[k].n, cin = cases[k].cin, h = cases[k].h, w = cases[k].w;
        const int cout = cases[k].cout, pad = cases[k].pad;
        const int oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
        const size_t x_batch = (size_t)(cin + cases[k].x_extra) * h * w;
        const size_t nx = x_batch * n, ny = (size_t)n * cout * oh * ow, nw = (size_t)cout * cin * 9;
        float *x = malloc(nx * 4), *dy = malloc(ny * 4), *dw = malloc(nw * 4), *want = malloc(nw * 4);
        float *dw1 = malloc(nw * 4);
        t_fill_uniform(&r, x, nx, -1, 1);
        t_fill_uniform(&r, dy, ny, -1, 1);
        t_fill_uniform(&r, dw, nw, -1, 1);  // accumulated into
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        double s = dw[((co * cin + ci) * 3 + ky) * 3 + kx];
                        for (int b = 0; b < n; b++)
                            for (int oy = 0; oy < oh; oy++)
                                for (int ox = 0; ox < ow; ox++) {
                                    int iy = t_pad_index(oy + ky - pad, h, pad, cases[k].mode);
                                    int ix = t_pad_index(ox + kx - pad, w, pad, cases[k].mode);
                                    if (iy < 0 || ix < 0) continue;
                                    s += (double)dy[(((size_t)b * cout + co) * oh + oy) * ow + ox] *
                                         x[b * x_batch + ((size_t)ci * h + iy) * w + ix];
                                }
                        want[((co * cin + ci) * 3 + ky) * 3 + kx] = (float)s;
                    }
        ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = 3, .kw = 3,
                           .stride = 1, .pad = pad, .mode = cases[k].mode, .x = x,
                           .x_batch = x_batch};
        for (int grouped = 0; grouped < 2; grouped++) {  // the blocked form, then the grouped
            ac_cpu_wino_wgrad_force_grouped(grouped);
            memcpy(dw1, dw, nw * 4);
            for (int t = 1; t <= 3; t++) {
                float *d = t == 1 ? dw1 : malloc(nw * 4);
                if (t > 1) memcpy(d, dw, nw * 4);
                omp_set_num_threads(t);
                ac_cpu_ws_set_poison(t == 3);  // and its scratch NaNs until written
                ac_cpu_wino_weight_grad(&c, dy, (size_t)cout * oh * ow, d);
                ac_cpu_ws_set_poison(false);
                char what[120];
                snprintf(what, sizeof what, "dw n%d cin%d %dx%d cout%d pad%d %s t%d%s", n, cin,
                         h, w, cout, pad, cases[k].mode ? "reflect" : "zero", t,
                         grouped ? " grouped" : "");
                // the sum runs over n oh ow products of magnitude up to 1
                t_close(what, d, want, nw, 2e-5 * sqrt((double)n * oh * ow), 1e-5);
                if (t > 1) {
                    CHECK_MSG(memcmp(d, dw1, nw * 4) == 0, "%s: differs from 1 thread", what);
                    free(d);
                }
            }
        }
        ac_cpu_wino_wgrad_force_grouped(false);
        free(x), free(dy), free(dw), free(want), free(dw1);
    }
}

// An image's output does not depend on the other images of the batch, nor on the schedule:
// batches of 3 against each image alone, blocked against whole, bit for bit. The shapes make
// the automatic choice differ between one image and three (few tiles; many channels).
static void test_batch_invariance(void) {
    const struct {
        int cin, h, w, cout;
    } cases[] = {{8, 20, 24, 8}, {24, 9, 13, 72}, {70, 6, 7, 10}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ac_rng r;
        ac_rng_seed(&r, 500 + k);
        const int n = 3, cin = cases[k].cin, h = cases[k].h, w = cases[k].w, cout = cases[k].cout;
        const size_t img = (size_t)cin * h * w, out = (size_t)cout * h * w;
        float *x = malloc(n * img * 4), *wt = malloc((size_t)cout * cin * 9 * 4);
        float *yb = malloc(n * out * 4), *y1 = malloc(out * 4);
        t_fill_uniform(&r, x, n * img, -1, 1);
        t_fill_uniform(&r, wt, (size_t)cout * cin * 9, -0.2f, 0.2f);
        for (int sched = 0; sched <= 4; sched++) {
            ac_cpu_wino_force_schedule(sched);
            ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = 3, .kw = 3,
                               .stride = 1, .pad = 1, .mode = AC_PAD_REFLECT, .x = x,
                               .x_batch = img, .weight = wt, .y = yb, .y_batch = out,
                               .ep = {.scale = 1}};
            omp_set_num_threads(2);
            ac_cpu_wino_conv3x3(&c);
            for (int i = 0; i < n; i++) {
                for (int s1 = 0; s1 <= 4; s1++) {
                    ac_cpu_wino_force_schedule(s1);
                    ac_fused_conv one = c;
                    one.n = 1;
                    one.x = x + i * img;
                    one.y = y1;
                    ac_cpu_wino_conv3x3(&one);
                    CHECK_MSG(memcmp(y1, yb + i * out, out * 4) == 0,
                              "case %zu image %d: batch (schedule %d) and alone (schedule %d) differ",
                              k, i, sched, s1);
                }
            }
        }
        ac_cpu_wino_force_schedule(0);
        free(x), free(wt), free(yb), free(y1);
    }
}

// weight_turned (the data gradient's kernels read from the forward's weight): the same bits as
// the turned, transposed copy, for channel counts off the vector width and the gather's
// blocks, every schedule, ending on the array's last kernels.
static void test_turned_weights(void) {
    const struct {
        int cin, cout;
    } cases[] = {{12, 20}, {33, 8}, {17, 70}, {16, 5}, {1, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ac_rng r;
        ac_rng_seed(&r, 900 + k);
        const int n = 2, cin = cases[k].cin, cout = cases[k].cout, h = 11, w = 14;
        const size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w;
        const size_t nw = (size_t)cin * cout * 9;
        float *x = malloc(nx * 4), *wf = malloc(nw * 4), *wt = malloc(nw * 4);
        float *y0 = malloc(ny * 4), *y1 = malloc(ny * 4);
        t_fill_uniform(&r, x, nx, -1, 1);
        t_fill_uniform(&r, wf, nw, -0.2f, 0.2f);  // the forward's weight: (cin, cout, 3, 3)
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
                for (int j = 0; j < 9; j++)
                    wt[((size_t)co * cin + ci) * 9 + j] = wf[((size_t)ci * cout + co) * 9 + 8 - j];
        for (int sched = 0; sched <= 4; sched++) {
            ac_cpu_wino_force_schedule(sched);
            ac_fused_conv c = {.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = 3, .kw = 3,
                               .stride = 1, .pad = 1, .mode = AC_PAD_ZERO, .x = x,
                               .x_batch = (size_t)cin * h * w, .weight = wt, .y = y0,
                               .y_batch = (size_t)cout * h * w, .ep = {.scale = 1}};
            omp_set_num_threads(2);
            ac_cpu_wino_conv3x3(&c);
            c.weight = wf;
            c.weight_turned = true;
            c.y = y1;
            ac_cpu_wino_conv3x3(&c);
            size_t bad = 0;
            for (size_t i = 0; i < ny; i++) bad += memcmp(&y0[i], &y1[i], 4) != 0;
            CHECK_MSG(bad == 0, "cin %d cout %d schedule %d: %zu of %zu outputs differ from the turned copy's",
                      cin, cout, sched, bad, ny);
        }
        ac_cpu_wino_force_schedule(0);
        free(x), free(wf), free(wt), free(y0), free(y1);
    }
}

static void test_supported(void) {
    CHECK(ac_cpu_wino_supported(1, 1, 1, AC_PAD_ZERO));
    CHECK(!ac_cpu_wino_supported(1, 1, 0, AC_PAD_ZERO));
    CHECK(!ac_cpu_wino_supported(1, 5, 1, AC_PAD_REFLECT));
    CHECK(ac_cpu_wino_supported(2, 5, 1, AC_PAD_REFLECT));
    CHECK(!ac_cpu_wino_supported(8, 8, 3, AC_PAD_ZERO));
}

int main(void) {
    ac_backend_cpu();  // OpenBLAS single-threaded, as the library runs it
    RUN(test_supported);
    RUN(test_geometries);
    RUN(test_thread_invariance);
    RUN(test_strided_phases);
    RUN(test_strided_deconv);
    RUN(test_weight_grad);
    RUN(test_batch_invariance);
    RUN(test_turned_weights);
    return ac_test_finish();
}
