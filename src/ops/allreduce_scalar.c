// allreduce_scalar.c: data-parallel training's loss combiner. Forward: the sum over the ranks
// of dist.h of a one-element tensor (every rank gets the same value, summed in double).
// Backward: the identity, dx += dy. A rank's loss term is its part of a global mean (local
// sum / global count); each rank's backward then yields its items' share of the global
// loss's gradient, and summing the parameter gradients over the ranks gives the gradient of
// the global loss. In a one-process world the op returns x itself.
#include "dist/dist.h"
#include "ops/ops.h"

static void allreduce_scalar_backward(ac_graph *g, ac_node *node) {
    float *dx = ac_graph_grad(g, node->in[0]);
    if (dx) dx[0] += node->out->grad[0];
}

// x: (1) -> (1); a collective: every rank calls it at the same point of its step.
ac_tensor *ac_allreduce_scalar(ac_graph *g, ac_tensor *x) {
    AC_ASSERT_MSG(ac_numel(x) == 1, "allreduce_scalar: not a scalar");
    if (ac_dist_size() == 1) return x;
    double v = x->data[0];
    // Open MPI's default error handler aborts the job on a failed collective; a status
    // coming back here would be a broken setup.
    ac_status st = ac_dist_allreduce_sum_double(&v, 1);
    AC_ASSERT_MSG(st == AC_OK, "allreduce of a loss term failed");
    int one = 1;
    ac_tensor *y = ac_graph_tensor(g, 1, &one);
    y->data[0] = (float)v;
    ac_graph_record(g, y, allreduce_scalar_backward, 1, &x);
    return y;
}
