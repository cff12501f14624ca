// test_ops.c: the non-convolution ops (reflection pad, PReLU, bilinear resize, 2x2 max pool,
// concat, slice/split, L1 mean, pairwise L1, scalar div): finite-difference gradient checks on
// small odd shapes, hand-computed values for the conventions (reflection indices, PReLU at 0,
// max-pool ties, resize taps), no gradient for frozen inputs, and reductions that give the
// same bits for 1 and 2 threads.
#include "backend/backend.h"
#include "ops/ops.h"
#include "testlib.h"

// ---- helpers ----------------------------------------------------------------------------

static ac_tensor *rand_nd(ac_rng *r, int ndim, const int *shape, bool grad) {
    ac_tensor *t = ac_tensor_new(ndim, shape);
    t_fill_uniform(r, t->data, ac_numel(t), -1.0f, 1.0f);
    if (grad) ac_tensor_enable_grad(t);
    return t;
}

static ac_tensor *scalar(float v, bool grad) {
    ac_tensor *t = ac_tensor_new1(1);
    t->data[0] = v;
    if (grad) ac_tensor_enable_grad(t);
    return t;
}

static void free_all(ac_tensor **ts, int n) {
    for (int i = 0; i < n; i++) ac_tensor_free(ts[i]);
}

// Moves values away from 0 so that finite differences never straddle a kink.
static void away_from_zero(ac_tensor *t, float margin) {
    for (size_t i = 0; i < ac_numel(t); i++)
        if (fabsf(t->data[i]) < margin) t->data[i] = t->data[i] < 0 ? -2 * margin : 2 * margin;
}

#define GC_H 1e-3f
#define GC_TOL 1e-2
#define GC_MAX 300

// ---- reflection pad ---------------------------------------------------------------------

typedef struct { int top, bottom, left, right; } pad_cfg;

static ac_tensor *build_pad(ac_graph *g, ac_tensor **in, void *ctx) {
    pad_cfg *c = ctx;
    return ac_reflection_pad(g, in[0], c->top, c->bottom, c->left, c->right);
}

static void test_reflection_pad_values(void) {
    // one row 0..4 padded by (left 4, right 4): the mirror never repeats the edge
    ac_tensor *x = ac_tensor_new4(1, 1, 2, 5);
    for (int i = 0; i < 10; i++) x->data[i] = (float)i;
    ac_graph *g = ac_graph_new(false);
    ac_tensor *y = ac_reflection_pad(g, x, 1, 1, 4, 4);
    CHECK(y->shape[2] == 4 && y->shape[3] == 13);
    // rows: reflect(-1) = 1, 0, 1, reflect(2) = 0
    const float want_row0[13] = {9, 8, 7, 6, 5, 6, 7, 8, 9, 8, 7, 6, 5};
    const float want_row1[13] = {4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0};
    t_close("pad row -1", y->data, want_row0, 13, 0, 0);
    t_close("pad row 0", y->data + 13, want_row1, 13, 0, 0);
    t_close("pad row 1", y->data + 26, want_row0, 13, 0, 0);
    t_close("pad row 2", y->data + 39, want_row1, 13, 0, 0);
    ac_graph_free(g);
    ac_tensor_free(x);
}

static void test_reflection_pad_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 11);
    const pad_cfg cfgs[] = {{1, 1, 1, 1}, {3, 0, 4, 2}, {2, 3, 0, 4}};  // pad = side - 1 included
    for (int k = 0; k < 3; k++) {
        ac_tensor *x = t_rand4(&r, 2, 3, 4, 5, true);
        pad_cfg c = cfgs[k];
        t_gradcheck("reflection_pad", build_pad, &x, 1, &c, GC_H, GC_TOL, GC_MAX);
        ac_tensor_free(x);
    }
}

// ---- PReLU -----------------------------------------------------------------------------

static ac_tensor *build_prelu(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_prelu(g, in[0], in[1]);
}

