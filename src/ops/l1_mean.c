// l1_mean.c: F.l1_loss(a, b) with mean reduction: mean |a - b| as a scalar (shape (1)), and
// its data-parallel form sum |a - b| / count, where a and b are one rank's part of a larger
// pair of tensors holding `count` elements in all (the parts' results add up to the mean).
// The sum is taken in double over a fixed partition (chunked_sum.h), each chunk in the lane
// order of simd.h (16 lanes at a time, not one long chain of dependent adds). Gradient: with
// s = g / count, da += s sign(a - b) and db -= s sign(a - b), sign(0) = 0 as in PyTorch.

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"
#include "core/chunked_sum.h"
#include "ops/ops.h"

// a, b: (n) -> sum |a - b| / count
float ac_cpu_l1_mean_forward(size_t n, const float *a, const float *b, double count) {
    double part[AC_SUM_MAX_CHUNKS];
    size_t nch = ac_sum_chunks(n, n);
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t c = 0; c < nch; c++) {
        const size_t lo = ac_chunk_lo(n, nch, c), hi = ac_chunk_hi(n, nch, c);
        part[c] = ac_sum_absdiff_f64(a + lo, b + lo, hi - lo);
    }
    double s = 0;
    for (size_t c = 0; c < nch; c++) s += part[c];
    return (float)(s / count);
}

// a, b, da, db: (n); g = d(loss)/d(result). Either gradient may be NULL.
void ac_cpu_l1_mean_backward(size_t n, const float *a, const float *b, float g, double count,
                             float *da, bool da_overwrite, float *db, bool db_overwrite) {
    float s = g / (float)count;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        float v = d > 0.0f ? s : (d < 0.0f ? -s : 0.0f);
        if (da) da[i] = da_overwrite ? v : da[i] + v;
        if (db) db[i] = db_overwrite ? -v : db[i] - v;
    }
}

static void l1_mean_backward(ac_graph *g, ac_node *node) {
    ac_tensor *a = node->in[0], *b = node->in[1];
    const double *count = node->extra;
    bool a_new, b_new;  // (b's buffer is asked for after a's: a and b may be one tensor)
    float *da = ac_graph_grad_to_write(g, a, &a_new);
    float *db = ac_graph_grad_to_write(g, b, &b_new);
    ac_be()->l1_mean_backward(ac_numel(a), a->data, b->data, node->out->grad[0], *count, da,
                              a_new, db, b_new);
}

// a, b: same shape -> (1)
ac_tensor *ac_l1_mean_over(ac_graph *g, ac_tensor *a, ac_tensor *b, double count) {
    AC_ASSERT_MSG(ac_same_shape(a, b), "l1_mean: shapes differ");
    AC_ASSERT_MSG(count > 0, "l1_mean: count must be positive");
    int one = 1;
    ac_tensor *y = ac_graph_tensor(g, 1, &one);
    y->data[0] = ac_be()->l1_mean_forward(ac_numel(a), a->data, b->data, count);
    ac_tensor *in[2] = {a, b};
    ac_node *node = ac_graph_record(g, y, l1_mean_backward, 2, in);
    if (node) {
        double *c = ac_graph_scratch(g, sizeof *c);
        *c = count;
        node->extra = c;
    }
    return y;
}

ac_tensor *ac_l1_mean(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    return ac_l1_mean_over(g, a, b, (double)ac_numel(a));
}
