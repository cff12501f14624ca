// sum.c: the sum of all elements as a scalar (shape (1)); dx += dy everywhere.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// x: (n) -> scalar, accumulated in double in a fixed order
float ac_cpu_sum_forward(size_t n, const float *x) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return (float)s;
}

static void sum_backward(ac_graph *g, ac_node *node) {
    float *dx = ac_graph_grad(g, node->in[0]);
    float dy = node->out->grad[0];
    size_t n = ac_numel(node->in[0]);
    for (size_t i = 0; i < n; i++) dx[i] += dy;
}

ac_tensor *ac_sum(ac_graph *g, ac_tensor *x) {
    int one = 1;
    ac_tensor *y = ac_graph_tensor(g, 1, &one);
    y->data[0] = ac_be()->sum_forward(ac_numel(x), x->data);
    ac_graph_record(g, y, sum_backward, 1, &x);
    return y;
}
