// trainer.c: setup checks, the epoch loop, validation and checkpoints of a training run
// (trainer.h). The per-step losses are in kd.c, the files in checkpoint.c and logger.c.
#include "train/trainer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "core/common.h"
#include "data/sampler.h"
#include "dist/dist.h"
#include "dist/grad_sync.h"
#include "image/image.h"
#include "io/atomic_file.h"
#include "io/model_file.h"
#include "train/checkpoint.h"
#include "train/eval.h"
#include "train/kd.h"
#include "train/vgg_load.h"

struct ac_trainer {
    ac_train_opts o;
    ac_train_events ev;
    ac_meta_set *train, *valid;
    ac_sampler *sampler;
    ac_net *net;  // the network trained: the student, or the teacher
    ac_net **teachers;
    int n_teachers;
    ac_ckt *ckt;
    ac_vgg19 *vgg;
    ac_adam *adam;
    ac_graph *g;
    ac_train_state state;
    ac_train_log *log;
    ac_tensor_map *settings;  // metadata only: the run's settings, stored in the state file
    char *latest;
    double base_lr;
    int kc_epochs;
    int64_t global_step;
    // data parallel (dist.h): this rank, the number of ranks, the tensors Adam trains (whose
    // gradients are summed over the ranks) and the timing of the last epoch's steps
    int rank, ranks;
    ac_tensor **trained;
    int n_trained;
    ac_grad_sync *sync;
    double step_seconds, comm_seconds, sync_seconds, sync_wait_seconds;
    int skip_run;  // --nonfinite skip: steps skipped in a row so far
};

ac_train_opts ac_train_defaults(void) {
    return (ac_train_opts){
        .kind = AC_TRAIN_STUDENT,
        .width = AC_NET_DEFAULT_WIDTH,
        .res_blocks = AC_NET_DEFAULT_RES_BLOCKS,
        .epochs = 250,
        .kc_epochs = -1,
        .batch_size = 32,
        .crop = 224,
        .lr = 2e-4,
        .lr_min = 1e-6,
        .warmup_epochs = 3,
        .val_freq = 2,
        .top_k = 3,
        .seed = 19870522,
        .contrastive = true,
        .valid_mode = AC_VALID_RESIZE,
        .data_threads = 2,
        .log_every = 10,
        .nonfinite = AC_NONFINITE_STOP,
        .max_skips = AC_NONFINITE_MAX_SKIPS,
    };
}

static void note(ac_trainer *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ac_trainer *tr, const char *fmt, ...) {
    if (!tr->ev.note) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    tr->ev.note(tr->ev.ctx, buf);
}

