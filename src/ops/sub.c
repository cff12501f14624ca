// sub.c: y = a - b (same shapes); da += dy, db -= dy.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// a, b, y: (n)
void ac_cpu_sub(size_t n, const float *a, const float *b, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i];
}

static void sub_backward(ac_graph *g, ac_node *node) {
    ac_tensor *y = node->out;
    size_t n = ac_numel(y);
    float *da = ac_graph_grad(g, node->in[0]);
    float *db = ac_graph_grad(g, node->in[1]);
    if (da) ac_be()->axpy(n, 1.0f, y->grad, da);
    if (db) ac_be()->axpy(n, -1.0f, y->grad, db);
}

ac_tensor *ac_sub(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    AC_ASSERT_MSG(ac_same_shape(a, b), "sub: shapes differ");
    ac_tensor *y = ac_graph_tensor_like(g, a);
    ac_be()->sub(ac_numel(a), a->data, b->data, y->data);
    ac_tensor *in[2] = {a, b};
    ac_graph_record(g, y, sub_backward, 2, in);
    return y;
}
