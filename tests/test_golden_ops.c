// test_golden_ops.c: the non-convolution ops against PyTorch 1.13 (tests/golden/ops.safetensors,
// written by tools/golden/gen_ops.py): for every recorded case the output and, for the
// recorded upstream gradient dy, every input gradient must match element by element.
// Prints the largest difference seen per op.

#include "io/safetensors.h"
#include "ops/ops.h"
#include "testlib.h"
#include "testlib_fixture.h"

#define FIXTURE "tests/golden/ops.safetensors"
#define ATOL 1e-6
#define RTOL 1e-6

static ac_tensor_map *M;
static double worst;  // largest |got - want| of the current op

static void compare(const char *op, int k, const char *what, const ac_tensor *got,
                    const float *got_data, const ac_tensor *want) {
    char label[96];
    snprintf(label, sizeof label, "%s.%d.%s", op, k, what);
    CHECK_MSG(want != NULL, "%s: missing in the fixture", label);
    if (!want) return;
    CHECK_MSG(ac_numel(got) == ac_numel(want), "%s: %zu elements, fixture has %zu", label,
              ac_numel(got), ac_numel(want));
    if (ac_numel(got) != ac_numel(want)) return;
    CHECK_MSG(got->ndim == 1 || ac_same_shape(got, want), "%s: shape differs", label);
    for (size_t i = 0; i < ac_numel(want); i++) {
        double d = fabs((double)got_data[i] - (double)want->data[i]);
        if (d > worst) worst = d;
    }
    t_close(label, got_data, want->data, ac_numel(want), ATOL, RTOL);
}

// Runs the backward with the fixture's dy and compares y.
static void output_and_backward(ac_graph *g, const char *op, int k, ac_tensor *y) {
    compare(op, k, "y", y, y->data, t_fixture(M, "%s.%d.y", op, k));
    ac_tensor *dy = t_fixture(M, "%s.%d.dy", op, k);
    AC_ASSERT(dy && ac_numel(dy) == ac_numel(y));
    ac_backward_seeded(g, y, dy->data);
}

static void grad(const char *op, int k, const char *name, const ac_tensor *t) {
    char what[16];
    snprintf(what, sizeof what, "d%s", name);
    compare(op, k, what, t, t->grad, t_fixture(M, "%s.%d.%s", op, k, what));
}

static int count_cases(const char *op) {
    int k = 0;
    while (t_fixture(M, "%s.%d.y", op, k)) k++;
    return k;
}

static void report(const char *op, int n) {
    printf("  %-9s %d cases, max abs diff %.3g\n", op, n, worst);
    worst = 0;
}

static void test_pad(void) {
    int n = count_cases("pad");
    CHECK(n == 3);
    for (int k = 0; k < n; k++) {
        ac_tensor *x = t_trainable(t_fixture(M, "pad.%d.x", k));
        const float *a = t_fixture(M, "pad.%d.args", k)->data;
        ac_graph *g = ac_graph_new(true);
        ac_tensor *y = ac_reflection_pad(g, x, (int)a[0], (int)a[1], (int)a[2], (int)a[3]);
        output_and_backward(g, "pad", k, y);
        grad("pad", k, "x", x);
        ac_graph_free(g);
        ac_tensor_free(x);
    }
    report("pad", n);
}

static void test_prelu(void) {
    int n = count_cases("prelu");
    CHECK(n == 2);
    for (int k = 0; k < n; k++) {
        ac_tensor *x = t_trainable(t_fixture(M, "prelu.%d.x", k)), *w = t_trainable(t_fixture(M, "prelu.%d.slope", k));
        ac_graph *g = ac_graph_new(true);
        output_and_backward(g, "prelu", k, ac_prelu(g, x, w));
        grad("prelu", k, "x", x);
        grad("prelu", k, "slope", w);
        ac_graph_free(g);
        ac_tensor_free(x);
        ac_tensor_free(w);
    }
    report("prelu", n);
}

