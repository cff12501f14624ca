// bench_train_step.c: wall time of one training step of each stage (teacher L1, knowledge
// collation with 3 teachers, knowledge examination) including the Adam update, on random
// data and seeded random weights (VGG19 too), with the reference network by default. Wall
// time and process CPU time (all threads) per step: on a shared machine CPU time / threads
// estimates the wall time of an idle one.
// Usage: bench_train_step [--batch B] [--size S] [--width W] [--res-blocks N] [--steps K]
//                         [--threads N] [--no-contrastive] [--only teacher|kc|ke]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "optim/optim.h"
#include "train/kd.h"
#include "train/vgg_load.h"
#include "bench_util.h"

int main(int argc, char **argv) {
    int batch = 3, size = 224, width = 16, res_blocks = 18, steps = 2, threads = 0, T = 3;
    bool contrastive = true;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--batch")) batch = atoi(v), i++;
        else if (!strcmp(a, "--size")) size = atoi(v), i++;
        else if (!strcmp(a, "--width")) width = atoi(v), i++;
        else if (!strcmp(a, "--res-blocks")) res_blocks = atoi(v), i++;
        else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
        else if (!strcmp(a, "--threads")) threads = atoi(v), i++;
        else if (!strcmp(a, "--only")) only = v, i++;
        else if (!strcmp(a, "--no-contrastive")) contrastive = false;
        else {
            fprintf(stderr, "usage: bench_train_step [--batch B] [--size S] [--width W] [--res-blocks N] "
                            "[--steps K] [--threads N] [--no-contrastive] [--only teacher|kc|ke]\n");
            return 2;
        }
    }
    if (batch < T || size % 16 || size < 32 || steps < 1) {
        fprintf(stderr, "bench_train_step: need batch >= %d, size a multiple of 16 >= 32, steps >= 1\n", T);
        return 2;
    }
    if (threads > 0) ac_set_threads(threads);
    ac_rng r;
    ac_rng_seed(&r, 1);
    ac_net_config cfg = {width, res_blocks};
    ac_net *student = ac_net_new(&cfg, &r), *teachers[3];
    for (int t = 0; t < T; t++) teachers[t] = ac_net_new(&cfg, &r);
    ac_ckt *ckt = ac_ckt_new(width, T, &r);
    ac_vgg19 *vgg = contrastive ? ac_vgg_random(2) : NULL;
    ac_params_set_trainable(ac_net_params(student), true);
    ac_params_set_trainable(ckt->params, true);
    ac_params *ps[2] = {ac_net_params(student), ckt->params};
    int n = 0;
    ac_tensor **list = ac_xmalloc(sizeof *list * (size_t)(ps[0]->count + ps[1]->count));
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ps[k]->count; i++) list[n++] = ps[k]->items[i].tensor;
    ac_adam *opt = ac_adam_new(0.9, 0.999, 1e-8, 0);
    ac_adam_add_group(opt, list, n, 1e-4);
    ac_tensor *in = ac_tensor_new4(batch, 3, size, size), *gt = ac_tensor_new4(batch, 3, size, size);
    for (size_t i = 0; i < ac_numel(in); i++) {
        gt->data[i] = ac_rng_uniform(&r);
        in->data[i] = 0.5f * gt->data[i] + 0.3f;
    }
    int counts[3];
    for (int t = 0; t < T; t++) counts[t] = batch / T + (t < batch % T);
    printf("batch %d, %dx%d, width %d, %d res blocks (%zu parameters), %d threads, %s\n", batch, size, size, width,
           res_blocks, ac_params_numel(ac_net_params(student)), ac_get_threads(),
           contrastive ? "with SCR/HCR (VGG19)" : "no contrastive terms");
    ac_graph *g = ac_graph_new(true);
    const char *stages[3] = {"teacher", "kc", "ke"};
    for (int s = 0; s < 3; s++) {
        if (only && strcmp(only, stages[s])) continue;
        double best = 1e30, sum = 0, cpu = 0;
        ac_step_losses l = {0};
        for (int k = 0; k < steps; k++) {
            double t0 = ac_bench_now(), c0 = ac_bench_cpu_now();
            ac_adam_zero_grad(opt);
            ac_status st;
            if (s == 0) {
                st = ac_teacher_step(student, g, in, gt, &l);
            } else if (s == 1) {
                ac_kc_models m = {student, teachers, T, ckt, vgg};
                st = ac_kc_step(&m, g, in, gt, counts, &l);
            } else {
                st = ac_ke_step(student, vgg, g, in, gt, &l);
            }
            if (st) {
                fprintf(stderr, "bench_train_step: %s\n", ac_error_message());
                return 1;
            }
            ac_adam_step(opt);
            double dt = ac_bench_now() - t0;
            cpu += ac_bench_cpu_now() - c0;
            sum += dt;
            if (dt < best) best = dt;
        }
        printf("%-8s step: wall best %.2f s, mean %.2f s over %d; CPU %.2f s per step (loss %.4f, peak "
               "activations %.0f MB)\n",
               stages[s], best, sum / steps, steps, cpu / steps, l.loss, ac_graph_peak_bytes(g) / 1048576.0);
        fflush(stdout);
    }
    ac_graph_free(g);
    ac_tensor_free(in);
    ac_tensor_free(gt);
    ac_adam_free(opt);
    free(list);
    ac_vgg19_free(vgg);
    ac_ckt_free(ckt);
    for (int t = 0; t < T; t++) ac_net_free(teachers[t]);
    ac_net_free(student);
    return 0;
}
