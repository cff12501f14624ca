// workspace.c: the cache of kernel scratch buffers (workspace.h). Each block carries its
// capacity in a 64-byte header. The cache keeps up to WS_BLOCKS freed blocks and WS_BYTES in
// all; a request takes the smallest cached block that holds it without wasting more than
// half of it, else fresh memory. A mutex guards the cache (kernels may run on several host
// threads, e.g. a data loader's).
#include "backend/cpu/workspace.h"

#include <pthread.h>
#include <string.h>

#include "core/common.h"

#define WS_BLOCKS 8
#define WS_BYTES ((size_t)96 << 20)
#define WS_MIN ((size_t)1 << 16)  // smaller requests go straight to malloc

typedef struct ws_header {
    size_t capacity;  // bytes after the header
    char pad[AC_ALIGN - sizeof(size_t)];
} ws_header;

static pthread_mutex_t ws_lock = PTHREAD_MUTEX_INITIALIZER;
static bool ws_poison;

void ac_cpu_ws_set_poison(bool on) { ws_poison = on; }
static ws_header *cached[WS_BLOCKS];
static int n_cached;
static size_t cached_bytes;

static void drop_at(int i) {
    cached_bytes -= cached[i]->capacity;
    n_cached--;
    memmove(cached + i, cached + i + 1, (size_t)(n_cached - i) * sizeof *cached);
}

void *ac_cpu_ws_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    ws_header *h = NULL;
    if (bytes >= WS_MIN) {
        pthread_mutex_lock(&ws_lock);
        int best = -1;
        for (int i = 0; i < n_cached; i++)
            if (cached[i]->capacity >= bytes && cached[i]->capacity / 2 <= bytes &&
                (best < 0 || cached[i]->capacity < cached[best]->capacity))
                best = i;
        if (best >= 0) {
            h = cached[best];
            drop_at(best);
        }
        pthread_mutex_unlock(&ws_lock);
    }
    if (!h) {
        size_t total;
        AC_ASSERT_MSG(ac_add_size(bytes, sizeof(ws_header), &total), "workspace size overflows");
        h = ac_aligned_alloc(total);
        AC_ASSERT_MSG(h != NULL, "out of memory for kernel workspace");
        h->capacity = total - sizeof(ws_header);
    }
    if (ws_poison) memset(h + 1, 0xff, bytes);  // all-ones floats are NaNs
    return h + 1;
}

void ac_cpu_ws_free(void *p) {
    if (!p) return;
    ws_header *h = (ws_header *)p - 1, *evict[WS_BLOCKS + 1];
    int n_evict = 0;
    if (h->capacity < WS_MIN || h->capacity > WS_BYTES) {
        ac_aligned_free(h);
        return;
    }
    pthread_mutex_lock(&ws_lock);
    if (n_cached == WS_BLOCKS) {
        evict[n_evict++] = cached[0];
        drop_at(0);
    }
    cached[n_cached++] = h;
    cached_bytes += h->capacity;
    while (cached_bytes > WS_BYTES) {  // oldest first
        evict[n_evict++] = cached[0];
        drop_at(0);
    }
    pthread_mutex_unlock(&ws_lock);
    for (int i = 0; i < n_evict; i++) ac_aligned_free(evict[i]);
}

void ac_cpu_ws_trim(void) {
    pthread_mutex_lock(&ws_lock);
    while (n_cached > 0) {
        ws_header *h = cached[n_cached - 1];
        drop_at(n_cached - 1);
        ac_aligned_free(h);
    }
    pthread_mutex_unlock(&ws_lock);
}
