// add_const.c: y = x + c for a constant c; dx += dy.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// x, y: (n)
void ac_cpu_add_const(size_t n, float c, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = x[i] + c;
}

static void add_const_backward(ac_graph *g, ac_node *node) {
    ac_tensor *y = node->out;
    ac_be()->axpy(ac_numel(y), 1.0f, y->grad, ac_graph_grad(g, node->in[0]));
}

ac_tensor *ac_add_const(ac_graph *g, ac_tensor *x, float c) {
    ac_tensor *y = ac_graph_tensor_like(g, x);
    ac_be()->add_const(ac_numel(x), c, x->data, y->data);
    ac_graph_record(g, y, add_const_backward, 1, &x);
    return y;
}
