// jpeg.c: JPEG decoding with libjpeg-turbo (baseline, progressive, gray, RGB, CMYK/YCCK).
// libjpeg reports errors through error_exit, which we turn into a longjmp; all resources live
// in a context struct owned by the caller's frame so that cleanup after the jump is exact.
// A premature end of data (a truncated file) is an error, not a gray-filled image.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image/image_internal.h"

// Progressive JPEGs of a dozen scans are normal; thousands of tiny scans make libjpeg redo
// the whole image for each (a known way to make a small file take minutes).
#define MAX_SCANS 500

typedef struct jpg_rd {
    struct jpeg_error_mgr err;  // first member: libjpeg hands us a pointer to it
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    struct jpeg_decompress_struct cinfo;
    bool created;
    unsigned char *row;
    ac_tensor *img;
    char msg[JMSG_LENGTH_MAX + 32];
} jpg_rd;

static void on_error(j_common_ptr cinfo) {
    jpg_rd *c = (jpg_rd *)cinfo->err;
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    snprintf(c->msg, sizeof c->msg, "%s", buf);
    longjmp(c->jb, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
    jpg_rd *c = (jpg_rd *)cinfo->err;
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(c->msg, sizeof c->msg, "file is truncated");
        longjmp(c->jb, 1);
    }
    // other warnings (recoverable corrupt-data notices) are tolerated, like most viewers do
}

static void on_progress(j_common_ptr cinfo) {
    jpg_rd *c = (jpg_rd *)cinfo->err;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        snprintf(c->msg, sizeof c->msg, "more than %d scans", MAX_SCANS);
        longjmp(c->jb, 1);
    }
}

static int rd_run(jpg_rd *c, const unsigned char *buf, size_t size, const char *name,
                  bool want_pixels, ac_image_info *info) {
    if (setjmp(c->jb)) return 1;
    struct jpeg_decompress_struct *ci = &c->cinfo;
    jpeg_create_decompress(ci);
    c->created = true;
    c->progress.progress_monitor = on_progress;
    ci->progress = &c->progress;
    jpeg_mem_src(ci, buf, (unsigned long)size);
    jpeg_read_header(ci, TRUE);
    if (info) {
        info->format = AC_IMAGE_JPEG;
        info->width = (int)ci->image_width;
        info->height = (int)ci->image_height;
        info->channels = ci->num_components;
        info->bit_depth = ci->data_precision;
    }
    if (!want_pixels) return 0;
    ac_status st = ac_image_check_size(name, ci->image_width, ci->image_height);
    if (st) return 100 + (int)st;
    bool cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    if (cmyk) ci->out_color_space = JCS_CMYK;
    else if (ci->jpeg_color_space == JCS_GRAYSCALE) ci->out_color_space = JCS_GRAYSCALE;
    else ci->out_color_space = JCS_RGB;
    jpeg_start_decompress(ci);
    int w = (int)ci->output_width, h = (int)ci->output_height, ch = ci->output_components;
    if (ch != 1 && ch != 3 && ch != 4) {
        snprintf(c->msg, sizeof c->msg, "unsupported JPEG with %d components", ch);
        return 1;
    }
    c->row = malloc((size_t)w * ch);
    c->img = c->row ? ac_tensor_try_new(4, (int[]){1, 3, h, w}) : NULL;
    if (!c->img) {
        ac_fail(AC_ERR_NOMEM, "%s: out of memory for a %dx%d image", name, w, h);
        return 100 + AC_ERR_NOMEM;
    }
    // Adobe CMYK JPEGs (Photoshop, Pillow) store inverted samples.
    bool inverted = cmyk && ci->saw_Adobe_marker;
    size_t plane = (size_t)w * h;
    float *r = c->img->data, *g = r + plane, *b = g + plane;
    const float s = 1.0f / 255.0f;
    while (ci->output_scanline < ci->output_height) {
        size_t o = (size_t)ci->output_scanline * w;
        JSAMPROW rows[1] = {c->row};
        if (jpeg_read_scanlines(ci, rows, 1) != 1) {
            snprintf(c->msg, sizeof c->msg, "file is truncated");
            return 1;
        }
        const unsigned char *p = c->row;
        for (int x = 0; x < w; x++, p += ch) {
            if (ch == 1) {
                r[o + x] = g[o + x] = b[o + x] = p[0] * s;
            } else if (ch == 3) {
                r[o + x] = p[0] * s;
                g[o + x] = p[1] * s;
                b[o + x] = p[2] * s;
            } else {
                float cc = p[0] * s, m = p[1] * s, y = p[2] * s, k = p[3] * s;
                if (inverted) {
                    cc = 1 - cc;
                    m = 1 - m;
                    y = 1 - y;
                    k = 1 - k;
                }
                r[o + x] = (1 - cc) * (1 - k);
                g[o + x] = (1 - m) * (1 - k);
                b[o + x] = (1 - y) * (1 - k);
            }
        }
    }
    jpeg_finish_decompress(ci);
    return 0;
}

ac_status ac_jpeg_decode(const unsigned char *buf, size_t size, const char *name, ac_tensor **out,
                         ac_image_info *info) {
    if (out) *out = NULL;
    jpg_rd *c = calloc(1, sizeof *c);
    if (!c) return ac_fail(AC_ERR_NOMEM, "%s: out of memory starting the JPEG decoder", name);
    c->cinfo.err = jpeg_std_error(&c->err);
    c->err.error_exit = on_error;
    c->err.emit_message = on_message;
    int rc = rd_run(c, buf, size, name, out != NULL, info);
    if (c->created) jpeg_destroy_decompress(&c->cinfo);
    free(c->row);
    ac_status st = AC_OK;
    if (rc == 0) {
        if (out) *out = c->img;
    } else {
        ac_tensor_free(c->img);
        st = rc >= 100 ? (ac_status)(rc - 100) : ac_fail(AC_ERR_FORMAT, "%s: corrupt JPEG: %s", name, c->msg);
    }
    free(c);
    return st;
}
