// test_train_run.c: whole training runs (src/train/trainer.h) on tiny synthesised data made
// in a temporary folder: a run resumed from its state after epoch 1 is bit-identical to an
// uninterrupted one (losses in log.csv, weights, optimiser state, best checkpoints);
// inconsistent setups are refused before the first step; a teacher run leaves its files;
// a non-finite loss stops the run with the epoch and step (or, skipped, stops after the
// limit of steps in a row); evaluation equals the metrics of
// the same images; the best-checkpoint bookkeeping.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "image/image.h"
#include "io/read_all.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "metrics/metrics.h"
#include "testlib.h"
#include "train/checkpoint.h"
#include "train/eval.h"
#include "train/trainer.h"
#include "train/vgg_load.h"

static char tmp[64];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmp, name); }

// Source `type`: n pairs of h x w images (gt smooth colours, input a veiled/striped version).
static void make_source(const char *dir, const char *name, int type, int n, int h, int w, uint64_t seed) {
    char sub[160], meta[200];
    snprintf(sub, sizeof sub, "%s/%s", tmp, dir);
    ac_mkdir_p(sub);
    ac_rng r;
    ac_rng_seed(&r, seed);
    ac_pair *pairs = ac_xcalloc((size_t)n, sizeof *pairs);
    for (int i = 0; i < n; i++) {
        ac_tensor *gt = ac_tensor_new4(1, 3, h, w), *in = ac_tensor_new4(1, 3, h, w);
        for (int c = 0; c < 3; c++) {
            float a = ac_rng_uniform(&r), f = 0.1f + 0.3f * ac_rng_uniform(&r);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    size_t k = ((size_t)c * h + y) * w + x;
                    float v = 0.5f + 0.4f * sinf(f * (x + 2 * y) + 6.0f * a);
                    gt->data[k] = v;
                    in->data[k] = type == 0 ? 0.6f * v + 0.35f : ((x + y) % 5 == 0 ? 0.95f : 0.9f * v);
                }
        }
        char gp[240], ip[240];
        snprintf(gp, sizeof gp, "%s/%s_%d_gt.png", sub, name, i);
        snprintf(ip, sizeof ip, "%s/%s_%d_in.png", sub, name, i);
        CHECK(ac_image_write_png(gp, gt, 8) == AC_OK);
        CHECK(ac_image_write_png(ip, in, 8) == AC_OK);
        pairs[i].gt = ac_xstrdup(gp);
        pairs[i].input = ac_xstrdup(ip);
        ac_tensor_free(gt);
        ac_tensor_free(in);
    }
    snprintf(meta, sizeof meta, "%s/%s.json", sub, name);
    CHECK(ac_meta_write(meta, pairs, (size_t)n) == AC_OK);
    for (int i = 0; i < n; i++) {
        free(pairs[i].gt);
        free(pairs[i].input);
    }
    free(pairs);
}

static void save_tiny_net(const char *name, int width, uint64_t seed) {
    ac_rng r;
    ac_rng_seed(&r, seed);
    ac_net_config cfg = {width, 1};
    ac_net *net = ac_net_new(&cfg, &r);
    char p[160];
    path_in(p, sizeof p, name);
    CHECK(ac_save_net(p, net, NULL) == AC_OK);
    ac_net_free(net);
}

static char p_train[160], p_valid[160], p_t0[160], p_t1[160];
static const char *teachers2[2] = {p_t0, p_t1};

static ac_train_opts tiny_opts(const char *save) {
    static char dirs[16][160];  // distinct buffers: options of several runs live side by side
    static int next;
    char *dir = dirs[next++ % 16];
    path_in(dir, sizeof dirs[0], save);
    ac_train_opts o = ac_train_defaults();
    o.train = p_train;
    o.valid = p_valid;
    o.save_dir = dir;
    o.teachers = teachers2;
    o.n_teachers = 2;
    o.width = 4;
    o.res_blocks = 1;
    o.epochs = 2;
    o.warmup_epochs = 1;
    o.batch_size = 2;
    o.crop = 32;
    o.val_freq = 1;
    o.top_k = 1;
    o.balanced = true;
    o.vgg = AC_VGG_RANDOM;
    o.data_threads = 1;
    o.log_every = 1;
    return o;
}

