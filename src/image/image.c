// image.c: format detection, the pixel limit, and the read/probe/write entry points that
// dispatch to png.c and jpeg.c (image_internal.h).
#include "image/image.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "io/atomic_file.h"
#include "io/read_all.h"

static _Atomic uint64_t ac_pixel_limit = AC_IMAGE_DEFAULT_PIXEL_LIMIT;

void ac_image_set_pixel_limit(uint64_t max_pixels) { atomic_store(&ac_pixel_limit, max_pixels); }
uint64_t ac_image_pixel_limit(void) { return atomic_load(&ac_pixel_limit); }

ac_status ac_image_check_size(const char *name, uint64_t w, uint64_t h) {
    if (w == 0 || h == 0) return ac_fail(AC_ERR_FORMAT, "%s: image has no pixels (%llux%llu)", name,
                                         (unsigned long long)w, (unsigned long long)h);
    uint64_t limit = ac_image_pixel_limit();
    if (w > INT32_MAX / 4 || h > INT32_MAX / 4 || (limit && w * h > limit))
        return ac_fail(AC_ERR_NOMEM, "%s: image is %llux%llu (%.1f megapixels), over the limit of %.1f megapixels",
                       name, (unsigned long long)w, (unsigned long long)h, (double)w * (double)h / 1e6,
                       (double)limit / 1e6);
    return AC_OK;
}

ac_image_format ac_image_sniff(const unsigned char *buf, size_t size) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && !memcmp(buf, png_sig, 8)) return AC_IMAGE_PNG;
    if (size >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) return AC_IMAGE_JPEG;
    return AC_IMAGE_UNKNOWN;
}

const char *ac_image_format_name(ac_image_format f) {
    switch (f) {
    case AC_IMAGE_PNG: return "PNG";
    case AC_IMAGE_JPEG: return "JPEG";
    default: return "unknown";
    }
}

static ac_status unknown_format(const char *name, const unsigned char *buf, size_t size) {
    if (size == 0) return ac_fail(AC_ERR_FORMAT, "%s: empty file, not an image", name);
    if (size >= 6 && (!memcmp(buf, "GIF87a", 6) || !memcmp(buf, "GIF89a", 6)))
        return ac_fail(AC_ERR_FORMAT, "%s: GIF images are not supported (use PNG or JPEG)", name);
    if (size >= 2 && buf[0] == 'B' && buf[1] == 'M')
        return ac_fail(AC_ERR_FORMAT, "%s: BMP images are not supported (use PNG or JPEG)", name);
    if (size >= 12 && !memcmp(buf, "RIFF", 4) && !memcmp(buf + 8, "WEBP", 4))
        return ac_fail(AC_ERR_FORMAT, "%s: WebP images are not supported (use PNG or JPEG)", name);
    if (size >= 4 && (!memcmp(buf, "II*\0", 4) || !memcmp(buf, "MM\0*", 4)))
        return ac_fail(AC_ERR_FORMAT, "%s: TIFF images are not supported (use PNG or JPEG)", name);
    return ac_fail(AC_ERR_FORMAT, "%s: not a PNG or JPEG image", name);
}

ac_status ac_image_decode(const unsigned char *buf, size_t size, const char *name, ac_tensor **out) {
    *out = NULL;
    switch (ac_image_sniff(buf, size)) {
    case AC_IMAGE_PNG: return ac_png_decode(buf, size, name, out, NULL);
    case AC_IMAGE_JPEG: return ac_jpeg_decode(buf, size, name, out, NULL);
    default: return unknown_format(name, buf, size);
    }
}

ac_status ac_image_read(const char *path, ac_tensor **out) {
    *out = NULL;
    unsigned char *buf;
    size_t size;
    ac_status st = ac_file_read_all(path, 0, &buf, &size);
    if (st) return st;
    st = ac_image_decode(buf, size, path, out);
    free(buf);
    return st;
}

ac_status ac_image_probe(const char *path, ac_image_info *info) {
    memset(info, 0, sizeof *info);
    unsigned char *buf;
    size_t size;
    ac_status st = ac_file_read_all(path, 0, &buf, &size);
    if (st) return st;
    switch (ac_image_sniff(buf, size)) {
    case AC_IMAGE_PNG: st = ac_png_decode(buf, size, path, NULL, info); break;
    case AC_IMAGE_JPEG: st = ac_jpeg_decode(buf, size, path, NULL, info); break;
    default: st = unknown_format(path, buf, size); break;
    }
    free(buf);
    return st;
}

ac_status ac_image_write_png(const char *path, const ac_tensor *img, int bits) {
    unsigned char *buf;
    size_t size;
    ac_status st = ac_image_encode_png(img, bits, &buf, &size);
    if (st) {
        ac_error_prefix("%s", path);
        return st;
    }
    st = ac_file_write_atomic(path, buf, size);
    free(buf);
    return st;
}
