// test_dist.c: the one-process world that plain runs get (no launcher): collectives are
// identities, rank 0 of 1.
#include "dist/dist.h"
#include "testlib.h"

static void test_single_process_world(void) {
    int argc = 1;
    char *args[] = {"test_dist", NULL};
    char **argv = args;
    CHECK(ac_dist_init(&argc, &argv) == AC_OK);
    CHECK(ac_dist_rank() == 0 && ac_dist_size() == 1);
    float v[3] = {1, 2, 3}, out[3];
    CHECK(ac_dist_allreduce_sum(v, 3) == AC_OK && v[0] == 1 && v[2] == 3);
    CHECK(ac_dist_allgather(v, 3, out) == AC_OK && out[1] == 2);
    double d = 2.5;
    CHECK(ac_dist_allreduce_sum_double(&d, 1) == AC_OK && d == 2.5);
    CHECK(ac_dist_broadcast(v, sizeof v, 0) == AC_OK);
    ac_dist_barrier();
    ac_dist_finalize();
}

int main(void) {
    RUN(test_single_process_world);
    return ac_test_finish();
}
