// prefetch.h: an ordered background producer. Worker threads (pthreads) compute items
// index, index+1, ... ahead of the consumer, at most `depth` items beyond the one it is
// waiting for (a bounded queue), and the consumer receives them strictly in index order, so
// results never depend on the number of threads or their timing. With 0 threads each item
// is computed on the consumer's thread when asked for.
#ifndef AC_PREFETCH_H
#define AC_PREFETCH_H

#include "core/common.h"

// Computes item `index` into *result (runs on a worker thread; must be thread-safe). On
// failure returns a status with ac_fail set; the message is carried to the consumer.
typedef ac_status (*ac_prefetch_fn)(void *ctx, uint64_t index, void **result);
typedef void (*ac_prefetch_free_fn)(void *result);

typedef struct ac_prefetch ac_prefetch;

// Items first .. end-1 (end = UINT64_MAX for an endless stream).
ac_prefetch *ac_prefetch_start(int threads, int depth, uint64_t first, uint64_t end, ac_prefetch_fn fn,
                               ac_prefetch_free_fn free_fn, void *ctx);
// The next item in order: *index and *result (the caller owns the result). AC_OK with
// *result untouched and *index = end when the stream is over. A worker's failure is
// returned here, at that item's turn.
ac_status ac_prefetch_next(ac_prefetch *p, uint64_t *index, void **result);
// The index that the next call to ac_prefetch_next will return.
uint64_t ac_prefetch_position(const ac_prefetch *p);
// Stops the workers, frees pending results. NULL is fine.
void ac_prefetch_stop(ac_prefetch *p);

#endif
