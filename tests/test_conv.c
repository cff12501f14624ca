// test_conv.c: conv2d and conv_transpose2d. Finite-difference gradient checks of the graph
// ops over strides, odd sizes, padding edges, kernel sizes 1/3/4/11, bias or none, output
// padding, batch > 1 and frozen weights; direct comparison of the CPU kernels (forward and all
// three accumulated gradients) with naive double-precision loops, also with tiny column blocks
// that split image rows, under both threading modes of the drivers (serial drivers with a
// threaded OpenBLAS, and OpenMP-split drivers with a single-threaded OpenBLAS, 2 and 3
// threads); and run-to-run determinism.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/workspace.h"
#include "backend/cpu/im2col.h"
#include "ops/ops.h"
#include "testlib.h"

// ---------------------------------------------------------------- naive references

static size_t idx4(int c1, int c2, int c3, int a, int b, int c, int d) {
    return (((size_t)a * c1 + b) * c2 + c) * c3 + d;
}

// y = conv2d(x, w) + b, dx/dw/db = gradients for upstream dy; all in double.
static void naive_conv2d(const ac_conv_geom *g, const float *x, const float *w, const float *b,
                         const float *dy, double *y, double *dx, double *dw, double *db) {
    size_t ny = (size_t)g->n * g->cout * g->oh * g->ow;
    memset(y, 0, ny * sizeof *y);
    memset(dx, 0, (size_t)g->n * g->cin * g->h * g->w * sizeof *dx);
    memset(dw, 0, (size_t)g->cout * g->cin * g->kh * g->kw * sizeof *dw);
    memset(db, 0, (size_t)g->cout * sizeof *db);
    for (int n = 0; n < g->n; n++)
        for (int co = 0; co < g->cout; co++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    size_t yi = idx4(g->cout, g->oh, g->ow, n, co, oy, ox);
                    double s = b ? b[co] : 0.0, gy = dy[yi];
                    db[co] += gy;
                    for (int ci = 0; ci < g->cin; ci++)
                        for (int ki = 0; ki < g->kh; ki++)
                            for (int kj = 0; kj < g->kw; kj++) {
                                int iy = oy * g->stride - g->pad + ki;
                                int ix = ox * g->stride - g->pad + kj;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                                size_t xi = idx4(g->cin, g->h, g->w, n, ci, iy, ix);
                                size_t wi = idx4(g->cin, g->kh, g->kw, co, ci, ki, kj);
                                s += (double)x[xi] * w[wi];
                                dx[xi] += (double)w[wi] * gy;
                                dw[wi] += (double)x[xi] * gy;
                            }
                    y[yi] = s;
                }
}

// The same for the transposed convolution, w (cin, cout, kh, kw).
static void naive_deconv(const ac_conv_geom *g, const float *x, const float *w, const float *b,
                         const float *dy, double *y, double *dx, double *dw, double *db) {
    size_t ny = (size_t)g->n * g->cout * g->oh * g->ow;
    memset(dx, 0, (size_t)g->n * g->cin * g->h * g->w * sizeof *dx);
    memset(dw, 0, (size_t)g->cout * g->cin * g->kh * g->kw * sizeof *dw);
    memset(db, 0, (size_t)g->cout * sizeof *db);
    for (size_t i = 0; i < ny; i++) {
        int co = (int)(i / ((size_t)g->oh * g->ow) % (size_t)g->cout);
        y[i] = b ? b[co] : 0.0;
        db[co] += dy[i];
    }
    for (int n = 0; n < g->n; n++)
        for (int ci = 0; ci < g->cin; ci++)
            for (int iy = 0; iy < g->h; iy++)
                for (int ix = 0; ix < g->w; ix++) {
                    size_t xi = idx4(g->cin, g->h, g->w, n, ci, iy, ix);
                    for (int co = 0; co < g->cout; co++)
                        for (int ki = 0; ki < g->kh; ki++)
                            for (int kj = 0; kj < g->kw; kj++) {
                                int oy = iy * g->stride - g->pad + ki;
                                int ox = ix * g->stride - g->pad + kj;
                                if (oy < 0 || oy >= g->oh || ox < 0 || ox >= g->ow) continue;
                                size_t yi = idx4(g->cout, g->oh, g->ow, n, co, oy, ox);
                                size_t wi = idx4(g->cout, g->kh, g->kw, ci, co, ki, kj);
                                y[yi] += (double)x[xi] * w[wi];
                                dx[xi] += (double)w[wi] * dy[yi];
                                dw[wi] += (double)x[xi] * dy[yi];
                            }
                }
}

