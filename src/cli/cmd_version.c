// cmd_version.c: `allclear version`.
#include <stdio.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "dist/dist.h"

int ac_cmd_version(int argc, char **argv) {
    const ac_cmd_spec spec = {"version", "", "Prints the version, the compute backend and the threads.", NULL, 0, 0, 0};
    ac_str_list pos;
    int rc = ac_parse_args(&spec, argc, argv, &pos);
    if (rc) return rc < 0 ? 0 : rc;
    ac_str_list_free(&pos);
    printf("allclear %s (backend %s, %d threads, %s)\n", AC_VERSION, ac_be()->name, ac_get_threads(),
           ac_dist_available() ? "MPI data-parallel training" : "built without MPI");
    return 0;
}
