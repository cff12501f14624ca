// png.c: PNG decoding and encoding with libpng. libpng reports errors by longjmp; every
// resource lives in a context struct owned by the caller's frame, so the function holding
// the setjmp modifies no local variable after it and the cleanup frees whatever was made.
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

typedef struct png_rd {
    const unsigned char *buf;
    size_t size, pos;
    png_structp png;
    png_infop info;
    unsigned char *pixels;  // decoded rows, rowbytes * height
    png_bytep *rows;
    ac_tensor *img;
    char msg[200];
} png_rd;

static void rd_error(png_structp png, png_const_charp msg) {
    png_rd *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void rd_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;  // benign (e.g. a bad ancillary chunk); the pixels are still correct
}

static void rd_read(png_structp png, png_bytep data, size_t n) {
    png_rd *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) {
        snprintf(c->msg, sizeof c->msg, "file is truncated");
        png_longjmp(png, 1);
    }
    memcpy(data, c->buf + c->pos, n);
    c->pos += n;
}

static void rd_cleanup(png_rd *c, bool keep_img) {
    if (c->png) png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
    free(c->pixels);
    free(c->rows);
    if (!keep_img) ac_tensor_free(c->img);
    c->pixels = NULL;
    c->rows = NULL;
    c->img = NULL;
}

