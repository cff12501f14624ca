// bench_grad_sync.c: the gradient allreduce of data-parallel training alone (grad_sync.h),
// run under mpirun: tensors of the sizes of a network's parameters (default: the student at
// width 16 with 4 res blocks), summed over the ranks with several bucket sizes, after a
// barrier so that no rank waits for another's backward pass. Prints the median time per
// exchange and the bandwidth per rank (bytes of gradients / time).
// Usage: mpirun -np 2 bench_grad_sync [--width W] [--res-blocks N] [--reps K]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "dist/grad_sync.h"
#include "model/net.h"
#include "bench_util.h"

int main(int argc, char **argv) {
    if (ac_dist_init(&argc, &argv)) {
        fprintf(stderr, "%s\n", ac_error_message());
        return 1;
    }
    int width = 16, res_blocks = 4, reps = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--width")) width = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--res-blocks")) res_blocks = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 1000) reps = 7;
    ac_net_config cfg = {width, res_blocks};
    ac_net *net = ac_net_new(&cfg, NULL);
    ac_params *p = ac_net_params(net);
    ac_params_set_trainable(p, true);
    ac_tensor **list = ac_xmalloc(sizeof *list * (size_t)p->count);
    for (int i = 0; i < p->count; i++) {
        list[i] = p->items[i].tensor;
        for (size_t k = 0; k < ac_numel(list[i]); k++) list[i]->grad[k] = 1e-3f * (float)(k % 13);
    }
    size_t bytes = ac_params_numel(p) * sizeof(float);
    const size_t buckets[] = {(size_t)1 << 20, (size_t)4 << 20, AC_GRAD_SYNC_BUCKET_BYTES, (size_t)25 << 20,
                              (size_t)1 << 40};
    if (ac_dist_rank() == 0)
        printf("gradient allreduce on %d ranks: %d tensors, %.1f MB\n%-14s %10s %12s %10s\n", ac_dist_size(),
               p->count, bytes / 1e6, "bucket", "buckets", "median ms", "GB/s");
    double *t = ac_xmalloc(sizeof *t * (size_t)reps);
    for (size_t b = 0; b < sizeof buckets / sizeof buckets[0]; b++) {
        ac_grad_sync *s = ac_grad_sync_new(buckets[b]);
        for (int r = 0; r < reps; r++) {
            ac_dist_barrier();
            double t0 = ac_bench_now();
            if (ac_grad_sync_run(s, list, p->count)) {
                fprintf(stderr, "%s\n", ac_error_message());
                return 1;
            }
            t[r] = ac_bench_now() - t0;
        }
        // the slowest rank's time of each exchange
        double *all = ac_xmalloc(sizeof *all * (size_t)reps);
        for (int r = 0; r < reps; r++) all[r] = t[r];
        qsort(all, (size_t)reps, sizeof *all, ac_bench_cmp_double);
        double med = all[reps / 2];
        free(all);
        double worst = med;
        float w = (float)med;
        // max over ranks of the medians (one float is enough for a report)
        float sum = w;
        ac_dist_allreduce_sum(&sum, 1);
        worst = sum / ac_dist_size();  // mean over ranks
        char name[32];
        if (buckets[b] >= ((size_t)1 << 40)) snprintf(name, sizeof name, "one");
        else snprintf(name, sizeof name, "%zu MB", buckets[b] >> 20);
        if (ac_dist_rank() == 0)
            printf("%-14s %10lld %12.2f %10.2f\n", name, (long long)(ac_grad_sync_buckets(s) / reps), worst * 1e3,
                   bytes / worst / 1e9);
        ac_grad_sync_free(s);
    }
    free(t);
    free(list);
    ac_net_free(net);
    ac_dist_finalize();
    return 0;
}