static ac_status run(const ac_train_opts *o) {
    ac_trainer *tr;
    ac_status st = ac_trainer_open(o, NULL, &tr);
    if (st) return st;
    st = ac_trainer_run(tr);
    ac_trainer_close(tr);
    return st;
}

static char *read_text(const char *path) {
    unsigned char *buf;
    size_t n;
    if (ac_file_read_all(path, 0, &buf, &n) != AC_OK) return ac_xstrdup("");
    char *s = ac_xmalloc(n + 1);
    memcpy(s, buf, n);
    s[n] = 0;
    free(buf);
    return s;
}

// log.csv without the last column (seconds), which is the only one that may differ.
static char *log_without_times(const char *dir) {
    char p[200];
    snprintf(p, sizeof p, "%s/log.csv", dir);
    char *s = read_text(p);
    char *out = ac_xmalloc(strlen(s) + 1), *o = out;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *last = line + len;
        while (last > line && last[-1] != ',') last--;
        memcpy(o, line, (size_t)(last - line));
        o += last - line;
        *o++ = '\n';
        line += len + (nl != NULL);
    }
    *o = 0;
    free(s);
    return out;
}

static void compare_states(const char *a_dir, const char *b_dir) {
    char pa[200], pb[200];
    snprintf(pa, sizeof pa, "%s/latest.safetensors", a_dir);
    snprintf(pb, sizeof pb, "%s/latest.safetensors", b_dir);
    ac_tensor_map *a = NULL, *b = NULL;
    CHECK(ac_safetensors_read(pa, &a) == AC_OK);
    CHECK(ac_safetensors_read(pb, &b) == AC_OK);
    if (!a || !b) return;
    CHECK_MSG(a->count == b->count, "%d vs %d tensors", a->count, b->count);
    int differ = 0, students = 0, ckts = 0, moments = 0;
    for (int i = 0; i < a->count; i++) {
        const char *name = a->items[i].name;
        students += !strncmp(name, "student.", 8);
        ckts += !strncmp(name, "ckt.", 4);
        moments += !strncmp(name, "adam.", 5);
        ac_tensor *tb = ac_tensor_map_get(b, name);
        if (!tb || !ac_same_shape(tb, a->items[i].tensor) ||
            memcmp(tb->data, a->items[i].tensor->data, ac_numel(tb) * sizeof(float))) {
            if (!differ++) fprintf(stderr, "  first differing tensor: %s\n", name);
        }
    }
    CHECK_MSG(differ == 0, "%d tensors differ between the straight and the resumed run", differ);
    CHECK(students > 0 && ckts > 0 && moments == 2 * (students + ckts));
    const char *keys[] = {"epoch", "adam_step", "rng", "best", "kind", "width"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *va = ac_tensor_map_meta(a, keys[k]), *vb = ac_tensor_map_meta(b, keys[k]);
        CHECK_MSG(va && vb && !strcmp(va, vb), "metadata %s: '%s' vs '%s'", keys[k], va ? va : "-", vb ? vb : "-");
    }
    CHECK(!strcmp(ac_tensor_map_meta(a, "epoch"), "2"));
    ac_tensor_map_free(a);
    ac_tensor_map_free(b);
}

