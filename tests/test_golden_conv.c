// test_golden_conv.c: conv2d and conv_transpose2d against PyTorch 1.13
// (tests/golden/conv.safetensors, written by tools/golden/gen_conv.py): for every recorded
// case the output and, for the recorded upstream gradient dy, the gradients of x, w and b must
// match element by element. Runs under both threading modes of the conv drivers (OpenBLAS
// threaded, and OpenMP-split with a single-threaded OpenBLAS). Prints the largest difference.
#include <cblas.h>
#include <omp.h>

#include "backend/cpu/im2col.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "testlib.h"
#include "testlib_fixture.h"

#define FIXTURE "tests/golden/conv.safetensors"
// Outputs: absolute (values are O(1)); gradients: relative to the tensor's largest value.
#define Y_ATOL 1e-5
#define G_REL 1e-5

static ac_tensor_map *M;
static double worst_y, worst_g;  // largest |got - want| (gradients: relative to their scale)

static double max_abs(const ac_tensor *t) {
    double m = 0;
    for (size_t i = 0; i < ac_numel(t); i++) m = fmax(m, fabs((double)t->data[i]));
    return m;
}

static void compare(const char *label, const ac_tensor *got, const float *got_data,
                    const ac_tensor *want, bool is_grad) {
    CHECK_MSG(want != NULL, "%s: missing in the fixture", label);
    if (!want) return;
    CHECK_MSG(ac_same_shape(got, want), "%s: shape differs from the fixture", label);
    if (!ac_same_shape(got, want)) return;
    double scale = is_grad ? fmax(1.0, max_abs(want)) : 1.0;
    double atol = is_grad ? G_REL * scale : Y_ATOL;
    for (size_t i = 0; i < ac_numel(want); i++) {
        double d = fabs((double)got_data[i] - (double)want->data[i]) / scale;
        if (is_grad) worst_g = fmax(worst_g, d);
        else worst_y = fmax(worst_y, d);
    }
    t_close(label, got_data, want->data, ac_numel(want), atol, 0);
}

static int run_cases(const char *op) {
    int k = 0;
    for (; t_fixture(M, "%s.%d.y", op, k); k++) {
        ac_tensor *args = t_fixture(M, "%s.%d.args", op, k);
        AC_ASSERT(args && ac_numel(args) == 4);
        const int stride = (int)args->data[0], pad = (int)args->data[1];
        const int out_pad = (int)args->data[2];
        const bool bias = args->data[3] != 0.0f;
        ac_tensor *x = t_trainable(t_fixture(M, "%s.%d.x", op, k)), *w = t_trainable(t_fixture(M, "%s.%d.w", op, k));
        ac_tensor *b = bias ? t_trainable(t_fixture(M, "%s.%d.b", op, k)) : NULL;
        ac_graph *g = ac_graph_new(true);
        ac_tensor *y = !strcmp(op, "conv") ? ac_conv2d(g, x, w, b, stride, pad)
                                           : ac_conv_transpose2d(g, x, w, b, stride, pad, out_pad);
        char label[64];
        snprintf(label, sizeof label, "%s.%d.y", op, k);
        compare(label, y, y->data, t_fixture(M, "%s.%d.y", op, k), false);
        ac_tensor *dy = t_fixture(M, "%s.%d.dy", op, k);
        AC_ASSERT(dy && ac_numel(dy) == ac_numel(y));
        ac_backward_seeded(g, y, dy->data);
        snprintf(label, sizeof label, "%s.%d.dx", op, k);
        compare(label, x, x->grad, t_fixture(M, "%s.%d.dx", op, k), true);
        snprintf(label, sizeof label, "%s.%d.dw", op, k);
        compare(label, w, w->grad, t_fixture(M, "%s.%d.dw", op, k), true);
        if (b) {
            snprintf(label, sizeof label, "%s.%d.db", op, k);
            compare(label, b, b->grad, t_fixture(M, "%s.%d.db", op, k), true);
        }
        ac_graph_free(g);
        ac_tensor_free(x);
        ac_tensor_free(w);
        if (b) ac_tensor_free(b);
    }
    return k;
}

static void both_ops(const char *mode) {
    int nc = run_cases("conv"), nd = run_cases("deconv");
    CHECK(nc == 7 && nd == 5);
    printf("  %s: %d conv + %d deconv cases; max abs diff y %.3g, grads %.3g (of their scale)\n",
           mode, nc, nd, worst_y, worst_g);
    worst_y = worst_g = 0;
}

static void golden_threaded_blas(void) {
    omp_set_num_threads(2);
    openblas_set_num_threads(2);
    both_ops("OpenBLAS threads");
}

static void golden_openmp_split(void) {
    openblas_set_num_threads(1);
    omp_set_num_threads(2);
    CHECK(ac_cpu_conv_threads() == 2);
    both_ops("OpenMP split");
}

int main(void) {
    ac_status st = ac_safetensors_read(FIXTURE, &M);
    CHECK_MSG(st == AC_OK, "%s: %s", FIXTURE, ac_error_message());
    if (st != AC_OK) return ac_test_finish();
    RUN(golden_threaded_blas);
    RUN(golden_openmp_split);
    ac_tensor_map_free(M);
    return ac_test_finish();
}
