// eval.c: per-type and overall PSNR/SSIM of a network or of restored images (eval.h).
#include "train/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "metrics/metrics.h"

void ac_eval_result_free(ac_eval_result *r) {
    free(r->type_names);
    free(r->count);
    free(r->psnr);
    free(r->ssim);
    memset(r, 0, sizeof *r);
}

static void result_init(ac_eval_result *r, const ac_meta_set *data) {
    memset(r, 0, sizeof *r);
    r->n_types = data->count;
    r->type_names = ac_xcalloc((size_t)data->count, sizeof *r->type_names);
    r->count = ac_xcalloc((size_t)data->count, sizeof *r->count);
    r->psnr = ac_xcalloc((size_t)data->count, sizeof *r->psnr);
    r->ssim = ac_xcalloc((size_t)data->count, sizeof *r->ssim);
    for (int t = 0; t < data->count; t++) r->type_names[t] = data->sources[t]->name;
}

// Sums become means (per type, then overall over all images).
static void result_finish(ac_eval_result *r) {
    double sp = 0, ss = 0;
    for (int t = 0; t < r->n_types; t++) {
        sp += r->psnr[t];
        ss += r->ssim[t];
        r->total += r->count[t];
        if (r->count[t]) {
            r->psnr[t] /= (double)r->count[t];
            r->ssim[t] /= (double)r->count[t];
        }
    }
    r->mean_psnr = r->total ? sp / (double)r->total : 0;
    r->mean_ssim = r->total ? ss / (double)r->total : 0;
}

static void result_add(ac_eval_result *r, int type, const ac_metrics *m) {
    r->count[type]++;
    r->psnr[type] += m->psnr;
    r->ssim[type] += m->ssim;
}

static ac_status save_prediction(const char *dir, const ac_valid_item *it, const ac_tensor *pred) {
    char *sub = ac_path_join(dir, it->type_name);
    ac_status st = ac_mkdir_p(sub);
    if (!st) {
        char *stem = ac_path_stem(it->input_path);
        size_t n = strlen(sub) + strlen(stem) + 8;
        char *path = ac_xmalloc(n);
        snprintf(path, n, "%s/%s.png", sub, stem);
        st = ac_image_write_png(path, pred, 8);
        free(path);
        free(stem);
    }
    free(sub);
    return st;
}

ac_status ac_evaluate(ac_net *net, const ac_meta_set *data, const ac_eval_opts *opts,
                      ac_eval_result *out) {
    AC_ASSERT(opts->mode == AC_VALID_RESIZE || opts->mode == AC_VALID_PAD);
    result_init(out, data);
    ac_valid_loader *l;
    ac_status st = ac_valid_open(data, opts->mode, opts->threads, &l);
    if (st) {
        ac_eval_result_free(out);
        return st;
    }
    size_t total = ac_valid_count(l), done = 0;
    ac_graph *g = ac_graph_new(false);
    for (;;) {
        ac_valid_item *it;
        st = ac_valid_next(l, &it);
        if (st || !it) break;
        if (it->input->shape[2] < AC_NET_MIN_SIDE || it->input->shape[3] < AC_NET_MIN_SIDE) {
            st = ac_fail(AC_ERR_SHAPE, "%s: %dx%d is too small for the network (at least %dx%d after %s)",
                         it->input_path, it->orig_w, it->orig_h, AC_NET_MIN_SIDE, AC_NET_MIN_SIDE,
                         opts->mode == AC_VALID_PAD ? "padding to a multiple of 16" : "resizing to a multiple of 16");
            ac_valid_item_free(it);
            break;
        }
        ac_graph_reset(g);
        ac_tensor *y = ac_net_forward(net, g, it->input, NULL);
        ac_tensor *pred = y, *cropped = NULL;
        if (y->shape[2] != it->target->shape[2] || y->shape[3] != it->target->shape[3])
            pred = cropped = ac_image_crop(y, 0, 0, it->target->shape[2], it->target->shape[3]);
        ac_metrics m;
        st = ac_metrics_compute(pred, it->target, opts->y_channel, &m);
        if (!st) result_add(out, it->type, &m);
        if (!st && opts->save_dir) st = save_prediction(opts->save_dir, it, pred);
        ac_tensor_free(cropped);
        ac_valid_item_free(it);
        if (st) break;
        done++;
        if (opts->progress) opts->progress(opts->ctx, done, total);
    }
    ac_graph_free(g);
    ac_valid_close(l);
    if (st) {
        ac_eval_result_free(out);
        return st;
    }
    result_finish(out);
    return AC_OK;
}

static char *find_prediction(const char *dir, const ac_meta *m, const char *input) {
    char *stem = ac_path_stem(input);
    size_t n = strlen(dir) + strlen(m->name) + strlen(stem) + 8;
    char *path = ac_xmalloc(n);
    snprintf(path, n, "%s/%s/%s.png", dir, m->name, stem);
    if (!ac_path_exists(path)) snprintf(path, n, "%s/%s.png", dir, stem);
    free(stem);
    return path;
}

ac_status ac_evaluate_dir(const char *pred_dir, const ac_meta_set *data, bool y_channel,
                          ac_eval_result *out) {
    result_init(out, data);
    ac_status st = AC_OK;
    for (int t = 0; t < data->count && !st; t++) {
        const ac_meta *m = data->sources[t];
        for (size_t i = 0; i < m->count && !st; i++) {
            char *path = find_prediction(pred_dir, m, m->pairs[i].input);
            ac_tensor *pred = NULL, *gt = NULL;
            st = ac_image_read(path, &pred);
            if (!st) st = ac_image_read(m->pairs[i].gt, &gt);
            if (!st && !ac_same_shape(pred, gt)) {
                int h = gt->shape[2], w = gt->shape[3];
                if (pred->shape[2] == h / 16 * 16 && pred->shape[3] == w / 16 * 16) {
                    ac_tensor *r = ac_image_resize(gt, h / 16 * 16, w / 16 * 16);
                    ac_tensor_free(gt);
                    gt = r;
                } else {
                    st = ac_fail(AC_ERR_SHAPE, "%s is %dx%d but its ground truth %s is %dx%d", path,
                                 pred->shape[3], pred->shape[2], m->pairs[i].gt, w, h);
                }
            }
            ac_metrics mt;
            if (!st) st = ac_metrics_compute(pred, gt, y_channel, &mt);
            if (!st) result_add(out, t, &mt);
            ac_tensor_free(pred);
            ac_tensor_free(gt);
            free(path);
        }
    }
    if (st) {
        ac_eval_result_free(out);
        return st;
    }
    result_finish(out);
    return AC_OK;
}
