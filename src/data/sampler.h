// sampler.h: training batches with the reference's semantics (shared spec training.md, Data).
// An epoch has floor(min source size / batch) batches (the reference drops the last partial
// batch). Each sample picks a source (weather type) uniformly at random, then a random pair
// of it; both images get a crop x crop window at the same place (or are both resized to
// crop x crop with bilinear interpolation when smaller; without the reference's swap of input
// and target there); both are flipped left-right with probability 0.5. A batch is regrouped
// by type (type 0 first), inputs and targets in the same order. In reference mode a batch
// lacking any type is skipped; balanced mode instead gives every type floor(B/T) samples
// (the rest random), so no batch is skipped.
// Every random choice of sample j of batch b in epoch e comes from its own generator seeded
// from (seed, e, b * B + j), so batches are identical whatever the number of threads, and a
// resumed run reproduces them from the epoch number alone. Decoding and augmentation run on
// background threads, `prefetch` batches ahead, and flow on into the next epoch.
#ifndef AC_SAMPLER_H
#define AC_SAMPLER_H

#include "core/tensor.h"
#include "data/meta.h"

typedef struct ac_sampler_opts {
    int batch_size;  // default 32
    int crop;        // default 224
    uint64_t seed;   // default 19870522
    bool balanced;   // every type in every batch (needs batch_size >= number of types)
    int threads;     // background threads; 0 = decode on the caller's thread
    int prefetch;    // batches prepared ahead (default 2 per thread)
    // Data-parallel training: this process decodes only positions [share_begin, share_end) of
    // every regrouped batch (0, 0: all B). The plan, the regrouping by type and the skipping
    // of batches are those of the whole batch, so the shares of the processes in order make
    // up exactly the one-process batch.
    int share_begin, share_end;
} ac_sampler_opts;

// The reference defaults (2 threads).
ac_sampler_opts ac_sampler_defaults(void);

typedef struct ac_batch {
    ac_tensor *input, *target;  // (B, 3, crop, crop), grouped by type (B: the share's size)
    int *types;                 // [B], non-decreasing
    int *type_counts;           // [number of types], of these B samples (may be 0 in a share)
    int epoch, index;           // index of the batch in its epoch (skipped ones counted)
} ac_batch;
void ac_batch_free(ac_batch *b);

typedef struct ac_sampler ac_sampler;

// The sampler keeps a pointer to `data`, which must outlive it.
ac_status ac_sampler_open(const ac_meta_set *data, const ac_sampler_opts *opts, ac_sampler **out);
void ac_sampler_close(ac_sampler *s);
int ac_sampler_batches_per_epoch(const ac_sampler *s);
// Starts (or continues into) epoch `epoch` (any integer; training uses 1-based epochs).
void ac_sampler_begin_epoch(ac_sampler *s, int epoch);
// The next batch of the epoch (the caller frees it), or *out = NULL at the end of the epoch.
// Errors (unreadable images, pairs of different sizes) name the file.
ac_status ac_sampler_next(ac_sampler *s, ac_batch **out);
// Batches skipped so far in the current epoch (reference mode only).
int ac_sampler_skipped(const ac_sampler *s);

// The plan of one batch without decoding anything: type and pair index of each of its B
// samples (before regrouping), for tests and diagnostics.
void ac_sampler_plan(const ac_sampler *s, int epoch, int index, int *types, size_t *pairs);

#endif