// ---------------------------------------------------------------- kernel vs naive

static float *rand_buf(ac_rng *r, size_t n) {
    float *p = malloc(n * sizeof *p);
    t_fill_uniform(r, p, n, -1.0f, 1.0f);
    return p;
}

// got (accumulated onto `base`) against base + want
static void close_acc(const char *what, const float *got, const float *base, const double *want,
                      size_t n, double atol) {
    float *ref = malloc(n * sizeof *ref);
    for (size_t i = 0; i < n; i++) ref[i] = (float)((double)base[i] + want[i]);
    t_close(what, got, ref, n, atol, 1e-5);
    free(ref);
}

static void compare_kernels(const char *name, ac_conv_geom g, bool transposed, bool bias) {
    ac_rng r;
    ac_rng_seed(&r, 99);
    size_t nx = (size_t)g.n * g.cin * g.h * g.w, ny = (size_t)g.n * g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cout * g.cin * g.kh * g.kw, nb = (size_t)g.cout;
    float *x = rand_buf(&r, nx), *w = rand_buf(&r, nw), *b = bias ? rand_buf(&r, nb) : NULL;
    float *dy = rand_buf(&r, ny), *y = rand_buf(&r, ny);
    // gradient buffers start non-zero: the kernels must accumulate
    float *dx0 = rand_buf(&r, nx), *dw0 = rand_buf(&r, nw), *db0 = rand_buf(&r, nb);
    float *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw), *db = malloc(nb * sizeof *db);
    memcpy(dx, dx0, nx * sizeof *dx);
    memcpy(dw, dw0, nw * sizeof *dw);
    memcpy(db, db0, nb * sizeof *db);
    double *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx);
    double *rdw = malloc(nw * sizeof *rdw), *rdb = malloc(nb * sizeof *rdb);
    if (transposed) {
        ac_cpu_conv_transpose2d_forward(&g, x, w, b, y);
        ac_cpu_conv_transpose2d_backward(&g, x, w, dy, dx, dw, db);
        naive_deconv(&g, x, w, b, dy, ry, rdx, rdw, rdb);
    } else {
        ac_cpu_conv2d_forward(&g, x, w, b, y);
        ac_cpu_conv2d_backward(&g, x, w, dy, dx, dw, db);
        naive_conv2d(&g, x, w, b, dy, ry, rdx, rdw, rdb);
    }
    char what[128];
    float *fy = calloc(ny, sizeof *fy);
    for (size_t i = 0; i < ny; i++) fy[i] = (float)ry[i];
    snprintf(what, sizeof what, "%s y", name);
    t_close(what, y, fy, ny, 2e-5, 1e-5);
    snprintf(what, sizeof what, "%s dx", name);
    close_acc(what, dx, dx0, rdx, nx, 2e-5);
    snprintf(what, sizeof what, "%s dw", name);
    close_acc(what, dw, dw0, rdw, nw, 1e-4);
    snprintf(what, sizeof what, "%s db", name);
    close_acc(what, db, db0, rdb, nb, 1e-4);
    // NULL gradients are skipped; a lone dx matches the full call's dx.
    float *dx2 = malloc(nx * sizeof *dx2);
    memcpy(dx2, dx0, nx * sizeof *dx2);
    if (transposed) ac_cpu_conv_transpose2d_backward(&g, x, w, dy, dx2, NULL, NULL);
    else ac_cpu_conv2d_backward(&g, x, w, dy, dx2, NULL, NULL);
    snprintf(what, sizeof what, "%s dx alone", name);
    t_close(what, dx2, dx, nx, 0, 0);
    free(dx2);
    free(fy);
    free(x); free(w); free(b); free(dy); free(y);
    free(dx0); free(dw0); free(db0); free(dx); free(dw); free(db);
    free(ry); free(rdx); free(rdw); free(rdb);
}