static void test_resume_bit_identical(void) {
    ac_train_opts a = tiny_opts("straight");
    CHECK(run(&a) == AC_OK);
    ac_train_opts b = tiny_opts("resumed");
    b.stop_after = 1;
    CHECK(run(&b) == AC_OK);
    char p[200];
    snprintf(p, sizeof p, "%s/final.safetensors", b.save_dir);
    CHECK_MSG(!ac_path_exists(p), "a stopped run wrote final.safetensors");
    b.stop_after = 0;
    b.resume = true;
    {
        ac_trainer *tr = NULL;
        const ac_status st = ac_trainer_open(&b, NULL, &tr);
        CHECK(st == AC_OK);
        if (st == AC_OK) {  // (a failed open leaves no trainer to use)
            CHECK(ac_trainer_first_epoch(tr) == 2);
            CHECK(ac_trainer_run(tr) == AC_OK);
            ac_trainer_close(tr);
        }
    }
    char *la = log_without_times(a.save_dir), *lb = log_without_times(b.save_dir);
    CHECK_MSG(!strcmp(la, lb), "log.csv differs:\n--- straight\n%s--- resumed\n%s", la, lb);
    int rows = 0;
    for (char *c = la; *c; c++) rows += *c == '\n';
    CHECK_MSG(rows == 3, "log.csv has %d lines, want header + 2", rows);
    CHECK(strstr(la, "\n1,KC,") && strstr(la, "\n2,KE,"));
    free(la);
    free(lb);
    compare_states(a.save_dir, b.save_dir);
    // the best checkpoint (top 1) has the same name in both folders
    ac_tensor_map *m = NULL;
    snprintf(p, sizeof p, "%s/latest.safetensors", a.save_dir);
    CHECK(ac_safetensors_read(p, &m) == AC_OK);
    if (m) {
        const char *best = ac_tensor_map_meta(m, "best");
        const char *file = best ? strrchr(best, ',') : NULL;
        CHECK(file != NULL);
        if (file) {
            snprintf(p, sizeof p, "%s/%s", b.save_dir, file + 1);
            CHECK_MSG(ac_path_exists(p), "%s missing", p);
        }
        ac_tensor_map_free(m);
    }
}

static void expect_refused(ac_train_opts *o, ac_status want, const char *fragment) {
    ac_trainer *tr = NULL;
    ac_status st = ac_trainer_open(o, NULL, &tr);
    CHECK_MSG(st == want && strstr(ac_error_message(), fragment), "got status %d '%s', want %d with '%s'", st,
              ac_error_message(), want, fragment);
    CHECK(strchr(ac_error_message(), '\n') == NULL);
    if (!st) ac_trainer_close(tr);
}

