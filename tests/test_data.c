// test_data.c: meta files (parsing, path resolution, missing-file report, writer, folders),
// the training sampler (pairing, crop/resize, flip, regrouping, epoch size, skipping,
// balanced mode, determinism across threads and resume) and the validation loader.
#include <sys/stat.h>
#include <unistd.h>

#include "data/meta.h"
#include "data/sampler.h"
#include "data/valid.h"
#include "image/image.h"
#include "testlib.h"

static char tmp[64];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

// A pair: gt with values k/255 (channel 2 marks the source: (20 + 40 t) / 255) and input =
// 1 - gt, so every crop of the input is exactly 1 - the crop of the target.
static void make_pair(const char *gt, const char *in, int h, int w, int t, ac_rng *r) {
    ac_tensor *a = ac_tensor_new4(1, 3, h, w), *b = ac_tensor_new4(1, 3, h, w);
    size_t plane = (size_t)h * w;
    for (size_t i = 0; i < plane; i++) {
        a->data[i] = (float)ac_rng_below(r, 256) / 255.0f;
        a->data[plane + i] = (float)ac_rng_below(r, 256) / 255.0f;
        a->data[2 * plane + i] = (float)(20 + 40 * t) / 255.0f;
    }
    for (size_t i = 0; i < 3 * plane; i++) b->data[i] = (float)(255 - (int)(a->data[i] * 255.0f + 0.5f)) / 255.0f;
    CHECK(ac_image_write_png(gt, a, 8) == AC_OK);
    CHECK(ac_image_write_png(in, b, 8) == AC_OK);
    ac_tensor_free(a);
    ac_tensor_free(b);
}

// Source t with n pairs; sizes alternate between h x w and a small one (smaller than crop).
static void make_source(int t, int n, int h, int w, int small) {
    ac_rng r;
    ac_rng_seed(&r, 100 + t);
    char meta[128];
    snprintf(meta, sizeof meta, "%s/type%d.json", tmp, t);
    ac_pair *pairs = ac_xcalloc((size_t)n, sizeof *pairs);
    for (int i = 0; i < n; i++) {
        char gt[128], in[128];
        snprintf(gt, sizeof gt, "%s/t%d_%d_gt.png", tmp, t, i);
        snprintf(in, sizeof in, "%s/t%d_%d_in.png", tmp, t, i);
        bool sm = small && i % 3 == 2;
        make_pair(gt, in, sm ? small : h, sm ? small + 3 : w, t, &r);
        pairs[i].gt = ac_xstrdup(gt + strlen(tmp) + 1);  // relative to the meta file's folder
        pairs[i].input = ac_xstrdup(in + strlen(tmp) + 1);
    }
    CHECK(ac_meta_write(meta, pairs, (size_t)n) == AC_OK);
    for (int i = 0; i < n; i++) {
        free(pairs[i].gt);
        free(pairs[i].input);
    }
    free(pairs);
}

