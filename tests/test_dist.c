// test_dist.c: data-parallel training's pieces (src/dist, the collective ops, the _dp steps).
// Run plainly (as CTest does) it checks the one-process world: collectives are identities,
// rank 0 of 1, and a data-parallel step over a "share" that is the whole batch computes
// exactly (bit for bit) what the plain step does. Run under mpirun (tests/cli_mpi.sh starts
// it with 3 ranks, so that shares differ in size) it checks the collectives across ranks and
// that for teacher, KC and KE steps the gradients summed over the ranks equal those of the
// whole batch in one process, and the losses are the same on every rank.
#include "dist/dist.h"
#include "dist/grad_sync.h"
#include "model/contrastive.h"
#include "ops/ops.h"
#include "testlib.h"
#include "testlib_kd.h"
#include "train/kd.h"
#include "train/vgg_load.h"

enum { S = 32, W = 4 };

static int rank, size;

static void test_world(void) {
    CHECK(ac_dist_rank() == rank && ac_dist_size() == size && rank < size);
    float v[3] = {1, 2, (float)rank};
    CHECK(ac_dist_allreduce_sum(v, 3) == AC_OK);
    CHECK(v[0] == (float)size && v[1] == 2.0f * size && v[2] == (float)(size * (size - 1) / 2));
    double d = 2.5;
    CHECK(ac_dist_allreduce_sum_double(&d, 1) == AC_OK && d == 2.5 * size);
    float out[64];
    float mine[2] = {(float)rank, 10.0f + rank};
    CHECK(ac_dist_allgather(mine, 2, out) == AC_OK);
    for (int r = 0; r < size; r++) CHECK(out[2 * r] == (float)r && out[2 * r + 1] == 10.0f + r);
    int b = rank == 0 ? 7 : 0;
    CHECK(ac_dist_broadcast(&b, sizeof b, 0) == AC_OK && b == 7);
    ac_dist_barrier();
    ac_dist_request *req;
    float w[5] = {1, 1, 1, 1, (float)rank};
    CHECK(ac_dist_iallreduce_sum(w, 5, &req) == AC_OK);
    CHECK(ac_dist_wait(req) == AC_OK);
    CHECK(w[0] == (float)size && w[4] == (float)(size * (size - 1) / 2));
    CHECK(ac_dist_local_size() >= 1 && ac_dist_local_size() <= size);
}

// Shares are contiguous, in rank order, cover everything, and differ by at most one.
static void test_share(void) {
    for (int total = 0; total < 20; total++)
        for (int n = 1; n <= 5; n++) {
            int expect = 0, lo, hi, mn = total, mx = 0;
            for (int r = 0; r < n; r++) {
                ac_dist_share(total, r, n, &lo, &hi);
                CHECK(lo == expect && hi >= lo);
                mn = AC_MIN(mn, hi - lo);
                mx = AC_MAX(mx, hi - lo);
                expect = hi;
            }
            CHECK(expect == total && mx - mn <= 1);
        }
}

// Uneven shares of a batch of 5 items of 3 floats are gathered in rank order.
static void test_allgather_batch(void) {
    const int B = 5;
    int lo, hi;
    ac_dist_share(B, rank, size, &lo, &hi);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *x = ac_graph_tensor(g, 2, (int[]){hi - lo, 3});
    for (int i = lo; i < hi; i++)
        for (int k = 0; k < 3; k++) x->data[(i - lo) * 3 + k] = (float)(i * 10 + k);
    ac_tensor *y = ac_allgather_batch(g, x, B);
    CHECK(y->shape[0] == B && y->shape[1] == 3);
    bool ok = true;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < 3; k++) ok &= y->data[i * 3 + k] == (float)(i * 10 + k);
    CHECK(ok);
    ac_graph_free(g);
}