static void test_resize(void) {
    int n = count_cases("resize");
    CHECK(n == 8);
    for (int k = 0; k < n; k++) {
        ac_tensor *x = t_trainable(t_fixture(M, "resize.%d.x", k));
        const ac_tensor *want = t_fixture(M, "resize.%d.y", k);
        ac_graph *g = ac_graph_new(true);
        ac_tensor *y = ac_resize_bilinear(g, x, want->shape[2], want->shape[3]);
        output_and_backward(g, "resize", k, y);
        grad("resize", k, "x", x);
        ac_graph_free(g);
        ac_tensor_free(x);
    }
    report("resize", n);
}

static void test_maxpool(void) {
    int n = count_cases("maxpool");
    CHECK(n == 3);
    for (int k = 0; k < n; k++) {
        ac_tensor *x = t_trainable(t_fixture(M, "maxpool.%d.x", k));
        ac_graph *g = ac_graph_new(true);
        output_and_backward(g, "maxpool", k, ac_maxpool2x2(g, x));
        grad("maxpool", k, "x", x);
        ac_graph_free(g);
        ac_tensor_free(x);
    }
    report("maxpool", n);
}

static void test_concat(void) {
    int n = count_cases("concat");
    CHECK(n == 2);
    for (int k = 0; k < n; k++) {
        ac_tensor *xs[3];
        for (int i = 0; i < 3; i++) xs[i] = t_trainable(t_fixture(M, "concat.%d.x%d", k, i));
        int dim = (int)t_fixture(M, "concat.%d.args", k)->data[0];
        ac_graph *g = ac_graph_new(true);
        output_and_backward(g, "concat", k, ac_concat(g, xs, 3, dim));
        const char *names[3] = {"x0", "x1", "x2"};
        for (int i = 0; i < 3; i++) grad("concat", k, names[i], xs[i]);
        ac_graph_free(g);
        for (int i = 0; i < 3; i++) ac_tensor_free(xs[i]);
    }
    report("concat", n);
}

static void test_slice(void) {
    int n = count_cases("slice");
    CHECK(n == 3);
    for (int k = 0; k < n; k++) {
        ac_tensor *x = t_trainable(t_fixture(M, "slice.%d.x", k));
        const float *a = t_fixture(M, "slice.%d.args", k)->data;
        ac_graph *g = ac_graph_new(true);
        output_and_backward(g, "slice", k, ac_slice(g, x, (int)a[0], (int)a[1], (int)a[2]));
        grad("slice", k, "x", x);
        ac_graph_free(g);
        ac_tensor_free(x);
    }
    report("slice", n);
}

typedef ac_tensor *(*binary_op)(ac_graph *, ac_tensor *, ac_tensor *);

static void test_binary(const char *op, binary_op fn, int expected) {
    int n = count_cases(op);
    CHECK_MSG(n == expected, "%s: %d cases, expected %d", op, n, expected);
    for (int k = 0; k < n; k++) {
        ac_tensor *a = t_trainable(t_fixture(M, "%s.%d.a", op, k)), *b = t_trainable(t_fixture(M, "%s.%d.b", op, k));
        ac_graph *g = ac_graph_new(true);
        output_and_backward(g, op, k, fn(g, a, b));
        grad(op, k, "a", a);
        grad(op, k, "b", b);
        ac_graph_free(g);
        ac_tensor_free(a);
        ac_tensor_free(b);
    }
    report(op, n);
}

static void test_l1(void) { test_binary("l1", ac_l1_mean, 2); }
static void test_pairwise(void) { test_binary("pairwise", ac_l1_pairwise_mean, 3); }
static void test_div(void) { test_binary("div", ac_div, 2); }

int main(void) {
    ac_status st = ac_safetensors_read(FIXTURE, &M);
    if (st != AC_OK) {
        fprintf(stderr, "cannot read %s: %s\n", FIXTURE, ac_error_message());
        return 1;
    }
    RUN(test_pad);
    RUN(test_prelu);
    RUN(test_resize);
    RUN(test_maxpool);
    RUN(test_concat);
    RUN(test_slice);
    RUN(test_l1);
    RUN(test_pairwise);
    RUN(test_div);
    ac_tensor_map_free(M);
    return ac_test_finish();
}
