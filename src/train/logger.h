// logger.h: the training record: one CSV row per epoch in DIR/log.csv (every loss term, the
// learning rate, validation metrics) and the same as TensorBoard scalars in DIR/ (plus
// per-step losses). A resumed run keeps the rows of the epochs it resumes after and drops any
// later ones (from a run that stopped before its checkpoint was written).
#ifndef AC_TRAIN_LOGGER_H
#define AC_TRAIN_LOGGER_H

#include "train/kd.h"

typedef struct ac_epoch_record {
    int epoch;
    const char *stage;  // "teacher", "KC" or "KE"
    double lr;
    int steps, skipped;   // steps taken; batches skipped (a weather type was missing)
    int nonfinite;        // steps skipped for a non-finite loss or gradient (--nonfinite skip)
    ac_step_losses mean;  // means over the epoch's steps
    bool validated;
    double psnr, ssim;
    double seconds;
} ac_epoch_record;

typedef struct ac_train_log ac_train_log;

// Opens DIR/log.csv and a TensorBoard event file in DIR. keep_epochs < 0: a fresh log (an
// existing log.csv is replaced); otherwise rows of epochs <= keep_epochs are kept.
ac_status ac_train_log_open(const char *dir, int keep_epochs, ac_train_log **out);
ac_status ac_train_log_epoch(ac_train_log *l, const ac_epoch_record *r);
// TensorBoard only: the losses of one step at global step number `step`.
ac_status ac_train_log_step(ac_train_log *l, const char *stage, int64_t step, const ac_step_losses *s);
void ac_train_log_close(ac_train_log *l);
const char *ac_train_log_csv_path(const ac_train_log *l);

// The CSV header line (without newline).
extern const char ac_train_log_header[];

#endif
