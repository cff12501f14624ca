// bench_steps.c: wall time of one training step of each stage at the reference batch (3) and
// patch size (224), random weights: the loss of each stage (shared spec training.md: teacher
// L1; knowledge collation with 3 frozen teachers, CKT feature losses and SCR through VGG19;
// knowledge examination with L1 and HCR through VGG19) on a recording graph, the backward
// pass and an Adam update of the trainable parameters, through the trainer's step functions
// (src/train/kd.h). Two untimed steps precede the timed ones (the first sizes the graph's
// arena, the second touches the single chunk that replaces its pieces); the page faults of
// the timed steps are reported (0 in the steady state).
// Prints one parseable line per stage:
//   allclear step-<stage> threads=N size=HxW batch=B best_s=... median_s=... runs=R peak_rss_mib=...
// Usage: bench_steps [--threads N] [--size S] [--batch B] [--reps R] [--only teacher|kc|ke]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "backend/backend.h"
#include "core/graph.h"
#include "core/rng.h"
#include "model/ckt.h"
#include "model/net.h"
#include "model/vgg19.h"
#include "optim/optim.h"
#include "train/kd.h"
#include "bench_util.h"

#define N_TEACHERS 3

static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

typedef struct models {
    ac_net *student, *teachers[N_TEACHERS];
    ac_ckt *ckt;
    ac_vgg19 *vgg;
    ac_adam *adam_teacher, *adam_kc, *adam_ke;
} models;

static ac_adam *adam_for(ac_params *const *ps, int n) {
    ac_adam *a = ac_adam_new(0.9, 0.999, 1e-8, 0.0);
    for (int i = 0; i < n; i++) {
        ac_params_set_trainable(ps[i], true);
        ac_tensor **ts = malloc((size_t)ps[i]->count * sizeof *ts);
        for (int k = 0; k < ps[i]->count; k++) ts[k] = ps[i]->items[k].tensor;
        ac_adam_add_group(a, ts, ps[i]->count, 1e-4);
        free(ts);
    }
    return a;
}

static void check(ac_status st) {
    if (st) {
        fprintf(stderr, "bench_steps: %s\n", ac_error_message());
        exit(1);
    }
}

static void step_teacher(models *m, ac_graph *g, ac_tensor *x, ac_tensor *t) {
    ac_step_losses l;
    ac_adam_zero_grad(m->adam_teacher);
    check(ac_teacher_step(m->teachers[0], g, x, t, &l));
    ac_adam_step(m->adam_teacher);
}

static void step_ke(models *m, ac_graph *g, ac_tensor *x, ac_tensor *t) {
    ac_step_losses l;
    ac_adam_zero_grad(m->adam_ke);
    check(ac_ke_step(m->student, m->vgg, g, x, t, &l));
    ac_adam_step(m->adam_ke);
}

// Batch grouped by type, as many samples of each type.
static void step_kc(models *m, ac_graph *g, ac_tensor *x, ac_tensor *t) {
    ac_step_losses l;
    int counts[N_TEACHERS];
    for (int k = 0; k < N_TEACHERS; k++) counts[k] = x->shape[0] / N_TEACHERS;
    ac_kc_models km = {m->student, m->teachers, N_TEACHERS, m->ckt, m->vgg};
    ac_adam_zero_grad(m->adam_kc);
    check(ac_kc_step(&km, g, x, t, counts, &l));
    ac_adam_step(m->adam_kc);
}

typedef void (*step_fn)(models *, ac_graph *, ac_tensor *, ac_tensor *);

int main(int argc, char **argv) {
    int threads = 2, size = 224, batch = 3, reps = 3;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--threads N] [--size S] [--batch B] [--reps R] "
                            "[--only teacher|kc|ke]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || size < 32 || size % 16 || batch < N_TEACHERS ||
        batch % N_TEACHERS) {
        fprintf(stderr, "threads, reps >= 1; size a multiple of 16; batch a multiple of %d\n",
                N_TEACHERS);
        return 2;
    }
    ac_set_threads(threads);
    ac_rng r;
    ac_rng_seed(&r, 2);
    const ac_net_config cfg = {AC_NET_DEFAULT_WIDTH, AC_NET_DEFAULT_RES_BLOCKS};
    models m;
    m.student = ac_net_new(&cfg, &r);
    for (int k = 0; k < N_TEACHERS; k++) m.teachers[k] = ac_net_new(&cfg, &r);
    m.ckt = ac_ckt_new(cfg.width, N_TEACHERS, &r);
    m.vgg = ac_vgg19_new();
    ac_params_fill_pattern(m.vgg->params, 2.0);
    ac_params *p_teacher[1] = {ac_net_params(m.teachers[0])};
    ac_params *p_kc[2] = {ac_net_params(m.student), m.ckt->params};
    ac_params *p_ke[1] = {ac_net_params(m.student)};
    m.adam_teacher = adam_for(p_teacher, 1);
    m.adam_kc = adam_for(p_kc, 2);
    m.adam_ke = adam_for(p_ke, 1);
    // teachers 1.. stay frozen (only teacher 0 trains, in its own stage)
    ac_tensor *x = ac_tensor_new4(batch, 3, size, size), *t = ac_tensor_new4(batch, 3, size, size);
    for (size_t i = 0; i < ac_numel(x); i++) x->data[i] = ac_rng_uniform(&r);
    for (size_t i = 0; i < ac_numel(t); i++) t->data[i] = ac_rng_uniform(&r);
    const char *names[3] = {"teacher", "kc", "ke"};
    step_fn fns[3] = {step_teacher, step_kc, step_ke};
    ac_graph *g = ac_graph_new(true);
    double *times = malloc((size_t)(reps + 1) * sizeof *times);
    for (int s = 0; s < 3; s++) {
        if (only && strcmp(only, names[s])) continue;
        // KC trains the student while the teachers are frozen; the teacher stage trains
        // teacher 0 alone.
        ac_params_set_trainable(ac_net_params(m.teachers[0]), s == 0);
        // Two untimed steps: the first sizes the graph's arena in chunks, the second touches
        // the single chunk that replaces them; later steps reuse it.
        for (int i = 0; i < 2; i++) fns[s](&m, g, x, t);
        long faults = 0;
        for (int i = 1; i <= reps; i++) {
            long f0 = minor_faults();
            double st = ac_bench_now();
            fns[s](&m, g, x, t);
            times[i] = ac_bench_now() - st;
            faults += minor_faults() - f0;
        }
        qsort(times + 1, (size_t)reps, sizeof *times, ac_bench_cmp_double);
        printf("allclear step-%s threads=%d size=%dx%d batch=%d best_s=%.3f median_s=%.3f "
               "runs=%d peak_rss_mib=%.0f page_faults_per_step=%ld\n",
               names[s], threads, size, size, batch, times[1], times[1 + reps / 2], reps,
               ac_bench_peak_rss_mib(), faults / reps);
        fflush(stdout);
    }
    free(times);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(t);
    ac_adam_free(m.adam_teacher);
    ac_adam_free(m.adam_kc);
    ac_adam_free(m.adam_ke);
    ac_vgg19_free(m.vgg);
    ac_ckt_free(m.ckt);
    for (int k = 0; k < N_TEACHERS; k++) ac_net_free(m.teachers[k]);
    ac_net_free(m.student);
    return 0;
}
