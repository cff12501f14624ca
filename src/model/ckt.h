// ckt.h: collaborative knowledge transfer modules (architecture.md, "CKT"): for each of the
// 4 feature levels, one pair of teacher projectors (PFP_t, IPFP_t) per teacher and one
// student projector, all conv3x3 (zero pad 1, no bias) - ReLU - conv3x3, Kaiming-normal.
// Saved as one list: keys "{level}.teacher_projectors.PFPs.{t}.0.weight", ...
#ifndef AC_CKT_H
#define AC_CKT_H

#include "core/graph.h"
#include "model/params.h"

#define AC_CKT_LEVELS 4

typedef struct ac_ckt_level {
    int channels, hidden;
    ac_tensor *(*pfp)[2];   // [n_teachers][2]: c -> h, h -> h
    ac_tensor *(*ipfp)[2];  // [n_teachers][2]: h -> c, c -> c
    ac_tensor *spfp[2];     // student: c -> h, h -> h
} ac_ckt_level;

typedef struct ac_ckt {
    int width, n_teachers;
    ac_params *params;
    ac_ckt_level level[AC_CKT_LEVELS];
} ac_ckt;

// Modules for a network of width b (level channels 4b, 8b, 16b, 16b) and T teachers. With a
// generator the weights are drawn Kaiming-normal (fan_in, gain sqrt 2); parameters start
// frozen (call ac_params_set_trainable to train them).
ac_ckt *ac_ckt_new(int width, int n_teachers, ac_rng *rng);
void ac_ckt_free(ac_ckt *m);
// Level channels for width b (4b, 8b, 16b, 16b).
int ac_ckt_level_channels(int width, int level);

// Forward of one level. teacher_feats[t]: teacher t's feature (its own part of the batch, or
// NULL when the batch holds none of t's type, which leaves P[t] and R[t] NULL);
// student_feat: the student's feature (whole batch). Fills P[t] = PFP_t(F_t),
// R[t] = IPFP_t(P_t) (arrays of n_teachers) and *Q = PFP_student(S). Any output pointer may be
// NULL when that result is not wanted (R needs P internally).
void ac_ckt_forward(const ac_ckt *m, ac_graph *g, int level, ac_tensor *const *teacher_feats,
                    ac_tensor *student_feat, ac_tensor **P, ac_tensor **R, ac_tensor **Q);

#endif
