// api.c: the public C API (include/allclear.h) on top of the internal modules: model files
// (io/model_file.h), the restoration pipeline (restore/restore.h) and images (image/image.h).
#include "allclear.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/common.h"
#include "image/image.h"
#include "io/model_file.h"
#include "restore/restore.h"

// The public codes are the internal ones.
_Static_assert(AC_STATUS_OK == (int)AC_OK && AC_STATUS_IO == (int)AC_ERR_IO &&
                   AC_STATUS_FORMAT == (int)AC_ERR_FORMAT && AC_STATUS_SHAPE == (int)AC_ERR_SHAPE &&
                   AC_STATUS_ARG == (int)AC_ERR_ARG && AC_STATUS_NOMEM == (int)AC_ERR_NOMEM &&
                   AC_STATUS_NUMERIC == (int)AC_ERR_NUMERIC &&
                   AC_STATUS_UNSUPPORTED == (int)AC_ERR_UNSUPPORTED,
               "public status codes must equal ac_status");

struct ac_model {
    ac_net *net;
    ac_restore_opts opts;
};

const char *ac_version(void) { return AC_LIB_VERSION; }

const char *ac_strerror(int status) {
    switch (status) {
    case AC_STATUS_OK: return "success";
    case AC_STATUS_IO: return "input/output error";
    case AC_STATUS_FORMAT: return "malformed or unexpected file";
    case AC_STATUS_SHAPE: return "weights do not fit the network";
    case AC_STATUS_ARG: return "bad argument";
    case AC_STATUS_NOMEM: return "out of memory or over a size limit";
    case AC_STATUS_NUMERIC: return "non-finite value";
    case AC_STATUS_UNSUPPORTED: return "unsupported feature";
    default: return "unknown status";
    }
}

const char *ac_last_error(void) { return ac_error_message(); }

void ac_set_num_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    ac_set_threads(n < 1 ? 1 : n);
}

int ac_get_num_threads(void) { return ac_get_threads(); }

ac_model *ac_model_load(const char *path, const ac_model_options *opts, int *status) {
    ac_status st = AC_OK;
    ac_net *net = NULL;
    if (!path) st = ac_fail(AC_ERR_ARG, "ac_model_load: no path");
    else if (opts && (opts->width < 0 || opts->res_blocks < 0))
        st = ac_fail(AC_ERR_ARG, "ac_model_load: negative width or res_blocks");
    if (!st) {
        ac_model_file_opts o = {opts ? opts->entry : NULL, opts ? opts->width : 0,
                                opts ? opts->res_blocks : 0};
        st = ac_model_file_load_net(path, &o, &net);
    }
    if (status) *status = (int)st;
    if (st) return NULL;
    ac_model *m = ac_xcalloc(1, sizeof *m);
    m->net = net;
    ac_restore_opts_init(&m->opts);
    return m;
}

void ac_model_free(ac_model *model) {
    if (!model) return;
    ac_net_free(model->net);
    free(model);
}

void ac_model_info(const ac_model *model, int *width, int *res_blocks, size_t *num_params) {
    const ac_net_config *cfg = ac_net_config_of(model->net);
    if (width) *width = cfg->width;
    if (res_blocks) *res_blocks = cfg->res_blocks;
    if (num_params) *num_params = ac_params_numel(ac_net_params(model->net));
}

int ac_model_set_tiling(ac_model *model, int tile, int overlap, size_t max_memory_mb) {
    if (!model) return ac_fail(AC_ERR_ARG, "ac_model_set_tiling: no model");
    ac_restore_opts o = model->opts;
    o.tile = tile < 0 ? AC_RESTORE_TILE_AUTO : tile;
    o.overlap = overlap;
    if (max_memory_mb > ((size_t)1 << 30)) return ac_fail(AC_ERR_ARG, "memory budget %zu MB is out of range", max_memory_mb);
    o.max_bytes = (max_memory_mb ? max_memory_mb : AC_RESTORE_DEFAULT_MAX_MB) << 20;
    ac_status st = ac_restore_opts_check(&o);
    if (st) return st;
    model->opts = o;
    return AC_STATUS_OK;
}

int ac_model_set_official_resize(ac_model *model, int on) {
    if (!model) return ac_fail(AC_ERR_ARG, "ac_model_set_official_resize: no model");
    model->opts.official_resize = on != 0;
    return AC_STATUS_OK;
}

