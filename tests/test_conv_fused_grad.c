// test_conv_fused_grad.c: the recorded fused convolution (ac_conv2d_fused on a recording graph,
// backend conv2d_fused_backward). For each geometry and epilogue the models use (3x3 stride 1
// and stride 2, 4x4 stride 2, 11x11; zero and reflection padding; ReLU, PReLU with positive
// and negative slopes, scale, residual, add, sub) the gradients of every input (x, weight,
// bias, slope, residual, add, sub):
// - against finite differences of the forward (without activation: see check_cfg);
// - against the op-by-op composition (reflection_pad, conv2d, relu/prelu, scale, add, sub)
//   that the model ran before, to float rounding;
// and the same for 1 and 2 threads (the data gradient bit for bit); likewise the recorded
// transposed convolution with its epilogue (ac_conv_transpose2d_act). The RDB's dense layers,
// which read a channel prefix and write a channel slice of one tensor, against concatenation.
#include <omp.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "model/net_blocks.h"
#include "ops/ops.h"
#include "testlib.h"

#define GC_H 4e-3f
#define GC_TOL 1e-2
#define GC_MAX 120

typedef struct cfg {
    const char *name;
    int k, stride, pad;
    ac_pad_mode mode;
    ac_act act;
    float scale;  // 1 for none
    bool res, add, sub, bias;
    bool transposed;  // ac_conv_transpose2d_act: weight (cin, cout, k, k), no residual or scale
} cfg;

// inputs: x, w, b, slope, residual, add, sub (absent ones unused)
static ac_tensor *build_fused(ac_graph *g, ac_tensor **in, void *ctx) {
    const cfg *c = ctx;
    if (c->transposed)
        return ac_conv_transpose2d_act(g, in[0], in[1], c->bias ? in[2] : NULL, c->stride, c->pad,
                                       0, c->act, c->act == AC_ACT_PRELU ? in[3] : NULL,
                                       c->add ? in[5] : NULL, c->sub ? in[6] : NULL);
    ac_conv_opts o = {.stride = c->stride, .pad = c->pad, .mode = c->mode, .act = c->act,
                      .slope = c->act == AC_ACT_PRELU ? in[3] : NULL, .scale = c->scale,
                      .residual = c->res ? in[4] : NULL, .add = c->add ? in[5] : NULL,
                      .sub = c->sub ? in[6] : NULL};
    return ac_conv2d_fused(g, in[0], in[1], c->bias ? in[2] : NULL, &o, NULL, 0);
}

static ac_tensor *build_ops(ac_graph *g, ac_tensor **in, void *ctx) {
    const cfg *c = ctx;
    ac_tensor *x = in[0];
    int pad = c->pad;
    if (c->mode == AC_PAD_REFLECT && pad > 0) {
        x = ac_reflection_pad(g, x, pad, pad, pad, pad);
        pad = 0;
    }
    ac_tensor *y = c->transposed
                       ? ac_conv_transpose2d(g, x, in[1], c->bias ? in[2] : NULL, c->stride, pad, 0)
                       : ac_conv2d(g, x, in[1], c->bias ? in[2] : NULL, c->stride, pad);
    if (c->act == AC_ACT_RELU) y = ac_relu(g, y);
    if (c->act == AC_ACT_PRELU) y = ac_prelu(g, y, in[3]);
    if (c->scale != 1.0f) y = ac_scale(g, y, c->scale);
    if (c->res) y = ac_add(g, y, in[4]);
    if (c->add) y = ac_add(g, y, in[5]);
    if (c->sub) y = ac_sub(g, y, in[6]);
    return y;
}

static ac_tensor *rand_t(ac_rng *r, int ndim, const int *shape, float bound) {
    ac_tensor *t = ac_tensor_new(ndim, shape);
    t_fill_uniform(r, t->data, ac_numel(t), -bound, bound);
    return t;
}

// Gradients of all inputs after a backward of build with the fixed projection proj.
static void grads(t_build_fn build, ac_tensor **in, const cfg *c, const float *proj, float **out) {
    for (int i = 0; i < 7; i++) ac_tensor_zero_grad(in[i]);
    ac_graph *g = ac_graph_new(true);
    ac_backward_seeded(g, build(g, in, (void *)c), proj);
    for (int i = 0; i < 7; i++) {
        out[i] = malloc(ac_numel(in[i]) * sizeof(float));
        memcpy(out[i], in[i]->grad, ac_numel(in[i]) * sizeof(float));
    }
    ac_graph_free(g);
}