static void warn(ac_trainer *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ac_trainer *tr, const char *fmt, ...) {
    void (*say)(void *, const char *) = tr->ev.warn ? tr->ev.warn : tr->ev.note;
    if (!say) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    say(tr->ev.ctx, buf);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

char *ac_trainer_latest_path(const char *save_dir) { return ac_path_join(save_dir, "latest.safetensors"); }
int ac_trainer_first_epoch(const ac_trainer *tr) { return tr->state.epoch + 1; }
int ac_trainer_steps_per_epoch(const ac_trainer *tr) { return ac_sampler_batches_per_epoch(tr->sampler); }
double ac_trainer_base_lr(const ac_trainer *tr) { return tr->base_lr; }

// ---- setup checks ----

static ac_status check_options(const ac_train_opts *o) {
    ac_net_config cfg = {o->width, o->res_blocks};
    ac_status st = ac_net_config_check(&cfg);
    if (st) return st;
    if (o->epochs < 1) return ac_fail(AC_ERR_ARG, "--epochs must be at least 1 (got %d)", o->epochs);
    if (o->warmup_epochs < 0 || o->warmup_epochs >= o->epochs)
        return ac_fail(AC_ERR_ARG, "--warmup-epochs (%d) must be smaller than --epochs (%d)", o->warmup_epochs,
                       o->epochs);
    if (o->crop < AC_NET_MIN_SIDE || o->crop % 16)
        return ac_fail(AC_ERR_ARG, "--crop must be a multiple of 16 and at least %d (the network halves the size 4 "
                       "times), got %d", AC_NET_MIN_SIDE, o->crop);
    if (o->batch_size < 1) return ac_fail(AC_ERR_ARG, "--batch-size must be at least 1");
    if (o->batch_size < ac_dist_size())
        return ac_fail(AC_ERR_ARG, "--batch-size %d is smaller than the %d MPI ranks: every rank needs at least one "
                       "sample of each batch", o->batch_size, ac_dist_size());
    if (!(o->lr > 0) || !(o->lr_min >= 0)) return ac_fail(AC_ERR_ARG, "--lr must be positive and --lr-min not negative");
    if (o->val_freq < 1) return ac_fail(AC_ERR_ARG, "--val-freq must be at least 1");
    if (o->top_k < 0) return ac_fail(AC_ERR_ARG, "--top-k must not be negative");
    if (o->nonfinite != AC_NONFINITE_STOP && o->nonfinite != AC_NONFINITE_SKIP)
        return ac_fail(AC_ERR_ARG, "unknown non-finite step mode %d", (int)o->nonfinite);
    if (o->max_skips < 1) return ac_fail(AC_ERR_ARG, "the limit of consecutive skipped steps must be at least 1");
    if (o->kind == AC_TRAIN_TEACHER && o->n_teachers)
        return ac_fail(AC_ERR_ARG, "a teacher is trained without teachers");
    if (o->kind == AC_TRAIN_STUDENT && o->n_teachers < 1)
        return ac_fail(AC_ERR_ARG, "no teachers given (--teachers T0 T1 ..., one per weather type)");
    if (o->kind == AC_TRAIN_STUDENT && o->kc_epochs > o->epochs)
        return ac_fail(AC_ERR_ARG, "--kc-epochs (%d) is more than --epochs (%d)", o->kc_epochs, o->epochs);
    if (!o->train || !o->valid || !o->save_dir)
        return ac_fail(AC_ERR_ARG, "--train, --valid and --save-dir are required");
    return AC_OK;
}

// Every pair's two images exist, decode (header), have the same size and, when `min_side`,
// are at least that large.
static ac_status probe_set(const ac_meta_set *set, int min_side) {
    for (int t = 0; t < set->count; t++) {
        const ac_meta *m = set->sources[t];
        for (size_t i = 0; i < m->count; i++) {
            ac_image_info a, b;
            ac_status st = ac_image_probe(m->pairs[i].gt, &a);
            if (!st) st = ac_image_probe(m->pairs[i].input, &b);
            if (st) return st;
            if (a.width != b.width || a.height != b.height)
                return ac_fail(AC_ERR_SHAPE, "%s: pair %zu: the images differ in size (%s is %dx%d, %s is %dx%d)",
                               m->path, i, m->pairs[i].gt, a.width, a.height, m->pairs[i].input, b.width, b.height);
            if (a.width < min_side || a.height < min_side)
                return ac_fail(AC_ERR_SHAPE, "%s: pair %zu: %s is %dx%d, smaller than %dx%d", m->path, i,
                               m->pairs[i].gt, a.width, a.height, min_side, min_side);
        }
    }
    return AC_OK;
}

static ac_status open_vgg(ac_trainer *tr) {
    const ac_train_opts *o = &tr->o;
    if (o->vgg && !strcmp(o->vgg, AC_VGG_RANDOM)) {
        tr->vgg = ac_vgg_random(o->seed);
        note(tr, "VGG19: seeded RANDOM weights (--vgg random): the contrastive terms do not use ImageNet features");
        return AC_OK;
    }
    char *path = o->vgg ? ac_xstrdup(o->vgg) : ac_vgg_default_path();
    if (!ac_path_exists(path)) {
        ac_status st = o->vgg ? ac_fail(AC_ERR_IO, "%s: VGG19 weights not found", path)
                              : ac_fail(AC_ERR_IO,
                                        "VGG19 weights not found: put torchvision's vgg19-dcbb9e9d.pth at %s (or "
                                        "set TORCH_HOME), or pass --vgg PATH, --vgg random or --no-contrastive",
                                        path);
        free(path);
        return st;
    }
    ac_status st = ac_load_vgg_file(path, &tr->vgg);
    if (!st) note(tr, "VGG19: %s", path);
    free(path);
    return st;
}

static ac_status open_teachers(ac_trainer *tr) {
    const ac_train_opts *o = &tr->o;
    tr->teachers = ac_xcalloc((size_t)o->n_teachers, sizeof *tr->teachers);
    tr->n_teachers = o->n_teachers;
    for (int t = 0; t < o->n_teachers; t++) {
        ac_status st = ac_model_file_load_net(o->teachers[t], &(ac_model_file_opts){NULL, o->teacher_width, o->teacher_res_blocks}, &tr->teachers[t]);
        if (st) return st;
        const ac_net_config *c = ac_net_config_of(tr->teachers[t]);
        if (c->width != o->width)
            return ac_fail(AC_ERR_SHAPE,
                           "%s: teacher width %d differs from the student's --width %d (the CKT modules compare "
                           "their features level by level)",
                           o->teachers[t], c->width, o->width);
        note(tr, "teacher %d (%s): %s, width %d, %d res blocks", t, tr->train->sources[t]->name, o->teachers[t],
             c->width, c->res_blocks);
    }
    return AC_OK;
}

static void set_meta(ac_tensor_map *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_meta(ac_tensor_map *m, const char *key, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ac_tensor_map_set_meta(m, key, buf);
}

static void record_settings(ac_trainer *tr) {
    const ac_train_opts *o = &tr->o;
    ac_tensor_map *m = tr->settings = ac_tensor_map_new();
    set_meta(m, "n_teachers", "%d", o->n_teachers);
    set_meta(m, "epochs", "%d", o->epochs);
    set_meta(m, "kc_epochs", "%d", tr->kc_epochs);
    set_meta(m, "batch_size", "%d", o->batch_size);
    set_meta(m, "crop", "%d", o->crop);
    set_meta(m, "lr", "%.12g", o->lr);
    set_meta(m, "lr_min", "%.12g", o->lr_min);
    set_meta(m, "warmup_epochs", "%d", o->warmup_epochs);
    set_meta(m, "seed", "%llu", (unsigned long long)o->seed);
    set_meta(m, "balanced", "%d", o->balanced);
    set_meta(m, "contrastive", "%d", o->contrastive);
    set_meta(m, "vgg", "%s", !o->contrastive ? "none" : o->vgg ? o->vgg : "default");
    set_meta(m, "train", "%s", o->train);
    set_meta(m, "valid", "%s", o->valid);
}

// Settings that change the course of training: a resumed run notes any difference.
static void compare_settings(ac_trainer *tr, const ac_tensor_map *saved) {
    static const char *const keys[] = {"epochs", "kc_epochs", "batch_size", "crop", "lr", "lr_min",
                                       "warmup_epochs", "seed", "balanced", "contrastive", "vgg"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *now = ac_tensor_map_meta(tr->settings, keys[i]), *then = ac_tensor_map_meta(saved, keys[i]);
        if (then && strcmp(now, then))
            note(tr, "resuming with %s = %s (the saved run used %s): the result will differ from an uninterrupted run",
                 keys[i], now, then);
    }
}

// DIR/args.json: the settings of this invocation, for people reading the folder later.
static ac_status write_args_json(ac_trainer *tr) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", tr->state.kind);
    char v[32];
    snprintf(v, sizeof v, "%d", tr->o.width);
    cJSON_AddStringToObject(o, "width", v);
    snprintf(v, sizeof v, "%d", tr->o.res_blocks);
    cJSON_AddStringToObject(o, "res_blocks", v);
    snprintf(v, sizeof v, "%d", tr->ranks);
    cJSON_AddStringToObject(o, "mpi_ranks", v);
    for (int i = 0; i < tr->settings->n_meta; i++)
        cJSON_AddStringToObject(o, tr->settings->meta[i].key, tr->settings->meta[i].value);
    cJSON *t = cJSON_AddArrayToObject(o, "teachers");
    for (int i = 0; i < tr->o.n_teachers; i++) cJSON_AddItemToArray(t, cJSON_CreateString(tr->o.teachers[i]));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char *path = ac_path_join(tr->o.save_dir, "args.json");
    ac_status st = text ? ac_file_write_atomic(path, text, strlen(text)) : ac_fail(AC_ERR_NOMEM, "args.json");
    free(path);
    free(text);
    return st;
}

static ac_status resume(ac_trainer *tr, ac_ckpt_part *parts, int n_parts) {
    const ac_train_opts *o = &tr->o;
    ac_tensor_map *m;
    ac_status st = ac_train_state_read(tr->latest, &m);
    if (st) return st;
    const char *kind = ac_tensor_map_meta(m, "kind"), *w = ac_tensor_map_meta(m, "width"),
               *r = ac_tensor_map_meta(m, "res_blocks"), *nt = ac_tensor_map_meta(m, "n_teachers");
    char want_w[16], want_r[16], want_nt[16];
    snprintf(want_w, sizeof want_w, "%d", o->width);
    snprintf(want_r, sizeof want_r, "%d", o->res_blocks);
    snprintf(want_nt, sizeof want_nt, "%d", o->n_teachers);
    if (!kind || strcmp(kind, tr->state.kind))
        st = ac_fail(AC_ERR_ARG, "%s: the state of a %s run cannot resume a %s run", tr->latest, kind ? kind : "unknown",
                     tr->state.kind);
    else if (!w || !r || strcmp(w, want_w) || strcmp(r, want_r))
        st = ac_fail(AC_ERR_SHAPE, "%s: the saved network has width %s and %s res blocks, the options say %d and %d",
                     tr->latest, w ? w : "?", r ? r : "?", o->width, o->res_blocks);
    else if (!nt || strcmp(nt, want_nt))
        st = ac_fail(AC_ERR_ARG, "%s: the saved run had %s teachers, %d are given", tr->latest, nt ? nt : "?",
                     o->n_teachers);
    if (!st) {
        st = ac_train_state_restore(m, parts, n_parts, tr->adam, &tr->state);
        if (st) ac_error_prefix("%s", tr->latest);
    }
    if (!st) {
        compare_settings(tr, m);
        note(tr, "resumed from %s after epoch %d (Adam step %lld)", tr->latest, tr->state.epoch,
             (long long)tr->adam->step);
    }
    ac_tensor_map_free(m);
    return st;
}

// Everything a run needs to continue, from rank 0 to the others: parameters, Adam's moments
// and step, the epoch and the generator (rank 0 alone reads a resumed state; the others may
// not even see the folder). Initialisation from the seed already agrees; this makes sure.
static ac_status broadcast_state(ac_trainer *tr, const ac_ckpt_part *parts, int n_parts) {
    if (tr->ranks == 1) return AC_OK;
    ac_status st = AC_OK;
    for (int p = 0; p < n_parts && !st; p++)
        for (int i = 0; i < parts[p].params->count && !st; i++) {
            ac_tensor *t = parts[p].params->items[i].tensor;
            st = ac_dist_broadcast(t->data, ac_numel(t) * sizeof(float), 0);
        }
    for (int i = 0; i < tr->adam->n_params && !st; i++) {
        size_t bytes = ac_numel(tr->adam->params[i].param) * sizeof(float);
        st = ac_dist_broadcast(tr->adam->params[i].m, bytes, 0);
        if (!st) st = ac_dist_broadcast(tr->adam->params[i].v, bytes, 0);
    }
    if (!st) st = ac_dist_broadcast(&tr->adam->step, sizeof tr->adam->step, 0);
    if (!st) st = ac_dist_broadcast(&tr->state.epoch, sizeof tr->state.epoch, 0);
    if (!st) st = ac_dist_broadcast(&tr->state.rng, sizeof tr->state.rng, 0);
    return st;
}

// What a killed run may leave in its folder: temporary files of unfinished atomic writes
// (never read, but they pile up), removed whenever the folder is opened.
static ac_status sweep_temp_files(ac_trainer *tr) {
    int removed;
    ac_status st = ac_atomic_sweep(tr->o.save_dir, &removed);
    if (!st && removed)
        note(tr, "removed %d unfinished temporary file%s left by an interrupted run", removed, removed > 1 ? "s" : "");
    return st;
}

// A best checkpoint is written before the state that lists it, and one that leaves the list
// is deleted after: a run killed in between leaves a best-checkpoint file that the state does
// not list. On resume, such files (named like best checkpoints) are removed, so that exactly
// the listed ones remain.
static void remove_unlisted_best(ac_trainer *tr) {
    DIR *d = opendir(tr->o.save_dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        if (strncmp(n, "epoch_", 6) || !strstr(n, "_psnr") || !strstr(n, "_ssim") || len < 12 ||
            strcmp(n + len - 12, ".safetensors"))
            continue;
        bool listed = false;
        for (int i = 0; i < tr->state.topk.count && !listed; i++) listed = !strcmp(tr->state.topk.items[i].file, n);
        if (listed) continue;
        char *p = ac_path_join(tr->o.save_dir, n);
        if (unlink(p) == 0) note(tr, "removed %s: the saved state does not list it (left by an interrupted run)", p);
        free(p);
    }
    closedir(d);
}

static void trainable_tensors(ac_params *p, ac_tensor ***list, int *n) {
    *list = ac_xrealloc(*list, (size_t)(*n + p->count) * sizeof **list);
    for (int i = 0; i < p->count; i++) (*list)[(*n)++] = p->items[i].tensor;
}

ac_status ac_trainer_open(const ac_train_opts *opts, const ac_train_events *ev, ac_trainer **out) {
    *out = NULL;
    ac_status st = ac_dist_agree(check_options(opts));
    if (st) return st;
    ac_trainer *tr = ac_xcalloc(1, sizeof *tr);
    tr->o = *opts;
    tr->rank = ac_dist_rank();
    tr->ranks = ac_dist_size();
    if (ev && tr->rank == 0) tr->ev = *ev;  // rank 0 alone reports
    const ac_train_opts *o = &tr->o;
    const bool student = o->kind == AC_TRAIN_STUDENT;
    tr->kc_epochs = !student ? 0 : o->kc_epochs < 0 ? o->epochs / 2 : o->kc_epochs;
    tr->base_lr = o->lr * o->batch_size / 16.0;
    tr->state.kind = student ? "student" : "teacher";
    ac_topk_init(&tr->state.topk, o->top_k);
    tr->latest = ac_trainer_latest_path(o->save_dir);

    st = ac_meta_set_open(o->train, &tr->train);
    if (!st && !student && tr->train->count != 1)
        st = ac_fail(AC_ERR_ARG, "%s: a teacher learns one weather type, but this holds %d meta files", o->train,
                     tr->train->count);
    if (!st && student && tr->train->count != o->n_teachers) {
        char names[512] = "";
        for (int i = 0; i < tr->train->count; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     tr->train->sources[i]->name);
        st = ac_fail(AC_ERR_ARG, "%d teachers given but %s holds %d weather types (%s): one teacher per type, in "
                     "file-name order", o->n_teachers, o->train, tr->train->count, names);
    }
    if (!st) st = ac_meta_set_open(o->valid, &tr->valid);
    if (!st) st = probe_set(tr->train, 0);
    if (!st) st = probe_set(tr->valid, o->valid_mode == AC_VALID_RESIZE ? AC_NET_MIN_SIDE : AC_NET_MIN_SIDE - 15);
    if (!st) {
        ac_sampler_opts so = ac_sampler_defaults();
        so.batch_size = o->batch_size;
        so.crop = o->crop;
        so.seed = o->seed;
        so.balanced = o->balanced;
        so.threads = o->data_threads;
        ac_dist_share(o->batch_size, tr->rank, tr->ranks, &so.share_begin, &so.share_end);
        st = ac_sampler_open(tr->train, &so, &tr->sampler);
        if (st) ac_error_prefix("%s", o->train);
    }
    if (!st && student) st = open_teachers(tr);
    if (!st && student && o->contrastive) st = open_vgg(tr);
    // the run folder is rank 0's alone
    if (!st && tr->rank == 0 && o->resume && !ac_path_exists(tr->latest))
        st = ac_fail(AC_ERR_IO, "%s: no training state to resume from", tr->latest);
    if (!st && tr->rank == 0 && !o->resume && ac_path_exists(tr->latest))
        st = ac_fail(AC_ERR_ARG, "%s already holds a training state (%s): pass --resume to continue it, or choose "
                     "another --save-dir", o->save_dir, tr->latest);
    if (!st && tr->rank == 0) st = ac_mkdir_p(o->save_dir);
    if (!st && tr->rank == 0) st = sweep_temp_files(tr);
    st = ac_dist_agree(st);
    if (st) {
        ac_trainer_close(tr);
        return st;
    }

    // the networks, initialised from the seed (a resumed run overwrites them)
    ac_rng_seed(&tr->state.rng, o->seed);
    ac_net_config cfg = {o->width, o->res_blocks};
    tr->net = ac_net_new(&cfg, &tr->state.rng);
    ac_params_set_trainable(ac_net_params(tr->net), true);
    ac_ckpt_part parts[2] = {{"student.", ac_net_params(tr->net)}, {"ckt.", NULL}};
    int n_parts = 1;
    ac_tensor **list = NULL;
    int n = 0;
    trainable_tensors(ac_net_params(tr->net), &list, &n);
    if (student) {
        tr->ckt = ac_ckt_new(o->width, o->n_teachers, &tr->state.rng);
        ac_params_set_trainable(tr->ckt->params, true);
        trainable_tensors(tr->ckt->params, &list, &n);
        parts[1].params = tr->ckt->params;
        n_parts = 2;
    }
    tr->adam = ac_adam_new(0.9, 0.999, 1e-8, 0.0);
    ac_adam_add_group(tr->adam, list, n, tr->base_lr);
    tr->trained = list;
    tr->n_trained = n;
    record_settings(tr);
    if (tr->rank == 0) {
        if (o->resume) st = resume(tr, parts, n_parts);
        if (!st && o->resume) remove_unlisted_best(tr);
        if (!st) st = ac_train_log_open(o->save_dir, o->resume ? tr->state.epoch : -1, &tr->log);
        if (!st) st = write_args_json(tr);
    }
    st = ac_dist_agree(st);
    if (!st) st = broadcast_state(tr, parts, n_parts);
    if (st) {
        ac_trainer_close(tr);
        return st;
    }
    tr->global_step = tr->adam->step;
    tr->g = ac_graph_new(true);
    if (tr->ranks > 1) tr->sync = ac_grad_sync_new(AC_GRAD_SYNC_BUCKET_BYTES);
    note(tr, "%s: width %d, %d res blocks, %zu parameters%s; %d steps per epoch of batch %d, crop %d; base lr %g",
         student ? "student" : "teacher", o->width, o->res_blocks, ac_params_numel(ac_net_params(tr->net)),
         student ? " (+ CKT modules)" : "", ac_sampler_batches_per_epoch(tr->sampler), o->batch_size, o->crop,
         tr->base_lr);
    if (student && tr->kc_epochs == 0)  // the ablation without collation: the teachers go unused
        note(tr, "epochs 1-%d knowledge examination only (--kc-epochs 0: no knowledge collation)%s", o->epochs,
             o->contrastive ? "" : " (no contrastive terms)");
    else if (student && tr->kc_epochs == o->epochs)
        note(tr, "epochs 1-%d knowledge collation only (no knowledge examination)%s", o->epochs,
             o->contrastive ? "" : " (no contrastive terms)");
    else if (student)
        note(tr, "epochs 1-%d knowledge collation, %d-%d knowledge examination%s", tr->kc_epochs, tr->kc_epochs + 1,
             o->epochs, o->contrastive ? "" : " (no contrastive terms)");
    if (o->nonfinite == AC_NONFINITE_SKIP)
        note(tr, "--nonfinite skip: a step with a non-finite loss or gradient is left out; %d in a row stop the run",
             o->max_skips);
    if (ac_dist_active())
        note(tr, "data parallel over %d MPI ranks (%d on this machine): %d to %d samples of each batch per rank, "
             "%d compute threads per rank", tr->ranks, ac_dist_local_size(), o->batch_size / tr->ranks,
             (o->batch_size + tr->ranks - 1) / tr->ranks, ac_get_threads());
    *out = tr;
    return AC_OK;
}

void ac_trainer_close(ac_trainer *tr) {
    if (!tr) return;
    ac_graph_free(tr->g);
    ac_grad_sync_free(tr->sync);
    free(tr->trained);
    ac_train_log_close(tr->log);
    ac_adam_free(tr->adam);
    ac_vgg19_free(tr->vgg);
    ac_ckt_free(tr->ckt);
    for (int t = 0; t < tr->n_teachers; t++) ac_net_free(tr->teachers[t]);
    free(tr->teachers);
    ac_net_free(tr->net);
    ac_sampler_close(tr->sampler);
    ac_meta_set_free(tr->train);
    ac_meta_set_free(tr->valid);
    ac_tensor_map_free(tr->settings);
    ac_topk_clear(&tr->state.topk);
    free(tr->latest);
    free(tr);
}

// ---- the run ----

static void add_losses(ac_step_losses *sum, const ac_step_losses *s) {
    sum->loss += s->loss;
    sum->l1 += s->l1;
    sum->t += s->t;
    sum->pfe += s->pfe;
    sum->pfv += s->pfv;
    sum->scr += s->scr;
    sum->hcr += s->hcr;
}

static ac_step_losses mean_losses(const ac_step_losses *sum, int n) {
    ac_step_losses m = *sum;
    if (n > 0) {
        double k = 1.0 / n;
        m.loss *= k, m.l1 *= k, m.t *= k, m.pfe *= k, m.pfv *= k, m.scr *= k, m.hcr *= k;
    }
    return m;
}

static bool params_finite(const ac_params *p) {
    for (int i = 0; i < p->count; i++) {
        const ac_tensor *t = p->items[i].tensor;
        size_t n = ac_numel(t);
        for (size_t k = 0; k < n; k++)
            if (!isfinite(t->data[k])) return false;
    }
    return true;
}

static void eval_progress(void *ctx, size_t done, size_t total) {
    ac_trainer *tr = ctx;
    if (tr->ev.validating) tr->ev.validating(tr->ev.ctx, done, total);
}

// What a stopped run leaves to resume from, for its message: into buf, returned.
static const char *kept_state(const ac_trainer *tr, char *buf, size_t size) {
    if (tr->state.epoch > 0)
        snprintf(buf, size, "the last good state is %s (epoch %d)", tr->latest, tr->state.epoch);
    else
        snprintf(buf, size, "before any state was saved");
    return buf;
}

// The test hook of trainer.h: whether AC_FAULT_NAN_GRAD lists step `step` of epoch `e`.
static bool fault_nan_grad(int e, int step) {
    const char *s = getenv("AC_FAULT_NAN_GRAD");
    while (s && *s) {
        int fe, fs, n = 0;
        if (sscanf(s, "%d:%d%n", &fe, &fs, &n) != 2 || n == 0) return false;
        if (fe == e && fs == step) return true;
        s += n;
        s += *s == ',';
    }
    return false;
}

// The registry name (with its checkpoint prefix) of a trained tensor.
static const char *trained_name(const ac_trainer *tr, const ac_tensor *t, const char **prefix) {
    const ac_params *lists[2] = {ac_net_params(tr->net), tr->ckt ? tr->ckt->params : NULL};
    const char *prefixes[2] = {"student.", "ckt."};
    for (int l = 0; l < 2; l++)
        for (int i = 0; lists[l] && i < lists[l]->count; i++)
            if (lists[l]->items[i].tensor == t) {
                *prefix = prefixes[l];
                return lists[l]->items[i].name;
            }
    *prefix = "";
    return "?";
}

// After the gradient sum (identical on every rank, so every rank decides the same): the first
// trained tensor whose gradient holds a NaN or an infinity, or NULL.
static const ac_tensor *nonfinite_grad(const ac_trainer *tr) {
    for (int i = 0; i < tr->n_trained; i++) {
        const ac_tensor *t = tr->trained[i];
        if (!t->requires_grad || !t->grad) continue;
        size_t n = ac_numel(t);
        float z = 0;  // stays 0 unless some element is Inf or NaN (x * 0 is NaN for those)
        for (size_t k = 0; k < n; k++) z += t->grad[k] * 0.0f;
        if (z != 0) return t;
    }
    return NULL;
}

// One epoch of steps; fills the record's step counts and mean losses.
static ac_status train_epoch(ac_trainer *tr, int e, const char *stage, ac_epoch_record *rec) {
    const ac_train_opts *o = &tr->o;
    const int steps = ac_sampler_batches_per_epoch(tr->sampler);
    ac_sampler_begin_epoch(tr->sampler, e);
    ac_step_losses sum = {0};
    int done = 0, pos = 0, nonfinite = 0;  // steps taken, batches seen, steps skipped
    const int gb = o->batch_size;  // every rank holds its share of the global batch
    double t0 = now_seconds(), comm0 = ac_dist_comm_seconds();
    double sync0 = tr->sync ? ac_grad_sync_seconds(tr->sync) : 0, wait0 = tr->sync ? ac_grad_sync_wait_seconds(tr->sync) : 0;
    for (;;) {
        ac_batch *b;
        ac_status st = ac_sampler_next(tr->sampler, &b);
        st = ac_dist_agree(st);  // a rank that cannot read its images stops them all
        if (st) {
            ac_batch_free(b);
            ac_error_prefix("epoch %d", e);
            return st;
        }
        if (!b) break;
        ac_adam_zero_grad(tr->adam);
        ac_step_losses l;
        if (!strcmp(stage, "teacher")) {
            st = ac_teacher_step_dp(tr->net, tr->g, b->input, b->target, gb, &l);
        } else if (!strcmp(stage, "KC")) {
            ac_kc_models m = {tr->net, tr->teachers, tr->n_teachers, tr->ckt, tr->vgg};
            st = ac_kc_step_dp(&m, tr->g, b->input, b->target, b->type_counts, gb, &l);
        } else {
            st = ac_ke_step_dp(tr->net, tr->vgg, tr->g, b->input, b->target, gb, &l);
        }
        int index = b->index;
        ac_batch_free(b);
        pos++;
        // the losses are global and the gradients summed over the ranks, so a non-finite one
        // stops (or skips) every rank at the same step
        if (!st && tr->sync) st = ac_grad_sync_run(tr->sync, tr->trained, tr->n_trained);
        if (!st && fault_nan_grad(e, pos))
            for (int i = 0; i < tr->n_trained; i++)
                if (tr->trained[i]->requires_grad && tr->trained[i]->grad) {
                    tr->trained[i]->grad[0] = NAN;
                    break;
                }
        const ac_tensor *bad = st ? NULL : nonfinite_grad(tr);
        if (bad) {
            const char *prefix, *name = trained_name(tr, bad, &prefix);
            st = ac_fail(AC_ERR_NUMERIC, "non-finite gradient of '%s%s'%s", prefix, name,
                         tr->ranks > 1 ? " (summed over the ranks)" : "");
        }
        if (st == AC_ERR_NUMERIC && o->nonfinite == AC_NONFINITE_SKIP) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ac_error_message());
            nonfinite++;
            if (++tr->skip_run >= o->max_skips) {
                char kept[600];
                return ac_fail(st, "epoch %d, step %d (batch %d): %s; %d steps in a row were non-finite (--nonfinite "
                               "skip stops after %d); stopped, %s", e, pos, index, msg, tr->skip_run, o->max_skips,
                               kept_state(tr, kept, sizeof kept));
            }
            warn(tr, "epoch %d, step %d (batch %d): %s; the step's update is skipped (%d in a row, at most %d)", e,
                 pos, index, msg, tr->skip_run, o->max_skips);
            continue;
        }
        if (st) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ac_error_message());
            char kept[600];
            return ac_fail(st, "epoch %d, step %d (batch %d): %s; stopped, %s", e, pos, index, msg,
                           kept_state(tr, kept, sizeof kept));
        }
        tr->skip_run = 0;
        ac_adam_step(tr->adam);
        add_losses(&sum, &l);
        done++;
        tr->global_step++;
        if (tr->log && o->log_every > 0 && tr->global_step % o->log_every == 0) {
            st = ac_train_log_step(tr->log, stage, tr->global_step, &l);
            if (st) return st;
        }
        if (tr->ev.step) {
            ac_step_losses m = mean_losses(&sum, done);
            tr->ev.step(tr->ev.ctx, e, pos, steps - ac_sampler_skipped(tr->sampler), &m);
        }
    }
    rec->steps = done;
    rec->skipped = ac_sampler_skipped(tr->sampler);
    rec->nonfinite = nonfinite;
    rec->mean = mean_losses(&sum, done);
    tr->step_seconds = done ? (now_seconds() - t0) / done : 0;
    tr->comm_seconds = done ? (ac_dist_comm_seconds() - comm0) / done : 0;
    tr->sync_seconds = done && tr->sync ? (ac_grad_sync_seconds(tr->sync) - sync0) / done : 0;
    tr->sync_wait_seconds = done && tr->sync ? (ac_grad_sync_wait_seconds(tr->sync) - wait0) / done : 0;
    return AC_OK;
}