static ac_conv_geom conv_g(int n, int cin, int h, int w, int cout, int k, int s, int p) {
    return (ac_conv_geom){.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                          .stride = s, .pad = p, .out_pad = 0,
                          .oh = (h + 2 * p - k) / s + 1, .ow = (w + 2 * p - k) / s + 1};
}

static ac_conv_geom deconv_g(int n, int cin, int h, int w, int cout, int k, int s, int p, int op) {
    return (ac_conv_geom){.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = k, .kw = k,
                          .stride = s, .pad = p, .out_pad = op,
                          .oh = (h - 1) * s - 2 * p + k + op, .ow = (w - 1) * s - 2 * p + k + op};
}

static void conv_kernel_cases(void) {
    compare_kernels("conv k3 s1 p1", conv_g(2, 3, 7, 5, 4, 3, 1, 1), false, true);
    compare_kernels("conv k4 s2 p1", conv_g(2, 4, 9, 8, 3, 4, 2, 1), false, true);
    compare_kernels("conv k1 s1 p0", conv_g(3, 5, 6, 7, 4, 1, 1, 0), false, true);
    compare_kernels("conv k1 s2 p0", conv_g(1, 5, 7, 7, 2, 1, 2, 0), false, false);
    compare_kernels("conv k11 s1 p0", conv_g(1, 3, 14, 13, 4, 11, 1, 0), false, true);
    compare_kernels("conv k3 s2 p0", conv_g(2, 3, 8, 7, 4, 3, 2, 0), false, false);
    compare_kernels("conv k3 s3 p2", conv_g(1, 2, 10, 11, 3, 3, 3, 2), false, true);
    compare_kernels("conv k5 s1 p4", conv_g(1, 2, 3, 4, 2, 5, 1, 4), false, true);
    // rows wide enough for the vector paths (phase split, interleaved stores)
    compare_kernels("conv k4 s2 p1 wide", conv_g(1, 3, 5, 75, 4, 4, 2, 1), false, true);
    compare_kernels("conv k3 s2 p1 wide", conv_g(1, 2, 4, 70, 3, 3, 2, 1), false, true);
    // the direct weight gradient over several bands of rows, 32 output channels
    compare_kernels("conv k4 s2 p1 tall", conv_g(2, 5, 61, 50, 32, 4, 2, 1), false, false);
}

static void deconv_kernel_cases(void) {
    compare_kernels("deconv k3 s2 p0", deconv_g(2, 4, 5, 6, 3, 3, 2, 0, 0), true, true);
    compare_kernels("deconv k4 s2 p1", deconv_g(2, 3, 4, 5, 4, 4, 2, 1, 0), true, true);
    compare_kernels("deconv k3 s2 p1 op1", deconv_g(1, 3, 5, 4, 2, 3, 2, 1, 1), true, false);
    compare_kernels("deconv k1 s1 p0", deconv_g(2, 5, 4, 3, 6, 1, 1, 0, 0), true, true);
    compare_kernels("deconv k2 s3 p0 op2", deconv_g(1, 2, 4, 3, 3, 2, 3, 0, 2), true, true);
    compare_kernels("deconv k3 s1 p1", deconv_g(1, 3, 6, 5, 2, 3, 1, 1, 0), true, true);
    compare_kernels("deconv k2 s2 p0", deconv_g(2, 9, 3, 7, 10, 2, 2, 0, 0), true, true);
    compare_kernels("deconv k4 s2 p1 wide", deconv_g(1, 3, 3, 40, 4, 4, 2, 1, 0), true, true);
    compare_kernels("deconv k3 s2 p0 wide", deconv_g(1, 2, 3, 37, 3, 3, 2, 0, 0), true, true);
    compare_kernels("deconv k4 s2 p1 tall", deconv_g(2, 17, 30, 24, 5, 4, 2, 1, 0), true, false);
}

