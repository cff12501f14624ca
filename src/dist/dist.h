// dist.h: data-parallel training across processes over MPI (Open MPI), optional at build
// time. Without MPI, or when not launched by mpirun, the world is one process and every
// call is a cheap no-op, so the trainer calls these unconditionally.
//
// The trainer's scheme: every rank builds its own share of the global batch; losses are
// global means (local partial sums combined with ac_dist_allreduce_sum), so every rank holds
// the same loss; parameter gradients are then summed across ranks and every rank applies the
// same Adam step. Rank 0 alone validates, logs and writes checkpoints.
#ifndef AC_DIST_H
#define AC_DIST_H

#include "core/common.h"

// Initialises MPI when the build has it and the process was started by an MPI launcher.
ac_status ac_dist_init(int *argc, char ***argv);
void ac_dist_finalize(void);
bool ac_dist_available(void);  // the build has MPI
bool ac_dist_active(void);     // this process joined an MPI world (a launcher started it)
int ac_dist_rank(void);
int ac_dist_size(void);
// In-place sum over ranks of n floats.
ac_status ac_dist_allreduce_sum(float *data, size_t n);
ac_status ac_dist_allreduce_sum_double(double *data, size_t n);
// Gathers `n` floats from every rank into out (size * n floats, rank order).
ac_status ac_dist_allgather(const float *in, size_t n, float *out);
// Gathers counts[r] floats from each rank r into out (their sum, rank order); `n` must equal
// counts[rank]. One process: copies in to out.
ac_status ac_dist_allgatherv(const float *in, size_t n, float *out, const size_t *counts);
// Non-blocking in-place sum over ranks of n floats: start, then wait (which frees *req).
// The buffer must stay untouched in between. One process: *req = NULL, wait does nothing.
typedef struct ac_dist_request ac_dist_request;
ac_status ac_dist_iallreduce_sum(float *data, size_t n, ac_dist_request **req);
ac_status ac_dist_wait(ac_dist_request *req);
// Every rank passes its own status; all ranks return failure when any rank failed, so that
// they stop together instead of waiting forever in the next collective. A rank whose own
// status was AC_OK then gets the highest failing status with the message "rank R stopped
// (see its message)", R the lowest failing rank. ac_dist_failed_elsewhere() is then true on
// every rank but R (whose message is the one to show). Waiting ranks sleep instead of
// spinning (rank 0 may be validating for a while on the same cores).
ac_status ac_dist_agree(ac_status st);
bool ac_dist_failed_elsewhere(void);
// Ranks on this machine (1 without MPI): for dividing its cores among them.
int ac_dist_local_size(void);
// The share [*begin, *end) of `total` items of rank `rank` of `size`: contiguous, in rank
// order, sizes differ by at most one (rank r gets [r total / size, (r + 1) total / size)).
void ac_dist_share(int total, int rank, int size, int *begin, int *end);
ac_status ac_dist_broadcast(void *data, size_t bytes, int root);
// Waits (asleep after 2 ms) until every rank has arrived.
void ac_dist_barrier(void);
// Seconds spent inside collective calls since the last reset (for benchmarks).
double ac_dist_comm_seconds(void);
void ac_dist_reset_comm_seconds(void);

#endif
