// test_conv_fused.c: the fused convolution (backend conv2d_fused: Winograd for 3x3 stride 1,
// the direct tap kernel otherwise, im2col + GEMM when both are off) and the direct transposed
// convolution, against naive double-precision loops: kernel sizes 1, 3, 4, 11, strides 1 and
// 2, zero and reflection padding, odd sides, every epilogue (bias, ReLU, PReLU, scale,
// residual, accumulate into y), channel slices (batch strides), batches, 1 and 2 threads;
// transposed convolutions with kernels smaller than, equal to and larger than the stride
// (phases without taps), output padding and epilogues. Then the graph ops: ac_conv2d_fused
// writing into channel slices, ac_copy_into, and the inference RDB / residual block paths
// against the recorded ones (the same fused convolutions as tape nodes; the RDB op by op). Last, the network's output and input gradient for an
// image do not depend on the other images of the batch.
#include <omp.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/workspace.h"
#include "model/net.h"
#include "model/net_blocks.h"
#include "ops/ops.h"
#include "conv_ref.h"
#include "testlib.h"

typedef struct fcase {
    bool deconv;
    int n, cin, h, w, cout, k, stride, pad, out_pad;
    ac_pad_mode mode;
    bool bias;
    ac_act act;
    float scale;
    int residual;          // 0 none, 1 separate, 2 accumulate into y
    int x_extra, y_extra;  // channels around the slices
} fcase;

// kernels: 0 default, 1 Winograd off, 2 Winograd and direct off
static void run_case(const fcase *k, int threads, int kernels) {
    ac_rng r;
    ac_rng_seed(&r, 77 + (uint64_t)k->k * 131 + k->cin * 7 + k->h);
    int oh, ow;
    if (k->deconv) {
        oh = (k->h - 1) * k->stride - 2 * k->pad + k->k + k->out_pad;
        ow = (k->w - 1) * k->stride - 2 * k->pad + k->k + k->out_pad;
    } else {
        oh = (k->h + 2 * k->pad - k->k) / k->stride + 1;
        ow = (k->w + 2 * k->pad - k->k) / k->stride + 1;
    }
    const size_t x_batch = (size_t)(k->cin + k->x_extra) * k->h * k->w;
    const size_t y_batch = (size_t)(k->cout + k->y_extra) * oh * ow;
    const size_t nx = x_batch * k->n, ny = y_batch * k->n, nw = (size_t)k->cout * k->cin * k->k * k->k;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)k->cout * 4);
    float *y = malloc(ny * 4), *res = malloc(ny * 4), *y0 = malloc(ny * 4), *want = malloc(ny * 4);
    t_fill_uniform(&r, x, nx, -1, 1);
    const float bound = 1.0f / sqrtf((float)(k->cin * k->k * k->k));
    t_fill_uniform(&r, w, nw, -bound, bound);
    t_fill_uniform(&r, b, (size_t)k->cout, -0.5f, 0.5f);
    t_fill_uniform(&r, y, ny, -1, 1);
    t_fill_uniform(&r, res, ny, -1, 1);
    memcpy(y0, y, ny * 4);
    memcpy(want, y, ny * 4);  // outside the slice: untouched
    const size_t xoff = (size_t)(k->x_extra / 2) * k->h * k->w, yoff = (size_t)(k->y_extra / 2) * oh * ow;
    ac_fused_conv c = {.n = k->n, .cin = k->cin, .h = k->h, .w = k->w, .cout = k->cout,
                       .kh = k->k, .kw = k->k, .stride = k->stride, .pad = k->pad, .mode = k->mode,
                       .x = x + xoff, .x_batch = x_batch, .weight = w, .y = y + yoff,
                       .y_batch = y_batch,
                       .ep = {.bias = k->bias ? b : NULL, .act = k->act, .slope = -0.3f,
                              .scale = k->scale}};
    if (k->residual == 1) c.ep.residual = res + yoff;
    if (k->residual == 2) c.ep.residual = c.y;
    if (k->deconv) t_deconv_ref(&c, k->out_pad, y0 + yoff, want + yoff);
    else t_conv_ref(&c, y0 + yoff, want + yoff);
    omp_set_num_threads(threads);
    ac_cpu_conv_set_winograd(kernels == 0);
    ac_cpu_conv_set_direct(kernels < 2);
    if (k->deconv && kernels == 0) ac_cpu_conv_transpose2d_fused(&c, k->out_pad);
    else if (k->deconv) ac_cpu_direct_deconv(&c, k->out_pad);
    else ac_cpu_conv2d_fused(&c);
    ac_cpu_conv_set_winograd(true);
    ac_cpu_conv_set_direct(true);
    char what[200];
    snprintf(what, sizeof what,
             "%s n%d cin%d %dx%d cout%d k%d s%d p%d op%d %s bias%d act%d scale%g res%d "
             "extra%d/%d t%d kernels%d",
             k->deconv ? "deconv" : "conv", k->n, k->cin, k->h, k->w, k->cout, k->k, k->stride,
             k->pad, k->out_pad, k->mode ? "reflect" : "zero", k->bias, k->act, k->scale,
             k->residual, k->x_extra, k->y_extra, threads, kernels);
    t_close(what, y, want, ny, 2e-5, 2e-5);
    free(x), free(w), free(b), free(y), free(res), free(y0), free(want);
}

