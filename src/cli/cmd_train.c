// cmd_train.c: `allclear train` (two-stage knowledge learning of the student from frozen
// teachers) and `allclear train-teacher` (one network, one weather type, L1). Both share the
// options, the progress display and src/train/trainer.h.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "dist/dist.h"
#include "train/trainer.h"

typedef struct train_cli {
    ac_progress bar;
    bool in_epoch;
    int log_every;
    const char *stage;
    int epoch, epochs;
    bool validating;
    bool contrastive;
    bool opened;       // the trainer is set up; until then notes wait in `held`
    char *held;        // notes of the setup, printed once it succeeded (a refusal prints one line only)
    size_t held_len;
} train_cli;

static void fmt_losses(char *buf, size_t n, const char *stage, const ac_step_losses *m, bool contrastive) {
    if (!strcmp(stage, "KC") && contrastive)
        snprintf(buf, n, "loss %.4f (T %.4f PFE %.4f PFV %.4f SCR %.4f)", m->loss, m->t, m->pfe, m->pfv, m->scr);
    else if (!strcmp(stage, "KC"))
        snprintf(buf, n, "loss %.4f (T %.4f PFE %.4f PFV %.4f)", m->loss, m->t, m->pfe, m->pfv);
    else if (!strcmp(stage, "KE") && contrastive)
        snprintf(buf, n, "loss %.4f (L1 %.4f HCR %.4f)", m->loss, m->l1, m->hcr);
    else
        snprintf(buf, n, "loss %.4f", m->loss);
}

