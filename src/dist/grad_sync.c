// grad_sync.c: bucketed gradient allreduce (grad_sync.h).
#include "dist/grad_sync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"

struct ac_grad_sync {
    size_t bucket_floats;
    float *buf;
    size_t cap;  // floats in buf
    ac_dist_request **reqs;
    size_t *bucket_end;  // end offset (floats) of each bucket in buf
    int cap_buckets;
    double seconds, wait_seconds;
    int64_t buckets;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

ac_grad_sync *ac_grad_sync_new(size_t bucket_bytes) {
    ac_grad_sync *s = ac_xcalloc(1, sizeof *s);
    s->bucket_floats = AC_MAX(bucket_bytes / sizeof(float), (size_t)1024);
    return s;
}

void ac_grad_sync_free(ac_grad_sync *s) {
    if (!s) return;
    free(s->buf);
    free(s->reqs);
    free(s->bucket_end);
    free(s);
}

double ac_grad_sync_seconds(const ac_grad_sync *s) { return s->seconds; }
double ac_grad_sync_wait_seconds(const ac_grad_sync *s) { return s->wait_seconds; }
int64_t ac_grad_sync_buckets(const ac_grad_sync *s) { return s->buckets; }

static void add_bucket(ac_grad_sync *s, int *nb, size_t end) {
    if (*nb == s->cap_buckets) {
        s->cap_buckets = s->cap_buckets ? 2 * s->cap_buckets : 16;
        s->reqs = ac_xrealloc(s->reqs, sizeof *s->reqs * (size_t)s->cap_buckets);
        s->bucket_end = ac_xrealloc(s->bucket_end, sizeof *s->bucket_end * (size_t)s->cap_buckets);
    }
    s->bucket_end[(*nb)++] = end;
}

ac_status ac_grad_sync_run(ac_grad_sync *s, ac_tensor *const *tensors, int n) {
    if (ac_dist_size() == 1) return AC_OK;
    // wait (asleep) for the slowest rank's backward pass; the transfers then run at full speed
    double t0 = now();
    ac_dist_barrier();
    double t1 = now();
    s->wait_seconds += t1 - t0;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (tensors[i]->requires_grad) total += ac_numel(tensors[i]);
    if (total > s->cap) {
        free(s->buf);
        s->buf = ac_xmalloc(total * sizeof(float));
        s->cap = total;
    }
    // pack, last tensor first; a bucket closes once it holds bucket_floats (a tensor is never
    // split) and its allreduce starts right away
    int nb = 0;
    size_t off = 0, start = 0;
    ac_status st = AC_OK;
    for (int i = n - 1; i >= 0 && !st; i--) {
        const ac_tensor *t = tensors[i];
        if (!t->requires_grad) continue;
        AC_ASSERT(t->grad);
        size_t k = ac_numel(t);
        memcpy(s->buf + off, t->grad, k * sizeof(float));
        off += k;
        if (off - start >= s->bucket_floats || off == total) {
            add_bucket(s, &nb, off);
            st = ac_dist_iallreduce_sum(s->buf + start, off - start, &s->reqs[nb - 1]);
            if (st) nb--;
            start = off;
        }
    }
    for (int b = 0; b < nb; b++) {
        ac_status w = ac_dist_wait(s->reqs[b]);
        if (!st) st = w;
    }
    if (!st) {
        off = 0;
        for (int i = n - 1; i >= 0; i--) {
            ac_tensor *t = tensors[i];
            if (!t->requires_grad) continue;
            size_t k = ac_numel(t);
            memcpy(t->grad, s->buf + off, k * sizeof(float));
            off += k;
        }
    }
    s->buckets += nb;
    s->seconds += now() - t1;
    return st;
}