static void test_refusals(void) {
    char p_t2[160], p_w8[160], p_nope[160], p_vgg_home[160];
    path_in(p_t2, sizeof p_t2, "t2.safetensors");
    path_in(p_w8, sizeof p_w8, "w8.safetensors");
    path_in(p_nope, sizeof p_nope, "nope.safetensors");
    save_tiny_net("t2.safetensors", 4, 33);
    save_tiny_net("w8.safetensors", 8, 34);
    ac_train_opts o = tiny_opts("refused");
    const char *three[3] = {p_t0, p_t1, p_t2};
    o.teachers = three;
    o.n_teachers = 3;
    expect_refused(&o, AC_ERR_ARG, "3 teachers given but");
    o = tiny_opts("refused");
    const char *wide[2] = {p_t0, p_w8};
    o.teachers = wide;
    expect_refused(&o, AC_ERR_SHAPE, "teacher width 8 differs from the student's --width 4");
    const char *gone[2] = {p_t0, p_nope};
    o.teachers = gone;
    expect_refused(&o, AC_ERR_IO, "nope.safetensors");
    o = tiny_opts("refused");
    o.crop = 40;
    expect_refused(&o, AC_ERR_ARG, "--crop must be a multiple of 16");
    o = tiny_opts("refused");
    o.warmup_epochs = 2;
    expect_refused(&o, AC_ERR_ARG, "--warmup-epochs (2) must be smaller than --epochs (2)");
    o = tiny_opts("refused");
    o.batch_size = 5;
    expect_refused(&o, AC_ERR_ARG, "fewer than one batch");
    o = tiny_opts("refused");
    o.resume = true;
    expect_refused(&o, AC_ERR_IO, "no training state to resume from");
    o = tiny_opts("refused");
    o.vgg = NULL;  // the default place, under a TORCH_HOME without the file
    path_in(p_vgg_home, sizeof p_vgg_home, "torch_home");
    setenv("TORCH_HOME", p_vgg_home, 1);
    expect_refused(&o, AC_ERR_IO, "put torchvision's vgg19-dcbb9e9d.pth at");
    CHECK(strstr(ac_error_message(), "torch_home/hub/checkpoints/vgg19-dcbb9e9d.pth") &&
          strstr(ac_error_message(), "--vgg random"));
    unsetenv("TORCH_HOME");
    CHECK_MSG(!ac_path_exists(o.save_dir), "a refused run created its folder");
    // an existing state is not overwritten without --resume
    o = tiny_opts("straight");
    expect_refused(&o, AC_ERR_ARG, "already holds a training state");
    // a teacher run takes one weather type
    o = tiny_opts("refused");
    o.kind = AC_TRAIN_TEACHER;
    o.teachers = NULL;
    o.n_teachers = 0;
    expect_refused(&o, AC_ERR_ARG, "a teacher learns one weather type");
    // validation images too small for the network
    o = tiny_opts("refused");
    char small[160];
    make_source("small", "tiny", 0, 1, 24, 40, 9);
    path_in(small, sizeof small, "small/tiny.json");
    o.valid = small;
    expect_refused(&o, AC_ERR_SHAPE, "smaller than 32x32");
}

static void test_teacher_run(void) {
    ac_train_opts o = tiny_opts("teacher");
    char one[160];
    path_in(one, sizeof one, "train/rain.json");
    o.kind = AC_TRAIN_TEACHER;
    o.train = one;
    o.teachers = NULL;
    o.n_teachers = 0;
    o.epochs = 3;
    o.top_k = 2;
    o.batch_size = 3;
    CHECK(run(&o) == AC_OK);
    char p[200];
    snprintf(p, sizeof p, "%s/log.csv", o.save_dir);
    char *log = read_text(p);
    CHECK_MSG(!strncmp(log, ac_train_log_header, strlen(ac_train_log_header)) && strstr(log, "\n3,teacher,"),
              "log.csv: %s", log);
    free(log);
    // exactly top_k best checkpoints, loadable; final and latest hold the same network
    char **files;
    size_t n;
    const char *exts[] = {".safetensors", NULL};
    CHECK(ac_list_dir(o.save_dir, exts, &files, &n) == AC_OK);
    int best = 0, events = 0;
    for (size_t i = 0; i < n; i++)
        if (strstr(files[i], "/epoch_")) {
            best++;
            ac_net *net = NULL;
            CHECK(ac_model_file_load_net(files[i], &(ac_model_file_opts){NULL, 0, 0}, &net) == AC_OK);
            ac_net_free(net);
        }
    ac_free_list(files, n);
    CHECK_MSG(best == 2, "%d best checkpoints, want 2", best);
    DIR *d = opendir(o.save_dir);
    for (struct dirent *e; d && (e = readdir(d));) events += !strncmp(e->d_name, "events.out.tfevents.", 20);
    if (d) closedir(d);
    CHECK_MSG(events == 1, "%d TensorBoard event files", events);
    ac_net *fin = NULL, *lat = NULL;
    snprintf(p, sizeof p, "%s/final.safetensors", o.save_dir);
    CHECK(ac_model_file_load_net(p, &(ac_model_file_opts){NULL, 0, 0}, &fin) == AC_OK);
    snprintf(p, sizeof p, "%s/latest.safetensors", o.save_dir);
    CHECK(ac_model_file_load_net(p, &(ac_model_file_opts){NULL, 0, 0}, &lat) == AC_OK);
    if (fin && lat) {
        ac_params *a = ac_net_params(fin), *b = ac_net_params(lat);
        int differ = 0;
        for (int i = 0; i < a->count; i++)
            differ += memcmp(a->items[i].tensor->data, b->items[i].tensor->data, ac_numel(a->items[i].tensor) * 4) != 0;
        CHECK(differ == 0);
    }
    ac_net_free(fin);
    ac_net_free(lat);
}

