// logger.c: log.csv and TensorBoard scalars of a training run (logger.h).
#include "train/logger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/meta.h"
#include "io/atomic_file.h"
#include "io/read_all.h"
#include "io/tbevents.h"

const char ac_train_log_header[] =
    "epoch,stage,lr,steps,skipped,loss,l1,t,pfe,pfv,scr,hcr,val_psnr,val_ssim,nonfinite,seconds";

struct ac_train_log {
    char *csv_path;
    FILE *csv;
    ac_tb_writer *tb;
};

// The rows of an existing log whose epoch is <= keep, after a fresh header.
static char *kept_rows(const char *path, int keep) {
    size_t cap = sizeof ac_train_log_header + 2, len = 0;
    char *out = ac_xmalloc(cap);
    len = (size_t)snprintf(out, cap, "%s\n", ac_train_log_header);
    unsigned char *buf = NULL;
    size_t size = 0;
    if (keep < 0 || !ac_path_exists(path) || ac_file_read_all(path, 0, &buf, &size) != AC_OK) return out;
    char *text = ac_xmalloc(size + 1);
    memcpy(text, buf, size);
    text[size] = 0;
    free(buf);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *end;
        long e = strtol(line, &end, 10);
        if (end == line || *end != ',' || e > keep) continue;  // header, junk, or a later epoch
        size_t n = strlen(line);
        if (len + n + 2 > cap) out = ac_xrealloc(out, cap = 2 * (len + n + 2));
        memcpy(out + len, line, n);
        out[len + n] = '\n';
        len += n + 1;
        out[len] = 0;
    }
    free(text);
    return out;
}

ac_status ac_train_log_open(const char *dir, int keep_epochs, ac_train_log **out) {
    *out = NULL;
    ac_train_log *l = ac_xcalloc(1, sizeof *l);
    l->csv_path = ac_path_join(dir, "log.csv");
    char *rows = kept_rows(l->csv_path, keep_epochs);
    ac_status st = ac_file_write_atomic(l->csv_path, rows, strlen(rows));
    free(rows);
    if (!st) {
        l->csv = fopen(l->csv_path, "a");
        if (!l->csv) st = ac_fail(AC_ERR_IO, "%s: cannot open for writing", l->csv_path);
    }
    if (!st) st = ac_tb_open(dir, &l->tb);
    if (st) {
        ac_train_log_close(l);
        return st;
    }
    *out = l;
    return AC_OK;
}

const char *ac_train_log_csv_path(const ac_train_log *l) { return l->csv_path; }

static ac_status tb_losses(ac_train_log *l, const char *group, const char *stage,
                           const ac_step_losses *s, int64_t step) {
    struct {
        const char *name;
        double v;
        bool on;
    } terms[] = {
        {"total", s->loss, true},
        {"L1", s->l1, strcmp(stage, "KC") != 0},
        {"T", s->t, !strcmp(stage, "KC")},
        {"PFE", s->pfe, !strcmp(stage, "KC")},
        {"PFV", s->pfv, !strcmp(stage, "KC")},
        {"SCR", s->scr, !strcmp(stage, "KC")},
        {"HCR", s->hcr, !strcmp(stage, "KE")},
    };
    char tag[64];
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        if (!terms[i].on) continue;
        snprintf(tag, sizeof tag, "%s/%s", group, terms[i].name);
        ac_status st = ac_tb_scalar(l->tb, tag, (float)terms[i].v, step);
        if (st) return st;
    }
    return AC_OK;
}

ac_status ac_train_log_epoch(ac_train_log *l, const ac_epoch_record *r) {
    const ac_step_losses *m = &r->mean;
    char val[80] = ",";
    if (r->validated) snprintf(val, sizeof val, "%.17g,%.17g", r->psnr, r->ssim);
    int n = fprintf(l->csv, "%d,%s,%.9g,%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%s,%d,%.3f\n", r->epoch,
                    r->stage, r->lr, r->steps, r->skipped, m->loss, m->l1, m->t, m->pfe, m->pfv, m->scr, m->hcr,
                    val, r->nonfinite, r->seconds);
    if (n < 0 || fflush(l->csv) != 0) return ac_fail(AC_ERR_IO, "%s: write failed", l->csv_path);
    ac_status st = tb_losses(l, "train", r->stage, m, r->epoch);
    if (!st) st = ac_tb_scalar(l->tb, "train/lr", (float)r->lr, r->epoch);
    if (!st && r->validated) st = ac_tb_scalar(l->tb, "valid/PSNR", (float)r->psnr, r->epoch);
    if (!st && r->validated) st = ac_tb_scalar(l->tb, "valid/SSIM", (float)r->ssim, r->epoch);
    return st;
}

ac_status ac_train_log_step(ac_train_log *l, const char *stage, int64_t step, const ac_step_losses *s) {
    return tb_losses(l, "step", stage, s, step);
}

void ac_train_log_close(ac_train_log *l) {
    if (!l) return;
    if (l->csv) fclose(l->csv);
    ac_tb_close(l->tb);
    free(l->csv_path);
    free(l);
}
