// bench_restore.c: time and peak memory of restoring one photo with the reference-size
// network (width 16, 18 bottleneck blocks, 28.7 M parameters, random weights) through the
// restore pipeline (src/restore), as `allclear restore` does. The work runs in a forked
// child so that the peak resident memory (the child's ru_maxrss, and its VmHWM) counts only
// the restoration: weights, image buffers and activations.
// Prints one line per timed run and a final line
//   RESULT c threads=N size=WxH median_s=... best_s=... peak_rss_mb=...
// Usage: bench_restore [--threads N] [--reps R] [--width W] [--height H] [--tile T]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "backend/backend.h"
#include "core/rng.h"
#include "model/net.h"
#include "restore/restore.h"
#include "bench_util.h"

// Peak resident set of this process in MB from /proc/self/status (VmHWM), or -1.
static double vm_hwm_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) mb = atof(line + 6) / 1024.0;
    fclose(f);
    return mb;
}

typedef struct bench_cfg {
    int threads, reps, width, height, tile;
} bench_cfg;

// The child: builds the network and image, restores reps + 1 times (the first is a warm-up),
// writes "median best hwm" to fd.
static int child(const bench_cfg *c, int fd) {
    ac_set_threads(c->threads);
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 1 << 30);  // as `allclear restore` does (cmd_restore.c)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
    ac_net_config cfg = {AC_NET_DEFAULT_WIDTH, AC_NET_DEFAULT_RES_BLOCKS};
    ac_rng rng;
    ac_rng_seed(&rng, 1);
    ac_net *net = ac_net_new(&cfg, &rng);
    ac_tensor *x = ac_tensor_new4(1, 3, c->height, c->width);
    for (size_t i = 0; i < ac_numel(x); i++) x->data[i] = ac_rng_uniform(&rng);
    ac_restore_opts o;
    ac_restore_opts_init(&o);
    o.tile = c->tile;
    double *t = malloc(sizeof(double) * (size_t)c->reps);
    for (int r = -1; r < c->reps; r++) {
        ac_tensor *y = NULL;
        double s = ac_bench_now();
        if (ac_restore_image(net, x, &o, &y) != AC_OK) {
            fprintf(stderr, "bench_restore: %s\n", ac_error_message());
            return 1;
        }
        double dt = ac_bench_now() - s;
        ac_tensor_free(y);
        if (r < 0) {
            printf("  warm-up %.3f s\n", dt);
        } else {
            t[r] = dt;
            printf("  run %d   %.3f s\n", r + 1, dt);
        }
        fflush(stdout);
    }
    qsort(t, (size_t)c->reps, sizeof *t, ac_bench_cmp_double);
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%.6f %.6f %.1f\n", t[c->reps / 2], t[0], vm_hwm_mb());
    if (write(fd, buf, (size_t)n) != n) return 1;
    free(t);
    ac_tensor_free(x);
    ac_net_free(net);
    return 0;
}

int main(int argc, char **argv) {
    bench_cfg c = {2, 3, 640, 480, 0};
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--threads")) c.threads = v;
        else if (!strcmp(argv[i], "--reps")) c.reps = v;
        else if (!strcmp(argv[i], "--width")) c.width = v;
        else if (!strcmp(argv[i], "--height")) c.height = v;
        else if (!strcmp(argv[i], "--tile")) c.tile = v;
        else {
            fprintf(stderr, "usage: bench_restore [--threads N] [--reps R] [--width W] [--height H] [--tile T]\n");
            return 2;
        }
    }
    if (c.threads < 1 || c.reps < 1 || c.width < 16 || c.height < 16) {
        fprintf(stderr, "bench_restore: bad arguments\n");
        return 2;
    }
    printf("bench_restore: MSBDN-RDFF width %d, %d blocks, %dx%d image, %d threads, tile %d, %d runs\n",
           AC_NET_DEFAULT_WIDTH, AC_NET_DEFAULT_RES_BLOCKS, c.width, c.height, c.threads, c.tile, c.reps);
    fflush(stdout);
    int p[2];
    if (pipe(p) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        close(p[0]);
        _exit(child(&c, p[1]));
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t got = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    int status;
    struct rusage ru;  // of the (only) waited-for child: its ru_maxrss
    if (waitpid(pid, &status, 0) < 0 || getrusage(RUSAGE_CHILDREN, &ru) != 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || got <= 0) {
        fprintf(stderr, "bench_restore: the measuring process failed\n");
        return 1;
    }
    double median, best, hwm;
    if (sscanf(buf, "%lf %lf %lf", &median, &best, &hwm) != 3) return 1;
    printf("  child ru_maxrss %.1f MB, VmHWM %.1f MB\n", (double)ru.ru_maxrss / 1024.0, hwm);
    printf("RESULT c threads=%d size=%dx%d median_s=%.3f best_s=%.3f peak_rss_mb=%.1f\n", c.threads, c.width,
           c.height, median, best, (double)ru.ru_maxrss / 1024.0);
    return 0;
}
