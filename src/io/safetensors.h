// safetensors.h: the project's native weight format (see shared spec formats.md). Reading
// validates everything (header size, JSON, dtypes, offsets in range, no overlap, exact
// coverage, no duplicate names); F16, BF16 and F64 are converted to float32 on load.
// Writing is atomic: a temporary file in the same folder, fsync, then rename.
#ifndef AC_SAFETENSORS_H
#define AC_SAFETENSORS_H

#include "io/tensor_map.h"

ac_status ac_safetensors_read(const char *path, ac_tensor_map **out);
ac_status ac_safetensors_read_mem(const unsigned char *buf, size_t size, ac_tensor_map **out);
ac_status ac_safetensors_write(const char *path, const ac_tensor_map *m);

#endif
