// prefetch.c: the ordered bounded producer (see prefetch.h): a ring of `depth` slots, slot
// i % depth holds item i; workers claim the lowest unclaimed index that fits in the window.
#include "data/prefetch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    bool ready;
    uint64_t index;
    void *result;
    ac_status status;
    char *message;  // worker's error message (thread-local there)
} slot;

struct ac_prefetch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *threads;
    int nthreads, depth;
    uint64_t end, next_claim, next_consume;
    bool stop;
    slot *slots;
    ac_prefetch_fn fn;
    ac_prefetch_free_fn free_fn;
    void *ctx;
};

static void *worker(void *arg) {
    ac_prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && !(p->next_claim < p->end && p->next_claim < p->next_consume + (uint64_t)p->depth))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop) break;
        uint64_t i = p->next_claim++;
        pthread_mutex_unlock(&p->mu);
        void *result = NULL;
        ac_status st = p->fn(p->ctx, i, &result);
        char *msg = st ? ac_xstrdup(ac_error_message()) : NULL;
        pthread_mutex_lock(&p->mu);
        slot *s = &p->slots[i % (uint64_t)p->depth];
        s->ready = true;
        s->index = i;
        s->result = result;
        s->status = st;
        s->message = msg;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ac_prefetch *ac_prefetch_start(int threads, int depth, uint64_t first, uint64_t end, ac_prefetch_fn fn,
                               ac_prefetch_free_fn free_fn, void *ctx) {
    AC_ASSERT(threads >= 0 && fn != NULL);
    ac_prefetch *p = ac_xcalloc(1, sizeof *p);
    p->depth = threads ? AC_MAX(depth, threads) : 1;
    p->end = end;
    p->next_claim = p->next_consume = first;
    p->fn = fn;
    p->free_fn = free_fn;
    p->ctx = ctx;
    p->slots = ac_xcalloc((size_t)p->depth, sizeof *p->slots);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = ac_xcalloc((size_t)AC_MAX(threads, 1), sizeof *p->threads);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) break;  // fewer threads still work
        p->nthreads++;
    }
    return p;
}

uint64_t ac_prefetch_position(const ac_prefetch *p) { return p->next_consume; }

ac_status ac_prefetch_next(ac_prefetch *p, uint64_t *index, void **result) {
    if (p->next_consume >= p->end) {
        *index = p->end;
        return AC_OK;
    }
    uint64_t i = p->next_consume;
    *index = i;
    if (p->nthreads == 0) {
        p->next_consume++;
        p->next_claim = p->next_consume;
        return p->fn(p->ctx, i, result);
    }
    pthread_mutex_lock(&p->mu);
    slot *s = &p->slots[i % (uint64_t)p->depth];
    while (!(s->ready && s->index == i)) pthread_cond_wait(&p->cv, &p->mu);
    slot got = *s;
    memset(s, 0, sizeof *s);
    p->next_consume++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (got.status) {
        ac_fail(got.status, "%s", got.message ? got.message : "error in a background thread");
        free(got.message);
        if (got.result && p->free_fn) p->free_fn(got.result);
        return got.status;
    }
    *result = got.result;
    return AC_OK;
}

void ac_prefetch_stop(ac_prefetch *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    for (int i = 0; i < p->depth; i++) {
        if (p->slots[i].result && p->free_fn) p->free_fn(p->slots[i].result);
        free(p->slots[i].message);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->slots);
    free(p);
}
