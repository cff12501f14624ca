// checkpoint.c: best-checkpoint bookkeeping, model files and the training state file
// (checkpoint.h).
#include "train/checkpoint.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "io/model_file.h"

// ---- best checkpoints ----

void ac_topk_init(ac_topk *t, int k) {
    memset(t, 0, sizeof *t);
    t->k = k;
    t->items = ac_xcalloc((size_t)(k > 0 ? k : 1), sizeof *t->items);
}

void ac_topk_clear(ac_topk *t) {
    for (int i = 0; i < t->count; i++) free(t->items[i].file);
    free(t->items);
    memset(t, 0, sizeof *t);
}

bool ac_topk_admits(const ac_topk *t, double psnr, int *evict) {
    *evict = -1;
    if (t->k <= 0) return false;
    if (t->count < t->k) return true;
    int worst = 0;
    for (int i = 1; i < t->count; i++)
        if (t->items[i].psnr < t->items[worst].psnr ||
            (t->items[i].psnr == t->items[worst].psnr && t->items[i].epoch < t->items[worst].epoch))
            worst = i;
    if (!(psnr >= t->items[worst].psnr)) return false;
    *evict = worst;
    return true;
}

void ac_topk_insert(ac_topk *t, int evict, int epoch, double psnr, double ssim, const char *file,
                    char **evicted_file) {
    *evicted_file = NULL;
    if (evict >= 0) {
        AC_ASSERT(evict < t->count);
        *evicted_file = t->items[evict].file;
        memmove(&t->items[evict], &t->items[evict + 1], (size_t)(t->count - evict - 1) * sizeof *t->items);
        t->count--;
    }
    AC_ASSERT(t->count < t->k);
    t->items[t->count++] = (ac_topk_entry){epoch, psnr, ssim, ac_xstrdup(file)};
}

char *ac_topk_filename(int epoch, double psnr, double ssim) {
    char buf[128];
    snprintf(buf, sizeof buf, "epoch_%d_psnr%.3f_ssim%.3f.safetensors", epoch, psnr, ssim);
    return ac_xstrdup(buf);
}

char *ac_topk_encode(const ac_topk *t) {
    size_t cap = 16, len = 0;
    for (int i = 0; i < t->count; i++) cap += strlen(t->items[i].file) + 96;
    char *s = ac_xmalloc(cap);
    s[0] = 0;
    for (int i = 0; i < t->count; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d,%.17g,%.17g,%s", i ? ";" : "", t->items[i].epoch,
                                t->items[i].psnr, t->items[i].ssim, t->items[i].file);
    return s;
}

ac_status ac_topk_decode(const char *s, ac_topk *t) {
    ac_topk all;
    ac_topk_init(&all, (int)strlen(s) / 8 + 1);  // every entry takes more than 8 characters
    const char *p = s;
    while (*p) {
        int epoch, n = 0;
        double psnr, ssim;
        size_t len = 0;
        if (sscanf(p, "%d,%lf,%lf,%n", &epoch, &psnr, &ssim, &n) != 3 || n == 0 ||
            (len = strcspn(p + n, ";")) == 0 || all.count == all.k) {
            ac_topk_clear(&all);
            return ac_fail(AC_ERR_FORMAT, "bad best-checkpoint list '%s'", s);
        }
        p += n;
        char *file = ac_xmalloc(len + 1);
        memcpy(file, p, len);
        file[len] = 0;
        all.items[all.count++] = (ac_topk_entry){epoch, psnr, ssim, file};
        p += len + (p[len] == ';');
    }
    // keep the best t->k of them (a resumed run may keep fewer than before)
    for (int i = 0; i < t->count; i++) free(t->items[i].file);
    t->count = 0;
    for (int i = 0; i < all.count; i++) {
        int ev;
        if (ac_topk_admits(t, all.items[i].psnr, &ev)) {
            char *gone;
            ac_topk_insert(t, ev, all.items[i].epoch, all.items[i].psnr, all.items[i].ssim, all.items[i].file, &gone);
            free(gone);
        }
    }
    ac_topk_clear(&all);
    return AC_OK;
}

// ---- model files ----

static void copy_meta(ac_tensor_map *dst, const ac_tensor_map *src) {
    if (!src) return;
    for (int i = 0; i < src->n_meta; i++) ac_tensor_map_set_meta(dst, src->meta[i].key, src->meta[i].value);
}

ac_status ac_save_net(const char *path, const ac_net *net, const ac_tensor_map *meta) {
    ac_tensor_map *m = ac_net_export(net);
    copy_meta(m, meta);
    ac_status st = ac_safetensors_write(path, m);
    ac_tensor_map_free(m);
    return st;
}

// ---- training state ----

static void set_meta_int(ac_tensor_map *m, const char *key, long long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    ac_tensor_map_set_meta(m, key, buf);
}

// The name of an optimised tensor: its part's prefix + its registry name.
static const char *param_name(const ac_ckpt_part *parts, int n_parts, const ac_tensor *t,
                              const char **prefix) {
    for (int p = 0; p < n_parts; p++)
        for (int i = 0; i < parts[p].params->count; i++)
            if (parts[p].params->items[i].tensor == t) {
                *prefix = parts[p].prefix;
                return parts[p].params->items[i].name;
            }
    AC_ASSERT_MSG(false, "an optimised tensor that is not in any checkpoint part");
    return NULL;
}

static ac_tensor *moment_tensor(const ac_tensor *like, const float *data) {
    ac_tensor *t = ac_tensor_new(like->ndim, like->shape);
    memcpy(t->data, data, ac_numel(like) * sizeof(float));
    return t;
}

