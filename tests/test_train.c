// test_train.c: the training steps (src/train/kd.h) on tiny networks (width 4, 1 res block,
// 32x32 images): the loss of each stage falls under Adam; gradients reach exactly the tensors
// that should learn (student and CKT projectors get non-zero gradients; teachers and VGG19 get
// none and do not change); the loss terms add up; a non-finite loss stops before backward;
// the teachers, run side by side, give the same losses on any thread count.
#include "backend/backend.h"
#include "model/contrastive.h"
#include "ops/ops.h"
#include "optim/optim.h"
#include "testlib.h"
#include "testlib_kd.h"
#include "train/kd.h"
#include "train/vgg_load.h"

enum { S = 32, W = 4 };

// Smooth random images in [0, 1] and a "weathered" version: haze-like veil + a pattern that
// depends on the type, so the mapping is learnable.
static void make_batch(ac_rng *r, ac_tensor *input, ac_tensor *target, const int *types) {
    const int B = input->shape[0];
    for (int n = 0; n < B; n++)
        for (int c = 0; c < 3; c++) {
            float a = ac_rng_uniform(r), fx = 0.2f + 0.3f * ac_rng_uniform(r), fy = 0.2f + 0.3f * ac_rng_uniform(r);
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    size_t i = (((size_t)n * 3 + c) * S + y) * S + x;
                    float v = 0.5f + 0.4f * sinf(fx * x + fy * y + 6.0f * a);
                    target->data[i] = v;
                    float veil = types[n] == 0 ? 0.6f : 0.3f;
                    input->data[i] = types[n] == 0 ? 0.5f * v + veil * 0.5f : v * 0.8f + ((x + y) % 4 == 0 ? veil : 0.0f);
                }
        }
}

static ac_tensor **collect(ac_params *const *ps, int nps, int *n) {
    int total = 0;
    for (int i = 0; i < nps; i++) total += ps[i]->count;
    ac_tensor **list = ac_xmalloc(sizeof *list * (size_t)total);
    *n = 0;
    for (int i = 0; i < nps; i++)
        for (int k = 0; k < ps[i]->count; k++) list[(*n)++] = ps[i]->items[k].tensor;
    return list;
}

static bool any_nonzero(const float *g, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (g[i] != 0.0f) return true;
    return false;
}

// Every tensor of p has a gradient buffer with a non-zero entry; names the first offender.
static void check_all_grads(const char *what, const ac_params *p) {
    int missing = 0, zero = 0;
    for (int i = 0; i < p->count; i++) {
        const ac_tensor *t = p->items[i].tensor;
        if (!t->grad) {
            if (!missing++) fprintf(stderr, "  %s: %s has no gradient\n", what, p->items[i].name);
        } else if (!any_nonzero(t->grad, ac_numel(t))) {
            if (!zero++) fprintf(stderr, "  %s: %s has an all-zero gradient\n", what, p->items[i].name);
        }
    }
    CHECK_MSG(missing == 0 && zero == 0, "%s: %d tensors without gradient, %d with zero gradient (of %d)", what,
              missing, zero, p->count);
}

static void check_no_grads(const char *what, const ac_params *p) {
    int bad = 0;
    for (int i = 0; i < p->count; i++)
        if (p->items[i].tensor->grad || p->items[i].tensor->requires_grad) bad++;
    CHECK_MSG(bad == 0, "%s: %d tensors have gradients", what, bad);
}

// A copy of every value of p, to check later that nothing changed.
static float *snapshot(const ac_params *p) {
    size_t n = ac_params_numel(p), k = 0;
    float *s = ac_xmalloc(n * sizeof *s);
    for (int i = 0; i < p->count; i++) {
        size_t m = ac_numel(p->items[i].tensor);
        memcpy(s + k, p->items[i].tensor->data, m * sizeof *s);
        k += m;
    }
    return s;
}

static bool unchanged(const ac_params *p, const float *s) {
    size_t k = 0;
    for (int i = 0; i < p->count; i++) {
        size_t m = ac_numel(p->items[i].tensor);
        if (memcmp(s + k, p->items[i].tensor->data, m * sizeof *s)) return false;
        k += m;
    }
    return true;
}