static void test_prelu_values(void) {
    // x == 0 takes the slope branch: dx = slope dy, as in PyTorch
    ac_tensor *x = ac_tensor_new1(3), *w = scalar(0.25f, true);
    x->data[0] = -1.0f; x->data[1] = 0.0f; x->data[2] = 2.0f;
    ac_tensor_enable_grad(x);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *y = ac_prelu(g, x, w);
    const float seed[3] = {1.0f, 3.0f, 5.0f};
    ac_backward_seeded(g, y, seed);
    const float want_y[3] = {-0.25f, 0.0f, 2.0f}, want_dx[3] = {0.25f, 0.75f, 5.0f};
    t_close("prelu y", y->data, want_y, 3, 0, 0);
    t_close("prelu dx", x->grad, want_dx, 3, 0, 0);
    CHECK(w->grad[0] == -1.0f);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(w);
}

static void test_prelu_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 12);
    ac_tensor *in[2] = {t_rand4(&r, 2, 3, 5, 7, true), scalar(0.25f, true)};
    away_from_zero(in[0], 0.01f);
    t_gradcheck("prelu", build_prelu, in, 2, NULL, GC_H, GC_TOL, GC_MAX);
    // frozen slope: only x learns; frozen x: only the slope learns
    ac_tensor *frozen_w = scalar(-0.3f, false);
    ac_tensor *in2[2] = {in[0], frozen_w};
    t_gradcheck("prelu frozen slope", build_prelu, in2, 2, NULL, GC_H, GC_TOL, GC_MAX);
    CHECK(frozen_w->grad == NULL);
    ac_tensor *xf = t_rand4(&r, 1, 2, 3, 3, false);
    away_from_zero(xf, 0.01f);
    ac_tensor *in3[2] = {xf, in[1]};
    t_gradcheck("prelu frozen x", build_prelu, in3, 2, NULL, GC_H, GC_TOL, GC_MAX);
    CHECK(xf->grad == NULL);
    free_all(in, 2);
    ac_tensor_free(frozen_w);
    ac_tensor_free(xf);
}

// ---- bilinear resize -------------------------------------------------------------------

typedef struct { int oh, ow; } size_cfg;

static ac_tensor *build_resize(ac_graph *g, ac_tensor **in, void *ctx) {
    size_cfg *c = ctx;
    return ac_resize_bilinear(g, in[0], c->oh, c->ow);
}

static void test_resize_values(void) {
    // 2 -> 4 along w: scale 0.5, sources 0 (clamped), 0.25, 0.75, 1.25 -> i0 1, i1 clamped to 1
    ac_tensor *x = ac_tensor_new4(1, 1, 1, 2);
    x->data[0] = 1.0f;
    x->data[1] = 3.0f;
    ac_graph *g = ac_graph_new(false);
    ac_tensor *y = ac_resize_bilinear(g, x, 1, 4);
    const float want[4] = {1.0f, 1.5f, 2.5f, 3.0f};
    t_close("resize 2->4", y->data, want, 4, 1e-7, 0);
    // same size is the identity
    ac_tensor *z = ac_resize_bilinear(g, x, 1, 2);
    t_close("resize identity", z->data, x->data, 2, 0, 0);
    // 5 -> 2: scale 2.5, sources 0.75 and 3.25
    ac_tensor *x5 = ac_tensor_new4(1, 1, 5, 1);
    for (int i = 0; i < 5; i++) x5->data[i] = (float)(i * i);
    ac_tensor *d = ac_resize_bilinear(g, x5, 2, 1);
    const float want_d[2] = {0.25f * 0 + 0.75f * 1, 0.75f * 9 + 0.25f * 16};
    t_close("resize 5->2", d->data, want_d, 2, 1e-6, 0);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(x5);
}

static void test_resize_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 13);
    // up and down with non-integer ratios, 2n+1 -> 2n, one axis unchanged
    const int in_hw[][2] = {{3, 5}, {7, 4}, {9, 9}, {11, 6}, {5, 13}};
    const size_cfg out[] = {{8, 11}, {16, 3}, {8, 8}, {4, 6}, {2, 17}};
    for (int k = 0; k < 5; k++) {
        ac_tensor *x = t_rand4(&r, 2, 2, in_hw[k][0], in_hw[k][1], true);
        size_cfg c = out[k];
        t_gradcheck("resize_bilinear", build_resize, &x, 1, &c, GC_H, GC_TOL, GC_MAX);
        ac_tensor_free(x);
    }
}

