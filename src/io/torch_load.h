// torch_load.h: reads PyTorch checkpoints (torch.save files) without running any of their
// code: the zip format (PyTorch >= 1.6) through libzip and the legacy format (< 1.6, e.g.
// torchvision's vgg19-dcbb9e9d.pth), told apart by content. The object pickle is evaluated
// by the restricted machine of pickle.h; only the selected state dict's tensors are read.
#ifndef AC_TORCH_LOAD_H
#define AC_TORCH_LOAD_H

#include "io/tensor_map.h"

// Loads one state dict as float32 tensors in the dict's order (names = keys).
//   entry == NULL: the top object's 'state_dict' entry when it has one, else the top object
//   itself when it is a state dict (a dict holding tensors under string keys).
//   entry != NULL: the top object's entry of that name (e.g. "ckt_module"); an error names the
//   keys present when it is absent.
// float16/bfloat16/float64 and integer/bool tensors (e.g. BatchNorm's num_batches_tracked)
// are converted to float32; non-contiguous views are copied contiguous; entries whose values
// are not tensors are ignored. Tensors of more than AC_MAX_DIMS dimensions, complex or
// quantised tensors in the selected dict are an error.
ac_status ac_torch_load(const char *path, const char *entry, ac_tensor_map **out);

// A human-readable summary of the checkpoint's top object (one line per top-level entry,
// e.g. "state_dict: dict (142 items, 142 tensors)"). *out is malloc'ed; free() it.
ac_status ac_torch_describe(const char *path, char **out);

// The same on a whole checkpoint file held in memory (buf[0..size), borrowed, not modified);
// `name` stands for the file in error messages.
ac_status ac_torch_load_mem(const unsigned char *buf, size_t size, const char *name, const char *entry,
                            ac_tensor_map **out);
ac_status ac_torch_describe_mem(const unsigned char *buf, size_t size, const char *name, char **out);

#endif
