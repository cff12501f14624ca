// prelu.c: PReLU with one shared slope (nn.PReLU()): y = x > 0 ? x : slope x. As in PyTorch,
// x == 0 takes the slope branch: dx = slope dy there, and the slope gradient is the sum over
// x <= 0 of x dy (accumulated in double over a fixed partition, see chunked_sum.h).
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"
#include "core/chunked_sum.h"
#include "ops/ops.h"

// x, y: (n)
void ac_cpu_prelu_forward(size_t n, float slope, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

// x, dy, dx: (n); dslope: (1). Either gradient may be NULL.
void ac_cpu_prelu_backward(size_t n, float slope, const float *x, const float *dy, float *dx,
                           float *dslope) {
    if (dx) {
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i];
    }
    if (dslope) {
        double part[AC_SUM_MAX_CHUNKS];
        size_t nch = ac_sum_chunks(n, n);
#pragma omp parallel for schedule(static) if (nch > 1)
        for (size_t c = 0; c < nch; c++) {
            const size_t lo = ac_chunk_lo(n, nch, c), hi = ac_chunk_hi(n, nch, c);
            part[c] = ac_dot_nonpos_f64(x + lo, dy + lo, hi - lo);
        }
        double s = 0;
        for (size_t c = 0; c < nch; c++) s += part[c];
        *dslope += (float)s;
    }
}

static void prelu_backward(ac_graph *g, ac_node *node) {
    ac_tensor *x = node->in[0], *slope = node->in[1], *y = node->out;
    ac_be()->prelu_backward(ac_numel(x), slope->data[0], x->data, y->grad, ac_graph_grad(g, x),
                            ac_graph_grad(g, slope));
}

// x: any shape; slope: one element
ac_tensor *ac_prelu(ac_graph *g, ac_tensor *x, ac_tensor *slope) {
    AC_ASSERT_MSG(ac_numel(slope) == 1, "prelu: the slope must have one element");
    ac_tensor *y = ac_graph_tensor_like(g, x);
    ac_be()->prelu_forward(ac_numel(x), slope->data[0], x->data, y->data);
    ac_tensor *in[2] = {x, slope};
    ac_graph_record(g, y, prelu_backward, 2, in);
    return y;
}
