// contrastive.c: SCR and HCR losses (contrastive.h). One function computes both; they differ
// only in the denominator (matched pairs vs. every pair of the batch).
#include "model/contrastive.h"

#include "ops/ops.h"

const float ac_cr_weights[AC_VGG_SLICES] = {1.0f / 32, 1.0f / 16, 1.0f / 8, 1.0f / 4, 1.0f};

// global_batch 0: a, p, n are the whole batch. Otherwise they are this rank's share of a
// global batch of that many items and every mean is a global one (see contrastive.h).
static ac_tensor *contrastive(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                              ac_tensor *n, bool all_pairs, int global_batch) {
    AC_ASSERT(ac_same_shape(a, p) && ac_same_shape(a, n));
    ac_tensor *fa[AC_VGG_SLICES], *fp[AC_VGG_SLICES], *fn[AC_VGG_SLICES];
    ac_vgg19_features_const2(vgg, g, p, n, fp, fn);
    ac_vgg19_forward(vgg, g, a, fa);
    const double gb = global_batch;
    ac_tensor *loss = NULL;
    for (int k = 0; k < AC_VGG_SLICES; k++) {
        ac_tensor *d_ap, *d_an, *fn_all = fn[k];
        if (!global_batch) {
            d_ap = ac_l1_mean(g, fa[k], fp[k]);
            d_an = all_pairs ? ac_l1_pairwise_mean(g, fa[k], fn[k]) : ac_l1_mean(g, fa[k], fn[k]);
        } else {
            double m = (double)(ac_numel(fa[k]) / (size_t)fa[k]->shape[0]);  // elements per item
            d_ap = ac_allreduce_scalar(g, ac_l1_mean_over(g, fa[k], fp[k], gb * m));
            if (all_pairs) {
                fn_all = ac_allgather_batch(g, fn[k], global_batch);
                d_an = ac_allreduce_scalar(g, ac_l1_pairwise_mean_over(g, fa[k], fn_all, gb * gb * m));
            } else {
                d_an = ac_allreduce_scalar(g, ac_l1_mean_over(g, fa[k], fn[k], gb * m));
            }
        }
        ac_tensor *den = ac_add_const(g, d_an, AC_CR_EPS);
        ac_tensor *ratio = ac_div(g, d_ap, den);
        ac_tensor *term = ac_scale(g, ratio, ac_cr_weights[k]);
        ac_graph_drop(g, d_ap);
        ac_graph_drop(g, d_an);
        ac_graph_drop(g, den);
        ac_graph_drop(g, ratio);
        ac_graph_drop(g, fa[k]);
        ac_graph_drop(g, fp[k]);
        if (fn_all != fn[k]) ac_graph_drop(g, fn_all);
        ac_graph_drop(g, fn[k]);
        if (loss) {
            ac_tensor *s = ac_add(g, loss, term);
            ac_graph_drop(g, loss);
            ac_graph_drop(g, term);
            loss = s;
        } else {
            loss = term;
        }
    }
    return loss;
}

ac_tensor *ac_scr_loss(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                       ac_tensor *n) {
    return contrastive(g, vgg, a, p, n, false, 0);
}

ac_tensor *ac_hcr_loss(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                       ac_tensor *n) {
    return contrastive(g, vgg, a, p, n, true, 0);
}

ac_tensor *ac_scr_loss_global(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                              ac_tensor *n, int global_batch) {
    AC_ASSERT(global_batch >= a->shape[0]);
    return contrastive(g, vgg, a, p, n, false, global_batch);
}

ac_tensor *ac_hcr_loss_global(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                              ac_tensor *n, int global_batch) {
    AC_ASSERT(global_batch >= a->shape[0]);
    return contrastive(g, vgg, a, p, n, true, global_batch);
}
