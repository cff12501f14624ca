// arena.c: chunked bump allocator (see arena.h).
#include "core/arena.h"

#include <stdlib.h>

typedef struct ac_chunk {
    struct ac_chunk *next;
    size_t size, used;
    unsigned char *base;
} ac_chunk;

struct ac_arena {
    ac_chunk *head;    // current chunk first
    size_t used;       // bytes handed out since the last reset
    size_t peak;
    size_t min_chunk;
};

static ac_chunk *chunk_new(size_t size) {
    ac_chunk *c = ac_xmalloc(sizeof *c);
    c->base = ac_aligned_alloc(size);
    AC_ASSERT_MSG(c->base != NULL, "out of memory for the activation arena");
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

ac_arena *ac_arena_new(size_t initial_bytes) {
    ac_arena *a = ac_xcalloc(1, sizeof *a);
    a->min_chunk = initial_bytes < (1u << 20) ? (1u << 20) : initial_bytes;
    return a;
}

void ac_arena_free(ac_arena *a) {
    if (!a) return;
    for (ac_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        ac_aligned_free(c->base);
        free(c);
    }
    free(a);
}

void *ac_arena_alloc(ac_arena *a, size_t bytes) {
    size_t need = (bytes + AC_ALIGN - 1) / AC_ALIGN * AC_ALIGN;
    if (need == 0) need = AC_ALIGN;
    ac_chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        size_t size = need > a->min_chunk ? need : a->min_chunk;
        if (c && size < c->size * 2) size = c->size * 2;
        c = chunk_new(size);
        c->next = a->head;
        a->head = c;
    }
    void *p = c->base + c->used;
    c->used += need;
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void ac_arena_reset(ac_arena *a) {
    if (a->head && a->head->next) {
        // Several chunks were needed: replace them with one that holds the whole step.
        size_t total = 0;
        for (ac_chunk *c = a->head, *n; c; c = n) {
            n = c->next;
            total += c->size;
            ac_aligned_free(c->base);
            free(c);
        }
        a->head = chunk_new(total);
    }
    if (a->head) a->head->used = 0;
    a->used = 0;
}

size_t ac_arena_used(const ac_arena *a) { return a->used; }
size_t ac_arena_peak(const ac_arena *a) { return a->peak; }
