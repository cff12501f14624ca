// cpu_backend.c: the CPU backend table, GEMM through OpenBLAS, and thread-count control.
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "backend/cpu/cpu_kernels.h"
#include "core/common.h"

static const ac_backend cpu_backend = {
    .name = "cpu",
    .conv2d_forward = ac_cpu_conv2d_forward,
    .conv2d_backward = ac_cpu_conv2d_backward,
    .conv2d_fused = ac_cpu_conv2d_fused,
    .conv2d_fused_takes_add_sub = ac_cpu_conv2d_fused_takes_add_sub,
    .conv2d_fused_backward = ac_cpu_conv2d_fused_backward,
    .conv_epilogue = ac_cpu_conv_epilogue,
    .conv_transpose2d_forward = ac_cpu_conv_transpose2d_forward,
    .conv_transpose2d_backward = ac_cpu_conv_transpose2d_backward,
    .conv_transpose2d_fused = ac_cpu_conv_transpose2d_fused,
    .conv_transpose2d_fused_backward = ac_cpu_conv_transpose2d_fused_backward,
    .reflection_pad_forward = ac_cpu_reflection_pad_forward,
    .reflection_pad_backward = ac_cpu_reflection_pad_backward,
    .relu_forward = ac_cpu_relu_forward,
    .relu_backward = ac_cpu_relu_backward,
    .prelu_forward = ac_cpu_prelu_forward,
    .prelu_backward = ac_cpu_prelu_backward,
    .resize_bilinear_forward = ac_cpu_resize_bilinear_forward,
    .resize_bilinear_backward = ac_cpu_resize_bilinear_backward,
    .maxpool2x2_forward = ac_cpu_maxpool2x2_forward,
    .maxpool2x2_backward = ac_cpu_maxpool2x2_backward,
    .add = ac_cpu_add,
    .sub = ac_cpu_sub,
    .scale = ac_cpu_scale,
    .add_const = ac_cpu_add_const,
    .axpy = ac_cpu_axpy,
    .copy_blocks = ac_cpu_copy_blocks,
    .acc_blocks = ac_cpu_acc_blocks,
    .l1_mean_forward = ac_cpu_l1_mean_forward,
    .l1_mean_backward = ac_cpu_l1_mean_backward,
    .l1_pairwise_forward = ac_cpu_l1_pairwise_forward,
    .l1_pairwise_backward = ac_cpu_l1_pairwise_backward,
    .sum_forward = ac_cpu_sum_forward,
};

// All threading goes through OpenMP: OpenBLAS runs single-threaded inside OpenMP work
// splits (the conv drivers), because two thread pools spinning on the same cores slow each
// other down several times over.
//
// Memory: activations and kernel workspaces of tens of MB are allocated and freed over and over.
// glibc's default serves blocks above its mmap threshold (at most 32 MB) with fresh mappings
// and returns freed heap tops to the system, so that each reuse pays page faults to zero
// fresh pages (a quarter of a training step's time). The backend raises both thresholds once:
// freed blocks stay in the heap for the next request.
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) {
    openblas_set_num_threads(1);
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

const ac_backend *ac_backend_cpu(void) {
    pthread_once(&blas_once, blas_single_thread);
    return &cpu_backend;
}
const ac_backend *ac_be(void) { return ac_backend_cpu(); }

static int ac_threads = 0;

void ac_set_threads(int n) {
    AC_ASSERT(n >= 1);
    pthread_once(&blas_once, blas_single_thread);
    ac_threads = n;
    omp_set_num_threads(n);
}

int ac_get_threads(void) { return ac_threads > 0 ? ac_threads : omp_get_max_threads(); }

// Groups of up to P jobs; in a group of k, thread t of the team runs jobs t, t + team, ...
// with its share of the threads (nthreads-var is per task: the kernels' own regions inside a
// job take that many). A team smaller than asked for still runs every job of its group.
void ac_run_jobs(int n, void (*job)(void *ctx, int i), void *ctx) {
    AC_ASSERT(n >= 0 && job);
    const int P = ac_get_threads();
    for (int i0 = 0; i0 < n;) {
        const int k = AC_MIN(P, n - i0);
        if (k <= 1) {
            job(ctx, i0++);
            continue;
        }
#pragma omp parallel num_threads(k)
        {
            // P / k threads a job, and the first P % k jobs one more (when each job has a
            // thread of the team to itself)
            const int t = omp_get_thread_num(), team = omp_get_num_threads();
            omp_set_num_threads(AC_MAX(1, P / k + (team == k && t < P % k)));
            for (int j = t; j < k; j += team) job(ctx, i0 + j);
        }
        i0 += k;
    }
}

void ac_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
