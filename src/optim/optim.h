// optim.h: Adam identical to torch.optim.Adam (bias correction, eps added after the square
// root, optional L2 weight decay, parameter groups), and the warm-up + cosine learning-rate
// schedule of the reference training (shared spec training.md).
#ifndef AC_OPTIM_H
#define AC_OPTIM_H

#include "core/tensor.h"

typedef struct ac_adam_param {
    ac_tensor *param;
    float *m, *v;  // first and second moments, own buffers (numel(param) each)
    int group;
} ac_adam_param;

typedef struct ac_adam {
    double beta1, beta2, eps, weight_decay;  // doubles, as Python passes them
    double *group_lr;
    int n_groups;
    ac_adam_param *params;
    int n_params, cap_params;
    int64_t step;  // steps taken (torch keeps one per parameter; all advance together here)
} ac_adam;

ac_adam *ac_adam_new(double beta1, double beta2, double eps, double weight_decay);
void ac_adam_free(ac_adam *opt);
// Adds a parameter group; returns its index. Parameters must have gradients enabled.
int ac_adam_add_group(ac_adam *opt, ac_tensor *const *params, int n, double lr);
void ac_adam_set_lr(ac_adam *opt, double lr);  // every group
void ac_adam_zero_grad(ac_adam *opt);
// One update of every parameter that has a gradient buffer.
void ac_adam_step(ac_adam *opt);

// Learning rate for 1-based epoch e: base * e / warmup for e <= warmup, then cosine from base
// to lr_min over the remaining epochs (training.md).
double ac_lr_warmup_cosine(int epoch, double base, int warmup, int total, double lr_min);

#endif