static void test_nonfinite_run(void) {
    ac_rng r;
    ac_rng_seed(&r, 40);
    ac_net_config cfg = {4, 1};
    ac_net *bad = ac_net_new(&cfg, &r);
    ac_params_get(ac_net_params(bad), "conv_output.conv2d.bias")->data[1] = NAN;
    char p_bad[160];
    path_in(p_bad, sizeof p_bad, "nan_teacher.safetensors");
    CHECK(ac_save_net(p_bad, bad, NULL) == AC_OK);
    ac_net_free(bad);
    ac_train_opts o = tiny_opts("nonfinite");
    const char *ts[2] = {p_t0, p_bad};
    o.teachers = ts;
    o.contrastive = false;
    ac_trainer *tr;
    CHECK(ac_trainer_open(&o, NULL, &tr) == AC_OK);
    ac_status st = ac_trainer_run(tr);
    ac_trainer_close(tr);
    CHECK_MSG(st == AC_ERR_NUMERIC && strstr(ac_error_message(), "epoch 1, step 1") &&
                  strstr(ac_error_message(), "non-finite loss"),
              "status %d: %s", st, ac_error_message());
    char p[200];
    snprintf(p, sizeof p, "%s/latest.safetensors", o.save_dir);
    CHECK(!ac_path_exists(p));

    // skip mode: every step's loss is non-finite, so max_skips of them in a row stop the run
    // without a state of the bad steps; the message names the step and the limit
    o = tiny_opts("nonfinite_skip");
    o.teachers = ts;
    o.contrastive = false;
    o.nonfinite = AC_NONFINITE_SKIP;
    o.max_skips = 3;
    o.epochs = 3;
    o.kc_epochs = 2;  // the NaN teacher acts in KC only
    CHECK(ac_trainer_open(&o, NULL, &tr) == AC_OK);
    st = ac_trainer_run(tr);
    ac_trainer_close(tr);
    CHECK_MSG(st == AC_ERR_NUMERIC && strstr(ac_error_message(), "epoch 2, step 1") &&
                  strstr(ac_error_message(), "non-finite loss") &&
                  strstr(ac_error_message(), "3 steps in a row were non-finite (--nonfinite skip stops after 3)"),
              "status %d: %s", st, ac_error_message());
    // epoch 1 (both steps skipped) was saved, with no Adam step taken
    snprintf(p, sizeof p, "%s/latest.safetensors", o.save_dir);
    ac_tensor_map *m = NULL;
    CHECK(ac_train_state_read(p, &m) == AC_OK);
    if (m) {
        CHECK(!strcmp(ac_tensor_map_meta(m, "epoch"), "1") && !strcmp(ac_tensor_map_meta(m, "adam_step"), "0"));
        ac_tensor_map_free(m);
    }
    // the limit reached in epoch 1: nothing was saved, and the message says so
    o = tiny_opts("nonfinite_skip0");
    o.teachers = ts;
    o.contrastive = false;
    o.nonfinite = AC_NONFINITE_SKIP;
    o.max_skips = 2;
    CHECK(ac_trainer_open(&o, NULL, &tr) == AC_OK);
    st = ac_trainer_run(tr);
    ac_trainer_close(tr);
    CHECK_MSG(st == AC_ERR_NUMERIC && strstr(ac_error_message(), "epoch 1, step 2") &&
                  strstr(ac_error_message(), "stopped, before any state was saved"),
              "status %d: %s", st, ac_error_message());
    snprintf(p, sizeof p, "%s/latest.safetensors", o.save_dir);
    CHECK(!ac_path_exists(p));
}

