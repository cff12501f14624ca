// contrastive.h: the contrastive regularisers of training.md ("Losses"), on VGG19 features:
//   SCR = sum_k w_k L1(V_k(a), V_k(p)) / (L1(V_k(a), V_k(n)) + 1e-7)
//   HCR = sum_k w_k L1(V_k(a), V_k(p)) / (D_k + 1e-7), D_k = mean over all pairs (i, j) of
//         batch items of |V_k(a)_i - V_k(n)_j|
// with w = [1/32, 1/16, 1/8, 1/4, 1], anchor a = restored image, positive p = clean target,
// negative n = degraded input. p and n features are constants; gradients reach a only.
#ifndef AC_CONTRASTIVE_H
#define AC_CONTRASTIVE_H

#include "model/vgg19.h"

#define AC_CR_EPS 1e-7f
extern const float ac_cr_weights[AC_VGG_SLICES];

// a, p, n: (B, 3, H, W), same shapes. Returns a one-element loss on g.
ac_tensor *ac_scr_loss(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                       ac_tensor *n);
ac_tensor *ac_hcr_loss(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                       ac_tensor *n);

// Data-parallel forms (a collective: every rank calls it at the same point): a, p, n are this
// rank's share (ac_dist_share, dist.h) of a global batch of global_batch items. Every mean is
// over the global batch: local sums divided by the global count, added over the ranks with
// ac_allreduce_scalar; HCR pairs the local anchors with the negatives of every rank (their
// features gathered, as constants). Every rank gets the same loss, and the sum over the ranks
// of its parameter gradients equals the gradient of the loss of the whole batch. In a
// one-process world with global_batch = B they compute exactly what the forms above do.
ac_tensor *ac_scr_loss_global(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                              ac_tensor *n, int global_batch);
ac_tensor *ac_hcr_loss_global(ac_graph *g, const ac_vgg19 *vgg, ac_tensor *a, ac_tensor *p,
                              ac_tensor *n, int global_batch);

#endif