#define Z AC_PAD_ZERO
#define R AC_PAD_REFLECT
#define NONE AC_ACT_NONE
#define RELU AC_ACT_RELU
#define PRELU AC_ACT_PRELU

static void test_conv_kernels(void) {
    const fcase cases[] = {
        // deconv, n, cin, h, w, cout, k, s, pad, out_pad, mode, bias, act, scale, res, extras
        {false, 1, 3, 21, 27, 16, 11, 1, 5, 0, R, true, NONE, 1, 0, 0, 0},   // conv_input
        {false, 2, 3, 14, 13, 5, 11, 1, 0, 0, Z, false, RELU, 1, 0, 0, 0},
        {false, 2, 6, 17, 19, 10, 3, 2, 1, 0, R, true, NONE, 1, 0, 0, 0},    // conv2x
        {false, 1, 5, 8, 12, 9, 3, 2, 0, 0, Z, true, PRELU, 1, 0, 0, 0},
        {false, 2, 4, 16, 18, 8, 4, 2, 1, 0, Z, true, PRELU, 1, 0, 0, 0},    // ConvBlock
        {false, 1, 7, 13, 11, 3, 4, 2, 1, 0, Z, true, PRELU, 1, 0, 0, 0},
        // even padded sides: F(4x4, 2x2) on the phases (wino_strided.c) where Winograd is on
        {false, 2, 6, 20, 34, 12, 4, 2, 1, 0, Z, true, PRELU, 0.5f, 1, 3, 2},
        {false, 1, 5, 12, 18, 7, 4, 2, 1, 0, R, false, RELU, 1, 2, 0, 0},
        {false, 1, 3, 10, 12, 5, 4, 2, 2, 0, Z, true, NONE, 1, 0, 0, 0},
        {false, 1, 70, 8, 6, 20, 4, 2, 1, 0, Z, true, PRELU, 1, 0, 0, 0},
        {false, 2, 40, 9, 7, 8, 1, 1, 0, 0, Z, false, NONE, 1, 1, 0, 0},     // RDB 1x1
        {false, 2, 12, 5, 6, 20, 1, 1, 0, 0, Z, true, RELU, 0.5f, 2, 3, 0},
        {false, 1, 9, 7, 9, 11, 1, 2, 0, 0, Z, true, NONE, 1, 0, 0, 2},
        {false, 2, 5, 10, 15, 6, 3, 1, 1, 0, R, true, PRELU, 0.1f, 1, 2, 4},  // 3x3 stride 1
        {false, 1, 4, 6, 7, 5, 3, 1, 2, 0, Z, false, RELU, 1, 2, 0, 0},
        {false, 1, 2, 40, 70, 3, 3, 1, 1, 0, R, true, NONE, 1, 0, 0, 0},
        {false, 1, 3, 6, 5, 4, 5, 3, 2, 0, R, true, NONE, 1, 0, 0, 0},
        {false, 1, 2, 4, 4, 3, 2, 1, 0, 0, Z, false, NONE, 1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int kernels = 0; kernels < 3; kernels++)
            for (int t = 1; t <= 2; t++) run_case(&cases[i], t, kernels);
}

static void test_deconv_kernel(void) {
    const fcase cases[] = {
        {true, 2, 6, 7, 9, 4, 4, 2, 1, 0, Z, true, NONE, 1, 0, 0, 0},    // DeconvBlock
        {true, 1, 16, 15, 20, 8, 4, 2, 1, 0, Z, true, PRELU, 1, 0, 0, 0},
        {true, 2, 8, 6, 5, 4, 3, 2, 0, 0, Z, true, NONE, 1, 0, 0, 0},    // UpsampleConvLayer
        {true, 1, 5, 9, 4, 3, 3, 2, 1, 1, Z, false, RELU, 1, 1, 0, 0},
        {true, 1, 3, 5, 6, 2, 1, 2, 0, 1, Z, true, NONE, 1, 0, 0, 0},    // phases without taps
        {true, 2, 4, 5, 5, 3, 5, 3, 2, 2, Z, true, NONE, 0.5f, 2, 2, 2},
        {true, 1, 3, 4, 6, 5, 3, 1, 1, 0, Z, true, NONE, 1, 0, 0, 0},    // stride 1
        {true, 1, 70, 3, 4, 40, 4, 2, 1, 0, Z, true, NONE, 1, 0, 0, 0},
        // F(4x4, 2x2) and the interleaving of its phases (wino_strided.c): wide rows, skips
        {true, 2, 5, 9, 17, 6, 4, 2, 1, 0, Z, true, PRELU, 0.1f, 1, 2, 3},
        {true, 1, 24, 10, 33, 16, 4, 2, 1, 0, Z, false, RELU, 1, 2, 0, 0},
        {true, 1, 1, 1, 1, 1, 4, 2, 1, 0, Z, true, NONE, 1, 0, 0, 0},
    };
    // kernels 0: through ac_cpu_conv_transpose2d_fused (Winograd where it fits), 1: direct
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int kernels = 0; kernels < 2; kernels++)
            for (int t = 1; t <= 2; t++) run_case(&cases[i], t, kernels);
}

