// l1_pairwise.c: the hard contrastive loss's denominator. For a of shape (Ba, ...) and b of
// shape (Bb, ...) with m elements per item: D = sum over i < Ba, j < Bb and k < m of
// |a[i,k] - b[j,k]|, divided by `count` (Ba*Bb*m: the mean over all pairs), computed pair by
// pair in place (no Ba*Bb copies). Data-parallel training passes one rank's anchors a against
// the whole batch's b with count = B*B*m, so that the ranks' results add up to the mean.
// With s = g / count:
//   da[i,k] += s * sum_j sign(a[i,k] - b[j,k]),   db[j,k] -= s * sum_i sign(a[i,k] - b[j,k]),
// sign(0) = 0; the sign sums are exact integer counts. Work is split over k (chunked_sum.h), each
// chunk summed pair by pair in the lane order of simd.h (ac_sum_absdiff_f64), so
// results do not depend on the thread count.

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"
#include "core/chunked_sum.h"
#include "ops/ops.h"

#define TILE 256  // elements of k handled together (keeps the count arrays on the stack)

static inline int sign_of(float d) { return (d > 0.0f) - (d < 0.0f); }

// a: (na, m), b: (nb, m) -> scalar
float ac_cpu_l1_pairwise_forward(int na, int nb, size_t m, const float *a, const float *b,
                                 double count) {
    size_t sa = (size_t)na, sb = (size_t)nb;
    double part[AC_SUM_MAX_CHUNKS];
    size_t nch = ac_sum_chunks(m, m * sa * sb);
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t c = 0; c < nch; c++) {
        size_t lo = ac_chunk_lo(m, nch, c), hi = ac_chunk_hi(m, nch, c);
        double s = 0;
        for (size_t i = 0; i < sa; i++)
            for (size_t j = 0; j < sb; j++) {
                const float *ai = a + i * m, *bj = b + j * m;
                s += ac_sum_absdiff_f64(ai + lo, bj + lo, hi - lo);
            }
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nch; c++) s += part[c];
    return (float)(s / count);
}

// Columns [lo, lo + len) of dx += s * sum_j sign(x_i - y_j): x, dx: (nx, m); y: (ny, m).
static void add_sign_counts(size_t nx, size_t ny, size_t m, size_t lo, size_t len, const float *x,
                            const float *y, float s, float *dx) {
    int cnt[TILE];
    for (size_t i = 0; i < nx; i++) {
        const float *xi = x + i * m + lo;
        for (size_t k = 0; k < len; k++) cnt[k] = 0;
        for (size_t j = 0; j < ny; j++) {
            const float *yj = y + j * m + lo;
            for (size_t k = 0; k < len; k++) cnt[k] += sign_of(xi[k] - yj[k]);
        }
        float *d = dx + i * m + lo;
        for (size_t k = 0; k < len; k++) d[k] += s * (float)cnt[k];
    }
}

// a, da: (na, m); b, db: (nb, m); g = d(loss)/d(D). Either gradient may be NULL.
// (d/db of |a - b| is sign(b - a): db takes the same counts with a and b swapped.)
void ac_cpu_l1_pairwise_backward(int na, int nb, size_t m, const float *a, const float *b,
                                 float g, double count, float *da, float *db) {
    size_t sa = (size_t)na, sb = (size_t)nb;
    float s = (float)((double)g / count);
    size_t ntiles = (m + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if (m * sa * sb > 65536)
    for (size_t t = 0; t < ntiles; t++) {
        size_t lo = t * TILE, len = AC_MIN(m, lo + TILE) - lo;
        if (da) add_sign_counts(sa, sb, m, lo, len, a, b, s, da);
        if (db) add_sign_counts(sb, sa, m, lo, len, b, a, s, db);
    }
}

static void l1_pairwise_backward(ac_graph *g, ac_node *node) {
    ac_tensor *a = node->in[0], *b = node->in[1];
    size_t m = ac_numel(a) / (size_t)a->shape[0];
    const double *count = node->extra;
    ac_be()->l1_pairwise_backward(a->shape[0], b->shape[0], m, a->data, b->data, node->out->grad[0],
                                  *count, ac_graph_grad(g, a), ac_graph_grad(g, b));
}

// a: (Ba, ...), b: (Bb, ...), the same shape after the batch dimension -> (1)
ac_tensor *ac_l1_pairwise_mean_over(ac_graph *g, ac_tensor *a, ac_tensor *b, double count) {
    AC_ASSERT_MSG(a->ndim == b->ndim, "l1_pairwise_mean: ranks differ");
    for (int d = 1; d < a->ndim; d++)
        AC_ASSERT_MSG(a->shape[d] == b->shape[d], "l1_pairwise_mean: item shapes differ");
    AC_ASSERT_MSG(a->shape[0] >= 1 && b->shape[0] >= 1, "l1_pairwise_mean: empty batch");
    AC_ASSERT_MSG(count > 0, "l1_pairwise_mean: count must be positive");
    size_t m = ac_numel(a) / (size_t)a->shape[0];
    int one = 1;
    ac_tensor *y = ac_graph_tensor(g, 1, &one);
    y->data[0] = ac_be()->l1_pairwise_forward(a->shape[0], b->shape[0], m, a->data, b->data, count);
    ac_tensor *in[2] = {a, b};
    ac_node *node = ac_graph_record(g, y, l1_pairwise_backward, 2, in);
    if (node) {
        double *c = ac_graph_scratch(g, sizeof *c);
        *c = count;
        node->extra = c;
    }
    return y;
}

ac_tensor *ac_l1_pairwise_mean(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    double m = (double)(ac_numel(a) / (size_t)a->shape[0]);
    return ac_l1_pairwise_mean_over(g, a, b, (double)a->shape[0] * (double)b->shape[0] * m);
}