ac_status ac_train_state_save(const char *path, const ac_ckpt_part *parts, int n_parts,
                              const ac_adam *adam, const ac_net_config *cfg,
                              const ac_train_state *s, const ac_tensor_map *settings) {
    ac_tensor_map *m = ac_tensor_map_new();
    for (int p = 0; p < n_parts; p++) ac_params_export(parts[p].params, m, parts[p].prefix);
    char name[512];
    for (int i = 0; i < adam->n_params; i++) {
        const char *prefix;
        const ac_adam_param *ap = &adam->params[i];
        const char *pn = param_name(parts, n_parts, ap->param, &prefix);
        snprintf(name, sizeof name, "adam.m.%s%s", prefix, pn);
        ac_tensor_map_put(m, name, moment_tensor(ap->param, ap->m));
        snprintf(name, sizeof name, "adam.v.%s%s", prefix, pn);
        ac_tensor_map_put(m, name, moment_tensor(ap->param, ap->v));
    }
    copy_meta(m, settings);
    ac_tensor_map_set_meta(m, "format", AC_TRAIN_STATE_FORMAT);
    ac_tensor_map_set_meta(m, "arch", "MSBDN-RDFF");
    set_meta_int(m, "width", cfg->width);
    set_meta_int(m, "res_blocks", cfg->res_blocks);
    ac_tensor_map_set_meta(m, "kind", s->kind);
    set_meta_int(m, "epoch", s->epoch);
    set_meta_int(m, "adam_step", (long long)adam->step);
    char rng[80];
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s->rng.s[0], s->rng.s[1],
             s->rng.s[2], s->rng.s[3]);
    ac_tensor_map_set_meta(m, "rng", rng);
    char *topk = ac_topk_encode(&s->topk);
    ac_tensor_map_set_meta(m, "best", topk);
    free(topk);
    ac_status st = ac_safetensors_write(path, m);
    ac_tensor_map_free(m);
    return st;
}

ac_status ac_train_state_read(const char *path, ac_tensor_map **out) {
    ac_tensor_map *m;
    ac_status st = ac_safetensors_read(path, &m);
    if (st) return st;
    const char *fmt = ac_tensor_map_meta(m, "format");
    if (!fmt || strcmp(fmt, AC_TRAIN_STATE_FORMAT)) {
        ac_tensor_map_free(m);
        return ac_fail(AC_ERR_FORMAT, "%s: not a training state file (no metadata format=%s)", path,
                       AC_TRAIN_STATE_FORMAT);
    }
    *out = m;
    return AC_OK;
}

static bool meta_ll(const ac_tensor_map *m, const char *key, long long *v) {
    const char *s = ac_tensor_map_meta(m, key);
    if (!s) return false;
    char *end;
    *v = strtoll(s, &end, 10);
    return end != s && !*end;
}

ac_status ac_train_state_restore(const ac_tensor_map *m, const ac_ckpt_part *parts, int n_parts,
                                 ac_adam *adam, ac_train_state *s) {
    long long epoch, step;
    if (!meta_ll(m, "epoch", &epoch) || epoch < 0 || epoch > INT32_MAX || !meta_ll(m, "adam_step", &step) ||
        step < 0)
        return ac_fail(AC_ERR_FORMAT, "the epoch or adam_step metadata is missing or invalid");
    const char *rng = ac_tensor_map_meta(m, "rng");
    ac_rng r;
    if (!rng || strlen(rng) != 64 ||
        sscanf(rng, "%16" SCNx64 "%16" SCNx64 "%16" SCNx64 "%16" SCNx64, &r.s[0], &r.s[1], &r.s[2], &r.s[3]) != 4)
        return ac_fail(AC_ERR_FORMAT, "the rng metadata is missing or invalid");
    const char *best = ac_tensor_map_meta(m, "best");
    ac_status st = ac_topk_decode(best ? best : "", &s->topk);
    if (st) return st;
    // check every moment before touching anything
    char name[512];
    for (int i = 0; i < adam->n_params; i++) {
        const char *prefix;
        const ac_adam_param *ap = &adam->params[i];
        const char *pn = param_name(parts, n_parts, ap->param, &prefix);
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "adam.%c.%s%s", k ? 'v' : 'm', prefix, pn);
            const ac_tensor *t = ac_tensor_map_get(m, name);
            if (!t || !ac_same_shape(t, ap->param))
                return ac_fail(AC_ERR_SHAPE, "optimiser moment '%s' is %s", name, t ? "misshaped" : "missing");
        }
    }
    for (int p = 0; p < n_parts; p++) {
        ac_load_opts opts = {parts[p].prefix, NULL};
        st = ac_params_load(parts[p].params, m, &opts);
        if (st) return st;
    }
    for (int i = 0; i < adam->n_params; i++) {
        const char *prefix;
        ac_adam_param *ap = &adam->params[i];
        const char *pn = param_name(parts, n_parts, ap->param, &prefix);
        size_t bytes = ac_numel(ap->param) * sizeof(float);
        snprintf(name, sizeof name, "adam.m.%s%s", prefix, pn);
        memcpy(ap->m, ac_tensor_map_get(m, name)->data, bytes);
        snprintf(name, sizeof name, "adam.v.%s%s", prefix, pn);
        memcpy(ap->v, ac_tensor_map_get(m, name)->data, bytes);
    }
    adam->step = step;
    s->epoch = (int)epoch;
    s->rng = r;
    return AC_OK;
}
