// read_all.h: reading a whole file into memory with a size limit (meta files, images, logs).
#ifndef AC_READ_ALL_H
#define AC_READ_ALL_H

#include <stddef.h>

#include "core/common.h"

// Reads a whole file (at most max_bytes; 0 = no limit) into a new heap buffer (free()).
// A folder, a missing file or a larger file is an error naming the path.
ac_status ac_file_read_all(const char *path, size_t max_bytes, unsigned char **buf, size_t *size);

#endif
