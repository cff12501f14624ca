// image_internal.h: the codec entry points shared inside src/image (not a public API).
#ifndef AC_IMAGE_INTERNAL_H
#define AC_IMAGE_INTERNAL_H

#include "image/image.h"

// Decodes into *out (when out != NULL) and/or fills *info (when info != NULL; with out ==
// NULL only the header is read).
ac_status ac_png_decode(const unsigned char *buf, size_t size, const char *name, ac_tensor **out,
                        ac_image_info *info);
ac_status ac_jpeg_decode(const unsigned char *buf, size_t size, const char *name, ac_tensor **out,
                         ac_image_info *info);
// Checks the dimensions against the pixel limit (and sanity bounds).
ac_status ac_image_check_size(const char *name, uint64_t w, uint64_t h);

#endif