// ac_evaluate equals a plain loop of forward + ac_metrics_compute (the code of
// `allclear metrics`), per type and overall, in both size modes and on RGB and Y; images it
// saves measure the same through ac_evaluate_dir as through ac_metrics_compute.
static void test_eval_matches_metrics(void) {
    ac_rng r;
    ac_rng_seed(&r, 50);
    ac_net_config cfg = {4, 1};
    ac_net *net = ac_net_new(&cfg, &r);
    ac_meta_set *set;
    CHECK(ac_meta_set_open(p_valid, &set) == AC_OK);
    char out[160];
    path_in(out, sizeof out, "eval_out");
    for (int mode = 0; mode < 2; mode++)
        for (int y = 0; y < 2; y++) {
            ac_eval_opts eo = {mode ? AC_VALID_PAD : AC_VALID_RESIZE, y, 0, mode && y ? out : NULL, NULL, NULL};
            ac_eval_result res;
            CHECK(ac_evaluate(net, set, &eo, &res) == AC_OK);
            double all_p = 0, all_s = 0;
            size_t total = 0;
            for (int t = 0; t < set->count; t++) {
                double sp = 0, ss = 0;
                const ac_meta *m = set->sources[t];
                for (size_t i = 0; i < m->count; i++) {
                    ac_tensor *gt, *in;
                    CHECK(ac_image_read(m->pairs[i].gt, &gt) == AC_OK);
                    CHECK(ac_image_read(m->pairs[i].input, &in) == AC_OK);
                    int h = gt->shape[2], w = gt->shape[3];
                    ac_tensor *x, *ref;
                    if (mode) {
                        x = ac_image_pad_reflect(in, (16 - h % 16) % 16, (16 - w % 16) % 16);
                        ref = ac_tensor_clone(gt);
                    } else {
                        x = ac_image_resize(in, h / 16 * 16, w / 16 * 16);
                        ref = ac_image_resize(gt, h / 16 * 16, w / 16 * 16);
                    }
                    ac_graph *g = ac_graph_new(false);
                    ac_tensor *yy = ac_net_forward(net, g, x, NULL);
                    ac_tensor *pred = ac_image_crop(yy, 0, 0, ref->shape[2], ref->shape[3]);
                    ac_metrics mt;
                    CHECK(ac_metrics_compute(pred, ref, y, &mt) == AC_OK);
                    sp += mt.psnr;
                    ss += mt.ssim;
                    ac_graph_free(g);
                    ac_tensor_free(pred);
                    ac_tensor_free(x);
                    ac_tensor_free(ref);
                    ac_tensor_free(gt);
                    ac_tensor_free(in);
                }
                CHECK_MSG(res.count[t] == m->count && res.psnr[t] == sp / m->count && res.ssim[t] == ss / m->count,
                          "mode %d y %d type %d: eval %.17g/%.17g, by hand %.17g/%.17g", mode, y, t, res.psnr[t],
                          res.ssim[t], sp / m->count, ss / m->count);
                all_p += sp;
                all_s += ss;
                total += m->count;
            }
            CHECK(res.total == total && res.mean_psnr == all_p / total && res.mean_ssim == all_s / total);
            ac_eval_result_free(&res);
        }
    // the saved predictions, measured from their files
    ac_eval_result res;
    CHECK(ac_evaluate_dir(out, set, true, &res) == AC_OK);
    double sp = 0;
    size_t k = 0;
    for (int t = 0; t < set->count; t++)
        for (size_t i = 0; i < set->sources[t]->count; i++) {
            char *stem = ac_path_stem(set->sources[t]->pairs[i].input), p[300];
            snprintf(p, sizeof p, "%s/%s/%s.png", out, set->sources[t]->name, stem);
            free(stem);
            ac_tensor *a, *b;
            CHECK(ac_image_read(p, &a) == AC_OK);
            CHECK(ac_image_read(set->sources[t]->pairs[i].gt, &b) == AC_OK);
            ac_metrics mt;
            CHECK(ac_metrics_compute(a, b, true, &mt) == AC_OK);
            sp += mt.psnr;
            k++;
            ac_tensor_free(a);
            ac_tensor_free(b);
        }
    CHECK(res.total == k && res.mean_psnr == sp / k);
    ac_eval_result_free(&res);
    ac_meta_set_free(set);
    ac_net_free(net);
}

