// add.c: y = a + b (same shapes); both inputs receive dy. Also the shared y += alpha x kernel
// and the adding of a scaled buffer into a gradient (ac_grad_add_scaled).
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

void ac_grad_add_scaled(ac_graph *g, ac_tensor *t, float a, const float *src, size_t n) {
    bool fresh;
    float *d = ac_graph_grad_to_write(g, t, &fresh);
    if (d && fresh) ac_be()->scale(n, a, src, d);
    else if (d) ac_be()->axpy(n, a, src, d);
}

static void add_backward(ac_graph *g, ac_node *node) {
    ac_tensor *y = node->out;
    for (int i = 0; i < 2; i++) ac_grad_add_scaled(g, node->in[i], 1.0f, y->grad, ac_numel(y));
}

ac_tensor *ac_add(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    AC_ASSERT_MSG(ac_same_shape(a, b), "add: shapes differ");
    ac_tensor *y = ac_graph_tensor_like(g, a);
    ac_be()->add(ac_numel(a), a->data, b->data, y->data);
    ac_tensor *in[2] = {a, b};
    ac_graph_record(g, y, add_backward, 2, in);
    return y;
}