static void test_meta_parse_and_errors(void) {
    char p[160], text[600];
    ac_meta *m = NULL;
    snprintf(p, sizeof p, "%s/bad.json", tmp);
    write_text(p, "[[\"a.png\", ");
    CHECK(ac_meta_read(p, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "invalid JSON") && strstr(ac_error_message(), p));
    write_text(p, "{\"a\": 1}");
    CHECK(ac_meta_read(p, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "array"));
    write_text(p, "[]");
    CHECK(ac_meta_read(p, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "empty"));
    write_text(p, "[[\"t0_0_gt.png\", \"t0_0_in.png\"], [\"only_one.png\"]]");
    CHECK(ac_meta_read(p, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "entry 1"));
    write_text(p, "[[\"t0_0_gt.png\", 5]]");
    CHECK(ac_meta_read(p, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "entry 0"));
    // missing files: all checked, first three shown with their index, and the count
    snprintf(text, sizeof text,
             "[[\"t0_0_gt.png\", \"gone1.png\"], [\"gone2.png\", \"gone3.png\"], [\"t0_0_gt.png\", \"t0_0_in.png\"],"
             " [\"gone4.png\", \"t0_0_in.png\"]]");
    write_text(p, text);
    CHECK(ac_meta_read(p, &m) == AC_ERR_IO);
    const char *e = ac_error_message();
    CHECK_MSG(strstr(e, p) == e && strstr(e, "4 listed images are not found") && strstr(e, "[0] 'gone1.png'") &&
                  strstr(e, "[1] 'gone3.png'") && strstr(e, ", ...") && !strstr(e, "gone4"),
              "message: %s", e);
    CHECK(m == NULL);
    // resolution: relative to the meta file's folder, or to the current folder, or absolute
    char abs_gt[160];
    snprintf(abs_gt, sizeof abs_gt, "%s/t0_1_gt.png", tmp);
    snprintf(text, sizeof text, "[[\"t0_0_gt.png\", \"%s\"], [\"tests/golden/image/rgb8.png\", \"t0_0_in.png\"]]", abs_gt);
    write_text(p, text);
    CHECK(ac_meta_read(p, &m) == AC_OK);
    if (m) {
        CHECK(m->count == 2 && !strcmp(m->name, "bad"));
        char want[160];
        snprintf(want, sizeof want, "%s/t0_0_gt.png", tmp);
        CHECK(!strcmp(m->pairs[0].gt, want));
        CHECK(!strcmp(m->pairs[0].input, abs_gt));
        CHECK(!strcmp(m->pairs[1].gt, "tests/golden/image/rgb8.png"));
    }
    ac_meta_free(m);
    // The same from memory (the entry point fuzz/fuzz_meta.c drives): the text need not end
    // in NUL, paths resolve against the named file's folder, errors name it.
    snprintf(text, sizeof text, "[[\"t0_0_gt.png\", \"t0_0_in.png\"]]garbage");
    CHECK(ac_meta_parse_mem((const unsigned char *)text, strlen(text) - 7, p, &m) == AC_OK && m && m->count == 1 &&
          !strcmp(m->name, "bad") && strstr(m->pairs[0].input, tmp) == m->pairs[0].input);
    ac_meta_free(m);
    CHECK(ac_meta_parse_mem((const unsigned char *)text, strlen(text), "mem.json", &m) == AC_ERR_FORMAT && !m &&
          strstr(ac_error_message(), "mem.json: invalid JSON"));
    static const char *bad[] = {"", "[", "[[]]", "[[\"\", \"x\"]]", "[[\"a\", \"b\", \"c\"]]", "[{\"a\": \"b\"}]",
                                "[[\"a\", null]]", "[[[\"a\"], \"b\"]]", "[[1e999, \"b\"]]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(ac_meta_parse_mem((const unsigned char *)bad[i], strlen(bad[i]), "mem.json", &m) == AC_ERR_FORMAT && !m,
                  "accepted '%s'", bad[i]);
    }
}

