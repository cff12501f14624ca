// allgather_batch.c: the whole global batch of a constant (no gradient) in data-parallel
// training: each rank holds the items [begin, end) of ac_dist_share; the result holds every
// rank's items in rank order, (global_batch, ...). Used for the negatives of the hard
// contrastive loss, whose denominator pairs each local anchor with every negative of the
// global batch. In a one-process world the op returns x itself.
#include <stdlib.h>

#include "dist/dist.h"
#include "ops/ops.h"

// x: (share, ...) -> (global_batch, ...); a collective.
ac_tensor *ac_allgather_batch(ac_graph *g, ac_tensor *x, int global_batch) {
    AC_ASSERT_MSG(!x->requires_grad, "allgather_batch: only constants are gathered");
    const int size = ac_dist_size(), rank = ac_dist_rank();
    int begin, end;
    ac_dist_share(global_batch, rank, size, &begin, &end);
    AC_ASSERT_MSG(x->shape[0] == end - begin, "allgather_batch: x is not this rank's share");
    if (size == 1) return x;
    size_t item = ac_numel(x) / (size_t)x->shape[0];
    size_t *counts = ac_xmalloc(sizeof(size_t) * (size_t)size);
    for (int r = 0; r < size; r++) {
        ac_dist_share(global_batch, r, size, &begin, &end);
        counts[r] = (size_t)(end - begin) * item;
    }
    int shape[AC_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[0] = global_batch;
    ac_tensor *y = ac_graph_tensor(g, x->ndim, shape);
    ac_status st = ac_dist_allgatherv(x->data, ac_numel(x), y->data, counts);
    AC_ASSERT_MSG(st == AC_OK, "allgather of a batch failed");  // see allreduce_scalar.c
    free(counts);
    return y;
}
