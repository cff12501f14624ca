// add.c: y = a + b (same shapes); both inputs receive dy. Also the shared y += alpha x kernel.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// a, b, y: (n)
void ac_cpu_add(size_t n, const float *a, const float *b, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

// x, y: (n); y += alpha x
void ac_cpu_axpy(size_t n, float alpha, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

static void add_backward(ac_graph *g, ac_node *node) {
    ac_tensor *y = node->out;
    size_t n = ac_numel(y);
    for (int i = 0; i < 2; i++) {
        bool fresh;  // a new gradient is written, not added to
        float *d = ac_graph_grad_to_write(g, node->in[i], &fresh);
        if (d && fresh) ac_be()->scale(n, 1.0f, y->grad, d);
        else if (d) ac_be()->axpy(n, 1.0f, y->grad, d);
    }
}

ac_tensor *ac_add(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    AC_ASSERT_MSG(ac_same_shape(a, b), "add: shapes differ");
    ac_tensor *y = ac_graph_tensor_like(g, a);
    ac_be()->add(ac_numel(a), a->data, b->data, y->data);
    ac_tensor *in[2] = {a, b};
    ac_graph_record(g, y, add_backward, 2, in);
    return y;
}