// Forward: the sum over ranks, on every rank. Backward: the identity.
static void test_allreduce_scalar(void) {
    ac_graph *g = ac_graph_new(true);
    ac_tensor *x = ac_tensor_new(1, (int[]){1});
    ac_tensor_enable_grad(x);
    x->data[0] = 0.5f + (float)rank;
    ac_tensor *y = ac_allreduce_scalar(g, ac_scale(g, x, 2.0f));
    CHECK(y->data[0] == (float)(size * (size - 1) + size));
    ac_backward(g, ac_scale(g, y, 3.0f));
    CHECK_MSG(x->grad[0] == 6.0f, "dx %g", x->grad[0]);
    ac_graph_free(g);
    ac_tensor_free(x);
}

// Partial l1 means over parts add up to the whole; the pairwise form takes a and b of
// different batch sizes.
static void test_partial_means(void) {
    ac_rng r;
    ac_rng_seed(&r, 3);
    ac_graph *g = ac_graph_new(false);
    ac_tensor *a = t_rand4(&r, 5, 2, 3, 3, false), *b = t_rand4(&r, 5, 2, 3, 3, false);
    const double m = 18;
    ac_tensor *a1 = ac_slice(g, a, 0, 0, 2), *a2 = ac_slice(g, a, 0, 2, 5);
    ac_tensor *b1 = ac_slice(g, b, 0, 0, 2), *b2 = ac_slice(g, b, 0, 2, 5);
    float whole = ac_l1_mean(g, a, b)->data[0];
    float parts = ac_l1_mean_over(g, a1, b1, 5 * m)->data[0] + ac_l1_mean_over(g, a2, b2, 5 * m)->data[0];
    CHECK_MSG(fabsf(whole - parts) <= 1e-6f * whole, "l1 %.9g vs parts %.9g", whole, parts);
    float pw = ac_l1_pairwise_mean(g, a, b)->data[0];
    float pparts = ac_l1_pairwise_mean_over(g, a1, b, 25 * m)->data[0] +
                   ac_l1_pairwise_mean_over(g, a2, b, 25 * m)->data[0];
    CHECK_MSG(fabsf(pw - pparts) <= 1e-6f * pw, "pairwise %.9g vs parts %.9g", pw, pparts);
    // unequal batch sizes: the mean over 3 x 5 pairs, computed by hand
    double s = 0;
    for (int i = 2; i < 5; i++)
        for (int j = 0; j < 5; j++)
            for (int k = 0; k < 18; k++) s += fabs((double)a->data[i * 18 + k] - (double)b->data[j * 18 + k]);
    float got = ac_l1_pairwise_mean(g, a2, b)->data[0];
    CHECK_MSG(fabs(got - s / (15 * m)) <= 1e-6 * s / (15 * m), "pairwise 3x5 %.9g want %.9g", got, s / (15 * m));
    ac_graph_free(g);
    ac_tensor_free(a);
    ac_tensor_free(b);
}

// Gradients of tensors of several sizes are summed in buckets smaller than some tensors;
// tensors that do not learn are left alone.
static void test_grad_sync(void) {
    const int n = 5, sizes[5] = {3000, 10, 2500, 1, 700};
    ac_tensor *t[5];
    for (int i = 0; i < n; i++) {
        t[i] = ac_tensor_new(1, (int[]){sizes[i]});
        ac_tensor_enable_grad(t[i]);
        for (int k = 0; k < sizes[i]; k++) t[i]->grad[k] = (float)(rank + 1) * (float)(k % 7) + (float)i;
    }
    t[3]->requires_grad = false;
    ac_grad_sync *s = ac_grad_sync_new(4096);  // 1024 floats
    CHECK(ac_grad_sync_run(s, t, n) == AC_OK);
    const float ranks_sum = (float)(size * (size + 1) / 2);
    bool ok = true;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < sizes[i]; k++) {
            float want = i == 3 ? 1.0f * (float)(k % 7) * (float)(rank + 1) + 3.0f
                                : ranks_sum * (float)(k % 7) + (float)i * (float)size;
            ok &= t[i]->grad[k] == want;
        }
    CHECK(ok);
    if (size > 1) CHECK(ac_grad_sync_buckets(s) == 2);  // 700+2500 floats, then 10+3000
    ac_grad_sync_free(s);
    for (int i = 0; i < n; i++) ac_tensor_free(t[i]);
}