static void check_cfg(const cfg *c, float slope) {
    ac_rng r;
    ac_rng_seed(&r, 77);
    const int n = 2, cin = 3, cout = 3, h = 7, w = 8;
    const int oh = c->transposed ? (h - 1) * c->stride - 2 * c->pad + c->k
                                 : (h + 2 * c->pad - c->k) / c->stride + 1;
    const int ow = c->transposed ? (w - 1) * c->stride - 2 * c->pad + c->k
                                 : (w + 2 * c->pad - c->k) / c->stride + 1;
    int xs[4] = {n, cin, h, w}, ys[4] = {n, cout, oh, ow};
    int ws[4] = {c->transposed ? cin : cout, c->transposed ? cout : cin, c->k, c->k};
    int one = 1;
    ac_tensor *in[7] = {rand_t(&r, 4, xs, 1.0f), rand_t(&r, 4, ws, 0.3f), rand_t(&r, 1, &cout, 0.3f),
                        rand_t(&r, 1, &one, 1.0f), rand_t(&r, 4, ys, 1.0f), rand_t(&r, 4, ys, 1.0f),
                        rand_t(&r, 4, ys, 1.0f)};
    in[3]->data[0] = slope;
    for (int i = 0; i < 7; i++) ac_tensor_enable_grad(in[i]);
    char name[96];
    snprintf(name, sizeof name, "%s (slope %g)", c->name, slope);
    // Finite differences across a ReLU's kink are off even for the op-by-op path; with an
    // activation the comparison below (whose ops have finite-difference tests of their own)
    // is the check.
    if (c->act == AC_ACT_NONE) t_gradcheck(name, build_fused, in, 7, (void *)c, GC_H, GC_TOL, GC_MAX);

    size_t ny = (size_t)n * cout * oh * ow;
    float *proj = malloc(ny * sizeof(float));
    t_fill_uniform(&r, proj, ny, -1.0f, 1.0f);
    float *gf[7], *go[7], *g1[7];
    grads(build_fused, in, c, proj, gf);
    grads(build_ops, in, c, proj, go);
    ac_set_threads(1);
    grads(build_fused, in, c, proj, g1);
    ac_set_threads(2);
    static const char *const names[7] = {"dx", "dw", "db", "dslope", "dresidual", "dadd", "dsub"};
    for (int i = 0; i < 7; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s: %s fused vs op by op", name, names[i]);
        t_close(what, gf[i], go[i], ac_numel(in[i]), 1e-5, 1e-5);
        // the data gradient bit for bit; weight gradients by im2col + GEMM split their sums
        // by the thread count
        snprintf(what, sizeof what, "%s: %s 1 vs 2 threads", name, names[i]);
        if (i == 0) CHECK_MSG(!memcmp(gf[i], g1[i], ac_numel(in[i]) * sizeof(float)), "%s", what);
        else t_close(what, g1[i], gf[i], ac_numel(in[i]), 1e-6, 1e-6);
        free(gf[i]), free(go[i]), free(g1[i]);
    }
    free(proj);
    for (int i = 0; i < 7; i++) ac_tensor_free(in[i]);
}

static void test_recorded_fused_conv(void) {
    static const cfg cfgs[] = {
        {"3x3 reflect PReLU (resblock conv1)", 3, 1, 1, AC_PAD_REFLECT, AC_ACT_PRELU, 1.0f, false, false, false, true, false},
        {"3x3 reflect scale residual add sub (resblock conv2)", 3, 1, 1, AC_PAD_REFLECT, AC_ACT_NONE, 0.1f, true, true, true, true, false},
        {"3x3 zero ReLU (VGG)", 3, 1, 1, AC_PAD_ZERO, AC_ACT_RELU, 1.0f, false, false, false, true, false},
        {"3x3 zero ReLU scale residual", 3, 1, 1, AC_PAD_ZERO, AC_ACT_RELU, 0.5f, true, false, false, true, false},
        {"3x3 stride 2 reflect (down conv)", 3, 2, 1, AC_PAD_REFLECT, AC_ACT_NONE, 1.0f, false, false, false, true, false},
        {"4x4 stride 2 zero PReLU (conv block)", 4, 2, 1, AC_PAD_ZERO, AC_ACT_PRELU, 1.0f, false, false, false, true, false},
        {"11x11 reflect pad 5 (input conv)", 11, 1, 5, AC_PAD_REFLECT, AC_ACT_NONE, 1.0f, false, false, false, true, false},
        {"3x3 reflect PReLU scale residual sub, no bias", 3, 1, 1, AC_PAD_REFLECT, AC_ACT_PRELU, 0.3f, true, false, true, false, false},
        {"transposed 4x4 stride 2 PReLU (deconv block)", 4, 2, 1, AC_PAD_ZERO, AC_ACT_PRELU, 1.0f, false, false, false, true, true},
        {"transposed 4x4 stride 2 PReLU add sub", 4, 2, 1, AC_PAD_ZERO, AC_ACT_PRELU, 1.0f, false, true, true, true, true},
        {"transposed 3x3 stride 2 (up conv)", 3, 2, 0, AC_PAD_ZERO, AC_ACT_NONE, 1.0f, false, false, false, true, true},
        {"transposed 4x4 stride 2 sub, no bias", 4, 2, 1, AC_PAD_ZERO, AC_ACT_NONE, 1.0f, false, false, true, false, true},
        {"transposed 4x4 stride 2 ReLU add", 4, 2, 1, AC_PAD_ZERO, AC_ACT_RELU, 1.0f, false, true, false, true, true},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        check_cfg(&cfgs[i], 0.25f);
        if (cfgs[i].act == AC_ACT_PRELU) check_cfg(&cfgs[i], -0.2f);
    }
}

