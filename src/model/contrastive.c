// contrastive.c: SCR and HCR losses (contrastive.h). One function computes both; they differ
// only in the denominator (matched pairs vs. every pair of the batch).
#include "model/contrastive.h"

#include "ops/ops.h"

const float ac_cr_weights[AC_VGG_SLICES] = {1.0f / 32, 1.0f / 16, 1.0f / 8, 1.0f / 4, 1.0f};

static ac_tensor *contrastive(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                              ac_tensor *n, bool all_pairs) {
    AC_ASSERT(ac_same_shape(a, p) && ac_same_shape(a, n));
    ac_tensor *fa[AC_VGG_SLICES], *fp[AC_VGG_SLICES], *fn[AC_VGG_SLICES];
    ac_vgg19_features_const(vgg, g, p, fp);
    ac_vgg19_features_const(vgg, g, n, fn);
    ac_vgg19_forward(vgg, g, a, fa);
    ac_tensor *loss = NULL;
    for (int k = 0; k < AC_VGG_SLICES; k++) {
        ac_tensor *d_ap = ac_l1_mean(g, fa[k], fp[k]);
        ac_tensor *d_an = all_pairs ? ac_l1_pairwise_mean(g, fa[k], fn[k])
                                    : ac_l1_mean(g, fa[k], fn[k]);
        ac_tensor *den = ac_add_const(g, d_an, AC_CR_EPS);
        ac_tensor *ratio = ac_div(g, d_ap, den);
        ac_tensor *term = ac_scale(g, ratio, ac_cr_weights[k]);
        ac_graph_drop(g, d_ap);
        ac_graph_drop(g, d_an);
        ac_graph_drop(g, den);
        ac_graph_drop(g, ratio);
        ac_graph_drop(g, fa[k]);
        ac_graph_drop(g, fp[k]);
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
    return contrastive(g, vgg, a, p, n, false);
}

ac_tensor *ac_hcr_loss(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                       ac_tensor *n) {
    return contrastive(g, vgg, a, p, n, true);
}
