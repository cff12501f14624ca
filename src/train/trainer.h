// trainer.h: a whole training run (shared spec training.md): a teacher on one weather type
// (L1), or the student by two-stage knowledge learning from frozen teachers (knowledge
// collation for the first kc_epochs epochs, knowledge examination after). Adam over every
// trained tensor with one learning rate, warm-up + cosine schedule per epoch, validation every
// val_freq epochs, the best top_k checkpoints by PSNR, the training state after every epoch
// (DIR/latest.safetensors) from which a run resumes exactly, log.csv and TensorBoard events.
//
// ac_trainer_open checks everything that can be checked before the first step (data, teacher
// files and their architecture, VGG19 weights, option consistency, the state to resume from);
// its errors are the user's to fix. ac_trainer_run then trains; its errors happen while
// working (I/O, a non-finite loss or gradient), and the last good state stays on disk: the
// state is written atomically (a process killed at any moment leaves the previous or the new
// state), and the stray temporary files and unlisted best checkpoints of a killed run are
// removed when the folder is opened again.
//
// Test hook: the environment variable AC_FAULT_NAN_GRAD=E:S[,E:S...] puts a NaN into the
// summed gradient of step S of epoch E (steps counted from 1 within the epoch), on every rank.
#ifndef AC_TRAIN_TRAINER_H
#define AC_TRAIN_TRAINER_H

#include "data/valid.h"
#include "train/logger.h"

typedef enum ac_train_kind {
    AC_TRAIN_TEACHER,
    AC_TRAIN_STUDENT,
} ac_train_kind;

#define AC_VGG_RANDOM "random"

// What a step with a non-finite loss or gradient (after the data-parallel sum) does.
typedef enum ac_nonfinite_mode {
    AC_NONFINITE_STOP,  // stop the run (AC_ERR_NUMERIC); the last good state stays on disk
    AC_NONFINITE_SKIP,  // leave the step's update out (parameters and Adam untouched), go on
} ac_nonfinite_mode;

#define AC_NONFINITE_MAX_SKIPS 10

typedef struct ac_train_opts {
    ac_train_kind kind;
    const char *train;     // teacher: one meta file (or a folder holding one); student: a folder
    const char *valid;     // meta file or folder
    const char *save_dir;
    const char *const *teachers;  // student: one model file per weather type, in --train order
    int n_teachers;
    int teacher_width, teacher_res_blocks;  // > 0: architecture of teacher files without metadata
    int width, res_blocks;                  // the network trained
    int epochs, kc_epochs;                  // kc_epochs < 0: epochs / 2
    int batch_size, crop;
    double lr, lr_min;                      // base lr = lr * batch_size / 16
    int warmup_epochs, val_freq, top_k;
    uint64_t seed;
    bool balanced;                          // every weather type in every batch
    bool contrastive;                       // SCR (KC) and HCR (KE) terms
    const char *vgg;                        // NULL: torchvision's cache; AC_VGG_RANDOM: seeded random
    ac_valid_mode valid_mode;               // AC_VALID_RESIZE (reference) or AC_VALID_PAD
    int data_threads;                       // background image decoding threads
    int log_every;                          // per-step TensorBoard scalars every N steps (0: off)
    bool resume;                            // continue from save_dir/latest.safetensors
    int stop_after;                         // > 0: stop after this epoch (continue later with resume)
    ac_nonfinite_mode nonfinite;            // default AC_NONFINITE_STOP
    int max_skips;                          // skip mode: this many skips in a row stop the run
} ac_train_opts;

// The reference defaults (student, width 16, 18 res blocks, 250 epochs, batch 32, ...).
ac_train_opts ac_train_defaults(void);

// Progress reports (every callback may be NULL).
typedef struct ac_train_events {
    void *ctx;
    void (*note)(void *ctx, const char *text);  // informative lines (setup, resume, checkpoints)
    void (*epoch_start)(void *ctx, int epoch, int epochs, const char *stage, int steps, double lr);
    // after each step: running means of the epoch so far
    void (*step)(void *ctx, int epoch, int step, int steps, const ac_step_losses *mean);
    void (*validating)(void *ctx, size_t done, size_t total);
    void (*epoch_end)(void *ctx, const ac_epoch_record *r);
    void (*warn)(void *ctx, const char *text);  // a skipped step (NULL: reported as a note)
} ac_train_events;

typedef struct ac_trainer ac_trainer;

ac_status ac_trainer_open(const ac_train_opts *opts, const ac_train_events *ev, ac_trainer **out);
// Runs the remaining epochs. AC_ERR_NUMERIC names the epoch and step of a non-finite loss or
// gradient (stop mode), or of the last of max_skips consecutive skipped steps (skip mode).
ac_status ac_trainer_run(ac_trainer *tr);
void ac_trainer_close(ac_trainer *tr);

// For tests and reports.
int ac_trainer_first_epoch(const ac_trainer *tr);  // the epoch a run starts (or resumes) at
int ac_trainer_steps_per_epoch(const ac_trainer *tr);
double ac_trainer_base_lr(const ac_trainer *tr);
char *ac_trainer_latest_path(const char *save_dir);  // new string: DIR/latest.safetensors

#endif