// ---- graph level

static ac_tensor *rand_t(ac_rng *r, int n, int c, int h, int w, float bound) {
    ac_tensor *t = ac_tensor_new4(n, c, h, w);
    t_fill_uniform(r, t->data, ac_numel(t), -bound, bound);
    return t;
}

// ac_conv2d_fused into channel slices and ac_copy_into equal the separate ops + concat.
static void test_graph_slices(void) {
    ac_rng r;
    ac_rng_seed(&r, 5);
    ac_tensor *x = rand_t(&r, 2, 4, 9, 11, 1.0f), *w1 = rand_t(&r, 3, 4, 3, 3, 0.3f);
    ac_tensor *w2 = rand_t(&r, 5, 7, 3, 3, 0.3f);
    ac_graph *g = ac_graph_new(false);
    // reference: a = relu(conv(x, w1)); cat(x, a); b = relu(conv(cat, w2)); cat(x, a, b)
    ac_tensor *a = ac_relu(g, ac_conv2d(g, x, w1, NULL, 1, 1));
    ac_tensor *xa[2] = {x, a};
    ac_tensor *cat1 = ac_concat(g, xa, 2, 1);
    ac_tensor *bb = ac_relu(g, ac_conv2d(g, cat1, w2, NULL, 1, 1));
    ac_tensor *all3[3] = {x, a, bb};
    ac_tensor *want = ac_concat(g, all3, 3, 1);
    ac_tensor *buf = ac_graph_tensor4(g, 2, 12, 9, 11);
    CHECK(ac_copy_into(g, x, buf, 0) == buf);
    ac_conv_opts o = {.stride = 1, .pad = 1, .mode = AC_PAD_ZERO, .act = AC_ACT_RELU};
    ac_conv2d_fused(g, buf, w1, NULL, &o, buf, 4);
    ac_conv2d_fused(g, buf, w2, NULL, &o, buf, 7);
    t_close("slices", buf->data, want->data, ac_numel(want), 1e-5, 1e-5);
    // add and sub after the epilogue: in the Winograd kernel and in passes of their own
    for (int k = 3; k <= 4; k++) {
        ac_tensor *wk = rand_t(&r, 4, 4, k, k, 0.3f), *ad = rand_t(&r, 2, 4, 9, 11, 1.0f);
        ac_tensor *sb = rand_t(&r, 2, 4, 9, 11, 1.0f);
        const int pad = k == 3 ? 1 : 2, stride = 1;  // 4x4 pad 2 stride 1 grows to 10x12
        ac_conv_opts o2 = {.stride = stride, .pad = pad, .mode = AC_PAD_ZERO, .add = NULL};
        ac_tensor *plain = ac_conv2d_fused(g, x, wk, NULL, &o2, NULL, 0);
        if (k == 4) {  // make add/sub fit the 10x12 output
            ac_tensor_free(ad), ac_tensor_free(sb);
            ad = rand_t(&r, 2, 4, 10, 12, 1.0f);
            sb = rand_t(&r, 2, 4, 10, 12, 1.0f);
        }
        o2.add = ad;
        o2.sub = sb;
        ac_tensor *both = ac_conv2d_fused(g, x, wk, NULL, &o2, NULL, 0);
        float *wantf = malloc(ac_numel(plain) * 4);
        for (size_t i = 0; i < ac_numel(plain); i++) wantf[i] = (plain->data[i] + ad->data[i]) - sb->data[i];
        t_close(k == 3 ? "add/sub winograd" : "add/sub direct", both->data, wantf, ac_numel(plain), 0, 0);
        free(wantf);
        ac_tensor_free(wk), ac_tensor_free(ad), ac_tensor_free(sb);
    }
    ac_graph_free(g);
    ac_tensor_free(x), ac_tensor_free(w1), ac_tensor_free(w2);
}