// Every rank fails together; only the lowest failing rank's message is its own.
static void test_agree(void) {
    CHECK(ac_dist_agree(AC_OK) == AC_OK);
    if (size == 1) {
        CHECK(ac_dist_agree(AC_ERR_IO) == AC_ERR_IO);
        return;
    }
    ac_status st = ac_dist_agree(rank == 1 ? AC_ERR_ARG : AC_OK);
    CHECK(st == AC_ERR_ARG);
    CHECK(ac_dist_failed_elsewhere() == (rank != 1));
    if (rank != 1) CHECK_MSG(strstr(ac_error_message(), "rank 1 stopped") != NULL, "%s", ac_error_message());
}

// ---- data-parallel steps against the one-process step ----

typedef struct setup {
    t_kd_models m;
    float *full;  // gradients of the whole batch in one process
    ac_tensor *in, *gt;
    int lo, hi;
    int types[5];
} setup;

enum { B = 5 };

static void setup_init(setup *k) {
    memset(k, 0, sizeof *k);
    t_kd_models_init(&k->m, W, true);
    size_t total = 0;
    for (int i = 0; i < k->m.n; i++) total += ac_numel(k->m.list[i]);
    k->full = ac_xmalloc(total * sizeof(float));
    // the global batch, the same on every rank: 4 items of type 0, 1 of type 1, so that with
    // 2 or more ranks some rank holds no item of type 1
    ac_rng r;
    ac_rng_seed(&r, 15);
    k->in = t_rand4(&r, B, 3, S, S, false);
    k->gt = t_rand4(&r, B, 3, S, S, false);
    for (int i = 0; i < B; i++) k->types[i] = i < 4 ? 0 : 1;
    ac_dist_share(B, rank, size, &k->lo, &k->hi);
}

static void setup_free(setup *k) {
    free(k->full);
    ac_tensor_free(k->in);
    ac_tensor_free(k->gt);
    t_kd_models_free(&k->m);
}

static void zero_grads(setup *k) {
    for (int i = 0; i < k->m.n; i++) ac_tensor_zero_grad(k->m.list[i]);
}

static void save_grads(setup *k) {
    size_t off = 0;
    for (int i = 0; i < k->m.n; i++) {
        size_t m = ac_numel(k->m.list[i]);
        memcpy(k->full + off, k->m.list[i]->grad, m * sizeof(float));
        off += m;
    }
}

// The summed gradients equal the one-process ones to float rounding, and the global losses
// are identical on every rank. Each tensor's largest difference is judged against the larger
// of its own largest entry and 1% of the model's largest gradient entry: a one-element tensor
// (a PReLU slope) is a sum over every pixel of the batch whose terms cancel, so its rounding
// error is set by the size of those terms, not by the small sum (the Winograd backward adds
// in the transform domain and shows this at ~1e-9 absolute). A missing or doubled share
// still moves any tensor by the order of its own entries, far past 2e-5.
static void compare(setup *k, const char *what, const ac_step_losses *whole, const ac_step_losses *dp) {
    size_t total = 0;
    for (int i = 0; i < k->m.n; i++) total += ac_numel(k->m.list[i]);
    double model_max = 0;
    for (size_t j = 0; j < total; j++) model_max = fmax(model_max, fabs(k->full[j]));
    size_t off = 0;
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < k->m.n; i++) {
        size_t m = ac_numel(k->m.list[i]);
        double mx = 0, d = 0;
        for (size_t j = 0; j < m; j++) {
            mx = fmax(mx, fabs(k->full[off + j]));
            d = fmax(d, fabs((double)k->m.list[i]->grad[j] - k->full[off + j]));
        }
        double scale = fmax(mx, 0.01 * model_max);
        double rel = scale > 0 ? d / scale : d;
        if (!(rel <= 2e-5)) {
            if (bad++ < 5)  // the first mismatches
                printf("    %s: parameter %d (%zu values): max abs diff %.3g, largest entry %.3g\n", what, i, m, d, mx);
        }
        worst = fmax(worst, rel);
        off += m;
    }
    CHECK_MSG(bad == 0, "%s: %d tensors' summed gradients differ from the whole batch's (worst %.3g)", what, bad, worst);
    const double *a = &whole->loss, *b = &dp->loss;
    for (int j = 0; j < 7; j++)
        CHECK_MSG(fabs(a[j] - b[j]) <= 1e-6 * fabs(a[j]), "%s: loss term %d: %.9g vs %.9g", what, j, a[j], b[j]);
    if (size == 1) {  // the same computation: bit for bit
        CHECK_MSG(worst == 0, "%s: one rank, gradients differ by %.3g", what, worst);
        CHECK_MSG(memcmp(whole, dp, sizeof *whole) == 0, "%s: one rank, the losses differ", what);
    }
    // every rank holds the same losses
    double l[7];
    memcpy(l, &dp->loss, sizeof l);
    double l0[7];
    memcpy(l0, l, sizeof l);
    CHECK(ac_dist_broadcast(l0, sizeof l0, 0) == AC_OK);
    CHECK_MSG(memcmp(l, l0, sizeof l) == 0, "%s: rank %d's losses differ from rank 0's", what, rank);
    printf("  %s on %d ranks: loss %.7f, worst relative gradient difference %.2g\n", what, size, dp->loss, worst);
}