// Validation and a best checkpoint when it ranks; *evicted: a file to delete once the state
// that no longer lists it is written.
static ac_status validate(ac_trainer *tr, int e, ac_epoch_record *rec, char **evicted) {
    ac_eval_opts eo = {tr->o.valid_mode, false, tr->o.data_threads > 0 ? 1 : 0, NULL, eval_progress, tr};
    size_t total = 0;
    for (int t = 0; t < tr->valid->count; t++) total += tr->valid->sources[t]->count;
    eval_progress(tr, 0, total);
    ac_eval_result r;
    ac_status st = ac_evaluate(tr->net, tr->valid, &eo, &r);
    if (st) {
        ac_error_prefix("epoch %d: validation", e);
        return st;
    }
    rec->validated = true;
    rec->psnr = r.mean_psnr;
    rec->ssim = r.mean_ssim;
    ac_eval_result_free(&r);
    int ev;
    if (!ac_topk_admits(&tr->state.topk, rec->psnr, &ev)) return AC_OK;
    char *file = ac_topk_filename(e, rec->psnr, rec->ssim);
    char *path = ac_path_join(tr->o.save_dir, file);
    ac_tensor_map *meta = ac_tensor_map_new();
    set_meta(meta, "kind", "%s", tr->state.kind);
    set_meta(meta, "epoch", "%d", e);
    set_meta(meta, "psnr", "%.17g", rec->psnr);
    set_meta(meta, "ssim", "%.17g", rec->ssim);
    st = ac_save_net(path, tr->net, meta);
    ac_tensor_map_free(meta);
    if (!st) {
        ac_topk_insert(&tr->state.topk, ev, e, rec->psnr, rec->ssim, file, evicted);
        note(tr, "epoch %d: PSNR %.3f SSIM %.4f: saved %s%s%s", e, rec->psnr, rec->ssim, path,
             *evicted ? ", replacing " : "", *evicted ? *evicted : "");
    }
    free(path);
    free(file);
    return st;
}

