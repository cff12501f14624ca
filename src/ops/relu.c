// relu.c: y = max(x, 0). The backward uses the output: dx += dy where y > 0.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

// x, y: (n)
void ac_cpu_relu_forward(size_t n, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// y, dy, dx: (n)
void ac_cpu_relu_backward(size_t n, const float *y, const float *dy, float *dx) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        if (y[i] > 0.0f) dx[i] += dy[i];
}

static void relu_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *y = node->out;
    ac_be()->relu_backward(ac_numel(y), y->data, y->grad, ac_graph_grad(g, x));
}

ac_tensor *ac_relu(ac_graph *g, ac_tensor *x) {
    ac_tensor *y = ac_graph_tensor_like(g, x);
    ac_be()->relu_forward(ac_numel(x), x->data, y->data);
    ac_graph_record(g, y, relu_backward, 1, &x);
    return y;
}
