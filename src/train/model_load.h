// model_load.h: loading the networks that training and evaluation use from their files:
// restoration networks (native .safetensors, this program's training state, or a PyTorch
// checkpoint: zip or legacy, its 'state_dict' when it is a training checkpoint) and the VGG19
// weights of the contrastive losses (torchvision's vgg19-dcbb9e9d.pth or a safetensors file).
// The file type is told from the content, not the name.
// (A general model-file loader for restore/convert/info lives elsewhere; this one covers
// what training needs and should be unified with it.)
#ifndef AC_TRAIN_MODEL_LOAD_H
#define AC_TRAIN_MODEL_LOAD_H

#include "model/net.h"
#include "model/vgg19.h"

// Metadata "format" of the training state file DIR/latest.safetensors; its network tensors
// carry the prefix "student." (see checkpoint.h).
#define AC_TRAIN_STATE_FORMAT "allclear-train-state"

// True when the file starts like a safetensors file (8-byte header size, then '{').
bool ac_is_safetensors_file(const char *path);

// Reads every tensor of a model file: safetensors as is, PyTorch checkpoints through their
// state dict.
ac_status ac_model_map_read(const char *path, ac_tensor_map **out);

// Loads a restoration network. Architecture: width / res_blocks when > 0 (flags), else the
// file's metadata, else inferred from the tensors. Strict: every missing, unexpected or
// misshaped tensor is named. Errors start with the file name.
ac_status ac_load_net_file(const char *path, int width, int res_blocks, ac_net **out);

// Where torchvision keeps vgg19-dcbb9e9d.pth: $TORCH_HOME/hub/checkpoints, with TORCH_HOME
// defaulting to $XDG_CACHE_HOME/torch, XDG_CACHE_HOME to ~/.cache. A new string.
char *ac_vgg_default_path(void);
// Loads VGG19 feature weights from `path` (errors start with the file name).
ac_status ac_load_vgg_file(const char *path, ac_vgg19 **out);
// Seeded random VGG19 weights (PyTorch's default initialisation), for runs without the
// pretrained file.
ac_vgg19 *ac_vgg_random(uint64_t seed);

#endif