// Runs libpng; returns 0 on success, 1 after a libpng error (message in c->msg), or an
// ac_status + 100 for errors reported through ac_fail (size limit, memory).
static int rd_run(png_rd *c, const char *name, bool want_pixels, ac_image_info *info) {
    if (setjmp(png_jmpbuf(c->png))) return 1;
    png_set_read_fn(c->png, c, rd_read);
    png_read_info(c->png, c->info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(c->png, c->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (info) {
        info->format = AC_IMAGE_PNG;
        info->width = (int)AC_MIN(w, (png_uint_32)INT32_MAX);
        info->height = (int)AC_MIN(h, (png_uint_32)INT32_MAX);
        info->bit_depth = depth;
        info->channels = color == PNG_COLOR_TYPE_PALETTE ? 3 : png_get_channels(c->png, c->info);
    }
    if (!want_pixels) return 0;
    ac_status st = ac_image_check_size(name, w, h);
    if (st) return 100 + (int)st;
    // The samples come from one zlib stream inside the file, and deflate expands at most
    // 1032:1 (258 bytes from 2 bits): a file too small to hold its pixels is rejected before
    // their memory is allocated (a 100-byte file could otherwise claim a gigabyte).
    uint64_t px_bits = (uint64_t)depth * (color == PNG_COLOR_TYPE_PALETTE ? 1u : png_get_channels(c->png, c->info));
    uint64_t max_px = ((uint64_t)AC_MIN(c->size, (size_t)1 << 40) * 1032u + 65536u) * 8u / AC_MAX(px_bits, 1u);
    if ((uint64_t)w * h > max_px) {
        snprintf(c->msg, sizeof c->msg, "%ux%u pixels cannot come from %zu bytes (truncated?)", (unsigned)w,
                 (unsigned)h, c->size);
        return 1;
    }

    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(c->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(c->png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(c->png);
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    int ch = png_get_channels(c->png, c->info);
    int bits = png_get_bit_depth(c->png, c->info);
    size_t rowbytes = png_get_rowbytes(c->png, c->info), total;
    if ((ch != 1 && ch != 3) || (bits != 8 && bits != 16) || rowbytes < (size_t)w * ch * (bits / 8)) {
        snprintf(c->msg, sizeof c->msg, "unsupported PNG layout (%d channels, %d bits)", ch, bits);
        return 1;
    }
    if (!ac_mul_size(rowbytes, h, &total) || !(c->pixels = malloc(total)) ||
        !(c->rows = malloc(sizeof(png_bytep) * h))) {
        ac_fail(AC_ERR_NOMEM, "%s: out of memory for a %ux%u image", name, (unsigned)w, (unsigned)h);
        return 100 + AC_ERR_NOMEM;
    }
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = c->pixels + (size_t)y * rowbytes;
    png_read_image(c->png, c->rows);
    png_read_end(c->png, NULL);

    c->img = ac_tensor_try_new(4, (int[]){1, 3, (int)h, (int)w});
    if (!c->img) {
        ac_error_prefix("%s", name);
        return 100 + AC_ERR_NOMEM;
    }
    size_t plane = (size_t)w * h;
    float *r = c->img->data, *g = r + plane, *b = g + plane;
    const float scale = bits == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
    for (png_uint_32 y = 0; y < h; y++) {
        const unsigned char *row = c->rows[y];
        size_t o = (size_t)y * w;
        for (png_uint_32 x = 0; x < w; x++) {
            float v[3];
            for (int k = 0; k < ch; k++) {
                size_t i = (size_t)x * ch + k;
                unsigned s = bits == 16 ? (unsigned)row[2 * i] << 8 | row[2 * i + 1] : row[i];
                v[k] = (float)s * scale;
            }
            if (ch == 1) v[1] = v[2] = v[0];
            r[o + x] = v[0];
            g[o + x] = v[1];
            b[o + x] = v[2];
        }
    }
    return 0;
}

ac_status ac_png_decode(const unsigned char *buf, size_t size, const char *name, ac_tensor **out,
                        ac_image_info *info) {
    if (out) *out = NULL;
    png_rd c = {.buf = buf, .size = size};
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, rd_error, rd_warning);
    if (c.png) c.info = png_create_info_struct(c.png);
    if (!c.png || !c.info) {
        rd_cleanup(&c, false);
        return ac_fail(AC_ERR_NOMEM, "%s: out of memory starting the PNG decoder", name);
    }
    int rc = rd_run(&c, name, out != NULL, info);
    if (rc == 0) {
        if (out) *out = c.img;
        rd_cleanup(&c, true);
        return AC_OK;
    }
    rd_cleanup(&c, false);
    if (rc >= 100) return (ac_status)(rc - 100);
    return ac_fail(AC_ERR_FORMAT, "%s: corrupt PNG: %s", name, c.msg);
}

// ---- encoding ----

typedef struct png_wr {
    png_structp png;
    png_infop info;
    unsigned char *out;
    size_t size, cap;
    unsigned char *pixels;
    png_bytep *rows;
    bool nomem;
    char msg[200];
} png_wr;

static void wr_error(png_structp png, png_const_charp msg) {
    png_wr *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void wr_write(png_structp png, png_bytep data, size_t n) {
    png_wr *c = png_get_io_ptr(png);
    if (n > c->cap - c->size) {
        size_t ncap = c->cap ? c->cap : 65536;
        while (ncap - c->size < n) ncap *= 2;
        unsigned char *q = realloc(c->out, ncap);
        if (!q) {
            c->nomem = true;
            snprintf(c->msg, sizeof c->msg, "out of memory");
            png_longjmp(png, 1);
        }
        c->out = q;
        c->cap = ncap;
    }
    memcpy(c->out + c->size, data, n);
    c->size += n;
}

static void wr_flush(png_structp png) { (void)png; }

static int wr_run(png_wr *c, int w, int h, int ch, int bits) {
    if (setjmp(png_jmpbuf(c->png))) return 1;
    png_set_write_fn(c->png, c, wr_write, wr_flush);
    png_set_IHDR(c->png, c->info, (png_uint_32)w, (png_uint_32)h, bits,
                 ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(c->png, c->info);
    png_write_image(c->png, c->rows);
    png_write_end(c->png, NULL);
    return 0;
}

static unsigned quantize(float v, float maxv) {
    if (!(v > 0.0f)) return 0;  // also NaN
    if (v >= 1.0f) return (unsigned)maxv;
    return (unsigned)floorf(v * maxv + 0.5f);
}

ac_status ac_image_encode_png(const ac_tensor *img, int bits, unsigned char **buf, size_t *size) {
    *buf = NULL;
    *size = 0;
    AC_ASSERT(bits == 8 || bits == 16);
    AC_ASSERT(img->ndim == 3 || (img->ndim == 4 && img->shape[0] == 1));
    int ch = img->shape[img->ndim - 3], h = img->shape[img->ndim - 2], w = img->shape[img->ndim - 1];
    AC_ASSERT(ch == 1 || ch == 3);
    if (h <= 0 || w <= 0) return ac_fail(AC_ERR_ARG, "cannot write an empty image");
    size_t rowbytes = (size_t)w * ch * (bits / 8), plane = (size_t)w * h;
    png_wr c = {0};
    c.pixels = malloc(rowbytes * h);
    c.rows = malloc(sizeof(png_bytep) * h);
    if (c.pixels && c.rows) c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, wr_error, NULL);
    if (c.png) c.info = png_create_info_struct(c.png);
    ac_status st = AC_OK;
    if (!c.info) {
        st = ac_fail(AC_ERR_NOMEM, "out of memory encoding a %dx%d PNG", w, h);
    } else {
        const float maxv = bits == 16 ? 65535.0f : 255.0f;
        for (int y = 0; y < h; y++) {
            unsigned char *row = c.rows[y] = c.pixels + (size_t)y * rowbytes;
            for (int x = 0; x < w; x++)
                for (int k = 0; k < ch; k++) {
                    unsigned q = quantize(img->data[k * plane + (size_t)y * w + x], maxv);
                    size_t i = (size_t)x * ch + k;
                    if (bits == 16) {
                        row[2 * i] = (unsigned char)(q >> 8);
                        row[2 * i + 1] = (unsigned char)(q & 255);
                    } else {
                        row[i] = (unsigned char)q;
                    }
                }
        }
        if (wr_run(&c, w, h, ch, bits) != 0)
            st = ac_fail(c.nomem ? AC_ERR_NOMEM : AC_ERR_IO, "PNG encoding failed: %s", c.msg);
    }
    if (c.png) png_destroy_write_struct(&c.png, c.info ? &c.info : NULL);
    free(c.pixels);
    free(c.rows);
    if (st) {
        free(c.out);
        return st;
    }
    *buf = c.out;
    *size = c.size;
    return AC_OK;
}
