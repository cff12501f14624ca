// l1_pairwise.c: the hard contrastive loss's denominator. For a, b of shape (B, ...) with m
// elements per item: D = mean over i, j < B and k < m of |a[i,k] - b[j,k]|, computed pair by
// pair in place (no B*B copies). With s = g / (B*B*m):
//   da[i,k] += s * sum_j sign(a[i,k] - b[j,k]),   db[j,k] -= s * sum_i sign(a[i,k] - b[j,k]),
// sign(0) = 0; the sign sums are exact integer counts. Work is split over k (chunked_sum.h), so
// results do not depend on the thread count.
#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "ops/chunked_sum.h"
#include "ops/ops.h"

#define TILE 256  // elements of k handled together (keeps the count arrays on the stack)

static inline int sign_of(float d) { return (d > 0.0f) - (d < 0.0f); }

// a, b: (batch, m) -> scalar
float ac_cpu_l1_pairwise_forward(int batch, size_t m, const float *a, const float *b) {
    size_t nb = (size_t)batch;
    double part[AC_SUM_MAX_CHUNKS];
    size_t nch = ac_sum_chunks(m, m * nb * nb);
#pragma omp parallel for schedule(static) if (nch > 1)
    for (size_t c = 0; c < nch; c++) {
        size_t lo = ac_chunk_lo(m, nch, c), hi = ac_chunk_hi(m, nch, c);
        double s = 0;
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < nb; j++) {
                const float *ai = a + i * m, *bj = b + j * m;
                for (size_t k = lo; k < hi; k++) s += fabsf(ai[k] - bj[k]);
            }
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nch; c++) s += part[c];
    return (float)(s / ((double)nb * (double)nb * (double)m));
}

// a, b, da, db: (batch, m); g = d(loss)/d(D). Either gradient may be NULL.
void ac_cpu_l1_pairwise_backward(int batch, size_t m, const float *a, const float *b, float g,
                                 float *da, float *db) {
    size_t nb = (size_t)batch;
    float s = (float)((double)g / ((double)nb * (double)nb * (double)m));
    size_t ntiles = (m + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if (m * nb * nb > 65536)
    for (size_t t = 0; t < ntiles; t++) {
        size_t lo = t * TILE, hi = AC_MIN(m, lo + TILE), len = hi - lo;
        int cnt[TILE];
        if (da) {
            for (size_t i = 0; i < nb; i++) {
                const float *ai = a + i * m + lo;
                for (size_t k = 0; k < len; k++) cnt[k] = 0;
                for (size_t j = 0; j < nb; j++) {
                    const float *bj = b + j * m + lo;
                    for (size_t k = 0; k < len; k++) cnt[k] += sign_of(ai[k] - bj[k]);
                }
                float *d = da + i * m + lo;
                for (size_t k = 0; k < len; k++) d[k] += s * (float)cnt[k];
            }
        }
        if (db) {
            for (size_t j = 0; j < nb; j++) {
                const float *bj = b + j * m + lo;
                for (size_t k = 0; k < len; k++) cnt[k] = 0;
                for (size_t i = 0; i < nb; i++) {
                    const float *ai = a + i * m + lo;
                    for (size_t k = 0; k < len; k++) cnt[k] += sign_of(ai[k] - bj[k]);
                }
                float *d = db + j * m + lo;
                for (size_t k = 0; k < len; k++) d[k] -= s * (float)cnt[k];
            }
        }
    }
}

static void l1_pairwise_backward(ac_graph *g, ac_node *node) {
    ac_tensor *a = node->in[0], *b = node->in[1];
    size_t m = ac_numel(a) / (size_t)a->shape[0];
    ac_be()->l1_pairwise_backward(a->shape[0], m, a->data, b->data, node->out->grad[0],
                                  ac_graph_grad(g, a), ac_graph_grad(g, b));
}

// a, b: (B, ...) of the same shape -> (1)
ac_tensor *ac_l1_pairwise_mean(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    AC_ASSERT_MSG(ac_same_shape(a, b), "l1_pairwise_mean: shapes differ");
    AC_ASSERT_MSG(a->shape[0] >= 1, "l1_pairwise_mean: empty batch");
    size_t m = ac_numel(a) / (size_t)a->shape[0];
    int one = 1;
    ac_tensor *y = ac_graph_tensor(g, 1, &one);
    y->data[0] = ac_be()->l1_pairwise_forward(a->shape[0], m, a->data, b->data);
    ac_tensor *in[2] = {a, b};
    ac_graph_record(g, y, l1_pairwise_backward, 2, in);
    return y;
}