// VGG19 weights: the default place follows torch (TORCH_HOME, XDG_CACHE_HOME, HOME); a
// safetensors file loads; seeded random weights are reproducible.
static void test_vgg_files(void) {
    setenv("TORCH_HOME", "/th", 1);
    char *p = ac_vgg_default_path();
    CHECK(!strcmp(p, "/th/hub/checkpoints/vgg19-dcbb9e9d.pth"));
    free(p);
    unsetenv("TORCH_HOME");
    const char *xdg = getenv("XDG_CACHE_HOME");
    char *saved_xdg = xdg ? ac_xstrdup(xdg) : NULL;
    setenv("XDG_CACHE_HOME", "/xc", 1);
    p = ac_vgg_default_path();
    CHECK(!strcmp(p, "/xc/torch/hub/checkpoints/vgg19-dcbb9e9d.pth"));
    free(p);
    unsetenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char *saved_home = home ? ac_xstrdup(home) : NULL;
    setenv("HOME", "/hm", 1);
    p = ac_vgg_default_path();
    CHECK(!strcmp(p, "/hm/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth"));
    free(p);
    if (saved_home) setenv("HOME", saved_home, 1);
    if (saved_xdg) setenv("XDG_CACHE_HOME", saved_xdg, 1);
    free(saved_home);
    free(saved_xdg);

    ac_vgg19 *a = ac_vgg_random(5), *b = ac_vgg_random(5), *c = NULL;
    CHECK(!memcmp(a->w[12]->data, b->w[12]->data, ac_numel(a->w[12]) * sizeof(float)));
    ac_tensor_map *m = ac_tensor_map_new();
    ac_params_export(a->params, m, NULL);
    char path[160];
    path_in(path, sizeof path, "vgg.safetensors");
    CHECK(ac_safetensors_write(path, m) == AC_OK);
    ac_tensor_map_free(m);
    CHECK(ac_load_vgg_file(path, &c) == AC_OK);
    if (c)
        for (int i = 0; i < AC_VGG_CONVS; i++)
            CHECK(!memcmp(a->w[i]->data, c->w[i]->data, ac_numel(a->w[i]) * sizeof(float)) &&
                  !memcmp(a->b[i]->data, c->b[i]->data, ac_numel(a->b[i]) * sizeof(float)));
    ac_vgg19_free(c);
    c = NULL;
    path_in(path, sizeof path, "t0.safetensors");  // not VGG19 weights
    CHECK(ac_load_vgg_file(path, &c) == AC_ERR_SHAPE && strstr(ac_error_message(), "t0.safetensors") && !c);
    ac_vgg19_free(a);
    ac_vgg19_free(b);
}