static void test_teacher_loss_falls(void) {
    ac_net *net = t_tiny_net(W, 1);
    ac_params_set_trainable(ac_net_params(net), true);
    ac_params *ps[1] = {ac_net_params(net)};
    int n;
    ac_tensor **list = collect(ps, 1, &n);
    ac_adam *opt = ac_adam_new(0.9, 0.999, 1e-8, 0);
    ac_adam_add_group(opt, list, n, 2e-3);
    ac_rng r;
    ac_rng_seed(&r, 5);
    ac_tensor *in = ac_tensor_new4(3, 3, S, S), *gt = ac_tensor_new4(3, 3, S, S);
    const int types[3] = {0, 0, 0};
    ac_graph *g = ac_graph_new(true);
    double first = 0, last = 0;
    const int steps = 30;
    for (int s = 0; s < steps; s++) {
        make_batch(&r, in, gt, types);
        ac_adam_zero_grad(opt);
        ac_step_losses l;
        CHECK(ac_teacher_step(net, g, in, gt, &l) == AC_OK);
        CHECK(l.loss == l.l1 && l.t == 0 && l.hcr == 0);
        ac_adam_step(opt);
        if (s < 5) first += l.loss / 5;
        if (s >= steps - 5) last += l.loss / 5;
    }
    printf("  teacher L1: first 5 steps %.4f, last 5 %.4f\n", first, last);
    CHECK_MSG(last < 0.5 * first, "teacher loss fell from %.4f to %.4f only", first, last);
    ac_graph_free(g);
    ac_adam_free(opt);
    free(list);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    ac_net_free(net);
}

typedef struct kc_setup {
    t_kd_models m;
    ac_adam *opt;
    float *teacher_snap[2], *vgg_snap;
} kc_setup;

static void kc_setup_init(kc_setup *k, bool with_vgg) {
    memset(k, 0, sizeof *k);
    t_kd_models_init(&k->m, W, with_vgg);
    k->opt = ac_adam_new(0.9, 0.999, 1e-8, 0);
    ac_adam_add_group(k->opt, k->m.list, k->m.n, 1e-3);
    for (int t = 0; t < 2; t++) k->teacher_snap[t] = snapshot(ac_net_params(k->m.teachers[t]));
    if (k->m.vgg) k->vgg_snap = snapshot(k->m.vgg->params);
}

static void kc_setup_free(kc_setup *k) {
    ac_adam_free(k->opt);
    for (int t = 0; t < 2; t++) free(k->teacher_snap[t]);
    free(k->vgg_snap);
    t_kd_models_free(&k->m);
}

static void check_frozen(const kc_setup *k) {
    for (int t = 0; t < 2; t++) {
        check_no_grads("teacher", ac_net_params(k->m.teachers[t]));
        CHECK_MSG(unchanged(ac_net_params(k->m.teachers[t]), k->teacher_snap[t]), "teacher %d changed", t);
    }
    if (k->m.vgg) {
        check_no_grads("vgg", k->m.vgg->params);
        CHECK_MSG(unchanged(k->m.vgg->params, k->vgg_snap), "VGG19 changed");
    }
}

// One KC step with every term (VGG19 included) on a batch of 2 (one image per teacher).
static void test_kc_gradients_and_terms(void) {
    kc_setup k;
    kc_setup_init(&k, true);
    ac_rng r;
    ac_rng_seed(&r, 7);
    ac_tensor *in = ac_tensor_new4(2, 3, S, S), *gt = ac_tensor_new4(2, 3, S, S);
    const int types[2] = {0, 1}, counts[2] = {1, 1};
    make_batch(&r, in, gt, types);
    ac_graph *g = ac_graph_new(true);
    ac_kc_models m = {k.m.student, k.m.teachers, 2, k.m.ckt, k.m.vgg};
    ac_step_losses l;
    ac_adam_zero_grad(k.opt);
    CHECK(ac_kc_step(&m, g, in, gt, counts, &l) == AC_OK);
    printf("  KC: loss %.5f = T %.5f + PFE %.5f + PFV %.5f + SCR %.5f\n", l.loss, l.t, l.pfe, l.pfv, l.scr);
    CHECK(l.t > 0 && l.pfe > 0 && l.pfv > 0 && l.scr > 0 && l.l1 == 0 && l.hcr == 0);
    float sum = (float)l.t;
    sum += (float)l.pfe;
    sum += (float)l.pfv;
    sum += (float)l.scr;
    CHECK_MSG(sum == (float)l.loss, "loss %.9g != sum of terms %.9g", l.loss, (double)sum);
    check_all_grads("student", ac_net_params(k.m.student));
    check_all_grads("ckt", k.m.ckt->params);
    check_frozen(&k);
    // SCR term is 0.1 * SCRLoss(student output, target, input)
    {
        ac_graph *ig = ac_graph_new(false);
        ac_tensor *y = ac_net_forward(k.m.student, ig, in, NULL);
        ac_tensor *h = ac_scr_loss(ig, k.m.vgg, y, gt, in);
        CHECK_MSG(fabs(0.1 * h->data[0] - l.scr) <= 1e-6 * l.scr, "SCR term %.8g, 0.1 SCR %.8g", l.scr,
                  0.1 * h->data[0]);
        ac_graph_free(ig);
    }
    // after Adam steps the teachers and VGG19 are still as they were
    ac_adam_step(k.opt);
    ac_adam_zero_grad(k.opt);
    CHECK(ac_kc_step(&m, g, in, gt, counts, &l) == AC_OK);
    ac_adam_step(k.opt);
    check_frozen(&k);
    ac_graph_free(g);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    kc_setup_free(&k);
}

