// test_core.c: arena, graph bookkeeping, RNG, the elementwise ops with gradient checks, and
// running independent jobs on shares of the threads (ac_run_jobs).
#include "backend/backend.h"
#include "backend/cpu/im2col.h"
#include "ops/ops.h"
#include "testlib.h"
#include "core/arena.h"

static void test_arena(void) {
    ac_arena *a = ac_arena_new(1 << 20);
    void *p = ac_arena_alloc(a, 10);
    void *q = ac_arena_alloc(a, 3 << 20);  // forces a second chunk
    CHECK(((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0);
    CHECK(ac_arena_used(a) >= (3u << 20));
    ac_arena_reset(a);
    CHECK(ac_arena_used(a) == 0);
    void *r = ac_arena_alloc(a, 3 << 20);  // fits the merged chunk
    CHECK(r != NULL && ac_arena_peak(a) >= (3u << 20));
    ac_arena_free(a);
}

static void test_rng(void) {
    ac_rng a, b;
    ac_rng_seed(&a, 42);
    ac_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(ac_rng_next(&a) == ac_rng_next(&b));
    ac_rng saved = a;
    uint64_t x = ac_rng_next(&a);
    a = saved;
    CHECK(ac_rng_next(&a) == x);
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++) {
        double v = ac_rng_normal(&a);
        s += v;
        s2 += v * v;
    }
    CHECK(fabs(s / 20000) < 0.05 && fabs(s2 / 20000 - 1.0) < 0.05);
    float lo = 1, hi = 0;
    for (int i = 0; i < 10000; i++) {
        float u = ac_rng_uniform(&a);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    CHECK(lo >= 0.0f && lo < 0.01f && hi < 1.0f && hi > 0.99f);
    for (int i = 0; i < 1000; i++) CHECK(ac_rng_below(&a, 7) < 7);
}

static ac_tensor *build_elementwise(ac_graph *g, ac_tensor **in, void *ctx) {
    (void)ctx;
    ac_tensor *s = ac_add(g, in[0], in[1]);
    ac_tensor *d = ac_sub(g, s, ac_scale(g, in[1], 3.0f));
    return ac_relu(g, ac_add_const(g, d, 0.25f));
}

static void test_elementwise_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 7);
    ac_tensor *in[2] = {t_rand4(&r, 2, 3, 4, 5, true), t_rand4(&r, 2, 3, 4, 5, true)};
    t_gradcheck("elementwise", build_elementwise, in, 2, NULL, 1e-3f, 1e-2, 200);
    ac_tensor_free(in[0]);
    ac_tensor_free(in[1]);
}

static void test_frozen_inputs_get_no_grad(void) {
    ac_rng r;
    ac_rng_seed(&r, 8);
    ac_tensor *x = t_rand4(&r, 1, 2, 3, 3, true);
    ac_tensor *frozen = t_rand4(&r, 1, 2, 3, 3, false);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *loss = ac_sum(g, ac_add(g, x, frozen));
    CHECK(loss->requires_grad);
    ac_backward(g, loss);
    CHECK(frozen->grad == NULL);
    CHECK(x->grad[0] == 1.0f && x->grad[17] == 1.0f);
    // Ops on tensors that need no gradient record nothing.
    size_t nodes = ac_graph_node_count(g);
    ac_tensor *c = ac_relu(g, frozen);
    CHECK(!c->requires_grad && ac_graph_node_count(g) == nodes);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(frozen);
}

static void test_inference_drop(void) {
    ac_graph *g = ac_graph_new(false);
    ac_tensor *a = ac_graph_tensor4(g, 1, 4, 16, 16);
    ac_init_const(a, 1.0f);
    size_t one = 4 * 16 * 16 * sizeof(float);
    ac_tensor *b = ac_scale(g, a, 2.0f);
    CHECK(ac_graph_bytes(g) == 2 * one);
    ac_graph_drop(g, a);
    CHECK(ac_graph_bytes(g) == one);
    ac_tensor *c = ac_relu(g, b);  // reuses a's slot
    ac_graph_drop(g, b);
    CHECK(c->data[5] == 2.0f && ac_graph_peak_bytes(g) == 2 * one);
    ac_graph_free(g);  // frees c
}

// ac_run_jobs runs every job once, for any count of jobs and threads; the kernels inside a job
// see its share of the threads (groups of up to P jobs, P / k threads each in a group of k and
// one more for the first P % k),
// and the caller's count is unchanged after.
typedef struct job_log {
    int hits[8], seen[8];
} job_log;

static void log_job(void *ctx, int i) {
    job_log *l = ctx;
    l->hits[i]++;
    l->seen[i] = ac_cpu_conv_threads();
}

static void test_run_jobs_runs_each_once(void) {
    for (int threads = 1; threads <= 3; threads++)
        for (int n = 0; n <= 7; n++) {
            ac_set_threads(threads);
            job_log l = {{0}, {0}};
            ac_run_jobs(n, log_job, &l);
            int bad = 0, share = 0;
            for (int i = 0; i < 8; i++) bad += l.hits[i] != (i < n);
            for (int i = 0; i < n; i++) {
                const int k = AC_MIN(threads, n - i / threads * threads);  // its group's size
                share += l.seen[i] != AC_MAX(1, threads / k + (i % threads < threads % k));
            }
            CHECK_MSG(bad == 0 && share == 0, "%d threads, %d jobs: %d ran other than once, %d on another share",
                      threads, n, bad, share);
            CHECK_MSG(ac_cpu_conv_threads() == threads, "%d threads, %d jobs: %d threads after", threads, n,
                      ac_cpu_conv_threads());
        }
    ac_set_threads(1);
}

int main(void) {
    RUN(test_arena);
    RUN(test_rng);
    RUN(test_elementwise_grad);
    RUN(test_frozen_inputs_get_no_grad);
    RUN(test_inference_drop);
    RUN(test_run_jobs_runs_each_once);
    return ac_test_finish();
}
