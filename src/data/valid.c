// valid.c: the validation loader (see valid.h).
#include "data/valid.h"

#include <stdlib.h>

#include "data/prefetch.h"
#include "image/image.h"

struct ac_valid_loader {
    const ac_meta_set *data;
    ac_valid_mode mode;
    int threads;
    size_t count;
    ac_prefetch *pf;
};

void ac_valid_item_free(ac_valid_item *it) {
    if (!it) return;
    ac_tensor_free(it->input);
    ac_tensor_free(it->target);
    free(it);
}

ac_status ac_valid_load(const ac_valid_loader *l, size_t i, ac_valid_item **out) {
    *out = NULL;
    AC_ASSERT(i < l->count);
    int t = 0;
    size_t k = i;
    while (k >= l->data->sources[t]->count) k -= l->data->sources[t++]->count;
    const ac_meta *m = l->data->sources[t];
    const ac_pair *p = &m->pairs[k];
    ac_tensor *gt = NULL, *in = NULL;
    ac_status st = ac_image_read(p->gt, &gt);
    if (!st) st = ac_image_read(p->input, &in);
    if (!st && !ac_same_shape(gt, in))
        st = ac_fail(AC_ERR_SHAPE, "%s: pair %zu: the images differ in size (%s is %dx%d, %s is %dx%d)", m->path, k,
                     p->gt, gt->shape[3], gt->shape[2], p->input, in->shape[3], in->shape[2]);
    int h = gt ? gt->shape[2] : 0, w = gt ? gt->shape[3] : 0;
    if (!st && l->mode == AC_VALID_RESIZE && (h < 16 || w < 16))
        st = ac_fail(AC_ERR_SHAPE, "%s: %dx%d is too small to resize to a multiple of 16", p->gt, w, h);
    if (st) {
        ac_tensor_free(gt);
        ac_tensor_free(in);
        return st;
    }
    if (l->mode == AC_VALID_RESIZE && (h % 16 || w % 16)) {
        ac_tensor *a = ac_image_resize(gt, h / 16 * 16, w / 16 * 16), *b = ac_image_resize(in, h / 16 * 16, w / 16 * 16);
        ac_tensor_free(gt);
        ac_tensor_free(in);
        gt = a;
        in = b;
    } else if (l->mode == AC_VALID_PAD && (h % 16 || w % 16)) {
        ac_tensor *b = ac_image_pad_reflect(in, (16 - h % 16) % 16, (16 - w % 16) % 16);
        ac_tensor_free(in);
        in = b;
    }
    ac_valid_item *it = ac_xcalloc(1, sizeof *it);
    it->input = in;
    it->target = gt;
    it->type = t;
    it->type_name = m->name;
    it->index = i;
    it->pair = k;
    it->gt_path = p->gt;
    it->input_path = p->input;
    it->orig_h = h;
    it->orig_w = w;
    *out = it;
    return AC_OK;
}

static ac_status job(void *ctx, uint64_t i, void **result) {
    ac_valid_item *it = NULL;
    ac_status st = ac_valid_load(ctx, (size_t)i, &it);
    *result = it;
    return st;
}

ac_status ac_valid_open(const ac_meta_set *data, ac_valid_mode mode, int threads, ac_valid_loader **out) {
    AC_ASSERT(data && data->count > 0);
    ac_valid_loader *l = ac_xcalloc(1, sizeof *l);
    l->data = data;
    l->mode = mode;
    l->threads = threads < 0 ? 0 : threads;
    for (int i = 0; i < data->count; i++) l->count += data->sources[i]->count;
    *out = l;
    return AC_OK;
}

void ac_valid_close(ac_valid_loader *l) {
    if (!l) return;
    ac_prefetch_stop(l->pf);
    free(l);
}

size_t ac_valid_count(const ac_valid_loader *l) { return l->count; }

void ac_valid_rewind(ac_valid_loader *l) {
    ac_prefetch_stop(l->pf);
    l->pf = NULL;
}

ac_status ac_valid_next(ac_valid_loader *l, ac_valid_item **out) {
    *out = NULL;
    if (!l->pf)
        l->pf = ac_prefetch_start(l->threads, 2 * AC_MAX(l->threads, 1), 0, l->count, job,
                                  (ac_prefetch_free_fn)ac_valid_item_free, l);
    uint64_t i;
    void *r = NULL;
    ac_status st = ac_prefetch_next(l->pf, &i, &r);
    if (!st) *out = r;
    return st;
}