// The same comparisons with tiny column blocks (block boundaries inside image rows).
static void blocked_kernel_cases(void) {
    ac_cpu_conv_set_block_budget(13);
    compare_kernels("blocked conv k3 s1 p1", conv_g(2, 3, 7, 5, 4, 3, 1, 1), false, true);
    compare_kernels("blocked conv k4 s2 p1", conv_g(1, 4, 9, 8, 3, 4, 2, 1), false, true);
    compare_kernels("blocked conv k1 s2 p0", conv_g(1, 5, 7, 7, 2, 1, 2, 0), false, true);
    compare_kernels("blocked deconv k3 s2 p0", deconv_g(2, 4, 5, 6, 3, 3, 2, 0, 0), true, true);
    compare_kernels("blocked deconv k4 s2 p1", deconv_g(1, 3, 4, 5, 4, 4, 2, 1, 0), true, false);
    ac_cpu_conv_set_block_budget(0);
}

static void all_kernel_cases(void) {
    conv_kernel_cases();
    deconv_kernel_cases();
    blocked_kernel_cases();
}

// The drivers split work over OpenMP threads only when OpenBLAS runs one thread.
static void kernels_threaded_blas(void) {
    omp_set_num_threads(2);
    openblas_set_num_threads(2);
    CHECK(ac_cpu_conv_threads() == 1);
    all_kernel_cases();
}

static void kernels_openmp_split(void) {
    openblas_set_num_threads(1);
    omp_set_num_threads(2);
    CHECK(ac_cpu_conv_threads() == 2);
    all_kernel_cases();
    omp_set_num_threads(3);
    CHECK(ac_cpu_conv_threads() == 3);
    all_kernel_cases();
    omp_set_num_threads(2);
}

// Every case again with the kernels' workspaces filled with NaNs first: no result may depend
// on scratch a kernel did not write (im2col blocks, padded copies, phase planes).
static void kernels_poisoned(void) {
    openblas_set_num_threads(1);
    omp_set_num_threads(2);
    ac_cpu_ws_set_poison(true);
    all_kernel_cases();
    ac_cpu_ws_set_poison(false);
}

// Large enough for several blocks and threads: two runs agree bit for bit.
static void determinism_case(ac_conv_geom g, bool transposed) {
    ac_rng r;
    ac_rng_seed(&r, 5);
    size_t nx = (size_t)g.n * g.cin * g.h * g.w, ny = (size_t)g.n * g.cout * g.oh * g.ow;
    size_t nw = (size_t)g.cout * g.cin * g.kh * g.kw, nb = (size_t)g.cout;
    float *x = rand_buf(&r, nx), *w = rand_buf(&r, nw), *b = rand_buf(&r, nb);
    float *dy = rand_buf(&r, ny);
    float *out[2][4];
    ac_cpu_conv_set_block_budget(72 * 600);
    for (int run = 0; run < 2; run++) {
        out[run][0] = malloc(ny * sizeof(float));
        out[run][1] = calloc(nx, sizeof(float));
        out[run][2] = calloc(nw, sizeof(float));
        out[run][3] = calloc(nb, sizeof(float));
        if (transposed) {
            ac_cpu_conv_transpose2d_forward(&g, x, w, b, out[run][0]);
            ac_cpu_conv_transpose2d_backward(&g, x, w, dy, out[run][1], out[run][2], out[run][3]);
        } else {
            ac_cpu_conv2d_forward(&g, x, w, b, out[run][0]);
            ac_cpu_conv2d_backward(&g, x, w, dy, out[run][1], out[run][2], out[run][3]);
        }
    }
    ac_cpu_conv_set_block_budget(0);
    CHECK(memcmp(out[0][0], out[1][0], ny * sizeof(float)) == 0);
    CHECK(memcmp(out[0][1], out[1][1], nx * sizeof(float)) == 0);
    CHECK(memcmp(out[0][2], out[1][2], nw * sizeof(float)) == 0);
    CHECK(memcmp(out[0][3], out[1][3], nb * sizeof(float)) == 0);
    for (int run = 0; run < 2; run++)
        for (int k = 0; k < 4; k++) free(out[run][k]);
    free(x); free(w); free(b); free(dy);
}