// The inference paths of the blocks against their recorded paths (tape nodes).
static void test_blocks_fused(void) {
    ac_rng r;
    ac_rng_seed(&r, 6);
    ac_params *p = ac_params_new();
    ac_resblock rb;
    ac_resblock_init(&rb, p, "rb", 6);
    ac_rdb rdb;
    ac_rdb_init(&rdb, p, "rdb", 6, 6);
    ac_conv_layer cl;
    ac_conv_layer_init(&cl, p, "cl", 6, 5, 3, 2);
    ac_conv_block cb, db;
    ac_conv_block_init(&cb, p, "cb", 6, 4, false);
    ac_conv_block_init(&db, p, "db", 6, 4, true);
    ac_res_seq seq;
    ac_res_seq_init(&seq, p, "seq", 6, 2, false);
    ac_params_init(p, &r);
    rb.slope->data[0] = -0.2f;  // negative slopes too
    cb.slope->data[0] = 0.3f;
    db.slope->data[0] = -0.3f;
    ac_tensor *x = rand_t(&r, 2, 6, 12, 14, 1.0f), *sb = rand_t(&r, 2, 6, 12, 14, 1.0f);
    // skips of the blocks' outputs: half and twice the size
    ac_tensor *ha = rand_t(&r, 2, 4, 6, 7, 1.0f), *hs = rand_t(&r, 2, 4, 6, 7, 1.0f);
    ac_tensor *ta = rand_t(&r, 2, 4, 24, 28, 1.0f), *ts = rand_t(&r, 2, 4, 24, 28, 1.0f);
    // wide rows: the transposed convolution's interleaved stores take whole vectors
    ac_tensor *xw = rand_t(&r, 1, 6, 4, 40, 1.0f);
    ac_tensor *wa = rand_t(&r, 1, 4, 8, 80, 1.0f), *ws = rand_t(&r, 1, 4, 8, 80, 1.0f);
    ac_params_set_trainable(p, true);  // recording graph: tape nodes
    ac_graph *gr = ac_graph_new(true), *gi = ac_graph_new(false);
    struct {
        const char *name;
        ac_tensor *rec, *inf;
    } out[11] = {
        {"resblock", ac_resblock_forward(&rb, gr, x), ac_resblock_forward(&rb, gi, x)},
        {"rdb", ac_rdb_forward(&rdb, gr, x), ac_rdb_forward(&rdb, gi, x)},
        {"conv layer s2", ac_conv_layer_forward(&cl, gr, x), ac_conv_layer_forward(&cl, gi, x)},
        {"conv block", ac_conv_block_forward(&cb, gr, x, NULL, NULL), ac_conv_block_forward(&cb, gi, x, NULL, NULL)},
        {"conv block + add - sub", ac_conv_block_forward(&cb, gr, x, ha, hs), ac_conv_block_forward(&cb, gi, x, ha, hs)},
        {"conv block - sub", ac_conv_block_forward(&cb, gr, x, NULL, hs), ac_conv_block_forward(&cb, gi, x, NULL, hs)},
        {"deconv block", ac_conv_block_forward(&db, gr, x, NULL, NULL), ac_conv_block_forward(&db, gi, x, NULL, NULL)},
        {"deconv block + add - sub", ac_conv_block_forward(&db, gr, x, ta, ts), ac_conv_block_forward(&db, gi, x, ta, ts)},
        {"deconv block + add - sub, wide", ac_conv_block_forward(&db, gr, xw, wa, ws), ac_conv_block_forward(&db, gi, xw, wa, ws)},
        {"seq + x", ac_res_seq_skip_forward(&seq, gr, x, NULL), ac_res_seq_skip_forward(&seq, gi, x, NULL)},
        {"seq + x - sub", ac_res_seq_skip_forward(&seq, gr, x, sb), ac_res_seq_skip_forward(&seq, gi, x, sb)},
    };
    CHECK(ac_graph_node_count(gr) > 4);
    for (int i = 0; i < 11; i++) {
        CHECK(ac_same_shape(out[i].rec, out[i].inf));
        t_close(out[i].name, out[i].inf->data, out[i].rec->data, ac_numel(out[i].rec), 1e-5, 1e-5);
    }
    // the skips without the direct kernels: passes after the convolution, or the transposed
    // convolution's epilogue pass after im2col + GEMM
    ac_cpu_conv_set_direct(false);
    ac_tensor *nd[2] = {ac_conv_block_forward(&cb, gi, x, ha, hs), ac_conv_block_forward(&db, gi, x, ta, ts)};
    ac_cpu_conv_set_direct(true);
    t_close("conv block + add - sub, no direct kernel", nd[0]->data, out[4].rec->data, ac_numel(nd[0]), 1e-5, 1e-5);
    t_close("deconv block + add - sub, no direct kernel", nd[1]->data, out[7].rec->data, ac_numel(nd[1]), 1e-5, 1e-5);
    ac_graph_free(gr);
    ac_graph_free(gi);
    ac_tensor_free(x);
    ac_tensor_free(sb);
    ac_tensor *skips[7] = {ha, hs, ta, ts, xw, wa, ws};
    for (int i = 0; i < 7; i++) ac_tensor_free(skips[i]);
    ac_res_seq_free(&seq);
    ac_params_free(p);
}

