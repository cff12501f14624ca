// dist.c: the MPI implementation of dist.h, or a one-process world without MPI.
// The collectives where ranks wait for each other (agree, barrier, the scalar loss sums) wait
// politely: a rank that arrives first polls for 2 ms, then sleeps 0.2 ms between polls. Open
// MPI's blocking calls spin at full speed instead, which, when ranks share cores
// (oversubscribed tests, rank 0 validating while the others wait), takes the cores from the
// ranks that still compute. Collectives that move much data (gradients, features) spin, as
// Open MPI advances a transfer only while it is being polled; callers synchronise first.
#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef AC_WITH_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1, dist_local_size = 1;
static bool dist_active = false, failed_elsewhere = false;
static double comm_seconds = 0;

#ifdef AC_WITH_MPI
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
#endif

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
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &dist_local_size);
        MPI_Comm_free(&local);
    }
    dist_active = true;
#else
    (void)argc;
    (void)argv;
    // copies started by a launcher would each train alone and write the same files
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return ac_fail(AC_ERR_UNSUPPORTED, "this allclear was built without MPI, yet an MPI launcher started %s "
                       "copies of it: rebuild with Open MPI installed (libopenmpi-dev) and AC_MPI on", n);
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
    dist_local_size = 1;
}

int ac_dist_rank(void) { return dist_rank; }
bool ac_dist_active(void) { return dist_active; }
int ac_dist_size(void) { return dist_size; }
int ac_dist_local_size(void) { return dist_local_size; }
bool ac_dist_failed_elsewhere(void) { return failed_elsewhere; }

void ac_dist_share(int total, int rank, int size, int *begin, int *end) {
    AC_ASSERT(size >= 1 && rank >= 0 && rank < size && total >= 0);
    *begin = (int)((int64_t)total * rank / size);
    *end = (int)((int64_t)total * (rank + 1) / size);
}

#ifdef AC_WITH_MPI
static ac_status mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return AC_OK;
    return ac_fail(AC_ERR_IO, "MPI %s failed (code %d)", what, rc);
}

// Completes a request started by the call that returned `rc`; counts the time since t0.
static ac_status finish(int rc, MPI_Request *r, double t0, const char *what, bool polite) {
    int done = 0;
    while (rc == MPI_SUCCESS && !done) {
        rc = MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (polite && rc == MPI_SUCCESS && !done && now() - t0 > 2e-3) nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    comm_seconds += now() - t0;
    return mpi_check(rc, what);
}
#endif

ac_status ac_dist_allreduce_sum(float *data, size_t n) {
    if (!dist_active || n == 0) return AC_OK;
#ifdef AC_WITH_MPI
    ac_status st = AC_OK;
    // Large buffers go in chunks that fit MPI's int counts.
    for (size_t off = 0; off < n && st == AC_OK; off += (size_t)1 << 28) {
        size_t len = AC_MIN(n - off, (size_t)1 << 28);
        double t = now();
        MPI_Request r;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, data + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
        st = finish(rc, &r, t, "allreduce", false);
    }
    return st;
#else
    (void)data;
    return AC_OK;
#endif
}

ac_status ac_dist_allreduce_sum_double(double *data, size_t n) {
    if (!dist_active || n == 0) return AC_OK;
#ifdef AC_WITH_MPI
    if (n > (size_t)INT32_MAX) return ac_fail(AC_ERR_NOMEM, "allreduce of %zu doubles is too large", n);
    double t = now();
    MPI_Request r;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, data, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r);
    return finish(rc, &r, t, "allreduce", true);
#else
    (void)data;
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
    MPI_Request r;
    int rc = MPI_Iallgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, MPI_COMM_WORLD, &r);
    return finish(rc, &r, t, "allgather", false);
#else
    return AC_OK;
#endif
}

ac_status ac_dist_allgatherv(const float *in, size_t n, float *out, const size_t *counts) {
    AC_ASSERT(n == counts[dist_rank]);
    if (!dist_active) {
        memmove(out, in, n * sizeof(float));
        return AC_OK;
    }
#ifdef AC_WITH_MPI
    int *cnt = ac_xmalloc(2 * sizeof(int) * (size_t)dist_size), *disp = cnt + dist_size;
    size_t off = 0;
    for (int r = 0; r < dist_size; r++) {
        if (off + counts[r] > (size_t)INT32_MAX) {
            free(cnt);
            return ac_fail(AC_ERR_NOMEM, "allgather of more than %d floats", INT32_MAX);
        }
        cnt[r] = (int)counts[r];
        disp[r] = (int)off;
        off += counts[r];
    }
    double t = now();
    MPI_Request r;
    int rc = MPI_Iallgatherv(in, (int)n, MPI_FLOAT, out, cnt, disp, MPI_FLOAT, MPI_COMM_WORLD, &r);
    ac_status st = finish(rc, &r, t, "allgather", false);
    free(cnt);
    return st;
#else
    return AC_OK;
#endif
}

struct ac_dist_request {
#ifdef AC_WITH_MPI
    MPI_Request r;
#endif
    int unused;
};

ac_status ac_dist_iallreduce_sum(float *data, size_t n, ac_dist_request **req) {
    *req = NULL;
    if (!dist_active || n == 0) return AC_OK;
#ifdef AC_WITH_MPI
    if (n > (size_t)INT32_MAX) return ac_fail(AC_ERR_NOMEM, "allreduce of %zu floats is too large", n);
    double t = now();
    ac_dist_request *q = ac_xcalloc(1, sizeof *q);
    ac_status st = mpi_check(MPI_Iallreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &q->r),
                             "allreduce");
    comm_seconds += now() - t;
    if (st) free(q);
    else *req = q;
    return st;
#else
    (void)data;
    return AC_OK;
#endif
}

ac_status ac_dist_wait(ac_dist_request *req) {
    if (!req) return AC_OK;
#ifdef AC_WITH_MPI
    ac_status st = finish(MPI_SUCCESS, &req->r, now(), "allreduce", false);
    free(req);
    return st;
#else
    return AC_OK;
#endif
}

ac_status ac_dist_agree(ac_status st) {
    if (!dist_active) return st;
#ifdef AC_WITH_MPI
    // max status, and size - (lowest failing rank)
    int v[2] = {(int)st, st ? dist_size - dist_rank : 0};
    double t = now();
    MPI_Request r;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &r);
    ac_status got = finish(rc, &r, t, "allreduce", true);
    if (got) return st ? st : got;
    if (v[0] == AC_OK) return AC_OK;
    int first = dist_size - v[1];  // the lowest failing rank: its message explains
    failed_elsewhere = first != dist_rank;
    if (st) return st;
    return ac_fail((ac_status)v[0], "rank %d stopped (see its message)", first);
#else
    return st;
#endif
}

ac_status ac_dist_broadcast(void *data, size_t bytes, int root) {
    if (!dist_active) return AC_OK;
#ifdef AC_WITH_MPI
    if (bytes > (size_t)1 << 30) return ac_fail(AC_ERR_ARG, "broadcast of %zu bytes is too large", bytes);
    double t = now();
    MPI_Request r;
    int rc = MPI_Ibcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD, &r);
    return finish(rc, &r, t, "broadcast", false);
#else
    (void)data;
    (void)bytes;
    (void)root;
    return AC_OK;
#endif
}

void ac_dist_barrier(void) {
#ifdef AC_WITH_MPI
    if (!dist_active) return;
    MPI_Request r;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &r);
    finish(rc, &r, now(), "barrier", true);
#endif
}

double ac_dist_comm_seconds(void) { return comm_seconds; }
void ac_dist_reset_comm_seconds(void) { comm_seconds = 0; }