// ---- max pool --------------------------------------------------------------------------

static ac_tensor *build_maxpool(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_maxpool2x2(g, in[0]);
}

static void test_maxpool_values(void) {
    // ties: the first maximum in scan order gets the gradient; odd trailing row/col dropped
    ac_tensor *x = ac_tensor_new4(1, 1, 3, 5);
    const float v[15] = {1, 1, 0, 2, 7,
                         1, 1, 2, 2, 7,
                         9, 9, 9, 9, 9};
    for (int i = 0; i < 15; i++) x->data[i] = v[i];
    ac_tensor_enable_grad(x);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *y = ac_maxpool2x2(g, x);
    CHECK(y->shape[2] == 1 && y->shape[3] == 2);
    const float want_y[2] = {1, 2};
    t_close("maxpool y", y->data, want_y, 2, 0, 0);
    const float seed[2] = {10, 20};
    ac_backward_seeded(g, y, seed);
    const float want_dx[15] = {10, 0, 0, 20, 0,
                               0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0};
    t_close("maxpool dx", x->grad, want_dx, 15, 0, 0);
    ac_graph_free(g);
    ac_tensor_free(x);
}

// Rows wide enough for the vector path: values from a few levels (ties) and some NaNs, against
// the scan-order rule (a value replaces the maximum when greater or NaN), bit for bit.
static void test_maxpool_wide(void) {
    ac_rng r;
    ac_rng_seed(&r, 21);
    const int c = 3, h = 7, w = 75, oh = h / 2, ow = w / 2;
    ac_tensor *x = ac_tensor_new4(2, c, h, w);
    const size_t n = ac_numel(x);
    for (size_t i = 0; i < n; i++) x->data[i] = (float)(int)(ac_rng_uniform(&r) * 4.0f) - 1.5f;
    for (size_t i = 7; i < n; i += 97) x->data[i] = NAN;
    ac_graph *g = ac_graph_new(false);
    ac_tensor *y = ac_maxpool2x2(g, x);
    int bad = 0;
    for (int p = 0; p < 2 * c; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *q = x->data + ((size_t)p * h + 2 * oy) * w + 2 * ox;
                const float v[4] = {q[0], q[1], q[w], q[w + 1]};
                float m = v[0];
                for (int k = 1; k < 4; k++)
                    if (v[k] > m || isnan(v[k])) m = v[k];
                const float got = y->data[((size_t)p * oh + oy) * ow + ox];
                if (memcmp(&got, &m, sizeof m) != 0 && bad++ < 5)
                    fprintf(stderr, "  maxpool wide [%d][%d][%d]: got %g want %g\n", p, oy, ox, got, m);
            }
    CHECK_MSG(bad == 0, "maxpool wide: %d of %d windows differ", bad, 2 * c * oh * ow);
    ac_graph_free(g);
    ac_tensor_free(x);
}

static void test_maxpool_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 14);
    const int hw[][2] = {{4, 6}, {5, 7}, {2, 3}};
    for (int k = 0; k < 3; k++) {
        ac_tensor *x = ac_tensor_new4(2, 3, hw[k][0], hw[k][1]);
        // distinct values 0.01 apart, shuffled: no near-ties for the finite differences
        size_t n = ac_numel(x);
        for (size_t i = 0; i < n; i++) x->data[i] = 0.01f * (float)i - 0.5f;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = ac_rng_below(&r, i + 1);
            float t = x->data[i]; x->data[i] = x->data[j]; x->data[j] = t;
        }
        ac_tensor_enable_grad(x);
        t_gradcheck("maxpool2x2", build_maxpool, &x, 1, NULL, GC_H, GC_TOL, GC_MAX);
        ac_tensor_free(x);
    }
}

// ---- concat, slice, split --------------------------------------------------------------

