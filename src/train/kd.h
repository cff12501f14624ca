// kd.h: the loss of one training step for each stage (shared spec training.md, "Losses"):
// a teacher alone (L1), knowledge collation (KC: teachers frozen, CKT feature losses, output
// distillation and SCR) and knowledge examination (KE: L1 and HCR). Each step runs the
// forward pass on a recording graph, checks that the loss is finite, and runs the backward
// pass, which ACCUMULATES into the gradients of the trainable parameters (the caller zeroes
// them and takes the optimiser step). Teachers run on a private inference graph: nothing of
// theirs is taped and their parameters never get a gradient; VGG19 is frozen too.
#ifndef AC_TRAIN_KD_H
#define AC_TRAIN_KD_H

#include "model/ckt.h"
#include "model/net.h"
#include "model/vgg19.h"

#define AC_KC_PFV_WEIGHT 0.05f
#define AC_KC_SCR_WEIGHT 0.1f
#define AC_KE_HCR_WEIGHT 0.2f

// Loss terms of one step (weighted as they enter the total). Terms that a stage does not
// have are 0.
typedef struct ac_step_losses {
    double loss;  // the total that is minimised
    double l1;    // teacher and KE: L1(output, target)
    double t;     // KC: L1(student output, teacher outputs)
    double pfe;   // KC: sum over levels of L1(Q_l, cat_t P_{l,t})
    double pfv;   // KC: 0.05 * sum over levels of L1(cat_t R_{l,t}, cat_t F_{l,t})
    double scr;   // KC: 0.1 * SCR (0 without VGG)
    double hcr;   // KE: 0.2 * HCR (0 without VGG)
} ac_step_losses;

// Everything a knowledge-collation step uses. vgg NULL: no contrastive term.
typedef struct ac_kc_models {
    ac_net *student;
    ac_net *const *teachers;
    int n_teachers;
    const ac_ckt *ckt;
    const ac_vgg19 *vgg;
} ac_kc_models;

// Teacher training: loss = L1(net(input), target). g: a recording graph, reset first.
ac_status ac_teacher_step(ac_net *net, ac_graph *g, ac_tensor *input, ac_tensor *target,
                          ac_step_losses *out);

// Knowledge collation on a batch grouped by type: type_counts[t] > 0 samples of type t,
// type 0 first. loss = T + PFE + PFV + 0.1 SCR.
ac_status ac_kc_step(const ac_kc_models *m, ac_graph *g, ac_tensor *input, ac_tensor *target,
                     const int *type_counts, ac_step_losses *out);

// Knowledge examination: loss = L1(student(input), target) + 0.2 HCR (vgg NULL: L1 only).
ac_status ac_ke_step(ac_net *student, const ac_vgg19 *vgg, ac_graph *g, ac_tensor *input,
                     ac_tensor *target, ac_step_losses *out);

#endif