static void determinism(void) {
    for (int mode = 0; mode < 2; mode++) {
        openblas_set_num_threads(mode ? 1 : 2);
        omp_set_num_threads(2);
        CHECK(ac_cpu_conv_threads() == (mode ? 2 : 1));
        determinism_case(conv_g(2, 8, 40, 36, 8, 3, 1, 1), false);
        determinism_case(deconv_g(3, 8, 20, 18, 8, 4, 2, 1, 0), true);
    }
}

// ---------------------------------------------------------------- gradient checks

typedef struct {
    bool transposed, bias;
    int stride, pad, out_pad;
} conv_case;

static ac_tensor *build_conv(ac_graph *g, ac_tensor **in, void *ctx) {
    const conv_case *c = ctx;
    ac_tensor *b = c->bias ? in[2] : NULL;
    if (c->transposed) return ac_conv_transpose2d(g, in[0], in[1], b, c->stride, c->pad, c->out_pad);
    return ac_conv2d(g, in[0], in[1], b, c->stride, c->pad);
}

// x (n, cin, h, w); weight (cout, cin, k, k) or, transposed, (cin, cout, k, k)
static void gradcheck_case(const char *name, int n, int cin, int h, int w, int cout, int k,
                           conv_case c, bool frozen_w) {
    ac_rng r;
    ac_rng_seed(&r, (uint64_t)(h * 131 + w * 17 + k));
    ac_tensor *in[3];
    in[0] = t_rand4(&r, n, cin, h, w, true);
    in[1] = c.transposed ? t_rand4(&r, cin, cout, k, k, !frozen_w) : t_rand4(&r, cout, cin, k, k, !frozen_w);
    in[2] = ac_tensor_new1(cout);
    t_fill_uniform(&r, in[2]->data, (size_t)cout, -1.0f, 1.0f);
    if (c.bias && !frozen_w) ac_tensor_enable_grad(in[2]);
    t_gradcheck(name, build_conv, in, c.bias ? 3 : 2, &c, 1e-2f, 5e-3, 60);
    if (frozen_w) CHECK_MSG(in[1]->grad == NULL && in[2]->grad == NULL, "%s: frozen got grad", name);
    for (int i = 0; i < 3; i++) ac_tensor_free(in[i]);
}

static void conv_gradchecks(void) {
    conv_case c = {.bias = true, .stride = 1, .pad = 1};
    gradcheck_case("conv k3 s1 p1 bias", 2, 3, 7, 5, 4, 3, c, false);
    c = (conv_case){.bias = false, .stride = 2, .pad = 1};
    gradcheck_case("conv k3 s2 p1 odd", 2, 2, 7, 5, 3, 3, c, false);
    c = (conv_case){.bias = true, .stride = 2, .pad = 1};
    gradcheck_case("conv k4 s2 p1", 1, 2, 8, 6, 3, 4, c, false);
    c = (conv_case){.bias = true, .stride = 1, .pad = 0};
    gradcheck_case("conv k1 s1 p0", 2, 4, 5, 3, 3, 1, c, false);
    c = (conv_case){.bias = false, .stride = 2, .pad = 0};
    gradcheck_case("conv k1 s2 p0", 1, 3, 5, 4, 2, 1, c, false);
    c = (conv_case){.bias = true, .stride = 1, .pad = 0};
    gradcheck_case("conv k11 s1 p0", 1, 2, 13, 12, 2, 11, c, false);
    c = (conv_case){.bias = true, .stride = 1, .pad = 5};
    gradcheck_case("conv k11 s1 p5", 1, 1, 6, 7, 2, 11, c, false);
    c = (conv_case){.bias = true, .stride = 3, .pad = 2};
    gradcheck_case("conv k3 s3 p2", 2, 2, 8, 7, 2, 3, c, false);
    c = (conv_case){.bias = true, .stride = 1, .pad = 1};
    gradcheck_case("conv frozen weight", 2, 3, 5, 6, 2, 3, c, true);
}

