// div.c: y = a / b for one-element tensors (the ratio in the contrastive losses).
// Gradients as PyTorch: da += g / b, db += -g (a / b) / b.
#include "backend/cpu/cpu_kernels.h"
#include "ops/ops.h"

static void div_backward(ac_graph *g, ac_node *node) {
    float a = node->in[0]->data[0], b = node->in[1]->data[0], dy = node->out->grad[0];
    float *da = ac_graph_grad(g, node->in[0]), *db = ac_graph_grad(g, node->in[1]);
    if (da) da[0] += dy / b;
    if (db) db[0] += -dy * ((a / b) / b);
}

// a, b: one element each -> (1)
ac_tensor *ac_div(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    AC_ASSERT_MSG(ac_numel(a) == 1 && ac_numel(b) == 1, "div: operands must be scalars");
    int one = 1;
    ac_tensor *y = ac_graph_tensor(g, 1, &one);
    y->data[0] = a->data[0] / b->data[0];
    ac_tensor *in[2] = {a, b};
    ac_graph_record(g, y, div_backward, 2, in);
    return y;
}
