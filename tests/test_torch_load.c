// test_torch_load.c: PyTorch checkpoint loading (zip and legacy formats) against the
// fixtures of tools/golden/gen_checkpoints.py, and hostile input: pickles that would run
// os.system/eval/Popen (must not: a marker file must not appear), truncated and corrupted
// files, impossible tensor views, absurd sizes. Every failure must be a non-OK status with a
// one-line message, never a crash (the sanitizer build runs this too). The pickle machine's
// own tests are in test_pickle.c.
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/torch_load.h"
#include "testlib.h"

#define GOLDEN "tests/golden/ckpt/"

static char tmpdir[64];
static ac_tensor_map *expected;

// ---------------------------------------------------------------------------------------
// Small helpers

static char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    AC_ASSERT(f);
    if (len) AC_ASSERT(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

// Checks that `m` holds exactly the expected tensors "<prefix>/<name>", bit for bit, in order.
static void check_against_expected(const char *what, const ac_tensor_map *m, const char *prefix) {
    size_t plen = strlen(prefix);
    int n = 0;
    for (int i = 0; i < expected->count; i++) {
        const char *full = expected->items[i].name;
        if (strncmp(full, prefix, plen) || full[plen] != '/') continue;
        const char *name = full + plen + 1;
        const ac_tensor *want = expected->items[i].tensor;
        CHECK_MSG(n < m->count && !strcmp(m->items[n].name, name), "%s: entry %d is '%s', expected '%s'",
                  what, n, n < m->count ? m->items[n].name : "(none)", name);
        n++;
        const ac_tensor *got = ac_tensor_map_get(m, name);
        CHECK_MSG(got != NULL, "%s: tensor '%s' missing", what, name);
        if (!got) continue;
        char a[64], b[64];
        CHECK_MSG(ac_same_shape(got, want), "%s: '%s' has shape %s, expected %s", what, name,
                  ac_shape_str(got, a, sizeof a), ac_shape_str(want, b, sizeof b));
        if (!ac_same_shape(got, want)) continue;
        size_t k = 0, nel = ac_numel(want);  // bit-exact: conversions to float32 are exact
        while (k < nel && !memcmp(&got->data[k], &want->data[k], sizeof(float))) k++;
        CHECK_MSG(k == nel, "%s: '%s' differs first at [%zu]: got %.9g want %.9g", what, name, k,
                  k < nel ? (double)got->data[k] : 0.0, k < nel ? (double)want->data[k] : 0.0);
    }
    CHECK_MSG(n > 0 && m->count == n, "%s: %d tensors loaded, %d expected", what, m->count, n);
}

static void load_and_check(const char *file, const char *entry, const char *prefix) {
    ac_tensor_map *m = NULL;
    ac_status st = ac_torch_load(file, entry, &m);
    CHECK_MSG(st == AC_OK, "%s: %s", file, ac_error_message());
    if (m) check_against_expected(file, m, prefix);
    ac_tensor_map_free(m);
}

// Expects failure with a message containing `needle` (when not NULL).
static void load_fails(const char *file, const char *entry, const char *needle) {
    ac_tensor_map *m = NULL;
    ac_status st = ac_torch_load(file, entry, &m);
    CHECK_MSG(st != AC_OK && m == NULL, "%s: loading should fail", file);
    const char *msg = ac_error_message();
    if (needle) CHECK_MSG(strstr(msg, needle) != NULL, "%s: message '%s' lacks '%s'", file, msg, needle);
    CHECK(strchr(msg, '\n') == NULL);
    ac_tensor_map_free(m);
}

// ---------------------------------------------------------------------------------------
// Fixtures written by PyTorch

static void test_plain_state_dict(void) {
    load_and_check(GOLDEN "plain.pth", NULL, "plain");
    load_and_check(GOLDEN "plain_legacy.pth", NULL, "plain");
    load_and_check(GOLDEN "plain.pth", NULL, "plain");
    // int64 num_batches_tracked is converted (5 -> 5.0f).
    ac_tensor_map *m = NULL;
    CHECK(ac_torch_load(GOLDEN "plain_legacy.pth", NULL, &m) == AC_OK);
    ac_tensor *nbt = m ? ac_tensor_map_get(m, "bn.num_batches_tracked") : NULL;
    CHECK(nbt && nbt->ndim == 0 && nbt->data[0] == 5.0f);
    ac_tensor_map_free(m);
}

static void test_training_checkpoint(void) {
    const char *files[] = {GOLDEN "latest_model", GOLDEN "train_legacy.tar"};
    for (int i = 0; i < 2; i++) {
        load_and_check(files[i], NULL, "train/state_dict");          // auto: 'state_dict'
        load_and_check(files[i], "state_dict", "train/state_dict");
        load_and_check(files[i], "ckt_module", "train/ckt_module");
        load_fails(files[i], "nope", "no entry 'nope'");
        load_fails(files[i], "nope", "'ckt_module'");                // lists the keys present
        load_fails(files[i], "epoch", "holds int 7");
        load_fails(files[i], "optimizer", "holds no tensors");
        load_fails(files[i], "scheduler", "warmup_scheduler.scheduler.GradualWarmupScheduler");
    }
}

static void test_dtypes(void) {
    load_and_check(GOLDEN "dtypes.pth", NULL, "dtypes");
    load_and_check(GOLDEN "dtypes_legacy.pth", NULL, "dtypes");
}

static void test_views_and_shared_storage(void) {
    load_and_check(GOLDEN "views.pth", NULL, "views");
    load_and_check(GOLDEN "views_legacy.pth", NULL, "views");
    // Independent of the expected file: t is base transposed, slice starts at offset 8.
    ac_tensor_map *m = NULL;
    CHECK(ac_torch_load(GOLDEN "views.pth", NULL, &m) == AC_OK);
    if (!m) return;
    ac_tensor *t = ac_tensor_map_get(m, "t"), *s = ac_tensor_map_get(m, "slice");
    CHECK(t && t->ndim == 2 && t->shape[0] == 6 && t->shape[1] == 4);
    if (t) CHECK(t->data[1] == (6 * 0.5f - 3) && t->data[4] == (1 * 0.5f - 3));
    if (s) CHECK(s->data[0] == (8 * 0.5f - 3) && s->data[3] == (14 * 0.5f - 3));
    ac_tensor_map_free(m);
}

static void test_protocols_and_names(void) {
    load_and_check(GOLDEN "proto4.pth", NULL, "proto");
    load_and_check(GOLDEN "proto1_legacy.pth", NULL, "proto");
    load_and_check(GOLDEN "epoch_10_psnr30.123_ssim0.912", NULL, "dotted");
    load_fails(GOLDEN "whole_module.pth", NULL, "object torch.nn.modules.container.Sequential");
    load_fails(GOLDEN "no_such_file.pth", NULL, "cannot open");
    static unsigned char tar[1024];
    memcpy(tar, "model/", 6);
    memcpy(tar + 257, "ustar", 5);
    spit(tmp_path("old.tar"), tar, sizeof tar);
    load_fails(tmp_path("old.tar"), NULL, "before 0.1.10");
    spit(tmp_path("old.tar"), "", 0);
    load_fails(tmp_path("old.tar"), NULL, "empty");
}

static void test_describe(void) {
    char *text = NULL;
    CHECK(ac_torch_describe(GOLDEN "latest_model", &text) == AC_OK);
    if (!text) return;
    CHECK_MSG(strstr(text, "scheduler: object warmup_scheduler.scheduler.GradualWarmupScheduler") &&
              strstr(text, "state_dict: dict (") && strstr(text, "epoch: int 7") &&
              strstr(text, "best_psnr: object numpy"), "describe:\n%s", text);
    free(text);
}

// ---------------------------------------------------------------------------------------
// Building pickles and files by hand

typedef struct pb {
    unsigned char *b;
    size_t n, cap;
} pb;

static void pb_bytes(pb *p, const void *d, size_t n) {
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
    }
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void pb_op(pb *p, unsigned char c) { pb_bytes(p, &c, 1); }
static void pb_u32(pb *p, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    pb_bytes(p, b, 4);
}
static void pb_str(pb *p, const char *s) {
    pb_op(p, 'X');
    pb_u32(p, (uint32_t)strlen(s));
    pb_bytes(p, s, strlen(s));
}
static void pb_global(pb *p, const char *mod, const char *name) {
    pb_op(p, 'c');
    pb_bytes(p, mod, strlen(mod));
    pb_op(p, '\n');
    pb_bytes(p, name, strlen(name));
    pb_op(p, '\n');
}
static void pb_int(pb *p, int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
        pb_op(p, 'J');
        pb_u32(p, (uint32_t)(int32_t)v);
    } else {
        pb_op(p, 0x8a);
        pb_op(p, 8);
        for (int i = 0; i < 8; i++) pb_op(p, (unsigned char)((uint64_t)v >> (8 * i)));
    }
}
static void pb_ints(pb *p, const int64_t *v, int n) {
    pb_op(p, '(');
    for (int i = 0; i < n; i++) pb_int(p, v[i]);
    pb_op(p, 't');
}
// A tensor: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()).
static void pb_tensor(pb *p, bool legacy, const char *stype, const char *key, int64_t numel,
                      int64_t offset, const int64_t *size, const int64_t *stride, int nd) {
    pb_global(p, "torch._utils", "_rebuild_tensor_v2");
    pb_op(p, '(');
    pb_op(p, '(');
    pb_str(p, "storage");
    pb_global(p, "torch", stype);
    pb_str(p, key);
    pb_str(p, "cpu");
    pb_int(p, numel);
    if (legacy) pb_op(p, 'N');
    pb_op(p, 't');
    pb_op(p, 'Q');
    pb_int(p, offset);
    pb_ints(p, size, nd);
    pb_ints(p, stride, nd);
    pb_op(p, 0x89);
    pb_global(p, "collections", "OrderedDict");
    pb_op(p, ')');
    pb_op(p, 'R');
    pb_op(p, 't');
    pb_op(p, 'R');
}
// The code-execution payloads. Each would create `marker` if a real unpickler ran it.
static void pb_payload(pb *p, int kind, const char *marker) {
    char cmd[300];
    switch (kind) {
    case 0: case 1: case 2:  // os.system / posix.system / nt.system
        snprintf(cmd, sizeof cmd, "touch %s", marker);
        pb_global(p, kind == 0 ? "os" : kind == 1 ? "posix" : "nt", "system");
        pb_op(p, '(');
        pb_str(p, cmd);
        pb_op(p, 't');
        pb_op(p, 'R');
        break;
    case 3: case 4:  // builtins.eval / builtins.exec
        snprintf(cmd, sizeof cmd, "open('%s', 'w').close()", marker);
        pb_global(p, kind == 3 ? "builtins" : "__builtin__", kind == 3 ? "eval" : "exec");
        pb_op(p, '(');
        pb_str(p, cmd);
        pb_op(p, 't');
        pb_op(p, 'R');
        break;
    case 5:  // subprocess.Popen(['touch', marker]) through NEWOBJ and BUILD as well
        pb_global(p, "subprocess", "Popen");
        pb_op(p, '(');
        pb_op(p, ']');
        pb_op(p, '(');
        pb_str(p, "touch");
        pb_str(p, marker);
        pb_op(p, 'e');
        pb_op(p, 't');
        pb_op(p, 'R');
        pb_op(p, '}');
        pb_str(p, "__setstate__");
        pb_global(p, "os", "system");
        pb_op(p, 's');
        pb_op(p, 'b');
        break;
    default:  // os.system through protocol 4 opcodes (STACK_GLOBAL, MEMOIZE), and NEWOBJ
        snprintf(cmd, sizeof cmd, "touch %s", marker);
        pb_str(p, "os");
        pb_str(p, "system");
        pb_op(p, 0x93);
        pb_op(p, 0x94);
        pb_op(p, '(');
        pb_str(p, cmd);
        pb_op(p, 't');
        pb_op(p, 0x94);
        pb_op(p, 'R');
        pb_op(p, '0');
        pb_op(p, 'h');  // BINGET of the memoised global and arguments: os.system.__new__
        pb_op(p, 0);
        pb_op(p, 'h');
        pb_op(p, 1);
        pb_op(p, 0x81);
        break;
    }
}
#define N_PAYLOADS 7

