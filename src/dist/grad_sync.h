// grad_sync.h: the gradient exchange of data-parallel training (dist.h). After each rank's
// backward pass, the gradients of the trained tensors are SUMMED over the ranks (each rank's
// loss terms are its parts of global means, so the sum is the whole batch's gradient), and
// every rank then takes the same optimiser step. Gradients travel in buckets of about
// bucket_bytes, packed into one buffer, last tensor first (the order in which backward
// completes them); every bucket's non-blocking allreduce is started before the first is
// waited for, so that they pipeline. The exchange begins with a barrier, where a rank that
// finished its backward pass early sleeps instead of spinning. One process: nothing happens.
// (Not overlapped with the backward pass: on one machine the ranks' compute fills the cores
// that MPI's copies need, and Open MPI advances a transfer only while it is polled.)
#ifndef AC_GRAD_SYNC_H
#define AC_GRAD_SYNC_H

#include "core/tensor.h"

#define AC_GRAD_SYNC_BUCKET_BYTES ((size_t)8 << 20)

typedef struct ac_grad_sync ac_grad_sync;

ac_grad_sync *ac_grad_sync_new(size_t bucket_bytes);
void ac_grad_sync_free(ac_grad_sync *s);
// Sums over the ranks the gradients of those of tensors[0..n) that require a gradient (every
// rank must pass the same list). A collective.
ac_status ac_grad_sync_run(ac_grad_sync *s, ac_tensor *const *tensors, int n);
// Seconds spent in ac_grad_sync_run exchanging (packing, allreduce, unpacking) and waiting
// at its barrier for the slowest rank, and the buckets sent, since creation.
double ac_grad_sync_seconds(const ac_grad_sync *s);
double ac_grad_sync_wait_seconds(const ac_grad_sync *s);
int64_t ac_grad_sync_buckets(const ac_grad_sync *s);

#endif