// The network's output for an image does not depend on the other images of the batch (data
// parallel training splits batches across processes and sums the gradients): a batch of 5
// against its shares of 2, 2 and 1, bit for bit, forward on a recording graph (the input's
// gradient too) and on an inference graph.
static void test_net_batch_invariance(void) {
    ac_rng r;
    ac_rng_seed(&r, 9);
    ac_net_config cfg = {8, 2};
    ac_net *net = ac_net_new(&cfg, &r);
    ac_tensor *x = rand_t(&r, 5, 3, 32, 32, 1.0f);
    const size_t per = (size_t)3 * 32 * 32;
    for (int rec = 0; rec < 2; rec++) {
        ac_params_set_trainable(ac_net_params(net), rec == 1);
        if (rec) ac_tensor_enable_grad(x);
        ac_graph *g = ac_graph_new(rec == 1);
        ac_tensor *y = ac_net_forward(net, g, x, NULL);
        if (rec) ac_backward(g, ac_sum(g, y));
        float *dx = rec ? malloc(ac_numel(x) * 4) : NULL;
        if (rec) memcpy(dx, x->grad, ac_numel(x) * 4);
        const int lo[3] = {0, 2, 4}, hi[3] = {2, 4, 5};
        for (int k = 0; k < 3; k++) {
            ac_tensor *xs = ac_tensor_new4(hi[k] - lo[k], 3, 32, 32);
            memcpy(xs->data, x->data + lo[k] * per, ac_numel(xs) * 4);
            if (rec) ac_tensor_enable_grad(xs);
            ac_graph *gs = ac_graph_new(rec == 1);
            ac_tensor *ys = ac_net_forward(net, gs, xs, NULL);
            CHECK_MSG(memcmp(ys->data, y->data + lo[k] * per, ac_numel(ys) * 4) == 0,
                      "%s: images %d..%d differ from the batch's", rec ? "recording" : "inference",
                      lo[k], hi[k]);
            if (rec) {
                ac_backward(gs, ac_sum(gs, ys));
                CHECK_MSG(memcmp(xs->grad, dx + lo[k] * per, ac_numel(xs) * 4) == 0,
                          "input gradient of images %d..%d differs from the batch's", lo[k], hi[k]);
            }
            ac_graph_free(gs);
            ac_tensor_free(xs);
        }
        free(dx);
        ac_graph_free(g);
    }
    ac_tensor_free(x);
    ac_net_free(net);
}