// A resumed run keeps the log rows of the epochs it resumes after and drops later ones
// (written by a run that stopped before saving its state).
static void test_log_resume(void) {
    char dir[160];
    path_in(dir, sizeof dir, "logtest");
    CHECK(ac_mkdir_p(dir) == AC_OK);
    ac_train_log *l;
    CHECK(ac_train_log_open(dir, -1, &l) == AC_OK);
    for (int e = 1; e <= 3; e++) {
        ac_epoch_record r = {.epoch = e, .stage = "KC", .lr = 1e-4, .steps = 2, .mean = {.loss = e}};
        CHECK(ac_train_log_epoch(l, &r) == AC_OK);
    }
    ac_train_log_close(l);
    CHECK(ac_train_log_open(dir, 2, &l) == AC_OK);
    ac_epoch_record r = {.epoch = 3, .stage = "KE", .lr = 1e-4, .steps = 2, .validated = true, .psnr = 30, .ssim = 0.9};
    CHECK(ac_train_log_epoch(l, &r) == AC_OK);
    ac_train_log_close(l);
    char p[200];
    snprintf(p, sizeof p, "%s/log.csv", dir);
    char *text = read_text(p);
    int lines = 0;
    for (char *c = text; *c; c++) lines += *c == '\n';
    CHECK_MSG(lines == 4 && strstr(text, "\n1,KC,") && strstr(text, "\n2,KC,") && !strstr(text, "\n3,KC,") &&
                  strstr(text, "\n3,KE,") && strstr(text, ",30,0.90000000000000002,"),
              "log.csv:\n%s", text);
    free(text);
}

static void test_topk(void) {
    ac_topk t;
    ac_topk_init(&t, 2);
    int ev;
    char *gone;
    CHECK(ac_topk_admits(&t, 20.0, &ev) && ev == -1);
    ac_topk_insert(&t, ev, 2, 20.0, 0.5, "a", &gone);
    ac_topk_insert(&t, -1, 4, 22.0, 0.6, "b", &gone);
    CHECK(!ac_topk_admits(&t, 19.9, &ev));
    CHECK(ac_topk_admits(&t, 20.0, &ev) && ev == 0);  // equal to the worst enters
    ac_topk_insert(&t, ev, 6, 20.0, 0.7, "c", &gone);
    CHECK(gone && !strcmp(gone, "a"));
    free(gone);
    char *s = ac_topk_encode(&t);
    ac_topk u;
    ac_topk_init(&u, 2);
    CHECK(ac_topk_decode(s, &u) == AC_OK && u.count == 2 && u.items[0].psnr == 22.0 && !strcmp(u.items[1].file, "c"));
    ac_topk_clear(&u);
    ac_topk_init(&u, 1);  // a smaller --top-k keeps the best
    CHECK(ac_topk_decode(s, &u) == AC_OK && u.count == 1 && !strcmp(u.items[0].file, "b"));
    CHECK(ac_topk_decode("3,x", &u) == AC_ERR_FORMAT);
    ac_topk_clear(&u);
    free(s);
    char *name = ac_topk_filename(12, 31.23456, 0.91249);
    CHECK(!strcmp(name, "epoch_12_psnr31.235_ssim0.912.safetensors"));
    free(name);
    ac_topk_clear(&t);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ac_train_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    make_source("train", "haze", 0, 4, 36, 40, 1);
    make_source("train", "rain", 1, 4, 40, 36, 2);
    make_source("valid", "haze", 0, 1, 36, 40, 3);
    make_source("valid", "rain", 1, 2, 33, 48, 4);
    path_in(p_train, sizeof p_train, "train");
    path_in(p_valid, sizeof p_valid, "valid");
    path_in(p_t0, sizeof p_t0, "t0.safetensors");
    path_in(p_t1, sizeof p_t1, "t1.safetensors");
    save_tiny_net("t0.safetensors", 4, 31);
    save_tiny_net("t1.safetensors", 4, 32);
    // One thread: on these tiny tensors thread start-up and barriers cost more than the work
    // (tests/cli_train.sh resumes a run with the default threads).
    ac_set_threads(1);
    RUN(test_resume_bit_identical);
    RUN(test_topk);
    RUN(test_vgg_files);
    RUN(test_log_resume);
    RUN(test_refusals);
    RUN(test_teacher_run);
    RUN(test_nonfinite_run);
    RUN(test_eval_matches_metrics);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return ac_test_finish();
}
