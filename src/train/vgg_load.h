// vgg_load.h: the VGG19 weights of the contrastive losses: torchvision's vgg19-dcbb9e9d.pth
// where torchvision keeps it, any model file holding them (through io/model_file.h, which
// tells the file type from the content), or seeded random weights.
#ifndef AC_TRAIN_VGG_LOAD_H
#define AC_TRAIN_VGG_LOAD_H

#include "model/vgg19.h"

// Where torchvision keeps vgg19-dcbb9e9d.pth: $TORCH_HOME/hub/checkpoints, with TORCH_HOME
// defaulting to $XDG_CACHE_HOME/torch, XDG_CACHE_HOME to ~/.cache. A new string.
char *ac_vgg_default_path(void);
// Loads VGG19 feature weights from `path` (errors start with the file name).
ac_status ac_load_vgg_file(const char *path, ac_vgg19 **out);
// Seeded random VGG19 weights (PyTorch's default initialisation), for runs without the
// pretrained file.
ac_vgg19 *ac_vgg_random(uint64_t seed);

#endif