// Clears a progress bar drawn on the terminal before other output.
static void clear_bar(train_cli *c) {
    if ((c->in_epoch || c->validating) && c->bar.tty) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

static void on_note(void *ctx, const char *text) {
    train_cli *c = ctx;
    if (!c->opened) {
        size_t n = strlen(text);
        c->held = ac_xrealloc(c->held, c->held_len + n + 2);
        memcpy(c->held + c->held_len, text, n);
        c->held_len += n;
        c->held[c->held_len++] = '\n';
        c->held[c->held_len] = '\0';
        return;
    }
    clear_bar(c);
    printf("%s\n", text);
    fflush(stdout);
}

static void on_warn(void *ctx, const char *text) {
    clear_bar(ctx);
    fflush(stdout);
    fprintf(stderr, "allclear: warning: %s\n", text);
    fflush(stderr);
}

static void on_epoch_start(void *ctx, int epoch, int epochs, const char *stage, int steps, double lr) {
    train_cli *c = ctx;
    static char label[64];
    snprintf(label, sizeof label, "epoch %d/%d %s lr %.3g", epoch, epochs, stage, lr);
    c->stage = stage;
    c->epoch = epoch;
    c->epochs = epochs;
    ac_progress_start(&c->bar, label, steps, c->log_every);
    c->in_epoch = true;
    c->validating = false;
}

static void on_step(void *ctx, int epoch, int step, int steps, const ac_step_losses *m) {
    train_cli *c = ctx;
    (void)epoch;
    char buf[160];
    fmt_losses(buf, sizeof buf, c->stage, m, c->contrastive);
    c->bar.total = steps;
    ac_progress_update(&c->bar, step, buf);
}

static void on_validating(void *ctx, size_t done, size_t total) {
    train_cli *c = ctx;
    if (!c->validating) {
        clear_bar(c);
        c->in_epoch = false;
        static char label[64];
        snprintf(label, sizeof label, "epoch %d/%d validation", c->epoch, c->epochs);
        ac_progress_start(&c->bar, label, (int64_t)total, 1 << 30);
        c->validating = true;
    }
    if (c->bar.tty) ac_progress_update(&c->bar, (int64_t)done, NULL);
}

static void on_epoch_end(void *ctx, const ac_epoch_record *r) {
    train_cli *c = ctx;
    clear_bar(c);
    c->in_epoch = c->validating = false;
    char buf[160], val[64] = "";
    fmt_losses(buf, sizeof buf, r->stage, &r->mean, c->contrastive);
    if (r->validated) snprintf(val, sizeof val, "; valid PSNR %.3f SSIM %.4f", r->psnr, r->ssim);
    char nf[64] = "";
    if (r->nonfinite) snprintf(nf, sizeof nf, " (%d non-finite step%s skipped)", r->nonfinite, r->nonfinite > 1 ? "s" : "");
    printf("epoch %d %s: %d steps%s%s, lr %.4g, %s%s (%.1f s)\n", r->epoch, r->stage, r->steps,
           r->skipped ? " (some batches skipped: a weather type was missing)" : "", nf, r->lr, buf, val, r->seconds);
    fflush(stdout);
}

static int train_run(bool teacher, int argc, char **argv);

// An error line; under MPI only from the rank whose message explains the stop (and rank 0).
static void report_error(void) {
    if (ac_dist_size() == 1) ac_cli_error("%s", ac_error_message());
    else if (ac_dist_rank() == 0 || !ac_dist_failed_elsewhere())
        ac_cli_error("rank %d: %s", ac_dist_rank(), ac_error_message());
}

// Compute threads of a rank started by mpirun without --threads or OMP_NUM_THREADS: the cores
// it is bound to when mpirun bound it, else this machine's cores shared among its ranks.
static void default_rank_threads(void) {
    if (!ac_dist_active() || getenv("OMP_NUM_THREADS")) return;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int avail = omp_get_num_procs();
    if (online > 0 && avail >= online) avail = (int)(online / ac_dist_local_size());
    ac_set_threads(AC_MAX(avail, 1));
}

static int train_main(bool teacher, int argc, char **argv) {
    // under mpirun: one rank of a data-parallel run (src/dist/dist.h)
    if (ac_dist_init(&argc, &argv)) {
        ac_cli_error("%s", ac_error_message());
        return 1;
    }
    int rc = train_run(teacher, argc, argv);
    ac_dist_finalize();
    return rc;
}

static int train_run(bool teacher, int argc, char **argv) {
    ac_train_opts o = ac_train_defaults();
    o.kind = teacher ? AC_TRAIN_TEACHER : AC_TRAIN_STUDENT;
    ac_str_list teachers = {0}, pos;
    double seed = (double)o.seed;
    int threads = 0;
    bool no_cr = false, pad = false;
    const char *nonfinite = "stop";
    const ac_opt common[] = {
        {"train", 0, AC_OPT_STRING, &o.train, "PATH",
         teacher ? "training pairs of one weather type: a meta file" : "folder of meta files, one per weather type", 0, 0},
        {"valid", 0, AC_OPT_STRING, &o.valid, "PATH", "validation pairs: a meta file or a folder of them", 0, 0},
        {"save-dir", 0, AC_OPT_STRING, &o.save_dir, "DIR", "where checkpoints and logs go", 0, 0},
        {"teachers", 0, AC_OPT_LIST, &teachers, "T0 T1 ...", "teacher model files, in the order of --train's types", 0, 0},
        {"teacher-width", 0, AC_OPT_INT, &o.teacher_width, "B", "teachers' width for PyTorch files (default: inferred)", 4, 4096},
        {"teacher-res-blocks", 0, AC_OPT_INT, &o.teacher_res_blocks, "N", "teachers' res blocks for PyTorch files", 1, 1000},
        {"width", 0, AC_OPT_INT, &o.width, "B", "network width (default 16)", 4, 4096},
        {"res-blocks", 0, AC_OPT_INT, &o.res_blocks, "N", "residual blocks of the bottleneck (default 18)", 1, 1000},
        {"epochs", 0, AC_OPT_INT, &o.epochs, "N", "epochs (default 250)", 1, 1000000},
        {"kc-epochs", 0, AC_OPT_INT, &o.kc_epochs, "N", "knowledge-collation epochs (default: half; 0: knowledge examination only)", 0, 1000000},
        {"batch-size", 0, AC_OPT_INT, &o.batch_size, "N", "batch size (default 32)", 1, 100000},
        {"lr", 0, AC_OPT_DOUBLE, &o.lr, "LR", "learning rate per 16 images (default 2e-4; base lr = LR*batch/16)", 1e-12, 10},
        {"lr-min", 0, AC_OPT_DOUBLE, &o.lr_min, "LR", "final learning rate of the cosine (default 1e-6)", 0, 10},
        {"warmup-epochs", 0, AC_OPT_INT, &o.warmup_epochs, "N", "linear warm-up epochs (default 3)", 0, 1000000},
        {"val-freq", 0, AC_OPT_INT, &o.val_freq, "N", "validate every N epochs and after the last (default 2)", 1, 1000000},
        {"top-k", 0, AC_OPT_INT, &o.top_k, "K", "best checkpoints kept by PSNR (default 3)", 0, 1000},
        {"crop", 0, AC_OPT_INT, &o.crop, "S", "training crop, a multiple of 16 (default 224)", 16, 65536},
        {"seed", 0, AC_OPT_DOUBLE, &seed, "N", "random seed (default 19870522)", 0, 9007199254740992.0},
        {"balanced", 0, AC_OPT_FLAG, &o.balanced, NULL, "every weather type in every batch (no skipped batches)", 0, 0},
        {"no-contrastive", 0, AC_OPT_FLAG, &no_cr, NULL, "leave out the SCR/HCR terms (no VGG19 needed)", 0, 0},
        {"vgg", 0, AC_OPT_STRING, &o.vgg, "PATH",
         "VGG19 weights (torchvision .pth or safetensors; default $TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth); "
         "'random': seeded random weights", 0, 0},
        {"valid-pad", 0, AC_OPT_FLAG, &pad, NULL, "validate at the original size (reflection pad) instead of the reference resize", 0, 0},
        {"resume", 0, AC_OPT_FLAG, &o.resume, NULL, "continue from DIR/latest.safetensors", 0, 0},
        {"stop-after", 0, AC_OPT_INT, &o.stop_after, "E", "stop after epoch E (continue later with --resume)", 1, 1000000},
        {"nonfinite", 0, AC_OPT_STRING, &nonfinite, "stop|skip",
         "a step whose loss or gradient is NaN or infinite: 'stop' the run, exit 1, keep the last good "
         "DIR/latest.safetensors (default); 'skip' its update (a warning names it; the epoch line and log.csv "
         "count them; 10 in a row stop the run)", 0, 0},
        {"threads", 0, AC_OPT_INT, &threads, "N", "compute threads (default: all cores)", 1, 4096},
        {"data-threads", 0, AC_OPT_INT, &o.data_threads, "N", "image decoding threads (default 2)", 0, 256},
        {"log-every", 0, AC_OPT_INT, &o.log_every, "N", "without a terminal: a progress line every N steps (default 10)", 1, 1000000},
    };
    // train-teacher has no teacher options
    ac_opt opts[sizeof common / sizeof common[0]];
    int n = 0;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        bool teacher_only_skip = teacher && (!strcmp(common[i].name, "teachers") || !strncmp(common[i].name, "teacher-", 8) ||
                                             !strcmp(common[i].name, "kc-epochs") || !strcmp(common[i].name, "balanced") ||
                                             !strcmp(common[i].name, "no-contrastive") || !strcmp(common[i].name, "vgg"));
        if (!teacher_only_skip) opts[n++] = common[i];
    }
    const ac_cmd_spec spec = {
        teacher ? "train-teacher" : "train",
        teacher ? "--train META.json --valid META.json|DIR --save-dir DIR [options]"
                : "--teachers T0 T1 ... --train DIR --valid DIR --save-dir DIR [options]",
        teacher ? "Trains one teacher network on one weather type with the L1 loss, with the student's optimiser\n"
                  "(Adam) and schedule (warm-up, then cosine per epoch). Writes the best checkpoints\n"
                  "(epoch_E_psnrP_ssimS.safetensors), DIR/latest.safetensors every epoch (for --resume),\n"
                  "DIR/final.safetensors at the end, DIR/log.csv and TensorBoard events."
                : "Trains the student by two-stage knowledge learning: knowledge collation from the frozen\n"
                  "teachers (one per weather type: the i-th meta file of --train in name order is the i-th\n"
                  "teacher's type), then knowledge examination on the ground truth, with the contrastive\n"
                  "regularisers SCR and HCR on VGG19 features. Writes the best checkpoints, DIR/latest.safetensors\n"
                  "every epoch (for --resume), DIR/final.safetensors, DIR/log.csv and TensorBoard events.",
        opts, n, 0, 0,
    };
    int rc = ac_parse_args(&spec, argc, argv, &pos);
    if (rc) {
        ac_str_list_free(&teachers);
        return rc < 0 ? 0 : rc;
    }
    ac_str_list_free(&pos);
    if (seed != (double)(uint64_t)seed) {
        ac_cli_error("%s: --seed expects a whole number", spec.name);
        ac_str_list_free(&teachers);
        return 2;
    }
    o.seed = (uint64_t)seed;
    if (strcmp(nonfinite, "stop") && strcmp(nonfinite, "skip")) {
        ac_cli_error("%s: --nonfinite expects 'stop' or 'skip', got '%s'", spec.name, nonfinite);
        ac_str_list_free(&teachers);
        return 2;
    }
    o.nonfinite = strcmp(nonfinite, "skip") ? AC_NONFINITE_STOP : AC_NONFINITE_SKIP;
    _Static_assert(AC_NONFINITE_MAX_SKIPS == 10, "--nonfinite's help names the limit");
    o.contrastive = !no_cr;
    o.valid_mode = pad ? AC_VALID_PAD : AC_VALID_RESIZE;
    o.teachers = (const char *const *)teachers.items;
    o.n_teachers = teachers.count;
    if (!o.train || !o.valid || !o.save_dir || (!teacher && !o.n_teachers)) {
        ac_cli_error("%s: %s are required (see 'allclear %s --help')", spec.name,
                     teacher ? "--train, --valid and --save-dir" : "--teachers, --train, --valid and --save-dir",
                     spec.name);
        ac_str_list_free(&teachers);
        return 2;
    }
    if (threads > 0) ac_set_threads(threads);
    else default_rank_threads();

    train_cli c = {.log_every = o.log_every, .contrastive = o.contrastive && !teacher};
    ac_train_events ev = {&c, on_note, on_epoch_start, on_step, on_validating, on_epoch_end, on_warn};
    ac_trainer *tr;
    ac_status st = ac_trainer_open(&o, &ev, &tr);
    c.opened = true;
    if (!st && c.held) fputs(c.held, stdout);
    free(c.held);
    if (st) {
        report_error();
        ac_str_list_free(&teachers);
        return 2;
    }
    st = ac_trainer_run(tr);
    if (st) {
        if (c.bar.tty && (c.in_epoch || c.validating)) fputc('\n', stderr);
        report_error();
    }
    ac_trainer_close(tr);
    ac_str_list_free(&teachers);
    return st ? 1 : 0;
}

int ac_cmd_train(int argc, char **argv) { return train_main(false, argc, argv); }
int ac_cmd_train_teacher(int argc, char **argv) { return train_main(true, argc, argv); }
