// sampler.c: training batches (see sampler.h). The batch plan (types, pairs) comes from
// per-sample generators; decoding, crop/resize and flip run in prefetch.c's workers.
#include "data/sampler.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/prefetch.h"
#include "image/image.h"

struct ac_sampler {
    const ac_meta_set *data;
    ac_sampler_opts o;
    int ntypes, per_epoch;
    int share_begin, share_end;  // positions of every batch this sampler decodes
    int epoch, skipped;
    ac_prefetch *pf;  // over global batch numbers g = epoch * per_epoch + index
    int64_t pf_first_epoch;
};

ac_sampler_opts ac_sampler_defaults(void) {
    return (ac_sampler_opts){.batch_size = 32, .crop = 224, .seed = 19870522, .balanced = false, .threads = 2,
                             .prefetch = 0};
}

void ac_batch_free(ac_batch *b) {
    if (!b) return;
    ac_tensor_free(b->input);
    ac_tensor_free(b->target);
    free(b->types);
    free(b->type_counts);
    free(b);
}

static void sample_rng(const ac_sampler *s, int epoch, uint64_t sample, ac_rng *r) {
    uint64_t x = s->o.seed * 0x9e3779b97f4a7c15ull;
    x ^= (uint64_t)(uint32_t)epoch * 0xd1b54a32d192ed03ull;
    x ^= sample * 0x8cb92ba72f3d8dd7ull + 0x632be59bd9b4e019ull;
    ac_rng_seed(r, x);
}

// Draws sample j of batch (epoch, index): type, pair, and leaves r ready for the crop and flip.
static void plan_sample(const ac_sampler *s, int epoch, int index, int j, ac_rng *r, int *type, size_t *pair) {
    int B = s->o.batch_size, T = s->ntypes;
    sample_rng(s, epoch, (uint64_t)index * (uint64_t)B + (uint64_t)j, r);
    int t = (int)ac_rng_below(r, (uint64_t)T);  // drawn in both modes to keep the stream aligned
    if (s->o.balanced && j < B - B % T) t = j % T;
    *type = t;
    *pair = (size_t)ac_rng_below(r, s->data->sources[t]->count);
}

void ac_sampler_plan(const ac_sampler *s, int epoch, int index, int *types, size_t *pairs) {
    ac_rng r;
    for (int j = 0; j < s->o.batch_size; j++) plan_sample(s, epoch, index, j, &r, &types[j], &pairs[j]);
}

// Decodes one pair and writes its crop (flipped or not) at batch position `pos`.
static ac_status load_sample(const ac_sampler *s, int type, size_t pair, ac_rng *r, ac_batch *b, int pos) {
    const ac_meta *m = s->data->sources[type];
    const ac_pair *p = &m->pairs[pair];
    ac_tensor *gt = NULL, *in = NULL;
    ac_status st = ac_image_read(p->gt, &gt);
    if (!st) st = ac_image_read(p->input, &in);
    if (!st && !ac_same_shape(gt, in)) {
        st = ac_fail(AC_ERR_SHAPE, "%s: pair %zu: the images differ in size (%s is %dx%d, %s is %dx%d)", m->path, pair,
                     p->gt, gt->shape[3], gt->shape[2], p->input, in->shape[3], in->shape[2]);
    }
    if (st) {
        ac_tensor_free(gt);
        ac_tensor_free(in);
        return st;
    }
    int c = s->o.crop, h = gt->shape[2], w = gt->shape[3];
    ac_tensor *gc, *ic;
    if (h < c || w < c) {
        gc = ac_image_resize(gt, c, c);
        ic = ac_image_resize(in, c, c);
    } else {
        int y0 = (int)ac_rng_below(r, (uint64_t)(h - c + 1)), x0 = (int)ac_rng_below(r, (uint64_t)(w - c + 1));
        gc = ac_image_crop(gt, y0, x0, c, c);
        ic = ac_image_crop(in, y0, x0, c, c);
    }
    if (ac_rng_uniform(r) < 0.5f) {
        ac_image_flip_h(gc);
        ac_image_flip_h(ic);
    }
    size_t n = (size_t)3 * c * c;
    memcpy(b->target->data + (size_t)pos * n, gc->data, n * sizeof(float));
    memcpy(b->input->data + (size_t)pos * n, ic->data, n * sizeof(float));
    ac_tensor_free(gt);
    ac_tensor_free(in);
    ac_tensor_free(gc);
    ac_tensor_free(ic);
    return AC_OK;
}