static void pb_proto(pb *p) {
    pb_op(p, 0x80);
    pb_op(p, 2);
}
static void pb_begin(pb *p) {
    p->n = 0;
    pb_proto(p);
}

// Writes a legacy-format file: magic, protocol, sys info, `obj` (a complete pickle), the
// key list, then records of `count[i]` elements with bytes `data[i]`.
static void write_legacy(const char *path, const pb *obj, int nkeys, const char *const *keys,
                         const uint64_t *count, const void *const *data, const size_t *bytes) {
    static const unsigned char magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20,
                                          0x6a, 0xa8, 0x50, 0x19, '.', 0x80, 0x02, 'M', 0xe9, 0x03, '.'};
    pb f = {0};
    pb_bytes(&f, magic, sizeof magic);
    pb_proto(&f);
    pb_op(&f, '}');
    pb_str(&f, "little_endian");
    pb_op(&f, 0x88);
    pb_op(&f, 's');
    pb_op(&f, '.');
    pb_bytes(&f, obj->b, obj->n);
    pb_proto(&f);
    pb_op(&f, '(');
    for (int i = 0; i < nkeys; i++) pb_str(&f, keys[i]);
    pb_op(&f, 'l');
    pb_op(&f, '.');
    for (int i = 0; i < nkeys; i++) {
        for (int b = 0; b < 8; b++) pb_op(&f, (unsigned char)(count[i] >> (8 * b)));
        pb_bytes(&f, data[i], bytes[i]);
    }
    spit(path, f.b, f.n);
    free(f.b);
}

