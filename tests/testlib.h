// testlib.h: a tiny header-only test harness. Checks count failures; ac_test_main prints
// "N passed, N failed" and the exit status is non-zero when anything failed.
// Also: tensor comparison with max abs diff and first mismatches, random fills, and a
// finite-difference gradient checker with a double-precision reference.
#ifndef AC_TESTLIB_H
#define AC_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/rng.h"

static int t_passed, t_failed;
static const char *t_current = "";

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) t_passed++;                                                          \
        else {                                                                         \
            t_failed++;                                                                \
            fprintf(stderr, "FAIL [%s] %s:%d: %s\n", t_current, __FILE__, __LINE__, #cond); \
        }                                                                              \
    } while (0)

#define CHECK_MSG(cond, ...)                                                           \
    do {                                                                               \
        if (cond) t_passed++;                                                          \
        else {                                                                         \
            t_failed++;                                                                \
            fprintf(stderr, "FAIL [%s] %s:%d: ", t_current, __FILE__, __LINE__);       \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

#define RUN(fn)                                 \
    do {                                        \
        t_current = #fn;                        \
        int before = t_failed;                  \
        fn();                                   \
        printf("%s %s\n", t_failed == before ? "ok  " : "FAIL", #fn); \
        fflush(stdout);                         \
    } while (0)

static inline int ac_test_finish(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

// Compares n floats: |got - want| <= atol + rtol |want|. Prints the max abs diff and the
// first mismatches; returns true when all match (and counts one check).
static inline bool t_close(const char *what, const float *got, const float *want, size_t n,
                           double atol, double rtol) {
    double maxdiff = 0;
    size_t bad = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= maxdiff) || isnan(d)) { maxdiff = isnan(d) ? INFINITY : d; worst = i; }
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.8g want %.8g (diff %.3g)\n", what, i,
                        (double)got[i], (double)want[i], d);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu values differ; max abs diff %.3g at [%zu] (atol %.1e rtol %.1e)",
              what, bad, n, maxdiff, worst, atol, rtol);
    return bad == 0;
}

static inline void t_fill_uniform(ac_rng *r, float *p, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * ac_rng_uniform(r);
}

static inline ac_tensor *t_rand4(ac_rng *r, int n, int c, int h, int w, bool grad) {
    ac_tensor *t = ac_tensor_new4(n, c, h, w);
    t_fill_uniform(r, t->data, ac_numel(t), -1.0f, 1.0f);
    if (grad) ac_tensor_enable_grad(t);
    return t;
}

// Finite-difference gradient check. `build` computes an output from `inputs` on graph g.
// The scalar checked is L = sum(out * proj) with a fixed random projection, accumulated in
// double. Analytic gradients come from the tape; the reference perturbs each checked element
// by +-h and evaluates L again (forward only). Checks up to max_per_input elements of each
// input that requires a gradient. The error is relative to the input's gradient scale:
// |analytic - numeric| <= tol * (|numeric| + 0.1 * max|numeric| + 1e-6), so that a gradient
// that is small everywhere is still held to a relative standard.
typedef ac_tensor *(*t_build_fn)(ac_graph *g, ac_tensor **inputs, void *ctx);

static inline double t_eval_projected(t_build_fn build, ac_tensor **inputs, void *ctx,
                                      const float *proj) {
    ac_graph *g = ac_graph_new(false);
    ac_tensor *out = build(g, inputs, ctx);
    size_t n = ac_numel(out);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)out->data[i] * (double)proj[i];
    ac_graph_free(g);
    return s;
}

static inline bool t_gradcheck(const char *name, t_build_fn build, ac_tensor **inputs,
                               int n_inputs, void *ctx, float h, double tol, int max_per_input) {
    ac_rng r;
    ac_rng_seed(&r, 1234);
    ac_graph *g = ac_graph_new(true);
    for (int i = 0; i < n_inputs; i++) ac_tensor_zero_grad(inputs[i]);
    ac_tensor *out = build(g, inputs, ctx);
    size_t n = ac_numel(out);
    float *proj = malloc(n * sizeof(float));
    t_fill_uniform(&r, proj, n, -1.0f, 1.0f);
    ac_backward_seeded(g, out, proj);
    bool ok = true;
    for (int i = 0; i < n_inputs; i++) {
        ac_tensor *t = inputs[i];
        if (!t->requires_grad) continue;
        size_t m = ac_numel(t);
        int checks = (int)(m < (size_t)max_per_input ? m : (size_t)max_per_input);
        size_t *idx = malloc((size_t)checks * sizeof *idx);
        double *num = malloc((size_t)checks * sizeof *num);
        double scale = 0;
        for (int c = 0; c < checks; c++) {
            size_t k = m <= (size_t)max_per_input ? (size_t)c : (size_t)(ac_rng_next(&r) % m);
            float saved = t->data[k];
            t->data[k] = saved + h;
            double lp = t_eval_projected(build, inputs, ctx, proj);
            t->data[k] = saved - h;
            double lm = t_eval_projected(build, inputs, ctx, proj);
            t->data[k] = saved;
            idx[c] = k;
            num[c] = (lp - lm) / (2.0 * (double)h);
            if (fabs(num[c]) > scale) scale = fabs(num[c]);
        }
        double maxerr = 0;
        int bad = 0;
        for (int c = 0; c < checks; c++) {
            double ana = t->grad[idx[c]];
            double err = fabs(ana - num[c]) / (fabs(num[c]) + 0.1 * scale + 1e-6);
            if (err > maxerr) maxerr = err;
            if (err > tol) {
                if (bad < 5)
                    fprintf(stderr, "  %s: input %d elem %zu: analytic %.6g numeric %.6g\n", name,
                            i, idx[c], ana, num[c]);
                bad++;
            }
        }
        CHECK_MSG(bad == 0, "%s: gradient of input %d: %d of %d elements off, max rel err %.3g",
                  name, i, bad, checks, maxerr);
        if (bad) ok = false;
        free(idx);
        free(num);
    }
    free(proj);
    ac_graph_free(g);
    return ok;
}

#endif
