// ckt.c: the CKT projector modules (ckt.h). Registration follows the PyTorch module order
// (per level: teacher PFPs, teacher IPFPs, then the student PFP).
#include "model/ckt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/ops.h"

int ac_ckt_level_channels(int width, int level) {
    AC_ASSERT(level >= 0 && level < AC_CKT_LEVELS);
    static const int mult[AC_CKT_LEVELS] = {4, 8, 16, 16};
    return mult[level] * width;
}

// A 3x3 conv weight [cout, cin, 3, 3], Kaiming normal with fan_in = cin 9, gain sqrt 2.
static ac_tensor *add_weight(ac_params *p, const char *name, int cout, int cin) {
    int shape[4] = {cout, cin, 3, 3};
    float std = (float)(sqrt(2.0) / sqrt((double)cin * 9.0));
    return ac_params_add(p, name, 4, shape, AC_INIT_NORMAL, std);
}

ac_ckt *ac_ckt_new(int width, int n_teachers, ac_rng *rng) {
    AC_ASSERT(width >= 2 && width % 2 == 0 && n_teachers >= 1);
    ac_ckt *m = ac_xcalloc(1, sizeof *m);
    m->width = width;
    m->n_teachers = n_teachers;
    m->params = ac_params_new();
    char name[128];
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        ac_ckt_level *lv = &m->level[l];
        int c = ac_ckt_level_channels(width, l), h = c / 2;
        lv->channels = c;
        lv->hidden = h;
        lv->pfp = ac_xcalloc((size_t)n_teachers, sizeof *lv->pfp);
        lv->ipfp = ac_xcalloc((size_t)n_teachers, sizeof *lv->ipfp);
        for (int t = 0; t < n_teachers; t++) {
            snprintf(name, sizeof name, "%d.teacher_projectors.PFPs.%d.0.weight", l, t);
            lv->pfp[t][0] = add_weight(m->params, name, h, c);
            snprintf(name, sizeof name, "%d.teacher_projectors.PFPs.%d.2.weight", l, t);
            lv->pfp[t][1] = add_weight(m->params, name, h, h);
        }
        for (int t = 0; t < n_teachers; t++) {
            snprintf(name, sizeof name, "%d.teacher_projectors.IPFPs.%d.0.weight", l, t);
            lv->ipfp[t][0] = add_weight(m->params, name, c, h);
            snprintf(name, sizeof name, "%d.teacher_projectors.IPFPs.%d.2.weight", l, t);
            lv->ipfp[t][1] = add_weight(m->params, name, c, c);
        }
        snprintf(name, sizeof name, "%d.student_projector.PFP.0.weight", l);
        lv->spfp[0] = add_weight(m->params, name, h, c);
        snprintf(name, sizeof name, "%d.student_projector.PFP.2.weight", l);
        lv->spfp[1] = add_weight(m->params, name, h, h);
    }
    if (rng) ac_params_init(m->params, rng);
    return m;
}

void ac_ckt_free(ac_ckt *m) {
    if (!m) return;
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        free(m->level[l].pfp);
        free(m->level[l].ipfp);
    }
    ac_params_free(m->params);
    free(m);
}

// conv3x3 - ReLU - conv3x3 (no bias, zero padding 1); does not drop x.
static ac_tensor *projector(ac_graph *g, ac_tensor *const w[2], ac_tensor *x) {
    ac_tensor *a = ac_conv2d(g, x, w[0], NULL, 1, 1);
    ac_tensor *b = ac_relu(g, a);
    ac_graph_drop(g, a);
    ac_tensor *y = ac_conv2d(g, b, w[1], NULL, 1, 1);
    ac_graph_drop(g, b);
    return y;
}

void ac_ckt_forward(const ac_ckt *m, ac_graph *g, int level, ac_tensor *const *teacher_feats,
                    ac_tensor *student_feat, ac_tensor **P, ac_tensor **R, ac_tensor **Q) {
    AC_ASSERT(level >= 0 && level < AC_CKT_LEVELS);
    const ac_ckt_level *lv = &m->level[level];
    if (P || R) {
        for (int t = 0; t < m->n_teachers; t++) {
            if (!teacher_feats[t]) {  // no item of this type in the batch
                if (R) R[t] = NULL;
                if (P) P[t] = NULL;
                continue;
            }
            AC_ASSERT(teacher_feats[t]->ndim == 4 && teacher_feats[t]->shape[1] == lv->channels);
            ac_tensor *p = projector(g, lv->pfp[t], teacher_feats[t]);
            if (R) R[t] = projector(g, lv->ipfp[t], p);
            if (P) P[t] = p;
            else ac_graph_drop(g, p);
        }
    }
    if (Q) {
        AC_ASSERT(student_feat->ndim == 4 && student_feat->shape[1] == lv->channels);
        *Q = projector(g, lv->spfp, student_feat);
    }
}