// KC without the contrastive term: T is the L1 distance to each teacher's output on its own
// part of the batch, and the loss falls over a few dozen steps.
static void test_kc_loss_falls(void) {
    kc_setup k;
    kc_setup_init(&k, false);
    ac_rng r;
    ac_rng_seed(&r, 9);
    ac_tensor *in = ac_tensor_new4(3, 3, S, S), *gt = ac_tensor_new4(3, 3, S, S);
    const int types[3] = {0, 0, 1}, counts[2] = {2, 1};
    make_batch(&r, in, gt, types);
    ac_graph *g = ac_graph_new(true);
    ac_kc_models m = {k.m.student, k.m.teachers, 2, k.m.ckt, NULL};
    ac_step_losses l;
    ac_adam_zero_grad(k.opt);
    CHECK(ac_kc_step(&m, g, in, gt, counts, &l) == AC_OK);
    CHECK(l.scr == 0 && (float)l.loss == (float)((float)((float)l.t + (float)l.pfe) + (float)l.pfv));
    check_all_grads("student", ac_net_params(k.m.student));
    check_all_grads("ckt", k.m.ckt->params);
    {
        ac_graph *ig = ac_graph_new(false);
        ac_tensor *a = ac_slice(ig, in, 0, 0, 2), *b = ac_slice(ig, in, 0, 2, 3);
        ac_tensor *ya = ac_net_forward(k.m.teachers[0], ig, a, NULL), *yb = ac_net_forward(k.m.teachers[1], ig, b, NULL);
        ac_tensor *ys = ac_net_forward(k.m.student, ig, in, NULL);
        double d = 0;
        size_t half = ac_numel(ya), n = ac_numel(ys);
        for (size_t i = 0; i < n; i++) d += fabs((double)ys->data[i] - (i < half ? ya->data[i] : yb->data[i - half]));
        d /= (double)n;
        CHECK_MSG(fabs(d - l.t) < 1e-5 * d, "T %.8g, by hand %.8g", l.t, d);
        ac_graph_free(ig);
    }
    double first = l.loss, last = 0;
    const int steps = 30;
    for (int s = 0; s < steps; s++) {
        ac_adam_step(k.opt);
        ac_adam_zero_grad(k.opt);
        CHECK(ac_kc_step(&m, g, in, gt, counts, &l) == AC_OK);
        if (s >= steps - 3) last += l.loss / 3;
    }
    printf("  KC: loss %.4f -> %.4f after %d steps\n", first, last, steps);
    CHECK_MSG(last < 0.5 * first, "KC loss fell from %.4f to %.4f only", first, last);
    check_frozen(&k);
    ac_graph_free(g);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    kc_setup_free(&k);
}

// One KE step with HCR (batch 2): student gradients, CKT untouched; then the loss falls
// without VGG19 over a few dozen steps.
static void test_ke_gradients_and_loss_falls(void) {
    kc_setup k;
    kc_setup_init(&k, true);
    ac_params_set_trainable(k.m.ckt->params, false);  // as the trainer does in KE
    float *ckt_snap = snapshot(k.m.ckt->params);
    ac_rng r;
    ac_rng_seed(&r, 8);
    ac_tensor *in = ac_tensor_new4(2, 3, S, S), *gt = ac_tensor_new4(2, 3, S, S);
    const int types[2] = {0, 1};
    make_batch(&r, in, gt, types);
    ac_graph *g = ac_graph_new(true);
    ac_step_losses l;
    ac_adam_zero_grad(k.opt);
    CHECK(ac_ke_step(k.m.student, k.m.vgg, g, in, gt, &l) == AC_OK);
    CHECK(l.l1 > 0 && l.hcr > 0 && l.t == 0 && l.pfe == 0 && l.scr == 0);
    CHECK((float)l.loss == (float)l.l1 + (float)l.hcr);
    {
        ac_graph *ig = ac_graph_new(false);
        ac_tensor *y = ac_net_forward(k.m.student, ig, in, NULL);
        ac_tensor *h = ac_hcr_loss(ig, k.m.vgg, y, gt, in);
        CHECK_MSG(fabs(0.2 * h->data[0] - l.hcr) <= 1e-6 * l.hcr, "HCR term %.8g, 0.2 HCR %.8g", l.hcr,
                  0.2 * h->data[0]);
        ac_graph_free(ig);
    }
    check_all_grads("student", ac_net_params(k.m.student));
    check_no_grads("ckt in KE", k.m.ckt->params);
    double first = 0, last = 0;
    const int steps = 30;
    for (int s = 0; s < steps; s++) {
        ac_adam_step(k.opt);
        ac_adam_zero_grad(k.opt);
        CHECK(ac_ke_step(k.m.student, NULL, g, in, gt, &l) == AC_OK);
        if (s == 0) first = l.loss;
        if (s >= steps - 3) last += l.loss / 3;
    }
    printf("  KE (L1): loss %.4f -> %.4f after %d steps\n", first, last, steps);
    CHECK_MSG(last < 0.5 * first, "KE loss fell from %.4f to %.4f only", first, last);
    CHECK_MSG(unchanged(k.m.ckt->params, ckt_snap), "CKT modules changed during KE");
    check_frozen(&k);
    free(ckt_snap);
    ac_graph_free(g);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    kc_setup_free(&k);
}

