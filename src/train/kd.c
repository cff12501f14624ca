// kd.c: the per-stage training losses (kd.h): forward on a recording graph, finiteness check,
// backward. Sums are formed in the reference's order (loss = T + PFE + PFV + SCR, each level's
// terms added in level order) so that values agree with PyTorch to float rounding.
#include "train/kd.h"

#include <math.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "model/contrastive.h"
#include "ops/ops.h"

// a + b, where a may be NULL (an empty sum).
static ac_tensor *acc(ac_graph *g, ac_tensor *a, ac_tensor *b) {
    return a ? ac_add(g, a, b) : b;
}

static ac_tensor *cat0(ac_graph *g, ac_tensor *const *xs, int n) {
    return n == 1 ? xs[0] : ac_concat(g, xs, n, 0);
}

static ac_status check_finite(const ac_step_losses *l) {
    if (isfinite(l->loss)) return AC_OK;
    return ac_fail(AC_ERR_NUMERIC,
                   "non-finite loss %g (L1 %g, T %g, PFE %g, PFV %g, SCR %g, HCR %g)", l->loss, l->l1,
                   l->t, l->pfe, l->pfv, l->scr, l->hcr);
}

static double val(const ac_tensor *t) { return t ? (double)t->data[0] : 0.0; }

// An L1 loss term: the mean over this batch (global_batch 0), or this rank's part of the mean
// over the global batch added over the ranks.
static ac_tensor *l1_term(ac_graph *g, ac_tensor *a, ac_tensor *b, int global_batch) {
    if (!global_batch) return ac_l1_mean(g, a, b);
    double per_item = (double)(ac_numel(a) / (size_t)a->shape[0]);
    return ac_allreduce_scalar(g, ac_l1_mean_over(g, a, b, (double)global_batch * per_item));
}

// Concatenation along the batch of the non-NULL tensors of xs[0..n) (at least one).
static ac_tensor *cat_present(ac_graph *g, ac_tensor *const *xs, int n) {
    ac_tensor **p = ac_xmalloc(sizeof *p * (size_t)n);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (xs[i]) p[k++] = xs[i];
    AC_ASSERT(k > 0);
    ac_tensor *y = cat0(g, p, k);
    free(p);
    return y;
}

ac_status ac_teacher_step_dp(ac_net *net, ac_graph *g, ac_tensor *input, ac_tensor *target, int global_batch,
                             ac_step_losses *out) {
    AC_ASSERT(ac_same_shape(input, target));
    ac_graph_reset(g);
    ac_tensor *y = ac_net_forward(net, g, input, NULL);
    ac_tensor *loss = l1_term(g, y, target, global_batch);
    *out = (ac_step_losses){.loss = val(loss), .l1 = val(loss)};
    ac_status st = check_finite(out);
    if (st) return st;
    ac_backward(g, loss);
    return AC_OK;
}

ac_status ac_teacher_step(ac_net *net, ac_graph *g, ac_tensor *input, ac_tensor *target,
                          ac_step_losses *out) {
    return ac_teacher_step_dp(net, g, input, target, 0, out);
}

ac_status ac_ke_step_dp(ac_net *student, const ac_vgg19 *vgg, ac_graph *g, ac_tensor *input, ac_tensor *target,
                        int global_batch, ac_step_losses *out) {
    AC_ASSERT(ac_same_shape(input, target));
    ac_graph_reset(g);
    ac_tensor *y = ac_net_forward(student, g, input, NULL);
    ac_tensor *l1 = l1_term(g, y, target, global_batch);
    ac_tensor *hcr = NULL;
    if (vgg) {
        ac_tensor *h = global_batch ? ac_hcr_loss_global(g, vgg, y, target, input, global_batch)
                                    : ac_hcr_loss(g, vgg, y, target, input);
        hcr = ac_scale(g, h, AC_KE_HCR_WEIGHT);
    }
    ac_tensor *loss = hcr ? ac_add(g, l1, hcr) : l1;
    *out = (ac_step_losses){.loss = val(loss), .l1 = val(l1), .hcr = val(hcr)};
    ac_status st = check_finite(out);
    if (st) return st;
    ac_backward(g, loss);
    return AC_OK;
}

ac_status ac_ke_step(ac_net *student, const ac_vgg19 *vgg, ac_graph *g, ac_tensor *input,
                     ac_tensor *target, ac_step_losses *out) {
    return ac_ke_step_dp(student, vgg, g, input, target, 0, out);
}

// The teachers' forward passes for ac_run_jobs: job i runs teacher jobs[i].t on samples
// [off, off + n) of the input, on an inference graph of its own that it creates.
typedef struct teacher_job {
    int t, off, n;
    ac_graph *g;
} teacher_job;