static void test_meta_set_folder(void) {
    ac_meta_set *s = NULL;
    char dir[128], p[160];
    snprintf(dir, sizeof dir, "%s/set", tmp);
    CHECK(ac_mkdir_p(dir) == AC_OK);
    CHECK(ac_meta_set_open(dir, &s) == AC_ERR_IO && strstr(ac_error_message(), "no meta files"));
    const char *names[] = {"snow", "haze", "rain"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s.json", dir, names[i]);
        char text[400];
        snprintf(text, sizeof text, "[[\"%s/t0_0_gt.png\", \"%s/t0_0_in.png\"]%s]", tmp, tmp,
                 i == 1 ? ", [\"../t0_1_gt.png\", \"../t0_1_in.png\"]" : "");
        write_text(p, text);
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    write_text(p, "ignored");
    CHECK(ac_meta_set_open(dir, &s) == AC_OK);
    if (s) {
        CHECK(s->count == 3);
        CHECK(!strcmp(s->sources[0]->name, "haze") && !strcmp(s->sources[1]->name, "rain") &&
              !strcmp(s->sources[2]->name, "snow"));
        CHECK(s->sources[0]->count == 2);
    }
    ac_meta_set_free(s);
    snprintf(p, sizeof p, "%s/rain.json", dir);
    CHECK(ac_meta_set_open(p, &s) == AC_OK && s->count == 1);
    ac_meta_set_free(s);
}

static ac_meta_set *open_sources_from(int first, int n) {
    ac_meta_set *s = ac_xcalloc(1, sizeof *s);
    s->sources = ac_xcalloc((size_t)n, sizeof *s->sources);
    for (int t = 0; t < n; t++) {
        char p[128];
        snprintf(p, sizeof p, "%s/type%d.json", tmp, first + t);
        CHECK(ac_meta_read(p, &s->sources[t]) == AC_OK);
        s->count = t + 1;
    }
    return s;
}

static ac_meta_set *open_sources(int n) { return open_sources_from(0, n); }

// Where (and whether mirrored) the crop `c` (3 x k x k at batch position) sits in `img`.
static bool find_crop(const ac_tensor *img, const float *c, int k, bool *flipped) {
    int h = img->shape[2], w = img->shape[3];
    size_t plane = (size_t)h * w;
    for (int f = 0; f < 2; f++)
        for (int y = 0; y + k <= h; y++)
            for (int x = 0; x + k <= w; x++) {
                bool ok = true;
                for (int ch = 0; ch < 2 && ok; ch++)
                    for (int i = 0; i < k && ok; i++)
                        for (int j = 0; j < k && ok; j++) {
                            int xx = f ? x + k - 1 - j : x + j;
                            ok = img->data[ch * plane + (size_t)(y + i) * w + xx] == c[(ch * k + i) * k + j];
                        }
                if (ok) {
                    *flipped = f;
                    return true;
                }
            }
    return false;
}

static void test_sampler_batches(void) {
    ac_meta_set *data = open_sources(2);
    ac_sampler_opts o = ac_sampler_defaults();
    o.batch_size = 4;
    o.crop = 16;
    o.seed = 5;
    o.threads = 2;
    ac_sampler *s = NULL;
    CHECK(ac_sampler_open(data, &o, &s) == AC_OK);
    if (!s) return;
    CHECK(ac_sampler_batches_per_epoch(s) == 9 / 4);  // sources of 12 and 9 pairs
    int kept = 0, flips = 0, found = 0, resized = 0, samples = 0, type_hist[2] = {0, 0};
    for (int epoch = 1; epoch <= 6; epoch++) {
        ac_sampler_begin_epoch(s, epoch);
        ac_batch *b;
        int got = 0;
        while (ac_sampler_next(s, &b) == AC_OK && b) {
            got++;
            kept++;
            CHECK(b->epoch == epoch && b->input->shape[0] == 4 && b->input->shape[2] == 16 && b->input->shape[3] == 16);
            int counts[2] = {0, 0};
            for (int j = 0; j < 4; j++) {
                CHECK(j == 0 || b->types[j] >= b->types[j - 1]);
                counts[b->types[j]]++;
                type_hist[b->types[j]]++;
                const float *tg = b->target->data + (size_t)j * 3 * 256, *in = b->input->data + (size_t)j * 3 * 256;
                // input and target come from the same pair, same window, same flip
                bool paired = true;
                for (int i = 0; i < 3 * 256; i++) paired &= fabsf(in[i] - (1.0f - tg[i])) < 2e-6f;
                CHECK(paired);
                // the source marker in channel 2 matches the type
                CHECK(fabsf(tg[2 * 256 + 17] - (float)(20 + 40 * b->types[j]) / 255.0f) < 1e-6f);
                // the window is a crop (maybe mirrored) of some pair's target, or a resize of a small one
                bool hit = false, fl = false;
                for (size_t p = 0; p < data->sources[b->types[j]]->count && !hit; p++) {
                    ac_tensor *img = NULL;
                    CHECK(ac_image_read(data->sources[b->types[j]]->pairs[p].gt, &img) == AC_OK);
                    if (img->shape[2] >= 16) hit = find_crop(img, tg, 16, &fl);
                    ac_tensor_free(img);
                }
                found += hit;
                flips += hit && fl;
                resized += !hit;
                samples++;
            }
            CHECK(counts[0] > 0 && counts[1] > 0);
            CHECK(counts[0] == b->type_counts[0] && counts[1] == b->type_counts[1]);
            ac_batch_free(b);
        }
        CHECK(got + ac_sampler_skipped(s) == 2);
    }
    CHECK_MSG(kept >= 3, "only %d of 12 batches kept", kept);
    CHECK_MSG(flips > found / 5 && flips < found * 4 / 5, "%d flips in %d crops", flips, found);
    CHECK_MSG(resized > 0 && found > 0, "resized %d, cropped %d", resized, found);
    CHECK(type_hist[0] > 0 && type_hist[1] > 0 && samples == kept * 4);
    ac_sampler_close(s);
    ac_meta_set_free(data);
}

static bool same_batch(const ac_batch *a, const ac_batch *b) {
    if (!a || !b) return a == b;
    size_t n = ac_numel(a->input);
    return a->index == b->index && a->epoch == b->epoch && !memcmp(a->types, b->types, sizeof(int) * a->input->shape[0]) &&
           !memcmp(a->input->data, b->input->data, n * sizeof(float)) &&
           !memcmp(a->target->data, b->target->data, n * sizeof(float));
}

static void test_sampler_determinism(void) {
    ac_meta_set *data = open_sources(2);
    ac_sampler_opts o = ac_sampler_defaults();
    o.batch_size = 3;
    o.crop = 16;
    o.seed = 77;
    ac_sampler *s[3];
    int threads[3] = {0, 1, 3};
    for (int k = 0; k < 3; k++) {
        o.threads = threads[k];
        CHECK(ac_sampler_open(data, &o, &s[k]) == AC_OK);
    }
    bool same = true;
    int n = 0;
    for (int epoch = 1; epoch <= 3; epoch++) {
        for (int k = 0; k < 3; k++) ac_sampler_begin_epoch(s[k], epoch);
        for (;;) {
            ac_batch *b[3];
            for (int k = 0; k < 3; k++) CHECK(ac_sampler_next(s[k], &b[k]) == AC_OK);
            same &= same_batch(b[0], b[1]) && same_batch(b[0], b[2]);
            bool end = !b[0];
            for (int k = 0; k < 3; k++) ac_batch_free(b[k]);
            if (end) break;
            n++;
        }
    }
    CHECK_MSG(same && n > 0, "batches differ between 0, 1 and 3 threads (%d compared)", n);
    // resume: a fresh sampler starting at epoch 3 gives epoch 3's batches
    ac_sampler *fresh;
    o.threads = 2;
    CHECK(ac_sampler_open(data, &o, &fresh) == AC_OK);
    ac_sampler_begin_epoch(fresh, 3);
    ac_sampler_begin_epoch(s[0], 3);
    for (int i = 0; i < 3; i++) {
        ac_batch *a, *b;
        CHECK(ac_sampler_next(fresh, &a) == AC_OK && ac_sampler_next(s[0], &b) == AC_OK);
        CHECK(same_batch(a, b));
        ac_batch_free(a);
        ac_batch_free(b);
    }
    // another seed or epoch: another plan
    int t1[3], t2[3];
    size_t p1[3], p2[3];
    ac_sampler_plan(s[0], 1, 0, t1, p1);
    ac_sampler_plan(s[0], 2, 0, t2, p2);
    bool differ = memcmp(t1, t2, sizeof t1) || memcmp(p1, p2, sizeof p1);
    ac_sampler_plan(s[0], 1, 1, t2, p2);
    differ &= memcmp(t1, t2, sizeof t1) || memcmp(p1, p2, sizeof p1);
    CHECK(differ);
    ac_sampler_close(fresh);
    for (int k = 0; k < 3; k++) ac_sampler_close(s[k]);
    ac_meta_set_free(data);
}

static void test_sampler_skip_and_balanced(void) {
    ac_meta_set *data = open_sources(3);
    ac_sampler_opts o = ac_sampler_defaults();
    o.batch_size = 2;  // 3 types never fit in 2 samples: every batch is skipped
    o.crop = 16;
    o.threads = 1;
    ac_sampler *s;
    CHECK(ac_sampler_open(data, &o, &s) == AC_OK);
    ac_sampler_begin_epoch(s, 1);
    ac_batch *b = (ac_batch *)1;
    CHECK(ac_sampler_next(s, &b) == AC_OK && b == NULL);
    CHECK(ac_sampler_skipped(s) == ac_sampler_batches_per_epoch(s) && ac_sampler_skipped(s) == 3);
    ac_sampler_close(s);
    o.balanced = true;
    CHECK(ac_sampler_open(data, &o, &s) == AC_ERR_ARG && strstr(ac_error_message(), "balanced"));
    o.batch_size = 5;
    CHECK(ac_sampler_open(data, &o, &s) == AC_OK);
    int kept = 0;
    for (int epoch = 1; epoch <= 4; epoch++) {
        ac_sampler_begin_epoch(s, epoch);
        while (ac_sampler_next(s, &b) == AC_OK && b) {
            kept++;
            for (int t = 0; t < 3; t++) CHECK(b->type_counts[t] >= 1);
            ac_batch_free(b);
        }
        CHECK(ac_sampler_skipped(s) == 0);
    }
    CHECK(kept == 4 * ac_sampler_batches_per_epoch(s));
    ac_sampler_close(s);
    o.batch_size = 100;
    CHECK(ac_sampler_open(data, &o, &s) == AC_ERR_ARG && strstr(ac_error_message(), "fewer than one batch"));
    ac_meta_set_free(data);
}

static void test_sampler_bad_pair(void) {
    char meta[128], text[400];
    snprintf(meta, sizeof meta, "%s/mismatch.json", tmp);
    snprintf(text, sizeof text, "[[\"t0_0_gt.png\", \"t0_2_in.png\"], [\"t0_0_gt.png\", \"t0_2_in.png\"]]");
    write_text(meta, text);
    ac_meta_set *data;
    CHECK(ac_meta_set_open(meta, &data) == AC_OK);
    ac_sampler_opts o = ac_sampler_defaults();
    o.batch_size = 2;
    o.crop = 8;
    o.threads = 2;
    ac_sampler *s;
    CHECK(ac_sampler_open(data, &o, &s) == AC_OK);
    ac_batch *b = NULL;
    CHECK(ac_sampler_next(s, &b) == AC_ERR_SHAPE && b == NULL);
    CHECK_MSG(strstr(ac_error_message(), meta) && strstr(ac_error_message(), "differ in size"), "%s", ac_error_message());
    ac_sampler_close(s);
    ac_meta_set_free(data);
    // a corrupt image is reported with its name
    snprintf(text, sizeof text, "[[\"%s/tests/golden/image/truncated.png\", \"t0_0_in.png\"]]", getcwd((char[256]){0}, 256));
    write_text(meta, text);
    CHECK(ac_meta_set_open(meta, &data) == AC_OK);
    o.batch_size = 1;
    CHECK(ac_sampler_open(data, &o, &s) == AC_OK);
    CHECK(ac_sampler_next(s, &b) == AC_ERR_FORMAT && strstr(ac_error_message(), "truncated.png"));
    ac_sampler_close(s);
    ac_meta_set_free(data);
}

static void test_valid_loader(void) {
    ac_meta_set *data = open_sources_from(1, 2);  // type1: 9 pairs 18x21, type2: 6 pairs 17x17
    ac_valid_mode modes[3] = {AC_VALID_RESIZE, AC_VALID_PAD, AC_VALID_NONE};
    for (int mi = 0; mi < 3; mi++) {
        ac_valid_loader *l, *l0;
        CHECK(ac_valid_open(data, modes[mi], 2, &l) == AC_OK);
        CHECK(ac_valid_open(data, modes[mi], 0, &l0) == AC_OK);
        CHECK(ac_valid_count(l) == 15);
        size_t n = 0;
        ac_valid_item *it, *it0;
        while (ac_valid_next(l, &it) == AC_OK && it) {
            CHECK(ac_valid_next(l0, &it0) == AC_OK && it0);
            CHECK(it->index == n && it->type == (n < 9 ? 0 : 1) && it->pair == (n < 9 ? n : n - 9));
            CHECK(!strcmp(it->type_name, n < 9 ? "type1" : "type2"));
            int h = it->orig_h, w = it->orig_w;
            int ih = it->input->shape[2], iw = it->input->shape[3], th = it->target->shape[2], tw = it->target->shape[3];
            if (modes[mi] == AC_VALID_RESIZE) {
                CHECK(ih == h / 16 * 16 && iw == w / 16 * 16 && th == ih && tw == iw);
                ac_tensor *gt = NULL;
                CHECK(ac_image_read(it->gt_path, &gt) == AC_OK);
                ac_tensor *want = ac_image_resize(gt, ih, iw);
                t_close("resized target", it->target->data, want->data, ac_numel(want), 0, 0);
                ac_tensor_free(want);
                ac_tensor_free(gt);
            } else if (modes[mi] == AC_VALID_PAD) {
                CHECK(ih % 16 == 0 && iw % 16 == 0 && ih - h < 16 && iw - w < 16 && th == h && tw == w);
                // the top-left of the padded input is the input
                CHECK(fabsf(it->input->data[(size_t)(h - 1) * iw + w - 1] - (1.0f - it->target->data[(size_t)(h - 1) * w + w - 1])) < 2e-6f);
            } else {
                CHECK(ih == h && iw == w && th == h && tw == w);
            }
            CHECK(ac_numel(it->input) == ac_numel(it0->input) &&
                  !memcmp(it->input->data, it0->input->data, ac_numel(it->input) * sizeof(float)));
            ac_valid_item_free(it);
            ac_valid_item_free(it0);
            n++;
        }
        CHECK(n == 15);
        ac_valid_rewind(l);
        CHECK(ac_valid_next(l, &it) == AC_OK && it && it->index == 0);
        ac_valid_item_free(it);
        ac_valid_close(l);
        ac_valid_close(l0);
    }
    ac_meta_set_free(data);
    // images under 16 pixels cannot be resized to a multiple of 16
    data = open_sources(1);
    ac_valid_loader *l;
    CHECK(ac_valid_open(data, AC_VALID_RESIZE, 1, &l) == AC_OK);
    ac_valid_item *it = NULL;
    ac_status st;
    while ((st = ac_valid_next(l, &it)) == AC_OK && it) ac_valid_item_free(it);
    CHECK(st == AC_ERR_SHAPE && strstr(ac_error_message(), "too small"));
    ac_valid_close(l);
    ac_meta_set_free(data);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ac_test_data_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    make_source(0, 12, 30, 40, 12);
    make_source(1, 9, 18, 21, 0);
    make_source(2, 6, 17, 17, 0);
    RUN(test_meta_parse_and_errors);
    RUN(test_meta_set_folder);
    RUN(test_sampler_batches);
    RUN(test_sampler_determinism);
    RUN(test_sampler_skip_and_balanced);
    RUN(test_sampler_bad_pair);
    RUN(test_valid_loader);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return ac_test_finish();
}
