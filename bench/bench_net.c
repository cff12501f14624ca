// bench_net.c: wall time of the restoration network's forward pass (ac_net_forward on an
// inference graph, the work of a restore) and, for the training steps, of one step of each
// stage, with the process's peak resident memory. Prints one parseable line per measurement:
//   allclear <what> threads=N size=HxW batch=B best_s=... median_s=... runs=R peak_rss_mib=...
// (and cpu_best_s: the least process CPU time of a run, all threads together).
// Usage: bench_net [--threads N] [--size HxW] [--batch B] [--reps R] [--width W]
//                  [--res-blocks R]
// Parameters get PyTorch's default initialisation from a fixed seed; the input is uniform in
// [0, 1). One untimed warm-up run precedes the timed ones.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backend/backend.h"
#include "core/graph.h"
#include "core/rng.h"
#include "model/net.h"
#include "bench_util.h"

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [--threads N] [--size HxW] [--batch B] [--reps R] [--width W] "
            "[--res-blocks R]\n",
            argv0);
    exit(2);
}

int main(int argc, char **argv) {
    int threads = 2, h = 480, w = 640, batch = 1, reps = 3;
    ac_net_config cfg = {AC_NET_DEFAULT_WIDTH, AC_NET_DEFAULT_RES_BLOCKS};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--width") && i + 1 < argc) cfg.width = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--res-blocks") && i + 1 < argc) cfg.res_blocks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &h, &w) != 2) usage(argv[0]);
        } else usage(argv[0]);
    }
    if (threads < 1 || reps < 1 || batch < 1 || h < 16 || w < 16 || h % 16 || w % 16) {
        fprintf(stderr, "threads, reps, batch >= 1; sides multiples of 16\n");
        return 2;
    }
    if (ac_net_config_check(&cfg) != AC_OK) {
        fprintf(stderr, "%s\n", ac_error_message());
        return 2;
    }
    ac_set_threads(threads);
    ac_rng r;
    ac_rng_seed(&r, 1);
    ac_net *net = ac_net_new(&cfg, &r);
    ac_tensor *x = ac_tensor_new4(batch, 3, h, w);
    for (size_t i = 0; i < ac_numel(x); i++) x->data[i] = ac_rng_uniform(&r);

    double *t = malloc((size_t)(reps + 1) * sizeof *t), *cpu = malloc((size_t)(reps + 1) * sizeof *cpu);
    size_t graph_peak = 0;
    for (int i = 0; i <= reps; i++) {  // run 0 is the warm-up
        ac_graph *g = ac_graph_new(false);
        double s = ac_bench_now(), sc = ac_bench_cpu_now();
        ac_tensor *y = ac_net_forward(net, g, x, NULL);
        t[i] = ac_bench_now() - s;
        cpu[i] = ac_bench_cpu_now() - sc;
        (void)y;
        graph_peak = ac_graph_peak_bytes(g);
        ac_graph_free(g);
    }
    qsort(t + 1, (size_t)reps, sizeof *t, ac_bench_cmp_double);
    qsort(cpu + 1, (size_t)reps, sizeof *cpu, ac_bench_cmp_double);
    printf("allclear forward threads=%d size=%dx%d batch=%d best_s=%.3f median_s=%.3f runs=%d "
           "peak_rss_mib=%.0f graph_peak_mib=%.0f cpu_best_s=%.3f\n",
           threads, h, w, batch, t[1], t[1 + reps / 2], reps, ac_bench_peak_rss_mib(),
           (double)graph_peak / (1024.0 * 1024.0), cpu[1]);
    free(t);
    free(cpu);
    ac_tensor_free(x);
    ac_net_free(net);
    return 0;
}
