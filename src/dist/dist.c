// dist.c: the MPI implementation of dist.h, or a one-process world without MPI.
#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef AC_WITH_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1;
static bool dist_active = false;
static double comm_seconds = 0;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool ac_dist_available(void) {
#ifdef AC_WITH_MPI
    return true;
#else
    return false;
#endif
}

ac_status ac_dist_init(int *argc, char ***argv) {
#ifdef AC_WITH_MPI
    // Only join an MPI world when a launcher started us: plain runs stay MPI-free.
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return AC_OK;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return ac_fail(AC_ERR_IO, "MPI initialisation failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    dist_active = true;
#else
    (void)argc;
    (void)argv;
#endif
    return AC_OK;
}

void ac_dist_finalize(void) {
#ifdef AC_WITH_MPI
    if (dist_active) MPI_Finalize();
#endif
    dist_active = false;
    dist_rank = 0;
    dist_size = 1;
}

int ac_dist_rank(void) { return dist_rank; }
int ac_dist_size(void) { return dist_size; }

#ifdef AC_WITH_MPI
static ac_status mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return AC_OK;
    return ac_fail(AC_ERR_IO, "MPI %s failed (code %d)", what, rc);
}
#endif

ac_status ac_dist_allreduce_sum(float *data, size_t n) {
    if (!dist_active || n == 0) return AC_OK;
#ifdef AC_WITH_MPI
    double t = now();
    ac_status st = AC_OK;
    // Large buffers go in chunks that fit MPI's int counts.
    for (size_t off = 0; off < n && st == AC_OK; off += (size_t)1 << 28) {
        size_t len = AC_MIN(n - off, (size_t)1 << 28);
        st = mpi_check(MPI_Allreduce(MPI_IN_PLACE, data + off, (int)len, MPI_FLOAT, MPI_SUM,
                                     MPI_COMM_WORLD), "allreduce");
    }
    comm_seconds += now() - t;
    return st;
#else
    return AC_OK;
#endif
}

ac_status ac_dist_allreduce_sum_double(double *data, size_t n) {
    if (!dist_active || n == 0) return AC_OK;
#ifdef AC_WITH_MPI
    double t = now();
    ac_status st = mpi_check(MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_DOUBLE, MPI_SUM,
                                           MPI_COMM_WORLD), "allreduce");
    comm_seconds += now() - t;
    return st;
#else
    return AC_OK;
#endif
}

ac_status ac_dist_allgather(const float *in, size_t n, float *out) {
    if (!dist_active) {
        memmove(out, in, n * sizeof(float));
        return AC_OK;
    }
#ifdef AC_WITH_MPI
    if (n > (size_t)1 << 30) return ac_fail(AC_ERR_ARG, "allgather of %zu floats is too large", n);
    double t = now();
    ac_status st = mpi_check(MPI_Allgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT,
                                           MPI_COMM_WORLD), "allgather");
    comm_seconds += now() - t;
    return st;
#else
    return AC_OK;
#endif
}

ac_status ac_dist_broadcast(void *data, size_t bytes, int root) {
    if (!dist_active) return AC_OK;
#ifdef AC_WITH_MPI
    if (bytes > (size_t)1 << 30) return ac_fail(AC_ERR_ARG, "broadcast of %zu bytes is too large", bytes);
    double t = now();
    ac_status st = mpi_check(MPI_Bcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
    comm_seconds += now() - t;
    return st;
#else
    (void)data;
    (void)bytes;
    (void)root;
    return AC_OK;
#endif
}

void ac_dist_barrier(void) {
#ifdef AC_WITH_MPI
    if (dist_active) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

double ac_dist_comm_seconds(void) { return comm_seconds; }
void ac_dist_reset_comm_seconds(void) { comm_seconds = 0; }
