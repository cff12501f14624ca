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
int ac_dist_rank(void);
int ac_dist_size(void);
// In-place sum over ranks of n floats.
ac_status ac_dist_allreduce_sum(float *data, size_t n);
ac_status ac_dist_allreduce_sum_double(double *data, size_t n);
// Gathers `n` floats from every rank into out (size * n floats, rank order).
ac_status ac_dist_allgather(const float *in, size_t n, float *out);
ac_status ac_dist_broadcast(void *data, size_t bytes, int root);
void ac_dist_barrier(void);
// Seconds spent inside collective calls since the last reset (for benchmarks).
double ac_dist_comm_seconds(void);
void ac_dist_reset_comm_seconds(void);

#endif