// The backward of a 3x3 stride-1 convolution with and without Winograd (the switch the
// data-parallel trainer may use) agree to float rounding.
static void test_winograd_backward_switch(void) {
    ac_rng r;
    ac_rng_seed(&r, 10);
    ac_tensor *x = rand_t(&r, 2, 6, 13, 17, 1.0f), *w = rand_t(&r, 5, 6, 3, 3, 0.3f);
    ac_tensor *b = ac_tensor_new1(5);
    ac_tensor_enable_grad(x);
    ac_tensor_enable_grad(w);
    float *got[2][2];
    for (int on = 0; on < 2; on++) {
        ac_cpu_conv_set_winograd_backward(on == 1);
        ac_tensor_zero_grad(x);
        ac_tensor_zero_grad(w);
        ac_graph *g = ac_graph_new(true);
        ac_backward(g, ac_sum(g, ac_relu(g, ac_conv2d(g, x, w, b, 1, 1))));
        got[on][0] = malloc(ac_numel(x) * 4);
        got[on][1] = malloc(ac_numel(w) * 4);
        memcpy(got[on][0], x->grad, ac_numel(x) * 4);
        memcpy(got[on][1], w->grad, ac_numel(w) * 4);
        ac_graph_free(g);
    }
    ac_cpu_conv_set_winograd_backward(true);
    t_close("dx, Winograd on / off", got[1][0], got[0][0], ac_numel(x), 1e-5, 1e-5);
    t_close("dw, Winograd on / off", got[1][1], got[0][1], ac_numel(w), 1e-4, 1e-5);
    for (int on = 0; on < 2; on++) free(got[on][0]), free(got[on][1]);
    ac_tensor_free(x), ac_tensor_free(w), ac_tensor_free(b);
}

// The same with every kernel workspace filled with NaNs first: no result may depend on
// scratch a kernel did not write (padded copies, phase planes, lanes past a row).
static void test_kernels_poisoned(void) {
    ac_cpu_ws_set_poison(true);
    test_conv_kernels();
    test_deconv_kernel();
    ac_cpu_ws_set_poison(false);
}

int main(void) {
    ac_backend_cpu();
    RUN(test_conv_kernels);
    RUN(test_deconv_kernel);
    RUN(test_kernels_poisoned);
    RUN(test_graph_slices);
    RUN(test_blocks_fused);
    RUN(test_net_batch_invariance);
    RUN(test_winograd_backward_switch);
    return ac_test_finish();
}
