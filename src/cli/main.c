// main.c: the `allclear` program: git-style subcommands dispatched from one table. Only the
// CLI prints and exits; exit status 0 success, 1 failure while working, 2 bad usage or input.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "cli/cli.h"

static const ac_command commands[] = {
    {"version", "print the version", ac_cmd_version},
    {"metrics", "PSNR and SSIM of an image against its ground truth", ac_cmd_metrics},
    {"synth", "make degraded/clean training pairs (haze, rain, snow)", ac_cmd_synth},
    {"restore", "remove rain, haze and snow from photos with a trained model", ac_cmd_restore},
    {"convert", "convert a model file (PyTorch checkpoint) to safetensors", ac_cmd_convert},
    {"info", "show a model file's architecture, parameter count and tensors", ac_cmd_info},
    {"train-teacher", "train one teacher network on one weather type", ac_cmd_train_teacher},
    {"train", "train the student from the teachers (two-stage knowledge learning)", ac_cmd_train},
    {"eval", "PSNR and SSIM of a model per weather type on validation pairs", ac_cmd_eval},
    {"sheet", "a contact sheet (grid) of images in one PNG", ac_cmd_sheet},
};

static void usage(FILE *f) {  // --help
    fprintf(f,
            "usage: allclear <command> [options]\n\n"
            "allclear removes rain, haze and snow from photos with one network trained by\n"
            "two-stage knowledge learning (knowledge collation, then knowledge examination).\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'allclear <command> --help' for a command's options.\n");
}

// Threads that spin while they wait steal the cores from each other and from anything else
// running: on a busy 2-core machine a training step measured 6x slower with OpenMP's default
// wait policy (libgomp spins for about 300000 pauses before it sleeps). Sleeping at once is
// no better on a quiet machine: each of the thousands of parallel regions of a step then
// waits for a thread to be woken. A short spin (GOMP_SPINCOUNT, libgomp's count of pauses)
// keeps most of both: on 2 cores, 3000 took a knowledge collation step from 2.15-2.29 s to
// 2.02-2.07 s and cost 1% to 5% with another process busy on one of the cores (10000 to
// 30000: 7% to 14%; libgomp's default: 2.3x). OpenBLAS's pthreads build likewise starts a
// worker per core when it loads, which spins (sched_yield) for a while before it sleeps,
// though allclear only ever calls OpenBLAS single-threaded from within its own OpenMP work.
// Both libraries read their settings once, when they load, so when the user has chosen none
// of them we choose the passive policy with the short spin and one OpenBLAS thread, and start
// the program again (same process, same arguments). bench/run_perf.sh and
// bench/run_restore_bench.sh read AC_OMP_SPIN_COUNT from here and run the benchmarks
// the same way.
#define AC_OMP_SPIN_COUNT "3000"

static void prefer_quiet_threads(char **argv) {
    bool changed = false;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        setenv("GOMP_SPINCOUNT", AC_OMP_SPIN_COUNT, 1);
        changed = true;
    }
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        changed = true;
    }
    if (changed) execv("/proc/self/exe", argv);
    // If the exec fails we simply carry on with the defaults.
}

int main(int argc, char **argv) {
    prefer_quiet_threads(argv);
    if (argc < 2) {  // an error is one line (the command list is in --help)
        fprintf(stderr, "allclear: no command given (see 'allclear --help')\n");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return ac_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "allclear: unknown command '%s' (see 'allclear --help')\n", argv[1]);
    return 2;
}