static ac_tensor *build_concat(ac_graph *g, ac_tensor **in, void *ctx) {
    return ac_concat(g, in, 3, *(int *)ctx);
}

static void test_concat_values(void) {
    ac_tensor *a = ac_tensor_new4(2, 1, 1, 2), *b = ac_tensor_new4(2, 2, 1, 2);
    for (int i = 0; i < 4; i++) a->data[i] = (float)i;
    for (int i = 0; i < 8; i++) b->data[i] = 10.0f + (float)i;
    ac_graph *g = ac_graph_new(false);
    ac_tensor *xs[2] = {a, b};
    ac_tensor *y = ac_concat(g, xs, 2, 1);
    CHECK(y->shape[0] == 2 && y->shape[1] == 3);
    const float want[12] = {0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17};
    t_close("concat dim 1", y->data, want, 12, 0, 0);
    ac_tensor *s = ac_slice(g, y, 1, 1, 3);
    t_close("slice of concat", s->data, b->data, 8, 0, 0);
    ac_tensor *first, *second;
    ac_split_channels(g, ac_slice(g, y, 1, 1, 3), &first, &second);
    const float want_first[4] = {10, 11, 14, 15}, want_second[4] = {12, 13, 16, 17};
    t_close("split first", first->data, want_first, 4, 0, 0);
    t_close("split second", second->data, want_second, 4, 0, 0);
    ac_tensor *b0 = ac_slice(g, b, 0, 1, 2);
    t_close("slice dim 0", b0->data, b->data + 4, 4, 0, 0);
    ac_graph_free(g);
    ac_tensor_free(a);
    ac_tensor_free(b);
}

static void test_concat_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 15);
    int dim = 1;
    ac_tensor *c1[3] = {t_rand4(&r, 2, 1, 3, 5, true), t_rand4(&r, 2, 3, 3, 5, false),
                        t_rand4(&r, 2, 2, 3, 5, true)};
    t_gradcheck("concat dim 1", build_concat, c1, 3, &dim, GC_H, GC_TOL, GC_MAX);
    CHECK(c1[1]->grad == NULL);
    dim = 0;
    ac_tensor *c0[3] = {t_rand4(&r, 1, 2, 3, 3, true), t_rand4(&r, 3, 2, 3, 3, true),
                        t_rand4(&r, 2, 2, 3, 3, true)};
    t_gradcheck("concat dim 0", build_concat, c0, 3, &dim, GC_H, GC_TOL, GC_MAX);
    free_all(c1, 3);
    free_all(c0, 3);
}

typedef struct { int dim, start, end; } slice_cfg;

static ac_tensor *build_slice(ac_graph *g, ac_tensor **in, void *ctx) {
    slice_cfg *c = ctx;
    // two overlapping slices summed, so the backward must accumulate
    ac_tensor *a = ac_slice(g, in[0], c->dim, c->start, c->end);
    ac_tensor *b = ac_slice(g, in[0], c->dim, c->start + 1, c->end + 1);
    return ac_add(g, a, ac_scale(g, b, 2.0f));
}

static ac_tensor *build_split(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    ac_tensor *a, *b;
    ac_split_channels(g, in[0], &a, &b);
    return ac_sub(g, ac_scale(g, a, 3.0f), b);
}

static void test_slice_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 16);
    ac_tensor *x = t_rand4(&r, 3, 5, 2, 3, true);
    slice_cfg c1 = {1, 1, 4}, c0 = {0, 0, 2};
    t_gradcheck("slice dim 1", build_slice, &x, 1, &c1, GC_H, GC_TOL, GC_MAX);
    t_gradcheck("slice dim 0", build_slice, &x, 1, &c0, GC_H, GC_TOL, GC_MAX);
    ac_tensor *y = t_rand4(&r, 2, 6, 3, 1, true);
    t_gradcheck("split_channels", build_split, &y, 1, NULL, GC_H, GC_TOL, GC_MAX);
    ac_tensor_free(x);
    ac_tensor_free(y);
}

// ---- L1 losses and div -----------------------------------------------------------------