ac_status ac_trainer_run(ac_trainer *tr) {
    const ac_train_opts *o = &tr->o;
    ac_ckpt_part parts[2] = {{"student.", ac_net_params(tr->net)}, {"ckt.", tr->ckt ? tr->ckt->params : NULL}};
    const int n_parts = tr->ckt ? 2 : 1;
    ac_net_config cfg = *ac_net_config_of(tr->net);
    const int last = o->stop_after > 0 ? AC_MIN(o->stop_after, o->epochs) : o->epochs;
    for (int e = tr->state.epoch + 1; e <= last; e++) {
        const char *stage = o->kind == AC_TRAIN_TEACHER ? "teacher" : e <= tr->kc_epochs ? "KC" : "KE";
        if (!strcmp(stage, "KE") && tr->ckt && tr->ckt->params->items[0].tensor->requires_grad)
            ac_params_set_trainable(tr->ckt->params, false);  // not used any more: Adam skips them
        double lr = ac_lr_warmup_cosine(e, tr->base_lr, o->warmup_epochs, o->epochs, o->lr_min);
        ac_adam_set_lr(tr->adam, lr);
        if (tr->ev.epoch_start)
            tr->ev.epoch_start(tr->ev.ctx, e, o->epochs, stage, ac_sampler_batches_per_epoch(tr->sampler), lr);
        double t0 = now_seconds();
        ac_epoch_record rec = {.epoch = e, .stage = stage, .lr = lr};
        ac_status st = train_epoch(tr, e, stage, &rec);
        if (st) return st;
        if (!params_finite(ac_net_params(tr->net)))
            return ac_fail(AC_ERR_NUMERIC, "epoch %d: the network's weights are no longer finite; stopped, the last "
                           "good state is %s (epoch %d)", e, tr->latest, tr->state.epoch);
        if (ac_dist_active())
            note(tr, "epoch %d: %.4f s per step on %d ranks; gradient allreduce %.4f s after waiting %.4f s for the "
                 "slowest rank; %.4f s in all MPI collectives", e, tr->step_seconds, tr->ranks, tr->sync_seconds,
                 tr->sync_wait_seconds, tr->comm_seconds);
        // rank 0 alone validates, logs and writes files; the others wait (asleep) for its status
        char *evicted = NULL;
        if (tr->rank == 0) {
            if (e % o->val_freq == 0 || e == o->epochs) st = validate(tr, e, &rec, &evicted);
            rec.seconds = now_seconds() - t0;
            if (!st) st = ac_train_log_epoch(tr->log, &rec);
            if (!st) {
                tr->state.epoch = e;
                st = ac_train_state_save(tr->latest, parts, n_parts, tr->adam, &cfg, &tr->state, tr->settings);
                if (st) tr->state.epoch = e - 1;
            }
            if (!st && evicted) {
                char *p = ac_path_join(o->save_dir, evicted);
                unlink(p);
                free(p);
            }
            free(evicted);
        } else {
            rec.seconds = now_seconds() - t0;
            tr->state.epoch = e;
        }
        st = ac_dist_agree(st);
        if (st) return st;
        if (tr->ev.epoch_end) tr->ev.epoch_end(tr->ev.ctx, &rec);
    }
    if (tr->state.epoch < o->epochs) {
        note(tr, "stopped after epoch %d of %d: continue with --resume", tr->state.epoch, o->epochs);
        return AC_OK;
    }
    ac_status st = AC_OK;
    if (tr->rank == 0) {
        char *final = ac_path_join(o->save_dir, "final.safetensors");
        ac_tensor_map *meta = ac_tensor_map_new();
        set_meta(meta, "kind", "%s", tr->state.kind);
        set_meta(meta, "epoch", "%d", tr->state.epoch);
        st = ac_save_net(final, tr->net, meta);
        ac_tensor_map_free(meta);
        if (!st) note(tr, "done: the network after epoch %d is %s", tr->state.epoch, final);
        free(final);
    }
    return ac_dist_agree(st);
}