static void deconv_gradchecks(void) {
    conv_case c = {.transposed = true, .bias = true, .stride = 2, .pad = 0};
    gradcheck_case("deconv k3 s2 p0 (2n+1)", 2, 3, 4, 5, 2, 3, c, false);
    c = (conv_case){.transposed = true, .bias = true, .stride = 2, .pad = 1};
    gradcheck_case("deconv k4 s2 p1 (2n)", 1, 2, 5, 3, 3, 4, c, false);
    c = (conv_case){.transposed = true, .bias = false, .stride = 2, .pad = 1, .out_pad = 1};
    gradcheck_case("deconv k3 s2 p1 op1", 2, 2, 5, 4, 3, 3, c, false);
    c = (conv_case){.transposed = true, .bias = true, .stride = 1, .pad = 0};
    gradcheck_case("deconv k1 s1 p0", 2, 3, 4, 3, 2, 1, c, false);
    c = (conv_case){.transposed = true, .bias = true, .stride = 1, .pad = 1};
    gradcheck_case("deconv k3 s1 p1", 1, 2, 5, 7, 2, 3, c, false);
    c = (conv_case){.transposed = true, .bias = true, .stride = 3, .pad = 0, .out_pad = 2};
    gradcheck_case("deconv k2 s3 op2", 1, 2, 3, 4, 2, 2, c, false);
    c = (conv_case){.transposed = true, .bias = true, .stride = 2, .pad = 1};
    gradcheck_case("deconv frozen weight", 2, 3, 4, 3, 2, 4, c, true);
}

// Shapes and the tape: no node when nothing needs a gradient, geometry of the outputs.
static void shapes_and_tape(void) {
    ac_rng r;
    ac_rng_seed(&r, 3);
    ac_tensor *x = t_rand4(&r, 1, 2, 7, 5, false), *w = t_rand4(&r, 4, 2, 3, 3, false);
    ac_tensor *wt = t_rand4(&r, 2, 4, 3, 3, false);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *y = ac_conv2d(g, x, w, NULL, 2, 1);
    CHECK(y->shape[0] == 1 && y->shape[1] == 4 && y->shape[2] == 4 && y->shape[3] == 3);
    CHECK(!y->requires_grad && ac_graph_node_count(g) == 0);
    ac_tensor *u = ac_conv_transpose2d(g, x, wt, NULL, 2, 0, 0);
    CHECK(u->shape[1] == 4 && u->shape[2] == 15 && u->shape[3] == 11);
    ac_tensor *v = ac_conv_transpose2d(g, x, wt, NULL, 2, 1, 1);
    CHECK(v->shape[2] == 14 && v->shape[3] == 10);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(w);
    ac_tensor_free(wt);
}