// The means are scaled by the element count so that their gradients are O(1): the gradient
// checker's tolerance is absolute for small gradients.
static ac_tensor *build_l1(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_scale(g, ac_l1_mean(g, in[0], in[1]), (float)ac_numel(in[0]));
}

static ac_tensor *build_pairwise(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_scale(g, ac_l1_pairwise_mean(g, in[0], in[1]), (float)ac_numel(in[0]));
}

static ac_tensor *build_div(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_div(g, in[0], in[1]);
}

// Redraws b until every |a_i - b_j| (over all item pairs when pairs, else matching items)
// is at least margin, so finite differences never straddle the kink of |.|.
static void separate(ac_rng *r, const ac_tensor *a, ac_tensor *b, bool pairs, float margin) {
    int batch = a->shape[0];
    size_t m = ac_numel(a) / (size_t)batch;
    for (int j = 0; j < batch; j++)
        for (size_t k = 0; k < m; k++) {
            for (int tries = 0; tries < 1000; tries++) {
                bool ok = true;
                for (int i = 0; i < batch; i++) {
                    if (!pairs && i != j) continue;
                    if (fabsf(a->data[(size_t)i * m + k] - b->data[(size_t)j * m + k]) < margin) ok = false;
                }
                if (ok) break;
                b->data[(size_t)j * m + k] = -1.0f + 2.0f * ac_rng_uniform(r);
            }
        }
}

static void test_l1_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 17);
    ac_tensor *in[2] = {t_rand4(&r, 2, 3, 4, 5, true), t_rand4(&r, 2, 3, 4, 5, true)};
    separate(&r, in[0], in[1], false, 0.01f);
    t_gradcheck("l1_mean", build_l1, in, 2, NULL, GC_H, GC_TOL, GC_MAX);
    // a target that needs no gradient gets none
    ac_tensor *target = ac_tensor_clone(in[1]);
    ac_tensor *in2[2] = {in[0], target};
    t_gradcheck("l1_mean frozen target", build_l1, in2, 2, NULL, GC_H, GC_TOL, GC_MAX);
    CHECK(target->grad == NULL);
    // equal elements contribute no gradient (sign(0) = 0)
    ac_graph *g = ac_graph_new(true);
    ac_tensor_zero_grad(in[0]);
    ac_backward(g, ac_l1_mean(g, in[0], in[0]));
    float zero[120] = {0};
    t_close("l1 of equal tensors", in[0]->grad, zero, 120, 0, 0);
    ac_graph_free(g);
    free_all(in, 2);
    ac_tensor_free(target);
}

static void test_pairwise(void) {
    ac_rng r;
    ac_rng_seed(&r, 18);
    const int shape[3] = {3, 4, 5};
    ac_tensor *in[2] = {rand_nd(&r, 3, shape, true), rand_nd(&r, 3, shape, true)};
    separate(&r, in[0], in[1], true, 0.01f);
    // value against the materialised mean over all pairs
    ac_graph *g = ac_graph_new(false);
    float got = ac_l1_pairwise_mean(g, in[0], in[1])->data[0];
    ac_graph_free(g);
    double want = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 20; k++) want += fabs((double)in[0]->data[i * 20 + k] - in[1]->data[j * 20 + k]);
    want /= 180.0;
    CHECK_MSG(fabs(got - want) < 1e-6, "pairwise %.9g want %.9g", got, want);
    t_gradcheck("l1_pairwise", build_pairwise, in, 2, NULL, GC_H, GC_TOL, GC_MAX);
    ac_tensor *neg = ac_tensor_clone(in[1]);
    ac_tensor *in2[2] = {in[0], neg};
    t_gradcheck("l1_pairwise frozen b", build_pairwise, in2, 2, NULL, GC_H, GC_TOL, GC_MAX);
    CHECK(neg->grad == NULL);
    // batch 1 is the plain L1 mean
    const int one[3] = {1, 7, 3};
    ac_tensor *a1 = rand_nd(&r, 3, one, false), *b1 = rand_nd(&r, 3, one, false);
    g = ac_graph_new(false);
    float p1 = ac_l1_pairwise_mean(g, a1, b1)->data[0], l1 = ac_l1_mean(g, a1, b1)->data[0];
    CHECK(p1 == l1);
    ac_graph_free(g);
    free_all(in, 2);
    ac_tensor_free(neg);
    ac_tensor_free(a1);
    ac_tensor_free(b1);
}

