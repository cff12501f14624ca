// scale.c: y = s x for a constant s; dx += s dy.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// x, y: (n)
void ac_cpu_scale(size_t n, float s, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = s * x[i];
}

static void scale_backward(ac_graph *g, ac_node *node) {
    ac_tensor *y = node->out;
    ac_be()->axpy(ac_numel(y), node->farg[0], y->grad, ac_graph_grad(g, node->in[0]));
}

ac_tensor *ac_scale(ac_graph *g, ac_tensor *x, float s) {
    ac_tensor *y = ac_graph_tensor_like(g, x);
    ac_be()->scale(ac_numel(x), s, x->data, y->data);
    ac_node *node = ac_graph_record(g, y, scale_backward, 1, &x);
    if (node) node->farg[0] = s;
    return y;
}