void ac_model_output_size(const ac_model *model, int width, int height, int *out_width,
                          int *out_height) {
    int oh = 0, ow = 0;
    if (width > 0 && height > 0) ac_restore_output_size(&model->opts, height, width, &oh, &ow);
    if (!oh || !ow) oh = ow = 0;
    if (out_width) *out_width = ow;
    if (out_height) *out_height = oh;
}

// Checks the common arguments of the buffer restorations and makes the input tensor.
static ac_status new_input(const ac_model *model, const void *in, const void *out, int width,
                           int height, ac_tensor **t) {
    *t = NULL;
    if (!model || !in || !out) return ac_fail(AC_ERR_ARG, "restore: NULL model or buffer");
    if (width <= 0 || height <= 0) return ac_fail(AC_ERR_ARG, "restore: bad image size %dx%d", width, height);
    int shape[4] = {1, 3, height, width};
    *t = ac_tensor_try_new(4, shape);
    return *t ? AC_OK : AC_ERR_NOMEM;
}

static ac_status run(ac_model *model, const ac_tensor *x, ac_tensor **y) {
    return ac_restore_image(model->net, x, &model->opts, y);
}

int ac_model_restore_rgb(ac_model *model, const uint8_t *rgb, int width, int height,
                         size_t stride, uint8_t *out, size_t out_stride) {
    ac_tensor *x, *y = NULL;
    ac_status st = new_input(model, rgb, out, width, height, &x);
    if (st) return st;
    int ow, oh;
    ac_model_output_size(model, width, height, &ow, &oh);
    if (stride < (size_t)width * 3 || (ow && out_stride < (size_t)ow * 3)) {
        ac_tensor_free(x);
        return ac_fail(AC_ERR_ARG, "restore: row stride %zu / %zu is less than 3 x the width", stride, out_stride);
    }
    size_t plane = (size_t)width * (size_t)height;
    for (int r = 0; r < height; r++) {
        const uint8_t *row = rgb + (size_t)r * stride;
        for (int c = 0; c < 3; c++) {
            float *dst = x->data + (size_t)c * plane + (size_t)r * width;
            for (int k = 0; k < width; k++) dst[k] = (float)row[3 * k + c] / 255.0f;
        }
    }
    st = run(model, x, &y);
    ac_tensor_free(x);
    if (st) return st;
    oh = y->shape[2];
    ow = y->shape[3];
    plane = (size_t)ow * (size_t)oh;
    for (int r = 0; r < oh; r++) {
        uint8_t *row = out + (size_t)r * out_stride;
        for (int c = 0; c < 3; c++) {
            const float *src = y->data + (size_t)c * plane + (size_t)r * ow;
            for (int k = 0; k < ow; k++) {
                float v = src[k];
                row[3 * k + c] = !(v > 0.0f) ? 0 : v >= 1.0f ? 255 : (uint8_t)floorf(v * 255.0f + 0.5f);
            }
        }
    }
    ac_tensor_free(y);
    return AC_STATUS_OK;
}

int ac_model_restore_float(ac_model *model, const float *planar_rgb, int width, int height,
                           float *out) {
    ac_tensor *x, *y = NULL;
    ac_status st = new_input(model, planar_rgb, out, width, height, &x);
    if (st) return st;
    memcpy(x->data, planar_rgb, ac_numel(x) * sizeof(float));
    st = run(model, x, &y);
    ac_tensor_free(x);
    if (st) return st;
    memcpy(out, y->data, ac_numel(y) * sizeof(float));
    ac_tensor_free(y);
    return AC_STATUS_OK;
}

int ac_model_restore_file(ac_model *model, const char *in_path, const char *out_path, int bits) {
    if (!model || !in_path || !out_path) return ac_fail(AC_ERR_ARG, "restore: NULL model or path");
    if (bits != 8 && bits != 16) return ac_fail(AC_ERR_ARG, "restore: %d bits per sample (8 or 16)", bits);
    ac_tensor *x = NULL, *y = NULL;
    ac_status st = ac_image_read(in_path, &x);
    if (st) return st;
    st = run(model, x, &y);
    ac_tensor_free(x);
    if (st) {
        ac_error_prefix("%s", in_path);
        return st;
    }
    st = ac_image_write_png(out_path, y, bits);
    ac_tensor_free(y);
    return st;
}
