// chunked_sum.h: the fixed partition the reduction kernels (prelu slope gradient, l1 losses)
// use so that their sums do not depend on the thread count: the range [0, n) is cut into
// ac_sum_chunks(work) chunks with fixed bounds, each chunk is summed in double in a fixed order
// (by whichever thread; index order, or the lane order of simd.h's ac_sum_f64), and the chunk
// sums are added in chunk order.
#ifndef AC_CHUNKED_SUM_H
#define AC_CHUNKED_SUM_H

#include <stddef.h>

#define AC_SUM_MAX_CHUNKS 64
#define AC_SUM_CHUNK_WORK 32768  // below this much work per chunk, fewer chunks

// Number of chunks for a range of n indices costing `work` in total (at least 1, at most n).
static inline size_t ac_sum_chunks(size_t n, size_t work) {
    size_t c = work / AC_SUM_CHUNK_WORK;
    if (c > AC_SUM_MAX_CHUNKS) c = AC_SUM_MAX_CHUNKS;
    if (c > n) c = n;
    return c < 1 ? 1 : c;
}

// Bounds of chunk c of nch over [0, n).
static inline size_t ac_chunk_lo(size_t n, size_t nch, size_t c) { return n / nch * c + (c < n % nch ? c : n % nch); }
static inline size_t ac_chunk_hi(size_t n, size_t nch, size_t c) { return ac_chunk_lo(n, nch, c + 1); }

#endif
