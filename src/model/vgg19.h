// vgg19.h: the frozen VGG19 feature extractor of the contrastive losses (architecture.md):
// the first 30 layers of torchvision's vgg19().features (13 convs 3x3 pad 1 with bias, ReLU,
// 4 max pools), keys "features.{i}.weight/bias", returning the 5 slice outputs. Its
// parameters never get gradients, but gradients flow through it to its input.
#ifndef AC_VGG19_H
#define AC_VGG19_H

#include "core/graph.h"
#include "model/params.h"

#define AC_VGG_SLICES 5
#define AC_VGG_CONVS 13

typedef struct ac_vgg19 {
    ac_params *params;
    ac_tensor *w[AC_VGG_CONVS], *b[AC_VGG_CONVS];
} ac_vgg19;

// Zero weights (load them with ac_vgg19_load, or fill them for tests).
ac_vgg19 *ac_vgg19_new(void);
void ac_vgg19_free(ac_vgg19 *v);
// Strict load of the 26 feature tensors; "classifier.*" keys and "features.{i}" with i >= 30
// (a full torchvision checkpoint) are ignored.
ac_status ac_vgg19_load(ac_vgg19 *v, const ac_tensor_map *m);
// Channels of slice k output: 64, 128, 256, 512, 512 (at H, H/2, H/4, H/8, H/16).
int ac_vgg19_slice_channels(int k);

// x: (N, 3, H, W) -> out[k], k < 5. x is never dropped; in inference graphs intermediates are
// dropped at last use.
void ac_vgg19_forward(const ac_vgg19 *v, ac_graph *g, ac_tensor *x,
                      ac_tensor *out[AC_VGG_SLICES]);
// The slice outputs of x as constants of g (no tape, no gradient), computed on a private
// inference graph so that only the 5 outputs are kept in g.
void ac_vgg19_features_const(const ac_vgg19 *v, ac_graph *g, ac_tensor *x,
                             ac_tensor *out[AC_VGG_SLICES]);
// The same for two inputs of one shape, run as one batch (the same values as two calls).
void ac_vgg19_features_const2(const ac_vgg19 *v, ac_graph *g, ac_tensor *x0, ac_tensor *x1,
                              ac_tensor *out0[AC_VGG_SLICES], ac_tensor *out1[AC_VGG_SLICES]);

#endif
