// image.h: reading and writing photos. PNG (libpng) and JPEG (libjpeg-turbo) are told apart
// by their content, never by the file name. A decoded image is an owned ac_tensor of shape
// (1, 3, H, W), float32 planar RGB in [0, 1] (sample / (2^bits - 1)); gray images are
// replicated to three channels and alpha is dropped. Writes are atomic (a temporary file in
// the same folder, then rename), so a failure never leaves a half-written file behind.
// Also small pixel helpers: bilinear resize (PyTorch's align_corners=False, no antialias),
// reflection padding, crop and horizontal flip.
#ifndef AC_IMAGE_H
#define AC_IMAGE_H

#include "core/tensor.h"

typedef enum ac_image_format {
    AC_IMAGE_UNKNOWN = 0,
    AC_IMAGE_PNG,
    AC_IMAGE_JPEG,
} ac_image_format;

typedef struct ac_image_info {
    ac_image_format format;
    int width, height;
    int channels;   // samples per pixel in the file (palette counts as 3, CMYK as 4)
    int bit_depth;  // bits per sample in the file
} ac_image_info;

// Largest image (width * height) that will be decoded; checked from the header before any
// pixel memory is allocated. Default 100 megapixels; 0 means no limit. Process-wide: set it
// before starting threads that read images.
#define AC_IMAGE_DEFAULT_PIXEL_LIMIT 100000000ull
void ac_image_set_pixel_limit(uint64_t max_pixels);
uint64_t ac_image_pixel_limit(void);

// The format of a file from its first bytes.
ac_image_format ac_image_sniff(const unsigned char *buf, size_t size);
const char *ac_image_format_name(ac_image_format f);

// Reads an image file into a new (1, 3, H, W) tensor. Errors (AC_ERR_IO for unreadable
// files, AC_ERR_FORMAT for corrupt, truncated or unsupported ones, AC_ERR_NOMEM for images
// over the pixel limit) carry a message that starts with the file name.
ac_status ac_image_read(const char *path, ac_tensor **out);
// The same from memory; `name` is used in error messages.
ac_status ac_image_decode(const unsigned char *buf, size_t size, const char *name, ac_tensor **out);
// Reads only the header.
ac_status ac_image_probe(const char *path, ac_image_info *info);

// Writes a PNG: `img` is (1, C, H, W) or (C, H, W) with C = 3 (RGB) or 1 (gray); bits is 8
// or 16. A sample is floor(clamp(v, 0, 1) * (2^bits - 1) + 0.5); NaN is written as 0.
ac_status ac_image_write_png(const char *path, const ac_tensor *img, int bits);
// Encodes a PNG into a new heap buffer (free with free()).
ac_status ac_image_encode_png(const ac_tensor *img, int bits, unsigned char **buf, size_t *size);

// ---- pixel helpers on planar float images ----
// Bilinear resampling of nc planes from h x w to oh x ow, exactly PyTorch's
// interpolate(mode='bilinear', align_corners=False, antialias=False): source coordinate
// (dst + 0.5) * in / out - 0.5 clamped below at 0, upper neighbour clamped at in - 1.
void ac_image_resize_planes(const float *x, size_t nc, int h, int w, float *y, int oh, int ow);
// New tensor (N, C, oh, ow) resized from t (N, C, H, W).
ac_tensor *ac_image_resize(const ac_tensor *t, int oh, int ow);
// Index into [0, n) of index i after mirror reflection without repeating the edge (period
// 2n - 2), as ReflectionPad2d reads it, reflecting again for any i.
int ac_image_reflect_index(int i, int n);
// New tensor (N, C, H + pb, W + pr): pads the bottom and right by mirror reflection without
// repeating the edge (PyTorch ReflectionPad2d), reflecting again as needed for tiny images.
ac_tensor *ac_image_pad_reflect(const ac_tensor *t, int pad_bottom, int pad_right);
// New tensor (N, C, ch, cw) with the window at (y0, x0) of t.
ac_tensor *ac_image_crop(const ac_tensor *t, int y0, int x0, int ch, int cw);
// Mirrors t (N, C, H, W) left-right in place.
void ac_image_flip_h(ac_tensor *t);

#endif