static void test_nonfinite_stops_before_backward(void) {
    ac_net *net = t_tiny_net(W, 3);
    ac_params_set_trainable(ac_net_params(net), true);
    ac_rng r;
    ac_rng_seed(&r, 4);
    ac_tensor *in = ac_tensor_new4(2, 3, S, S), *gt = ac_tensor_new4(2, 3, S, S);
    const int types[2] = {0, 0};
    make_batch(&r, in, gt, types);
    gt->data[17] = NAN;
    ac_graph *g = ac_graph_new(true);
    ac_step_losses l;
    CHECK(ac_teacher_step(net, g, in, gt, &l) == AC_ERR_NUMERIC);
    CHECK(strstr(ac_error_message(), "non-finite loss") != NULL);
    ac_tensor *w = ac_params_get(ac_net_params(net), "conv_input.conv2d.weight");
    CHECK_MSG(!any_nonzero(w->grad, ac_numel(w)), "backward ran despite the non-finite loss");
    ac_graph_free(g);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    ac_net_free(net);
}

// The teachers of a KC step run side by side on shares of the threads (kd.c): the loss terms,
// which depend on their outputs, are the same bit for bit on 1, 2 and 3 threads, with every
// teacher present and with one absent.
static void test_kc_teachers_side_by_side(void) {
    ac_net *student = t_tiny_net(W, 20), *teachers[3] = {t_tiny_net(W, 21), t_tiny_net(W, 22), t_tiny_net(W, 23)};
    ac_rng r;
    ac_rng_seed(&r, 24);
    ac_ckt *ckt = ac_ckt_new(W, 3, &r);
    ac_vgg19 *vgg = ac_vgg_random(25);
    ac_params_set_trainable(ac_net_params(student), true);
    ac_params_set_trainable(ckt->params, true);
    ac_tensor *in = ac_tensor_new4(3, 3, S, S), *gt = ac_tensor_new4(3, 3, S, S);
    const int types[3] = {0, 1, 1};
    make_batch(&r, in, gt, types);
    ac_kc_models m = {student, teachers, 3, ckt, vgg};
    const int counts[2][3] = {{1, 1, 1}, {2, 0, 1}};
    for (int c = 0; c < 2; c++) {
        ac_step_losses first = {0};
        for (int threads = 1; threads <= 3; threads++) {
            ac_set_threads(threads);
            ac_graph *g = ac_graph_new(true);
            ac_step_losses l;
            ac_params_zero_grad(ac_net_params(student));
            ac_params_zero_grad(ckt->params);
            CHECK(ac_kc_step(&m, g, in, gt, counts[c], &l) == AC_OK);
            if (threads == 1) first = l;
            CHECK_MSG(l.t == first.t && l.pfe == first.pfe && l.pfv == first.pfv && l.scr == first.scr,
                      "counts %d: %d threads: T %.9g PFE %.9g PFV %.9g SCR %.9g, 1 thread: %.9g %.9g %.9g %.9g",
                      c, threads, l.t, l.pfe, l.pfv, l.scr, first.t, first.pfe, first.pfv, first.scr);
            ac_graph_free(g);
        }
    }
    ac_set_threads(1);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    ac_vgg19_free(vgg);
    ac_ckt_free(ckt);
    for (int t = 0; t < 3; t++) ac_net_free(teachers[t]);
    ac_net_free(student);
}

int main(void) {
    // One thread: on these tiny tensors thread start-up and barriers cost more than the work
    // (and a busy machine makes spinning threads far slower still).
    ac_set_threads(1);
    RUN(test_teacher_loss_falls);
    RUN(test_kc_gradients_and_terms);
    RUN(test_kc_loss_falls);
    RUN(test_ke_gradients_and_loss_falls);
    RUN(test_nonfinite_stops_before_backward);
    RUN(test_kc_teachers_side_by_side);
    return ac_test_finish();
}