// Worker job: global batch number g. A skipped batch yields NULL without decoding.
static ac_status make_batch(void *ctx, uint64_t g, void **result) {
    ac_sampler *s = ctx;
    int B = s->o.batch_size, T = s->ntypes;
    int epoch = (int)(s->pf_first_epoch + (int64_t)(g / (uint64_t)s->per_epoch));
    int index = (int)(g % (uint64_t)s->per_epoch);
    int *types = ac_xmalloc(sizeof(int) * (size_t)B), *counts = ac_xcalloc((size_t)T, sizeof(int));
    size_t *pairs = ac_xmalloc(sizeof(size_t) * (size_t)B);
    ac_rng *rngs = ac_xmalloc(sizeof(ac_rng) * (size_t)B);
    for (int j = 0; j < B; j++) {
        plan_sample(s, epoch, index, j, &rngs[j], &types[j], &pairs[j]);
        counts[types[j]]++;
    }
    bool complete = true;
    for (int t = 0; t < T; t++) complete &= counts[t] > 0;
    ac_status st = AC_OK;
    ac_batch *b = NULL;
    if (complete) {
        const int lo = s->share_begin, hi = s->share_end, n = hi - lo;
        b = ac_xcalloc(1, sizeof *b);
        b->input = ac_tensor_try_new(4, (int[]){n, 3, s->o.crop, s->o.crop});
        b->target = ac_tensor_try_new(4, (int[]){n, 3, s->o.crop, s->o.crop});
        b->types = ac_xmalloc(sizeof(int) * (size_t)n);
        b->type_counts = ac_xcalloc((size_t)T, sizeof(int));
        b->epoch = epoch;
        b->index = index;
        if (!b->input || !b->target) st = AC_ERR_NOMEM;
        // regroup: stable by type, so position = (samples of lower types) + rank within type;
        // only the share's positions are decoded
        int pos = 0;
        for (int t = 0; t < T && !st; t++)
            for (int j = 0; j < B && !st; j++) {
                if (types[j] != t) continue;
                if (pos >= lo && pos < hi) {
                    b->types[pos - lo] = t;
                    b->type_counts[t]++;
                    st = load_sample(s, t, pairs[j], &rngs[j], b, pos - lo);
                }
                pos++;
            }
        if (st) {
            ac_batch_free(b);
            b = NULL;
        }
    }
    free(types);
    free(counts);
    free(pairs);
    free(rngs);
    *result = b;
    return st;
}

ac_status ac_sampler_open(const ac_meta_set *data, const ac_sampler_opts *opts, ac_sampler **out) {
    *out = NULL;
    AC_ASSERT(data && data->count > 0);
    ac_sampler_opts o = *opts;
    if (o.batch_size < 1) return ac_fail(AC_ERR_ARG, "batch size must be at least 1 (got %d)", o.batch_size);
    if (o.crop < 1) return ac_fail(AC_ERR_ARG, "crop size must be at least 1 (got %d)", o.crop);
    if (o.threads < 0) o.threads = 0;
    if (o.prefetch <= 0) o.prefetch = 2 * AC_MAX(o.threads, 1);
    if (o.balanced && o.batch_size < data->count)
        return ac_fail(AC_ERR_ARG, "a balanced batch needs at least one sample per weather type: batch size %d < %d types",
                       o.batch_size, data->count);
    size_t min = SIZE_MAX;
    for (int i = 0; i < data->count; i++) min = AC_MIN(min, data->sources[i]->count);
    if (min < (size_t)o.batch_size)
        return ac_fail(AC_ERR_ARG, "an epoch has min(source sizes) = %zu samples, fewer than one batch of %d", min,
                       o.batch_size);
    if (o.share_begin == 0 && o.share_end == 0) o.share_end = o.batch_size;
    if (o.share_begin < 0 || o.share_end <= o.share_begin || o.share_end > o.batch_size)
        return ac_fail(AC_ERR_ARG, "the share [%d, %d) of a batch of %d is empty or out of range", o.share_begin,
                       o.share_end, o.batch_size);
    ac_sampler *s = ac_xcalloc(1, sizeof *s);
    s->share_begin = o.share_begin;
    s->share_end = o.share_end;
    s->data = data;
    s->o = o;
    s->ntypes = data->count;
    s->per_epoch = (int)AC_MIN(min / (size_t)o.batch_size, (size_t)INT32_MAX);
    s->epoch = 0;
    *out = s;
    return AC_OK;
}

void ac_sampler_close(ac_sampler *s) {
    if (!s) return;
    ac_prefetch_stop(s->pf);
    free(s);
}

int ac_sampler_batches_per_epoch(const ac_sampler *s) { return s->per_epoch; }
int ac_sampler_skipped(const ac_sampler *s) { return s->skipped; }

void ac_sampler_begin_epoch(ac_sampler *s, int epoch) {
    s->epoch = epoch;
    s->skipped = 0;
    // keep the running stream when it is exactly at the start of this epoch
    uint64_t want = (uint64_t)((int64_t)epoch - s->pf_first_epoch) * (uint64_t)s->per_epoch;
    if (s->pf && (int64_t)epoch >= s->pf_first_epoch && ac_prefetch_position(s->pf) == want) return;
    ac_prefetch_stop(s->pf);
    s->pf_first_epoch = epoch;
    s->pf = ac_prefetch_start(s->o.threads, s->o.prefetch, 0, UINT64_MAX, make_batch, (ac_prefetch_free_fn)ac_batch_free, s);
}

ac_status ac_sampler_next(ac_sampler *s, ac_batch **out) {
    *out = NULL;
    if (!s->pf) ac_sampler_begin_epoch(s, s->epoch);
    uint64_t end = (uint64_t)((int64_t)s->epoch + 1 - s->pf_first_epoch) * (uint64_t)s->per_epoch;
    while (ac_prefetch_position(s->pf) < end) {
        uint64_t g;
        void *r = NULL;
        ac_status st = ac_prefetch_next(s->pf, &g, &r);
        if (st) return st;
        if (r) {
            *out = r;
            return AC_OK;
        }
        s->skipped++;
    }
    return AC_OK;
}
