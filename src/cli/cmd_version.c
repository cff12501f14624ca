// cmd_version.c: `allclear version`.
#include <stdio.h>

#include "backend/backend.h"
#include "cli/cli.h"
#include "dist/dist.h"

int ac_cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("allclear %s (backend %s, %d threads, %s)\n", AC_VERSION, ac_be()->name, ac_get_threads(),
           ac_dist_available() ? "MPI data-parallel training" : "built without MPI");
    return 0;
}