// Writes a zip-format file: <dir>/data.pkl = pkl, <dir>/data/<key i> = data[i].
static void write_zip(const char *path, const char *dir, const void *pkl, size_t pkl_len, int nkeys,
                      const char *const *keys, const void *const *data, const size_t *bytes) {
    int err;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    AC_ASSERT(za);
    char name[256];
    snprintf(name, sizeof name, "%s/data.pkl", dir);
    zip_source_t *src = zip_source_buffer(za, pkl, pkl_len, 0);
    zip_int64_t idx = zip_file_add(za, name, src, ZIP_FL_OVERWRITE);
    AC_ASSERT(idx >= 0);
    zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    for (int i = 0; i < nkeys; i++) {
        snprintf(name, sizeof name, "%s/data/%s", dir, keys[i]);
        src = zip_source_buffer(za, data[i], bytes[i], 0);
        idx = zip_file_add(za, name, src, ZIP_FL_OVERWRITE);
        AC_ASSERT(idx >= 0);
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    AC_ASSERT(zip_close(za) == 0);
}

static const float w4[4] = {1.5f, -2.0f, 0.25f, 8.0f};

// {'state_dict': OrderedDict([('w', tensor(2, 2))]), 'evil': payload} (or payload alone).
static void pb_checkpoint_with_payload(pb *p, bool legacy, int kind, const char *marker, bool top_payload) {
    pb_begin(p);
    if (top_payload) {
        pb_payload(p, kind, marker);
        pb_op(p, '.');
        return;
    }
    pb_op(p, '}');
    pb_op(p, '(');
    pb_str(p, "evil");
    pb_payload(p, kind, marker);
    pb_str(p, "state_dict");
    pb_global(p, "collections", "OrderedDict");
    pb_op(p, ')');
    pb_op(p, 'R');
    pb_str(p, "w");
    int64_t size[2] = {2, 2}, stride[2] = {2, 1};
    pb_tensor(p, legacy, "FloatStorage", "0", 4, 0, size, stride, 2);
    pb_op(p, 's');
    pb_payload(p, kind, marker);  // a placeholder used as a key of the state dict
    pb_op(p, 0x88);
    pb_op(p, 's');
    pb_payload(p, kind, marker);  // and as a key of the top dict
    pb_op(p, 0x88);
    pb_op(p, 's');
    pb_op(p, 'u');
    pb_op(p, '.');
}

static void check_w(const char *what, const ac_tensor_map *m) {
    const ac_tensor *w = m ? ac_tensor_map_get(m, "w") : NULL;
    CHECK_MSG(w && m->count == 1 && w->ndim == 2 && !memcmp(w->data, w4, sizeof w4), "%s: tensor w", what);
}

// ---------------------------------------------------------------------------------------
// Security: nothing in a pickle ever runs

static void test_payloads_never_run(void) {
    char marker[256];
    snprintf(marker, sizeof marker, "%s", tmp_path("pwned"));
    const char *keys[] = {"0"};
    const void *data[] = {w4};
    size_t bytes[] = {sizeof w4};
    uint64_t count[] = {4};
    pb p = {0};
    for (int kind = 0; kind < N_PAYLOADS; kind++) {
        char what[64];
        // 1. A bare pickle (not a checkpoint at all).
        p.n = 0;
        pb_begin(&p);
        pb_payload(&p, kind, marker);
        pb_op(&p, '.');
        const char *bare = tmp_path("bare.pkl");
        spit(bare, p.b, p.n);
        load_fails(bare, NULL, "not a PyTorch checkpoint");
        // 2./3. Legacy and zip checkpoints with the payload next to a state dict, and as key.
        for (int legacy = 0; legacy < 2; legacy++) {
            snprintf(what, sizeof what, "payload %d %s", kind, legacy ? "legacy" : "zip");
            pb_checkpoint_with_payload(&p, legacy, kind, marker, false);
            const char *path = tmp_path("evil.pth");
            if (legacy) write_legacy(path, &p, 1, keys, count, data, bytes);
            else write_zip(path, "evil", p.b, p.n, 1, keys, data, bytes);
            ac_tensor_map *m = NULL;
            ac_status st = ac_torch_load(path, NULL, &m);
            CHECK_MSG(st == AC_OK, "%s: %s", what, ac_error_message());
            check_w(what, m);
            ac_tensor_map_free(m);
            load_fails(path, "evil", "not a state dict");
            // 4. The payload as the whole object.
            pb_checkpoint_with_payload(&p, legacy, kind, marker, true);
            if (legacy) write_legacy(path, &p, 0, NULL, NULL, NULL, NULL);
            else write_zip(path, "evil", p.b, p.n, 0, NULL, NULL, NULL);
            load_fails(path, NULL, "object ");
            char *text = NULL;
            CHECK(ac_torch_describe(path, &text) == AC_OK);
            free(text);
        }
        CHECK_MSG(!exists(marker), "payload %d created %s", kind, marker);
        // Keep a copy of one legacy file per payload kind for inspection by hand.
        if (getenv("AC_KEEP_PAYLOADS")) {
            char keep[256];
            snprintf(keep, sizeof keep, "%s/payload%d.pkl", getenv("AC_KEEP_PAYLOADS"), kind);
            p.n = 0;
            pb_begin(&p);
            pb_payload(&p, kind, marker);
            pb_op(&p, '.');
            spit(keep, p.b, p.n);
        }
    }
    free(p.b);
}

// ---------------------------------------------------------------------------------------
// Malformed files

static void test_truncated_files(void) {
    size_t len;
    const char *sources[] = {GOLDEN "plain_legacy.pth", GOLDEN "views_legacy.pth"};
    for (int s = 0; s < 2; s++) {  // every prefix of a legacy file
        unsigned char *b = slurp(sources[s], &len);
        AC_ASSERT(b);
        int bad = 0;
        for (size_t n = 0; n < len; n++) {
            spit(tmp_path("cut.pth"), b, n);
            ac_tensor_map *m = NULL;
            if (ac_torch_load(tmp_path("cut.pth"), NULL, &m) == AC_OK) bad++;
            ac_tensor_map_free(m);
        }
        CHECK_MSG(bad == 0, "%s: %d truncated copies loaded", sources[s], bad);
        free(b);
    }
    // Zip: prefixes cut the central directory; a zip's tail is the directory.
    unsigned char *z = slurp(GOLDEN "plain.pth", &len);
    AC_ASSERT(z);
    int bad = 0;
    for (size_t n = 0; n < len; n += (n < 64 ? 1 : 37)) {
        spit(tmp_path("cut.pth"), z, n);
        ac_tensor_map *m = NULL;
        if (ac_torch_load(tmp_path("cut.pth"), NULL, &m) == AC_OK) bad++;
        ac_tensor_map_free(m);
    }
    CHECK_MSG(bad == 0, "%d truncated zip copies loaded", bad);
    spit(tmp_path("cut.pth"), z, len - 1);
    load_fails(tmp_path("cut.pth"), NULL, "zip");
    free(z);
    // Zip whose data.pkl is cut at every length (the storages intact).
    zip_t *za = zip_open(GOLDEN "plain.pth", ZIP_RDONLY, NULL);
    AC_ASSERT(za);
    zip_stat_t st;
    AC_ASSERT(zip_stat(za, "plain/data.pkl", 0, &st) == 0);
    unsigned char *pkl = malloc(st.size);
    zip_file_t *zf = zip_fopen(za, "plain/data.pkl", 0);
    AC_ASSERT(zip_fread(zf, pkl, st.size) == (zip_int64_t)st.size);
    zip_fclose(zf);
    zip_discard(za);
    static float zeros[64];
    const char *keys[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    const void *data[8];
    size_t bytes[8];
    for (int i = 0; i < 8; i++) data[i] = zeros, bytes[i] = sizeof zeros;
    bad = 0;
    for (size_t n = 0; n < st.size; n += 3) {
        write_zip(tmp_path("cutpkl.pth"), "cut", pkl, n, 8, keys, data, bytes);
        ac_tensor_map *m = NULL;
        if (ac_torch_load(tmp_path("cutpkl.pth"), NULL, &m) == AC_OK) bad++;
        ac_tensor_map_free(m);
    }
    CHECK_MSG(bad == 0, "%d zips with a truncated data.pkl loaded", bad);
    write_zip(tmp_path("cutpkl.pth"), "cut", pkl, st.size - 1, 8, keys, data, bytes);
    load_fails(tmp_path("cutpkl.pth"), NULL, "data.pkl: pickle:");
    free(pkl);
}

// A one-tensor checkpoint with the given view; returns the status of loading it.
static ac_status load_view(bool legacy, const char *stype, int64_t numel, int64_t offset,
                           const int64_t *size, const int64_t *stride, int nd, size_t data_bytes) {
    static unsigned char blob[4096];
    pb p = {0};
    pb_begin(&p);
    pb_op(&p, '}');
    pb_str(&p, "w");
    pb_tensor(&p, legacy, stype, "0", numel, offset, size, stride, nd);
    pb_op(&p, 's');
    pb_op(&p, '.');
    const char *keys[] = {"0"};
    const void *data[] = {blob};
    size_t bytes[] = {data_bytes};
    uint64_t count[] = {(uint64_t)numel};
    const char *path = tmp_path("view.pth");
    if (legacy) write_legacy(path, &p, 1, keys, count, data, bytes);
    else write_zip(path, "view", p.b, p.n, 1, keys, data, bytes);
    free(p.b);
    ac_tensor_map *m = NULL;
    ac_status st = ac_torch_load(path, NULL, &m);
    ac_tensor_map_free(m);
    return st;
}

static void expect_view_error(const char *what, ac_status st, const char *needle) {
    const char *msg = ac_error_message();
    CHECK_MSG(st != AC_OK && strstr(msg, needle), "%s: status %d, message '%s' (want '%s')", what, st, msg, needle);
}

static void test_bad_views_and_sizes(void) {
    for (int legacy = 0; legacy < 2; legacy++) {
        int64_t s33[2] = {3, 3}, st31[2] = {3, 1};
        CHECK(load_view(legacy, "FloatStorage", 9, 0, s33, st31, 2, 36) == AC_OK);
        expect_view_error("view past the storage", load_view(legacy, "FloatStorage", 8, 0, s33, st31, 2, 32), "reaches past the end");
        expect_view_error("offset past the storage", load_view(legacy, "FloatStorage", 9, 1, s33, st31, 2, 36), "reaches past the end");
        int64_t st_big[2] = {(int64_t)1 << 62, 1};
        expect_view_error("overflowing stride", load_view(legacy, "FloatStorage", 9, 0, s33, st_big, 2, 36), "reaches past the end");
        int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40}, hstride[2] = {(int64_t)1 << 40, 1};
        expect_view_error("huge dims", load_view(legacy, "FloatStorage", 9, 0, huge, hstride, 2, 36), "too large");
        int64_t mid[2] = {1 << 20, 1 << 20}, mstride[2] = {1 << 20, 1};
        expect_view_error("big tensor, small storage", load_view(legacy, "FloatStorage", 9, 0, mid, mstride, 2, 36), "reaches past the end");
        int64_t s5[5] = {1, 1, 1, 1, 2}, st5[5] = {2, 2, 2, 2, 1};
        expect_view_error("5 dims", load_view(legacy, "FloatStorage", 2, 0, s5, st5, 5, 8), "5 dimensions");
        int64_t s40[40], st40[40];
        for (int i = 0; i < 40; i++) s40[i] = 1, st40[i] = 1;
        expect_view_error("40 dims", load_view(legacy, "FloatStorage", 1, 0, s40, st40, 40, 4), "dimensions (limit");
        int64_t neg[1] = {-1}, one[1] = {1};
        expect_view_error("negative size", load_view(legacy, "FloatStorage", 1, 0, neg, one, 1, 4), "non-negative");
        expect_view_error("negative stride", load_view(legacy, "FloatStorage", 1, 0, one, neg, 1, 4), "non-negative");
        expect_view_error("negative offset", load_view(legacy, "FloatStorage", 1, -5, one, one, 1, 4), "non-negative");
        expect_view_error("complex", load_view(legacy, "ComplexFloatStorage", 1, 0, one, one, 1, 8), "complex64");
        expect_view_error("unknown storage class", load_view(legacy, "EvilStorage", 1, 0, one, one, 1, 4), "not a known torch storage");
        // Declared storage larger than the data present.
        expect_view_error("short storage data", load_view(legacy, "FloatStorage", 9, 0, s33, st31, 2, 20),
                          legacy ? "truncated" : "holds 20 bytes");
        // Stride 0 (expand) with an empty dimension is fine.
        int64_t s0[2] = {0, 5}, z0[2] = {0, 0};
        CHECK(load_view(legacy, "FloatStorage", 1, 0, s0, z0, 2, 4) == AC_OK);
    }
}

static void test_legacy_storage_view_and_missing_data(void) {
    // Old legacy files may name a view of a root storage: ('view key', offset, size).
    static const float root[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    for (int variant = 0; variant < 3; variant++) {
        pb p = {0};
        pb_begin(&p);
        pb_op(&p, '}');
        pb_str(&p, "w");
        pb_global(&p, "torch._utils", "_rebuild_tensor");
        pb_op(&p, '(');
        pb_op(&p, '(');
        pb_str(&p, "storage");
        pb_global(&p, "torch.cuda", "FloatStorage");  // GPU-saved legacy files load too
        pb_str(&p, "root");
        pb_str(&p, "cuda:0");
        pb_int(&p, 8);
        pb_op(&p, '(');
        pb_str(&p, "v");
        pb_int(&p, 2);                    // view starts at element 2
        pb_int(&p, variant == 1 ? 7 : 5); // and has 5 elements (7: past the root's end)
        pb_op(&p, 't');
        pb_op(&p, 't');
        pb_op(&p, 'Q');
        pb_int(&p, 1);  // tensor offset inside the view
        int64_t size[1] = {3}, stride[1] = {variant == 2 ? 2 : 1};
        pb_ints(&p, size, 1);
        pb_ints(&p, stride, 1);
        pb_op(&p, 't');
        pb_op(&p, 'R');
        pb_op(&p, 's');
        pb_op(&p, '.');
        const char *keys[] = {"root"};
        const void *data[] = {root};
        size_t bytes[] = {sizeof root};
        uint64_t count[] = {8};
        write_legacy(tmp_path("view.pth"), &p, 1, keys, count, data, bytes);
        ac_tensor_map *m = NULL;
        ac_status st = ac_torch_load(tmp_path("view.pth"), NULL, &m);
        if (variant == 0) {
            ac_tensor *w = m ? ac_tensor_map_get(m, "w") : NULL;
            CHECK_MSG(st == AC_OK && w && w->shape[0] == 3 && w->data[0] == 3 && w->data[2] == 5, "%s", ac_error_message());
        } else if (variant == 1) {
            CHECK_MSG(st != AC_OK && strstr(ac_error_message(), "storage view of 'root'"), "%s", ac_error_message());
        } else {  // offset 1 + 2 * 2 = 5 is outside the 5-element view
            CHECK_MSG(st != AC_OK && strstr(ac_error_message(), "reaches past the end"), "%s", ac_error_message());
        }
        ac_tensor_map_free(m);
        // The same pickle in a zip without its data entry; and a legacy file without records.
        if (variant == 0) {
            write_zip(tmp_path("view.pth"), "nodata", p.b, p.n, 0, NULL, NULL, NULL);
            load_fails(tmp_path("view.pth"), NULL, "storage entry 'nodata/data/root' is missing");
            write_legacy(tmp_path("view.pth"), &p, 0, NULL, NULL, NULL, NULL);
            load_fails(tmp_path("view.pth"), NULL, "no data record");
        }
        free(p.b);
    }
}

static void test_corruption_fuzz(void) {
    const char *sources[] = {GOLDEN "train_legacy.tar", GOLDEN "dtypes_legacy.pth", GOLDEN "views.pth"};
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    int ok = 0, failed = 0;
    for (int s = 0; s < 3; s++) {
        size_t len;
        unsigned char *orig = slurp(sources[s], &len);
        AC_ASSERT(orig);
        unsigned char *b = malloc(len);
        for (int it = 0; it < 400; it++) {
            memcpy(b, orig, len);
            int flips = 1 + it % 4;
            for (int f = 0; f < flips; f++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                size_t pos = (size_t)(rng >> 33) % len;
                // In the zip, aim at data.pkl (right after the first local header) half the time.
                if (s == 2 && (rng & 1)) pos = 30 + 14 + (size_t)(rng >> 40) % 600;
                b[pos % len] = (unsigned char)(rng >> 20);
            }
            spit(tmp_path("fuzz.pth"), b, len);
            ac_tensor_map *m = NULL;
            if (ac_torch_load(tmp_path("fuzz.pth"), NULL, &m) == AC_OK) ok++;
            else {
                failed++;
                CHECK(ac_error_message()[0] != '\0');
            }
            ac_tensor_map_free(m);
        }
        free(b);
        free(orig);
    }
    printf("  corruption fuzz: %d loaded, %d refused\n", ok, failed);
    CHECK(failed > 0);
}

static void test_legacy_module_pid(void) {
    // Legacy whole-module saves name their classes with ('module', class, file, source).
    pb p = {0};
    pb_begin(&p);
    pb_op(&p, '}');
    pb_op(&p, '(');
    pb_str(&p, "model");
    pb_op(&p, '(');
    pb_str(&p, "module");
    pb_global(&p, "torch.nn.modules.linear", "Linear");
    pb_str(&p, "linear.py");
    pb_str(&p, "class Linear: ...");
    pb_op(&p, 't');
    pb_op(&p, 'Q');
    pb_op(&p, ')');
    pb_op(&p, 0x81);
    pb_str(&p, "w");
    int64_t size[2] = {2, 2}, stride[2] = {2, 1};
    pb_tensor(&p, true, "FloatStorage", "0", 4, 0, size, stride, 2);
    pb_op(&p, 'u');
    pb_op(&p, '.');
    const char *keys[] = {"0"};
    const void *data[] = {w4};
    size_t bytes[] = {sizeof w4};
    uint64_t count[] = {4};
    write_legacy(tmp_path("module.pth"), &p, 1, keys, count, data, bytes);
    ac_tensor_map *m = NULL;
    CHECK_MSG(ac_torch_load(tmp_path("module.pth"), NULL, &m) == AC_OK, "%s", ac_error_message());
    check_w("legacy module pid", m);
    ac_tensor_map_free(m);
    load_fails(tmp_path("module.pth"), "model", "object torch.nn.modules.linear.Linear");
    free(p.b);
}

// ---------------------------------------------------------------------------------------
// Reading from memory, and limits on what a small file may make the loader allocate

static void test_memory_entry_points(void) {
    const char *files[] = {GOLDEN "plain.pth", GOLDEN "plain_legacy.pth"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        unsigned char *buf = slurp(files[i], &len);
        AC_ASSERT(buf);
        ac_tensor_map *m = NULL;
        CHECK_MSG(ac_torch_load_mem(buf, len, "mem.pth", NULL, &m) == AC_OK, "%s", ac_error_message());
        if (m) check_against_expected(files[i], m, "plain");
        ac_tensor_map_free(m);
        free(buf);
    }
    size_t len;
    unsigned char *buf = slurp(GOLDEN "latest_model", &len);
    char *text = NULL;
    CHECK(ac_torch_describe_mem(buf, len, "mem.pth", &text) == AC_OK && text && strstr(text, "zip checkpoint") &&
          strstr(text, "state_dict: dict ("));
    free(text);
    ac_tensor_map *m = NULL;
    // A zip cut short, garbage and an empty buffer: errors that name the buffer.
    CHECK(ac_torch_load_mem(buf, len / 2, "half.pth", NULL, &m) != AC_OK && m == NULL &&
          strstr(ac_error_message(), "half.pth"));
    CHECK(ac_torch_load_mem((const unsigned char *)"hello", 5, "hello.pth", NULL, &m) == AC_ERR_FORMAT &&
          strstr(ac_error_message(), "hello.pth: not a PyTorch checkpoint"));
    CHECK(ac_torch_load_mem(buf, 0, "empty.pth", NULL, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "empty"));
    free(buf);
}

// Little-endian 32-bit field at p.
static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_expansion_limits(void) {
    // Stride-0 views may repeat a storage element, but a tiny file cannot expand into 256 MiB.
    for (int legacy = 0; legacy < 2; legacy++) {
        int64_t big[2] = {1 << 16, 1 << 10}, small[2] = {1000, 10}, zero[2] = {0, 0};
        expect_view_error("stride-0 bomb", load_view(legacy, "FloatStorage", 1, 0, big, zero, 2, 4), "views repeat");
        CHECK_MSG(load_view(legacy, "FloatStorage", 1, 0, small, zero, 2, 4) == AC_OK, "%s", ac_error_message());
    }
    // A deflated data.pkl whose header claims more than deflate can produce is refused before
    // its size is allocated; the same archive with honest sizes loads.
    pb p = {0};
    pb_checkpoint_with_payload(&p, false, 0, tmp_path("pwned"), false);
    int err;
    zip_t *za = zip_open(tmp_path("deflated.pth"), ZIP_CREATE | ZIP_TRUNCATE, &err);
    AC_ASSERT(za);
    zip_int64_t idx = zip_file_add(za, "d/data.pkl", zip_source_buffer(za, p.b, p.n, 0), ZIP_FL_OVERWRITE);
    AC_ASSERT(idx >= 0 && zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9) == 0);
    AC_ASSERT(zip_file_add(za, "d/data/0", zip_source_buffer(za, w4, sizeof w4, 0), ZIP_FL_OVERWRITE) >= 0);
    AC_ASSERT(zip_close(za) == 0);
    size_t len;
    unsigned char *buf = slurp(tmp_path("deflated.pth"), &len);
    ac_tensor_map *m = NULL;
    CHECK_MSG(ac_torch_load_mem(buf, len, "deflated.pth", NULL, &m) == AC_OK, "%s", ac_error_message());
    check_w("deflated data.pkl", m);
    ac_tensor_map_free(m);
    m = NULL;
    int patched = 0;  // the uncompressed size of data.pkl: local header (+22), central directory (+24)
    for (size_t i = 0; i + 46 < len; i++) {
        if (!memcmp(buf + i, "PK\3\4", 4) && !memcmp(buf + i + 30, "d/data.pkl", 10)) put_u32(buf + i + 22, 0x7fffffffu), patched++;
        if (!memcmp(buf + i, "PK\1\2", 4) && !memcmp(buf + i + 46, "d/data.pkl", 10)) put_u32(buf + i + 24, 0x7fffffffu), patched++;
    }
    CHECK(patched == 2);
    CHECK(ac_torch_load_mem(buf, len, "bomb.pth", NULL, &m) == AC_ERR_FORMAT && m == NULL &&
          strstr(ac_error_message(), "more than deflate allows"));
    free(buf);
    free(p.b);
    unlink(tmp_path("deflated.pth"));
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ac_ckpt_XXXXXX");
    AC_ASSERT(mkdtemp(tmpdir));
    if (ac_safetensors_read(GOLDEN "expected.safetensors", &expected) != AC_OK) {
        fprintf(stderr, "cannot read expected values: %s\n", ac_error_message());
        return 1;
    }
    RUN(test_plain_state_dict);
    RUN(test_training_checkpoint);
    RUN(test_dtypes);
    RUN(test_views_and_shared_storage);
    RUN(test_protocols_and_names);
    RUN(test_describe);
    RUN(test_payloads_never_run);
    RUN(test_truncated_files);
    RUN(test_bad_views_and_sizes);
    RUN(test_legacy_storage_view_and_missing_data);
    RUN(test_corruption_fuzz);
    RUN(test_legacy_module_pid);
    RUN(test_memory_entry_points);
    RUN(test_expansion_limits);
    ac_tensor_map_free(expected);
    const char *names[] = {"old.tar", "bare.pkl", "evil.pth", "cut.pth", "cutpkl.pth", "view.pth", "fuzz.pth", "module.pth", "pwned"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return ac_test_finish();
}
