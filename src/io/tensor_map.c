// tensor_map.c: ordered named tensors and metadata (see tensor_map.h).
#include "io/tensor_map.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

ac_tensor_map *ac_tensor_map_new(void) { return ac_xcalloc(1, sizeof(ac_tensor_map)); }

void ac_tensor_map_free(ac_tensor_map *m) {
    if (!m) return;
    for (int i = 0; i < m->count; i++) {
        free(m->items[i].name);
        ac_tensor_free(m->items[i].tensor);
    }
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->items);
    free(m->meta);
    free(m);
}

static int find(const ac_tensor_map *m, const char *name) {
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->items[i].name, name)) return i;
    return -1;
}

void ac_tensor_map_put(ac_tensor_map *m, const char *name, ac_tensor *t) {
    int i = find(m, name);
    if (i >= 0) {
        ac_tensor_free(m->items[i].tensor);
        m->items[i].tensor = t;
        return;
    }
    ac_tensor_map_append(m, name, t);
}

void ac_tensor_map_append(ac_tensor_map *m, const char *name, ac_tensor *t) {
    AC_ASSERT(m->count < INT_MAX / 2);
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->items = ac_xrealloc(m->items, (size_t)m->cap * sizeof *m->items);
    }
    m->items[m->count].name = ac_xstrdup(name);
    m->items[m->count].tensor = t;
    m->count++;
}

ac_tensor *ac_tensor_map_get(const ac_tensor_map *m, const char *name) {
    int i = find(m, name);
    return i >= 0 ? m->items[i].tensor : NULL;
}

ac_tensor *ac_tensor_map_take(ac_tensor_map *m, const char *name) {
    int i = find(m, name);
    if (i < 0) return NULL;
    ac_tensor *t = m->items[i].tensor;
    free(m->items[i].name);
    memmove(&m->items[i], &m->items[i + 1], (size_t)(m->count - i - 1) * sizeof *m->items);
    m->count--;
    return t;
}

void ac_tensor_map_set_meta(ac_tensor_map *m, const char *key, const char *value) {
    for (int i = 0; i < m->n_meta; i++) {
        if (!strcmp(m->meta[i].key, key)) {
            free(m->meta[i].value);
            m->meta[i].value = ac_xstrdup(value);
            return;
        }
    }
    if (m->n_meta == m->cap_meta) {
        m->cap_meta = m->cap_meta ? m->cap_meta * 2 : 8;
        m->meta = ac_xrealloc(m->meta, (size_t)m->cap_meta * sizeof *m->meta);
    }
    m->meta[m->n_meta].key = ac_xstrdup(key);
    m->meta[m->n_meta].value = ac_xstrdup(value);
    m->n_meta++;
}

const char *ac_tensor_map_meta(const ac_tensor_map *m, const char *key) {
    for (int i = 0; i < m->n_meta; i++)
        if (!strcmp(m->meta[i].key, key)) return m->meta[i].value;
    return NULL;
}
