// params.c: the parameter registry (see params.h): registration, initialisation, gradients,
// strict loading with a full list of problems, export, and the deterministic test pattern.
#include "model/params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ac_params *ac_params_new(void) { return ac_xcalloc(1, sizeof(ac_params)); }

void ac_params_free(ac_params *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++) {
        free(p->items[i].name);
        ac_tensor_free(p->items[i].tensor);
    }
    free(p->items);
    free(p);
}

static int find_param(const ac_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->items[i].name, name)) return i;
    return -1;
}

ac_tensor *ac_params_add(ac_params *p, const char *name, int ndim, const int *shape,
                         ac_init_kind init, float init_value) {
    AC_ASSERT_MSG(find_param(p, name) < 0, name);
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->items = ac_xrealloc(p->items, (size_t)p->cap * sizeof *p->items);
    }
    ac_param *it = &p->items[p->count++];
    it->name = ac_xstrdup(name);
    it->tensor = ac_tensor_new(ndim, shape);
    it->init = (uint8_t)init;
    it->init_value = init_value;
    return it->tensor;
}

ac_tensor *ac_params_get(const ac_params *p, const char *name) {
    int i = find_param(p, name);
    return i < 0 ? NULL : p->items[i].tensor;
}

size_t ac_params_numel(const ac_params *p) {
    size_t n = 0;
    for (int i = 0; i < p->count; i++) n += ac_numel(p->items[i].tensor);
    return n;
}

void ac_params_init(ac_params *p, ac_rng *r) {
    for (int i = 0; i < p->count; i++) {
        ac_param *it = &p->items[i];
        switch ((ac_init_kind)it->init) {
        case AC_INIT_NONE: break;
        case AC_INIT_UNIFORM: ac_init_uniform(it->tensor, -it->init_value, it->init_value, r); break;
        case AC_INIT_NORMAL: ac_init_normal(it->tensor, 0.0f, it->init_value, r); break;
        case AC_INIT_CONST: ac_init_const(it->tensor, it->init_value); break;
        }
    }
}

void ac_params_set_trainable(ac_params *p, bool trainable) {
    for (int i = 0; i < p->count; i++) {
        ac_tensor *t = p->items[i].tensor;
        if (trainable) {
            ac_tensor_enable_grad(t);
            ac_tensor_zero_grad(t);
        } else {
            t->requires_grad = false;
            ac_aligned_free(t->grad);
            t->grad = NULL;
        }
    }
}

void ac_params_zero_grad(ac_params *p) {
    for (int i = 0; i < p->count; i++) ac_tensor_zero_grad(p->items[i].tensor);
}

// ---- strict loading ----

// A bounded list of problem descriptions of one kind: the first few are kept, all counted.
#define LIST_KEEP 4
typedef struct problem_list {
    char text[LIST_KEEP][200];
    int count;
} problem_list;

static void list_add(problem_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void list_add(problem_list *l, const char *fmt, ...) {
    if (l->count < LIST_KEEP) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->text[l->count], sizeof l->text[0], fmt, ap);
        va_end(ap);
    }
    l->count++;
}

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) {
    if (*len >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len = AC_MIN(size, *len + (size_t)n);
}

static void append_list(char *buf, size_t size, size_t *len, const problem_list *l,
                        const char *what) {
    if (!l->count) return;
    append(buf, size, len, "%s%d %s: ", *len ? "; " : "", l->count, what);
    int shown = AC_MIN(l->count, LIST_KEEP);
    for (int i = 0; i < shown; i++) append(buf, size, len, "%s%s", i ? ", " : "", l->text[i]);
    if (l->count > shown) append(buf, size, len, ", ... (%d more)", l->count - shown);
}

static bool has_prefix(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}

ac_status ac_params_load(ac_params *p, const ac_tensor_map *m, const ac_load_opts *opts) {
    const char *prefix = opts && opts->prefix ? opts->prefix : "";
    size_t plen = strlen(prefix);
    const char *const *ignore = opts ? opts->ignore : NULL;
    problem_list missing = {0}, unexpected = {0}, shaped = {0};
    const ac_tensor **src = ac_xcalloc((size_t)p->count + 1, sizeof *src);

    for (int k = 0; k < m->count; k++) {
        const char *key = m->items[k].name;
        if (!has_prefix(key, prefix)) continue;
        const char *name = key + plen;
        bool skip = false;
        for (int j = 0; ignore && ignore[j]; j++)
            if (has_prefix(name, ignore[j])) skip = true;
        if (skip) continue;
        int i = find_param(p, name);
        if (i < 0) {
            list_add(&unexpected, "'%s'", key);
            continue;
        }
        const ac_tensor *have = m->items[k].tensor, *want = p->items[i].tensor;
        if (!ac_same_shape(have, want)) {
            char s1[64], s2[64];
            list_add(&shaped, "tensor '%s' has shape %s, model expects %s", key,
                     ac_shape_str(have, s1, sizeof s1), ac_shape_str(want, s2, sizeof s2));
        }
        src[i] = have;
    }
    for (int i = 0; i < p->count; i++)
        if (!src[i]) list_add(&missing, "'%s%s'", prefix, p->items[i].name);

    if (missing.count || unexpected.count || shaped.count) {
        free(src);
        char msg[900];
        size_t len = 0;
        msg[0] = '\0';
        append_list(msg, sizeof msg, &len, &shaped, "wrongly shaped");
        append_list(msg, sizeof msg, &len, &missing, "missing");
        append_list(msg, sizeof msg, &len, &unexpected, "unexpected");
        return ac_fail(AC_ERR_SHAPE, "weights do not fit the model (%d parameters): %s", p->count,
                       msg);
    }
    for (int i = 0; i < p->count; i++)
        memcpy(p->items[i].tensor->data, src[i]->data, ac_numel(src[i]) * sizeof(float));
    free(src);
    return AC_OK;
}

void ac_params_export(const ac_params *p, ac_tensor_map *m, const char *prefix) {
    const char *pre = prefix ? prefix : "";
    for (int i = 0; i < p->count; i++) {
        size_t n = strlen(pre) + strlen(p->items[i].name) + 1;
        char *key = ac_xmalloc(n);
        snprintf(key, n, "%s%s", pre, p->items[i].name);
        ac_tensor_map_put(m, key, ac_tensor_clone(p->items[i].tensor));
        free(key);
    }
}

// ---- deterministic test pattern ----

uint64_t ac_fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        h ^= *c;
        h *= 0x100000001b3ull;
    }
    return h;
}

void ac_tensor_fill_pattern_scaled(ac_tensor *t, const char *name, float scale) {
    size_t n = ac_numel(t);
    uint64_t h = ac_fnv1a64(name);
    for (size_t i = 0; i < n; i++) {
        uint64_t z = h + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        int64_t k = (int64_t)(z >> 40);                                // 24 bits
        float v = (float)(2 * k - (INT64_C(1) << 24)) / 16777216.0f;  // exact, in [-1, 1)
        t->data[i] = scale * v;
    }
}

void ac_tensor_fill_pattern(ac_tensor *t, const char *name, double gain) {
    float scale = 0.1f;
    if (t->ndim >= 2) {
        size_t fan = ac_numel(t) / (size_t)t->shape[0];
        scale = (float)(gain / sqrt((double)fan));
    }
    ac_tensor_fill_pattern_scaled(t, name, scale);
}

void ac_params_fill_pattern(ac_params *p, double gain) {
    for (int i = 0; i < p->count; i++)
        ac_tensor_fill_pattern(p->items[i].tensor, p->items[i].name, gain);
}