static ac_tensor *build_pairwise_over(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_l1_pairwise_mean_over(g, in[0], in[1], 10.0);
}

static ac_tensor *build_l1_over(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    return ac_l1_mean_over(g, in[0], in[1], 10.0);
}

// a of batch 2 against b of batch 3 (data-parallel HCR: local anchors, all negatives), and the
// "over a count" forms: sum / count, their gradients by finite differences.
static void test_pairwise_unequal(void) {
    ac_rng r;
    ac_rng_seed(&r, 19);
    const int sa[3] = {2, 4, 5}, sb[3] = {3, 4, 5};
    ac_tensor *in[2] = {rand_nd(&r, 3, sa, true), rand_nd(&r, 3, sb, true)};
    for (int j = 0; j < 3; j++)  // keep every |a_i - b_j| away from the kink
        for (int k = 0; k < 20; k++)
            for (int tries = 0; tries < 1000; tries++) {
                bool ok = true;
                for (int i = 0; i < 2; i++) ok &= fabsf(in[0]->data[i * 20 + k] - in[1]->data[j * 20 + k]) >= 0.01f;
                if (ok) break;
                in[1]->data[j * 20 + k] = -1.0f + 2.0f * ac_rng_uniform(&r);
            }
    ac_graph *g = ac_graph_new(false);
    float got = ac_l1_pairwise_mean(g, in[0], in[1])->data[0];
    float over = ac_l1_pairwise_mean_over(g, in[0], in[1], 10.0)->data[0];
    ac_graph_free(g);
    double sum = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 20; k++) sum += fabs((double)in[0]->data[i * 20 + k] - in[1]->data[j * 20 + k]);
    CHECK_MSG(fabs(got - sum / 120.0) < 1e-6, "pairwise 2x3 %.9g want %.9g", got, sum / 120.0);
    CHECK_MSG(fabs(over - sum / 10.0) < 1e-5, "pairwise over 10: %.9g want %.9g", over, sum / 10.0);
    t_gradcheck("l1_pairwise 2 x 3", build_pairwise, in, 2, NULL, GC_H, GC_TOL, GC_MAX);
    t_gradcheck("l1_pairwise_over 2 x 3", build_pairwise_over, in, 2, NULL, GC_H, GC_TOL, GC_MAX);
    ac_tensor *b2 = rand_nd(&r, 3, sa, true);
    separate(&r, in[0], b2, false, 0.01f);
    ac_tensor *in2[2] = {in[0], b2};
    t_gradcheck("l1_mean_over", build_l1_over, in2, 2, NULL, GC_H, GC_TOL, GC_MAX);
    free_all(in, 2);
    ac_tensor_free(b2);
}

static void test_div_grad(void) {
    ac_tensor *in[2] = {scalar(0.7f, true), scalar(-1.3f, true)};
    t_gradcheck("div", build_div, in, 2, NULL, GC_H, 1e-3, GC_MAX);
    ac_tensor *b = scalar(2.5f, false);
    ac_tensor *in2[2] = {in[0], b};
    t_gradcheck("div frozen b", build_div, in2, 2, NULL, GC_H, 1e-3, GC_MAX);
    CHECK(b->grad == NULL);
    ac_graph *g = ac_graph_new(false);
    CHECK(ac_div(g, in[0], b)->data[0] == 0.7f / 2.5f);
    ac_graph_free(g);
    free_all(in, 2);
    ac_tensor_free(b);
}

// ---- composition and determinism --------------------------------------------------------