// The RDB op by op: each dense layer a convolution, a ReLU and a concatenation.
static ac_tensor *rdb_ops(const ac_rdb *r, ac_graph *g, ac_tensor *x) {
    ac_tensor *cur = x;
    for (int i = 0; i < AC_RDB_LAYERS; i++) {
        ac_tensor *parts[2] = {cur, ac_relu(g, ac_conv2d(g, cur, r->dense[i], NULL, 1, 1))};
        cur = ac_concat(g, parts, 2, 1);
    }
    return ac_add(g, ac_conv2d(g, cur, r->conv1x1, NULL, 1, 0), x);
}

// Gradients of x and of every parameter after a backward seeded with proj.
static void rdb_grads(const ac_rdb *r, ac_params *p, ac_tensor *x, bool slices,
                      const float *proj, float **out) {
    ac_tensor_zero_grad(x);
    for (int i = 0; i < p->count; i++) ac_tensor_zero_grad(p->items[i].tensor);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *y = slices ? ac_rdb_forward(r, g, x) : rdb_ops(r, g, x);
    ac_backward_seeded(g, y, proj);
    for (int i = 0; i <= p->count; i++) {
        const ac_tensor *t = i < p->count ? p->items[i].tensor : x;
        out[i] = malloc(ac_numel(t) * sizeof(float));
        memcpy(out[i], t->grad, ac_numel(t) * sizeof(float));
    }
    ac_graph_free(g);
}

static void test_recorded_rdb(void) {
    ac_rng r;
    ac_rng_seed(&r, 78);
    ac_params *p = ac_params_new();
    ac_rdb rdb;
    ac_rdb_init(&rdb, p, "rdb", 5, 3);
    ac_params_init(p, &r);
    ac_params_set_trainable(p, true);
    int xs[4] = {3, 5, 9, 11};  // several images: the slices' batch strides matter
    ac_tensor *x = rand_t(&r, 4, xs, 1.0f);
    ac_tensor_enable_grad(x);
    const size_t n = ac_numel(x);
    float *proj = malloc(n * sizeof(float));
    t_fill_uniform(&r, proj, n, -1.0f, 1.0f);
    float **gs = malloc((size_t)(p->count + 1) * sizeof *gs), **go = malloc((size_t)(p->count + 1) * sizeof *go);
    float **g1 = malloc((size_t)(p->count + 1) * sizeof *g1);
    rdb_grads(&rdb, p, x, false, proj, go);
    // the Winograd backward, then im2col + GEMM (weights) and the direct kernel (data), then
    // im2col + GEMM for both: each reads the prefix and writes the slices at batch strides
    for (int path = 0; path < 3; path++) {
        ac_cpu_conv_set_winograd_backward(path == 0);
        ac_cpu_conv_set_direct(path < 2);
        rdb_grads(&rdb, p, x, true, proj, gs);
        ac_set_threads(1);
        rdb_grads(&rdb, p, x, true, proj, g1);
        ac_set_threads(2);
        for (int i = 0; i <= p->count; i++) {
            const ac_tensor *t = i < p->count ? p->items[i].tensor : x;
            const char *name = i < p->count ? p->items[i].name : "x";
            char what[160];
            snprintf(what, sizeof what, "rdb %s, path %d: slices vs concatenation", name, path);
            t_close(what, gs[i], go[i], ac_numel(t), 1e-5, 1e-5);
            snprintf(what, sizeof what, "rdb %s, path %d: 1 vs 2 threads", name, path);
            t_close(what, g1[i], gs[i], ac_numel(t), 1e-6, 1e-6);
            free(gs[i]), free(g1[i]);
        }
    }
    ac_cpu_conv_set_winograd_backward(true);
    ac_cpu_conv_set_direct(true);
    for (int i = 0; i <= p->count; i++) free(go[i]);
    free(gs), free(go), free(g1), free(proj);
    ac_tensor_free(x);
    ac_params_free(p);
}

int main(void) {
    ac_backend_cpu();
    ac_set_threads(2);
    RUN(test_recorded_fused_conv);
    RUN(test_recorded_rdb);
    return ac_test_finish();
}