typedef struct teacher_jobs {
    const ac_kc_models *m;
    ac_tensor *input;
    teacher_job *jobs;
    ac_tensor **tout, **tfeat;  // by teacher
} teacher_jobs;

static void run_teacher(void *ctx, int i) {
    teacher_jobs *r = ctx;
    teacher_job *j = &r->jobs[i];
    j->g = ac_graph_new(false);
    ac_tensor *x = ac_slice(j->g, r->input, 0, j->off, j->off + j->n);
    r->tout[j->t] = ac_net_forward(r->m->teachers[j->t], j->g, x, r->tfeat + (size_t)j->t * AC_NET_FEATURES);
    ac_graph_drop(j->g, x);
}

ac_status ac_kc_step_dp(const ac_kc_models *m, ac_graph *g, ac_tensor *input, ac_tensor *target,
                        const int *type_counts, int global_batch, ac_step_losses *out) {
    AC_ASSERT(ac_same_shape(input, target));
    AC_ASSERT(m->ckt && m->ckt->n_teachers == m->n_teachers);
    const int T = m->n_teachers;
    ac_graph_reset(g);

    // Teachers: each restores its own part of the batch (if any) on an inference graph of its
    // own (no tape); its output and features stay alive there until the backward pass is
    // done. They run side by side, a share of the threads each (ac_run_jobs): a teacher's
    // single 224x224 image took 0.151 s on one thread and 0.106 s on two.
    teacher_jobs tj = {.m = m, .input = input, .jobs = ac_xcalloc((size_t)T, sizeof(teacher_job)),
                       .tout = ac_xcalloc((size_t)T, sizeof(ac_tensor *)),
                       .tfeat = ac_xcalloc((size_t)T * AC_NET_FEATURES, sizeof(ac_tensor *))};
    ac_tensor **tout = tj.tout, **tfeat = tj.tfeat;
    int off = 0, n_jobs = 0;
    for (int t = 0; t < T; t++) {
        AC_ASSERT(type_counts[t] >= 0);
        if (type_counts[t]) tj.jobs[n_jobs++] = (teacher_job){.t = t, .off = off, .n = type_counts[t]};
        off += type_counts[t];
    }
    AC_ASSERT(off == input->shape[0]);
    ac_run_jobs(n_jobs, run_teacher, &tj);

    ac_tensor *S[AC_NET_FEATURES];
    ac_tensor *y = ac_net_forward(m->student, g, input, S);
    ac_tensor *tl = l1_term(g, y, cat_present(g, tout, T), global_batch);

    ac_tensor **F = ac_xcalloc((size_t)T * 3, sizeof *F), **P = F + T, **R = F + 2 * T;
    ac_tensor *pfe = NULL, *pfv = NULL;
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        for (int t = 0; t < T; t++) F[t] = tfeat[(size_t)t * AC_NET_FEATURES + l];
        ac_tensor *Q;
        ac_ckt_forward(m->ckt, g, l, F, S[l], P, R, &Q);
        pfe = acc(g, pfe, l1_term(g, Q, cat_present(g, P, T), global_batch));
        ac_tensor *v = l1_term(g, cat_present(g, R, T), cat_present(g, F, T), global_batch);
        pfv = acc(g, pfv, ac_scale(g, v, AC_KC_PFV_WEIGHT));
    }
    ac_tensor *loss = ac_add(g, ac_add(g, tl, pfe), pfv);
    ac_tensor *scr = NULL;
    if (m->vgg) {
        ac_tensor *c = global_batch ? ac_scr_loss_global(g, m->vgg, y, target, input, global_batch)
                                    : ac_scr_loss(g, m->vgg, y, target, input);
        scr = ac_scale(g, c, AC_KC_SCR_WEIGHT);
        loss = ac_add(g, loss, scr);
    }
    *out = (ac_step_losses){.loss = val(loss), .t = val(tl), .pfe = val(pfe), .pfv = val(pfv), .scr = val(scr)};
    ac_status st = check_finite(out);
    if (!st) ac_backward(g, loss);
    free(F);
    for (int i = 0; i < n_jobs; i++) ac_graph_free(tj.jobs[i].g);
    free(tj.jobs);
    free(tfeat);
    free(tout);
    return st;
}

ac_status ac_kc_step(const ac_kc_models *m, ac_graph *g, ac_tensor *input, ac_tensor *target,
                     const int *type_counts, ac_step_losses *out) {
    return ac_kc_step_dp(m, g, input, target, type_counts, 0, out);
}