// The transposed convolution with its activation in the epilogue (inference, and recorded as
// one node) against the transposed convolution and the activation as two recorded ops, for
// each activation, through the direct kernel and through im2col + GEMM.
static void transposed_with_activation(void) {
    ac_rng r;
    ac_rng_seed(&r, 11);
    ac_tensor *x = t_rand4(&r, 2, 3, 6, 37, false), *w = t_rand4(&r, 3, 5, 4, 4, true);
    ac_tensor *b = ac_tensor_new1(5), *slope = ac_tensor_new1(1);
    t_fill_uniform(&r, b->data, 5, -1, 1);
    slope->data[0] = 0.25f;
    b->requires_grad = slope->requires_grad = true;
    const ac_act acts[] = {AC_ACT_NONE, AC_ACT_RELU, AC_ACT_PRELU};
    for (int direct = 0; direct < 2; direct++) {
        ac_cpu_conv_set_direct(direct);
        for (int a = 0; a < 3; a++) {
            ac_graph *gi = ac_graph_new(false), *gr = ac_graph_new(true);
            ac_tensor *yi = ac_conv_transpose2d_act(gi, x, w, b, 2, 1, 0, acts[a], slope, NULL, NULL);
            ac_tensor *yf = ac_conv_transpose2d_act(gr, x, w, b, 2, 1, 0, acts[a], slope, NULL, NULL);
            CHECK(ac_graph_node_count(gi) == 0 && ac_graph_node_count(gr) == 1);
            ac_tensor *yr = ac_conv_transpose2d(gr, x, w, b, 2, 1, 0);
            if (acts[a] == AC_ACT_RELU) yr = ac_relu(gr, yr);
            if (acts[a] == AC_ACT_PRELU) yr = ac_prelu(gr, yr, slope);
            CHECK(ac_graph_node_count(gr) == (a ? 3 : 2));
            CHECK(yi->shape[1] == 5 && yi->shape[2] == 12 && yi->shape[3] == 74);
            char what[64];
            snprintf(what, sizeof what, "deconv+act %d direct %d", a, direct);
            t_close(what, yi->data, yr->data, ac_numel(yr), 1e-6, 1e-6);
            snprintf(what, sizeof what, "deconv+act %d direct %d recorded", a, direct);
            t_close(what, yf->data, yr->data, ac_numel(yr), 0, 0);
            ac_graph_free(gi);
            ac_graph_free(gr);
        }
    }
    ac_cpu_conv_set_direct(true);
    ac_tensor_free(x);
    ac_tensor_free(w);
    ac_tensor_free(b);
    ac_tensor_free(slope);
}

// The double sums of the gradient reductions (simd.h: lane-order blocks, then the tail): the
// bias gradient and the PReLU slope gradient on lengths around the block of 16, against sums in
// index order, and with 1 and 2 threads alike.
static void gradient_sums(void) {
    ac_rng r;
    ac_rng_seed(&r, 31);
    const size_t lens[] = {1, 15, 16, 17, 100003};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const size_t len = lens[k];
        const int n = 2, c = 3;
        float *dy = rand_buf(&r, (size_t)n * c * len), *x = rand_buf(&r, len);
        if (len > 20) x[5] = NAN;  // !(x > 0): NaN counts, as x <= 0 does
        float db[2][3] = {{0}}, ds[2] = {0};
        for (int t = 0; t < 2; t++) {
            omp_set_num_threads(t + 1);
            ac_cpu_bias_grad(n, c, len, dy, db[t]);
            ac_cpu_prelu_backward(len, 0.25f, x, dy, NULL, &ds[t]);
        }
        omp_set_num_threads(2);
        for (int ch = 0; ch < c; ch++) {
            double s = 0;
            for (int i = 0; i < n; i++)
                for (size_t j = 0; j < len; j++) s += dy[((size_t)i * c + ch) * len + j];
            const float want = (float)s;
            t_close("bias grad", &db[0][ch], &want, 1, 1e-6, 1e-6);
            CHECK_MSG(db[0][ch] == db[1][ch], "bias grad: 1 and 2 threads differ");
        }
        double s = 0;
        for (size_t j = 0; j < len; j++)
            if (!(x[j] > 0.0f)) s += (double)x[j] * dy[j];
        const float want = (float)s;
        if (len > 20) CHECK_MSG(isnan(ds[0]), "slope grad: a NaN input must reach the sum");
        else t_close("slope grad", &ds[0], &want, 1, 1e-6, 1e-6);
        CHECK_MSG(memcmp(&ds[0], &ds[1], sizeof ds[0]) == 0, "slope grad: 1 and 2 threads differ");
        free(dy), free(x);
    }
}

int main(void) {
    RUN(kernels_threaded_blas);
    RUN(kernels_openmp_split);
    RUN(kernels_poisoned);
    RUN(determinism);
    RUN(conv_gradchecks);
    RUN(deconv_gradchecks);
    RUN(shapes_and_tape);
    RUN(transposed_with_activation);
    RUN(gradient_sums);
    return ac_test_finish();
}