typedef enum { TEACHER, KC, KE } stage;

static ac_status run_step(setup *k, stage s, ac_graph *g, ac_tensor *in, ac_tensor *gt, const int *types, int n,
                          int global_batch, ac_step_losses *l) {
    int counts[2] = {0, 0};
    for (int i = 0; i < n; i++) counts[types[i]]++;
    ac_kc_models m = {k->m.student, k->m.teachers, 2, k->m.ckt, k->m.vgg};
    switch (s) {
    case TEACHER: return ac_teacher_step_dp(k->m.student, g, in, gt, global_batch, l);
    case KC: return ac_kc_step_dp(&m, g, in, gt, counts, global_batch, l);
    default: return ac_ke_step_dp(k->m.student, k->m.vgg, g, in, gt, global_batch, l);
    }
}

static setup k;  // one for all stages (VGG19's random initialisation takes a while)

static void check_stage(stage s, const char *what) {
    ac_graph *g = ac_graph_new(true);
    ac_step_losses whole, dp;
    // the one-process step on the whole batch (no collective)
    zero_grads(&k);
    CHECK(run_step(&k, s, g, k.in, k.gt, k.types, B, 0, &whole) == AC_OK);
    save_grads(&k);
    // this rank's share, then the gradient sum
    ac_graph *sg = ac_graph_new(false);
    ac_tensor *in = ac_slice(sg, k.in, 0, k.lo, k.hi), *gt = ac_slice(sg, k.gt, 0, k.lo, k.hi);
    zero_grads(&k);
    CHECK(run_step(&k, s, g, in, gt, k.types + k.lo, k.hi - k.lo, B, &dp) == AC_OK);
    ac_grad_sync *sync = ac_grad_sync_new(AC_GRAD_SYNC_BUCKET_BYTES);
    CHECK(ac_grad_sync_run(sync, k.m.list, k.m.n) == AC_OK);
    compare(&k, what, &whole, &dp);
    ac_grad_sync_free(sync);
    ac_graph_free(sg);
    ac_graph_free(g);
}

static void test_teacher_step(void) { check_stage(TEACHER, "teacher"); }
static void test_kc_step(void) { check_stage(KC, "KC"); }
static void test_ke_step(void) { check_stage(KE, "KE"); }

int main(int argc, char **argv) {
    if (ac_dist_init(&argc, &argv) != AC_OK) {
        fprintf(stderr, "%s\n", ac_error_message());
        return 1;
    }
    rank = ac_dist_rank();
    size = ac_dist_size();
    if (size > 1) printf("rank %d of %d\n", rank, size);
    RUN(test_world);
    RUN(test_share);
    RUN(test_allgather_batch);
    RUN(test_allreduce_scalar);
    RUN(test_partial_means);
    RUN(test_grad_sync);
    setup_init(&k);
    RUN(test_teacher_step);
    RUN(test_kc_step);
    RUN(test_ke_step);
    setup_free(&k);
    RUN(test_agree);  // last: it leaves an error message behind
    int rc = ac_test_finish();
    ac_dist_finalize();
    return rc;
}