// A chain through every op, as the network and the losses use them.
static ac_tensor *build_chain(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    ac_tensor *p = ac_reflection_pad(g, in[0], 1, 2, 2, 1);           // (2, 4, 8, 9)
    ac_tensor *a, *b;
    ac_split_channels(g, ac_prelu(g, p, in[1]), &a, &b);             // (2, 2, 8, 9) x2
    ac_tensor *m = ac_maxpool2x2(g, a);                              // (2, 2, 4, 4)
    ac_tensor *u = ac_resize_bilinear(g, m, 8, 9);                   // (2, 2, 8, 9)
    ac_tensor *xs[3] = {u, b, u};
    ac_tensor *c = ac_concat(g, xs, 3, 1);                           // (2, 6, 8, 9)
    ac_tensor *top = ac_slice(g, c, 1, 0, 3), *bot = ac_slice(g, c, 1, 3, 6);
    ac_tensor *num = ac_l1_mean(g, top, bot);
    ac_tensor *den = ac_add_const(g, ac_l1_pairwise_mean(g, top, bot), 1e-7f);
    return ac_div(g, num, den);
}

static void test_chain_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 19);
    ac_tensor *in[2] = {t_rand4(&r, 2, 4, 5, 6, true), scalar(0.25f, true)};
    away_from_zero(in[0], 0.01f);
    t_gradcheck("chain", build_chain, in, 2, NULL, GC_H, 2e-2, 100);
    free_all(in, 2);
}

static void test_threads_same_bits(void) {
    ac_rng r;
    ac_rng_seed(&r, 20);
    const int shape[2] = {4, 300000};
    ac_tensor *a = rand_nd(&r, 2, shape, false), *b = rand_nd(&r, 2, shape, false);
    size_t n = ac_numel(a);
    const ac_backend *be = ac_be();
    int saved = ac_get_threads();
    float l1[2], pw[2], ds[2];
    float *da[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    float *db[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    for (int t = 0; t < 2; t++) {
        ac_set_threads(t + 1);
        memset(da[t], 0, n * sizeof(float));
        memset(db[t], 0, n * sizeof(float));
        l1[t] = be->l1_mean_forward(n, a->data, b->data, (double)n);
        pw[t] = be->l1_pairwise_forward(4, 4, n / 4, a->data, b->data, (double)n * 4);
        be->l1_pairwise_backward(4, 4, n / 4, a->data, b->data, 0.5f, (double)n * 4, da[t], db[t]);
        ds[t] = 0;
        be->prelu_backward(n, 0.25f, a->data, b->data, NULL, &ds[t]);
    }
    ac_set_threads(saved);
    CHECK(l1[0] == l1[1] && pw[0] == pw[1] && ds[0] == ds[1]);
    CHECK(memcmp(da[0], da[1], n * sizeof(float)) == 0 && memcmp(db[0], db[1], n * sizeof(float)) == 0);
    // the double sums agree with a plain loop
    double s = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        s += fabs((double)a->data[i] - (double)b->data[i]);
        if (!(a->data[i] > 0)) d += (double)a->data[i] * b->data[i];
    }
    CHECK_MSG(fabs(l1[0] - s / (double)n) < 1e-6, "l1 %.9g vs %.9g", l1[0], s / (double)n);
    CHECK_MSG(fabs(ds[0] - d) < 1e-3, "dslope %.9g vs %.9g", ds[0], d);
    for (int t = 0; t < 2; t++) {
        free(da[t]);
        free(db[t]);
    }
    ac_tensor_free(a);
    ac_tensor_free(b);
}

int main(void) {
    RUN(test_reflection_pad_values);
    RUN(test_reflection_pad_grad);
    RUN(test_prelu_values);
    RUN(test_prelu_grad);
    RUN(test_resize_values);
    RUN(test_resize_grad);
    RUN(test_maxpool_values);
    RUN(test_maxpool_wide);
    RUN(test_maxpool_grad);
    RUN(test_concat_values);
    RUN(test_concat_grad);
    RUN(test_slice_grad);
    RUN(test_l1_grad);
    RUN(test_pairwise);
    RUN(test_pairwise_unequal);
    RUN(test_div_grad);
    RUN(test_chain_grad);
    RUN(test_threads_same_bits);
    return ac_test_finish();
}
