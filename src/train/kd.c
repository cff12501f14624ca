// kd.c: the per-stage training losses (kd.h): forward on a recording graph, finiteness check,
// backward. Sums are formed in the reference's order (loss = T + PFE + PFV + SCR, each level's
// terms added in level order) so that values agree with PyTorch to float rounding.
#include "train/kd.h"

#include <math.h>
#include <stdlib.h>

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

ac_status ac_teacher_step(ac_net *net, ac_graph *g, ac_tensor *input, ac_tensor *target,
                          ac_step_losses *out) {
    AC_ASSERT(ac_same_shape(input, target));
    ac_graph_reset(g);
    ac_tensor *y = ac_net_forward(net, g, input, NULL);
    ac_tensor *loss = ac_l1_mean(g, y, target);
    *out = (ac_step_losses){.loss = val(loss), .l1 = val(loss)};
    ac_status st = check_finite(out);
    if (st) return st;
    ac_backward(g, loss);
    return AC_OK;
}

ac_status ac_ke_step(ac_net *student, const ac_vgg19 *vgg, ac_graph *g, ac_tensor *input,
                     ac_tensor *target, ac_step_losses *out) {
    AC_ASSERT(ac_same_shape(input, target));
    ac_graph_reset(g);
    ac_tensor *y = ac_net_forward(student, g, input, NULL);
    ac_tensor *l1 = ac_l1_mean(g, y, target);
    ac_tensor *hcr = vgg ? ac_scale(g, ac_hcr_loss(g, vgg, y, target, input), AC_KE_HCR_WEIGHT) : NULL;
    ac_tensor *loss = hcr ? ac_add(g, l1, hcr) : l1;
    *out = (ac_step_losses){.loss = val(loss), .l1 = val(l1), .hcr = val(hcr)};
    ac_status st = check_finite(out);
    if (st) return st;
    ac_backward(g, loss);
    return AC_OK;
}

ac_status ac_kc_step(const ac_kc_models *m, ac_graph *g, ac_tensor *input, ac_tensor *target,
                     const int *type_counts, ac_step_losses *out) {
    AC_ASSERT(ac_same_shape(input, target));
    AC_ASSERT(m->ckt && m->ckt->n_teachers == m->n_teachers);
    const int T = m->n_teachers;
    ac_graph_reset(g);

    // Teachers: each restores its own part of the batch on an inference graph (no tape); its
    // output and features stay alive there until the backward pass is done.
    ac_graph *tg = ac_graph_new(false);
    ac_tensor **tout = ac_xcalloc((size_t)T, sizeof *tout);
    ac_tensor **tfeat = ac_xcalloc((size_t)T * AC_NET_FEATURES, sizeof *tfeat);
    int off = 0;
    for (int t = 0; t < T; t++) {
        AC_ASSERT_MSG(type_counts[t] > 0, "a collation batch needs every weather type");
        ac_tensor *x = ac_slice(tg, input, 0, off, off + type_counts[t]);
        tout[t] = ac_net_forward(m->teachers[t], tg, x, tfeat + (size_t)t * AC_NET_FEATURES);
        ac_graph_drop(tg, x);
        off += type_counts[t];
    }
    AC_ASSERT(off == input->shape[0]);

    ac_tensor *S[AC_NET_FEATURES];
    ac_tensor *y = ac_net_forward(m->student, g, input, S);
    ac_tensor *tl = ac_l1_mean(g, y, cat0(g, tout, T));

    ac_tensor **F = ac_xcalloc((size_t)T * 3, sizeof *F), **P = F + T, **R = F + 2 * T;
    ac_tensor *pfe = NULL, *pfv = NULL;
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        for (int t = 0; t < T; t++) F[t] = tfeat[(size_t)t * AC_NET_FEATURES + l];
        ac_tensor *Q;
        ac_ckt_forward(m->ckt, g, l, F, S[l], P, R, &Q);
        pfe = acc(g, pfe, ac_l1_mean(g, Q, cat0(g, P, T)));
        ac_tensor *v = ac_l1_mean(g, cat0(g, R, T), cat0(g, F, T));
        pfv = acc(g, pfv, ac_scale(g, v, AC_KC_PFV_WEIGHT));
    }
    ac_tensor *loss = ac_add(g, ac_add(g, tl, pfe), pfv);
    ac_tensor *scr = NULL;
    if (m->vgg) {
        scr = ac_scale(g, ac_scr_loss(g, m->vgg, y, target, input), AC_KC_SCR_WEIGHT);
        loss = ac_add(g, loss, scr);
    }
    *out = (ac_step_losses){.loss = val(loss), .t = val(tl), .pfe = val(pfe), .pfv = val(pfv), .scr = val(scr)};
    ac_status st = check_finite(out);
    if (!st) ac_backward(g, loss);
    free(F);
    free(tfeat);
    free(tout);
    ac_graph_free(tg);
    return st;
}
