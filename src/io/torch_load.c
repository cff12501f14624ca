// torch_load.c: PyTorch checkpoint reader (see torch_load.h). The file is told apart by its
// first bytes (zip local header vs pickle). The object pickle runs in the restricted machine
// of pickle.h, whose persistent-load hook turns ('storage', type, key, location, numel[,
// view]) ids into storage references; then the state dict is chosen and only its tensors'
// storages are read (zip: entry <dir>/data/<key>; legacy: the raw records after the pickles),
// bounds-checked against every view's extent, converted to float32 and copied contiguous.
#include "io/torch_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/half.h"
#include "io/pickle.h"

#define MAX_PICKLE_BYTES ((zip_uint64_t)1 << 30)  // data.pkl of any real model is far smaller
#define MAX_TENSORS 65536                         // tensors in one state dict
#define MAX_KEY_LEN 1024                          // storage keys are short numbers
#define MAX_OUTPUT_BYTES ((size_t)1 << 36)        // 64 GiB of float32 in one load
// A load may produce at most this many bytes of float32 per byte of file, plus the slack
// below: conversion from 8-bit types and shared storages stay far below it, while a tiny file
// cannot expand a one-element storage through stride-0 views into gigabytes.
#define MAX_EXPANSION 16
#define EXPANSION_SLACK ((size_t)64 << 20)
#define DEFLATE_MAX_RATIO 1032                   // zlib's limit: 258 bytes from 2 bits

static const unsigned char legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

typedef struct srec {
    char *key;
    ac_pk_dtype dtype;         // of the first reference
    int64_t numel;             // elements declared by the first reference
    const unsigned char *data; // NULL until loaded (zip) or located (legacy)
    size_t bytes;
    unsigned char *owned;      // zip: the buffer read from the archive
    int refs;                  // selected tensors still to be copied from it
} srec;

typedef struct loader {
    const char *path;          // the file, or NULL when reading from memory
    const unsigned char *mem;  // the whole checkpoint when reading from memory
    size_t mem_len;
    uint64_t archive_size;     // zip: bytes in the archive (a bound for stored entries)
    zip_t *za;
    char *prefix;              // zip: "<dir>/" (or "")
    unsigned char *file;       // legacy: the whole file (mapped or read)
    size_t file_len;
    bool mapped;
    srec *recs;
    size_t n_recs, cap_recs;
    size_t *index;             // open addressing over recs: index + 1, 0 = empty
    size_t index_cap;
    ac_pickle *vm;
    ac_pk_value *top;
    size_t out_bytes;
} loader;

// ---------------------------------------------------------------------------------------
// Storage records, indexed by key

static size_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static srec *find_rec(const loader *L, const char *key) {
    if (!L->index_cap) return NULL;
    for (size_t i = str_hash(key) & (L->index_cap - 1);; i = (i + 1) & (L->index_cap - 1)) {
        if (!L->index[i]) return NULL;
        srec *r = &L->recs[L->index[i] - 1];
        if (!strcmp(r->key, key)) return r;
    }
}

static void index_insert(loader *L, size_t rec) {
    size_t i = str_hash(L->recs[rec].key) & (L->index_cap - 1);
    while (L->index[i]) i = (i + 1) & (L->index_cap - 1);
    L->index[i] = rec + 1;
}

static srec *add_rec(loader *L, const char *key, ac_pk_dtype dtype, int64_t numel) {
    if ((L->n_recs + 1) * 2 > L->index_cap) {
        size_t ncap = L->index_cap ? L->index_cap * 2 : 64;
        free(L->index);
        L->index = ac_xcalloc(ncap, sizeof *L->index);
        L->index_cap = ncap;
        for (size_t i = 0; i < L->n_recs; i++) index_insert(L, i);
    }
    if (L->n_recs == L->cap_recs) {
        L->cap_recs = L->cap_recs ? L->cap_recs * 2 : 32;
        L->recs = ac_xrealloc(L->recs, L->cap_recs * sizeof *L->recs);
    }
    srec *r = &L->recs[L->n_recs];
    *r = (srec){.key = ac_xstrdup(key), .dtype = dtype, .numel = numel};
    index_insert(L, L->n_recs++);
    return r;
}

static void loader_free(loader *L) {
    for (size_t i = 0; i < L->n_recs; i++) {
        free(L->recs[i].key);
        free(L->recs[i].owned);
    }
    free(L->recs);
    free(L->index);
    free(L->prefix);
    if (L->za) zip_discard(L->za);
    if (L->file && !L->mem) {
        if (L->mapped) munmap(L->file, L->file_len);
        else free(L->file);
    }
    ac_pickle_free(L->vm);
}

// The persistent-load hook: ('storage', <storage class>, key, location, numel[, view]).
static ac_status persload(void *ctx, ac_pickle *vm, const ac_pk_value *pid, ac_pk_value **out) {
    loader *L = ctx;
    if (pid->kind == AC_PK_TUPLE && pid->u.seq.n >= 2 && pid->u.seq.items[0]->kind == AC_PK_STR &&
        !strcmp(pid->u.seq.items[0]->u.str.data, "module")) {
        // Legacy whole-module saves: ('module', class, source file, source) stands for the
        // class itself; it stays an inert name.
        *out = pid->u.seq.items[1];
        return AC_OK;
    }
    if (pid->kind != AC_PK_TUPLE || pid->u.seq.n < 5)
        return ac_fail(AC_ERR_FORMAT, "persistent id is not a ('storage', type, key, location, size) tuple");
    ac_pk_value *const *a = pid->u.seq.items;
    if (a[0]->kind != AC_PK_STR || strcmp(a[0]->u.str.data, "storage"))
        return ac_fail(AC_ERR_UNSUPPORTED, "persistent id of unknown type (not 'storage')");
    if (a[1]->kind != AC_PK_GLOBAL || a[1]->u.global.fn != AC_PK_FN_STORAGE_TYPE) {
        char d[256];
        return ac_fail(AC_ERR_UNSUPPORTED, "storage type %s is not a known torch storage class",
                       ac_pk_describe(a[1], d, sizeof d));
    }
    if (a[2]->kind != AC_PK_STR || a[2]->u.str.len == 0 || a[2]->u.str.len > MAX_KEY_LEN ||
        strlen(a[2]->u.str.data) != a[2]->u.str.len)
        return ac_fail(AC_ERR_FORMAT, "storage key is not a short string");
    if (a[4]->kind != AC_PK_INT || a[4]->u.i < 0)
        return ac_fail(AC_ERR_FORMAT, "storage '%s' has an invalid size", a[2]->u.str.data);
    const char *key = a[2]->u.str.data;
    ac_pk_dtype dt = a[1]->u.global.dtype;
    int64_t numel = a[4]->u.i, voff = 0;
    bool is_view = false;
    if (pid->u.seq.n >= 6 && a[5]->kind != AC_PK_NONE) {  // legacy view: (view_key, offset, size)
        const ac_pk_value *v = a[5];
        if (v->kind != AC_PK_TUPLE || v->u.seq.n != 3 || v->u.seq.items[1]->kind != AC_PK_INT ||
            v->u.seq.items[2]->kind != AC_PK_INT || v->u.seq.items[1]->u.i < 0 || v->u.seq.items[2]->u.i < 0)
            return ac_fail(AC_ERR_FORMAT, "storage '%s' has an invalid view descriptor", key);
        is_view = true;
        voff = v->u.seq.items[1]->u.i;
    }
    srec *r = find_rec(L, key);
    if (!r) r = add_rec(L, key, dt, numel);
    if (is_view) numel = a[5]->u.seq.items[2]->u.i;
    *out = ac_pickle_new_storage(vm, key, dt, numel, voff, is_view);
    return *out ? AC_OK : AC_ERR_NOMEM;
}

// ---------------------------------------------------------------------------------------
// Zip format

static ac_status zip_error_status(const char *what, zip_error_t *ze) {
    return ac_fail(AC_ERR_FORMAT, "%s: %s", what, zip_error_strerror(ze));
}

// Reads `want` bytes of entry idx (which must hold at least that many) into a new buffer.
static ac_status zip_read_entry(loader *L, zip_int64_t idx, const char *name, zip_uint64_t want,
                                unsigned char **out) {
    *out = NULL;
    if (want > SIZE_MAX - 1) return ac_fail(AC_ERR_NOMEM, "entry '%s' is too large", name);
    unsigned char *buf = malloc(want ? (size_t)want : 1);
    if (!buf) return ac_fail(AC_ERR_NOMEM, "out of memory reading '%s' (%llu bytes)", name, (unsigned long long)want);
    zip_file_t *zf = zip_fopen_index(L->za, (zip_uint64_t)idx, 0);
    if (!zf) {
        free(buf);
        return zip_error_status(name, zip_get_error(L->za));
    }
    zip_uint64_t got = 0;
    while (got < want) {
        zip_int64_t n = zip_fread(zf, buf + got, want - got);
        if (n < 0) {
            ac_status st = zip_error_status(name, zip_file_get_error(zf));
            zip_fclose(zf);
            free(buf);
            return st;
        }
        if (n == 0) break;
        got += (zip_uint64_t)n;
    }
    zip_fclose(zf);
    if (got != want) {
        free(buf);
        return ac_fail(AC_ERR_FORMAT, "entry '%s' is truncated (%llu of %llu bytes)", name,
                       (unsigned long long)got, (unsigned long long)want);
    }
    *out = buf;
    return AC_OK;
}

static ac_status zip_stat_checked(loader *L, zip_int64_t idx, const char *name, zip_stat_t *st) {
    if (zip_stat_index(L->za, (zip_uint64_t)idx, 0, st) != 0 || !(st->valid & ZIP_STAT_SIZE))
        return zip_error_status(name, zip_get_error(L->za));
    // A stored entry cannot be larger than the archive (guards against absurd sizes).
    if ((st->valid & ZIP_STAT_COMP_METHOD) && st->comp_method == ZIP_CM_STORE &&
        st->size > L->archive_size)
        return ac_fail(AC_ERR_FORMAT, "entry '%s' claims %llu bytes, more than the file holds", name,
                       (unsigned long long)st->size);
    // Nor can a deflated one be larger than deflate can expand its compressed bytes.
    if ((st->valid & ZIP_STAT_COMP_METHOD) && (st->valid & ZIP_STAT_COMP_SIZE) &&
        st->comp_method == ZIP_CM_DEFLATE && st->comp_size < UINT64_MAX / DEFLATE_MAX_RATIO &&
        st->size > st->comp_size * DEFLATE_MAX_RATIO + 1024)
        return ac_fail(AC_ERR_FORMAT, "entry '%s' claims %llu bytes from %llu compressed bytes, more than deflate allows",
                       name, (unsigned long long)st->size, (unsigned long long)st->comp_size);
    return AC_OK;
}

// Newer writers add <dir>/byteorder ("little" or "big"); absent means little-endian.
static ac_status check_byteorder(loader *L) {
    size_t nlen = strlen(L->prefix) + 10;
    char *name = ac_xmalloc(nlen);
    snprintf(name, nlen, "%sbyteorder", L->prefix);
    zip_int64_t idx = zip_name_locate(L->za, name, ZIP_FL_ENC_RAW);
    ac_status s = AC_OK;
    zip_stat_t st;
    unsigned char *text = NULL;
    if (idx >= 0 && (s = zip_stat_checked(L, idx, name, &st)) == AC_OK && st.size < 16 &&
        (s = zip_read_entry(L, idx, name, st.size, &text)) == AC_OK &&
        st.size >= 3 && !memcmp(text, "big", 3))
        s = ac_fail(AC_ERR_UNSUPPORTED, "big-endian checkpoints are not supported");
    free(text);
    free(name);
    return s;
}

static ac_status open_zip(loader *L) {
    int err = 0;
    if (L->mem) {
        zip_error_t ze;
        zip_error_init(&ze);
        zip_source_t *src = zip_source_buffer_create(L->mem, L->mem_len, 0, &ze);
        if (src && !(L->za = zip_open_from_source(src, ZIP_RDONLY, &ze))) zip_source_free(src);
        err = zip_error_code_zip(&ze);
        zip_error_fini(&ze);
        L->archive_size = L->mem_len;
    } else {
        struct stat fs;
        L->za = zip_open(L->path, ZIP_RDONLY, &err);
        L->archive_size = stat(L->path, &fs) == 0 ? (uint64_t)fs.st_size : UINT64_MAX;
    }
    if (!L->za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        ac_status st = ac_fail(AC_ERR_FORMAT, "not a readable zip archive (%s)", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    // Find <dir>/data.pkl (any single top folder name, or none).
    zip_int64_t n = zip_get_num_entries(L->za, 0), pkl = -1;
    const char *pkl_name = NULL;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(L->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) continue;
        size_t len = strlen(name);
        if (len < 8 || strcmp(name + len - 8, "data.pkl")) continue;
        const char *slash = strchr(name, '/');
        bool ok = len == 8 || (slash == name + len - 9 && slash != name);
        if (!ok) continue;
        if (pkl >= 0) return ac_fail(AC_ERR_FORMAT, "zip holds several data.pkl entries");
        pkl = i;
        pkl_name = name;
    }
    if (pkl < 0) return ac_fail(AC_ERR_FORMAT, "zip archive has no data.pkl entry (not a PyTorch checkpoint)");
    size_t plen = strlen(pkl_name) - 8;
    L->prefix = ac_xmalloc(plen + 1);
    memcpy(L->prefix, pkl_name, plen);
    L->prefix[plen] = '\0';
    char *name = ac_xstrdup(pkl_name);  // zip_get_name's string may not outlive later calls
    zip_stat_t st;
    ac_status s = check_byteorder(L);
    if (s == AC_OK) s = zip_stat_checked(L, pkl, name, &st);
    if (s == AC_OK && st.size > MAX_PICKLE_BYTES)
        s = ac_fail(AC_ERR_FORMAT, "'%s' is %llu bytes (limit %llu)", name, (unsigned long long)st.size,
                    (unsigned long long)MAX_PICKLE_BYTES);
    unsigned char *buf = NULL;
    if (s == AC_OK) s = zip_read_entry(L, pkl, name, st.size, &buf);
    if (s == AC_OK) {
        size_t used;
        s = ac_pickle_run(L->vm, buf, (size_t)st.size, &used, persload, L, &L->top);
        if (s != AC_OK) ac_error_prefix("%s", name);
    }
    free(buf);
    free(name);
    return s;
}

static ac_status zip_load_storage(loader *L, srec *r) {
    size_t esz = ac_pk_dtype_size(r->dtype), need;
    if (!ac_mul_size((size_t)r->numel, esz, &need))
        return ac_fail(AC_ERR_FORMAT, "storage '%s' is too large", r->key);
    size_t nlen = strlen(L->prefix) + 5 + strlen(r->key) + 1;
    char *name = ac_xmalloc(nlen);
    snprintf(name, nlen, "%sdata/%s", L->prefix, r->key);
    zip_int64_t idx = zip_name_locate(L->za, name, ZIP_FL_ENC_RAW);
    ac_status s = AC_OK;
    zip_stat_t st;
    if (idx < 0) s = ac_fail(AC_ERR_FORMAT, "storage entry '%s' is missing", name);
    if (s == AC_OK) s = zip_stat_checked(L, idx, name, &st);
    if (s == AC_OK && st.size < need)
        s = ac_fail(AC_ERR_FORMAT, "storage '%s' holds %llu bytes, its header declares %lld %s elements (%zu bytes)",
                    name, (unsigned long long)st.size, (long long)r->numel, ac_pk_dtype_name(r->dtype), need);
    if (s == AC_OK) s = zip_read_entry(L, idx, name, need, &r->owned);
    if (s == AC_OK) {
        r->data = r->owned;
        r->bytes = need;
    }
    free(name);
    return s;
}

// ---------------------------------------------------------------------------------------
// Legacy format

static ac_status read_file(loader *L) {
    int fd = open(L->path, O_RDONLY);
    if (fd < 0) return ac_fail(AC_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat fs;
    if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
        close(fd);
        return ac_fail(AC_ERR_IO, "not a regular file");
    }
    L->file_len = (size_t)fs.st_size;
    if (L->file_len == 0) {
        close(fd);
        return ac_fail(AC_ERR_FORMAT, "file is empty");
    }
    void *p = mmap(NULL, L->file_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
        L->file = p;
        L->mapped = true;
        close(fd);
        return AC_OK;
    }
    L->file = malloc(L->file_len);
    size_t got = 0;
    while (L->file && got < L->file_len) {
        ssize_t n = read(fd, L->file + got, L->file_len - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (!L->file) return ac_fail(AC_ERR_NOMEM, "out of memory reading %zu bytes", L->file_len);
    if (got != L->file_len) return ac_fail(AC_ERR_IO, "short read");
    return AC_OK;
}

static ac_status open_legacy(loader *L) {
    ac_status s = AC_OK;
    if (L->mem) {  // borrowed, never freed or unmapped
        L->file = (unsigned char *)L->mem;
        L->file_len = L->mem_len;
        if (!L->file_len) s = ac_fail(AC_ERR_FORMAT, "file is empty");
    } else {
        s = read_file(L);
    }
    if (s != AC_OK) return s;
    size_t pos = 0, used;
    ac_pk_value *v;
    s = ac_pickle_run(L->vm, L->file, L->file_len, &used, NULL, NULL, &v);
    if (s != AC_OK) {
        ac_error_prefix("not a PyTorch checkpoint (neither a zip archive nor a legacy torch file)");
        return AC_ERR_FORMAT;
    }
    if (v->kind != AC_PK_BIGINT || v->u.str.len != sizeof legacy_magic ||
        memcmp(v->u.str.data, legacy_magic, sizeof legacy_magic)) {
        char d[128];
        return ac_fail(AC_ERR_FORMAT, "not a PyTorch checkpoint (the first pickle holds %s, not torch's magic number)",
                       ac_pk_describe(v, d, sizeof d));
    }
    pos += used;
    s = ac_pickle_run(L->vm, L->file + pos, L->file_len - pos, &used, NULL, NULL, &v);
    if (s != AC_OK) return s;
    if (v->kind != AC_PK_INT || v->u.i != 1001)
        return ac_fail(AC_ERR_UNSUPPORTED, "legacy checkpoint protocol is not 1001");
    pos += used;
    s = ac_pickle_run(L->vm, L->file + pos, L->file_len - pos, &used, NULL, NULL, &v);
    if (s != AC_OK) return s;
    const ac_pk_value *le = ac_pk_dict_get(v, "little_endian");
    if (v->kind != AC_PK_DICT) return ac_fail(AC_ERR_FORMAT, "legacy system info is not a dict");
    if (le && le->kind == AC_PK_BOOL && !le->u.b)
        return ac_fail(AC_ERR_UNSUPPORTED, "big-endian checkpoints are not supported");
    pos += used;
    s = ac_pickle_run(L->vm, L->file + pos, L->file_len - pos, &used, persload, L, &L->top);
    if (s != AC_OK) return s;
    pos += used;
    s = ac_pickle_run(L->vm, L->file + pos, L->file_len - pos, &used, NULL, NULL, &v);
    if (s != AC_OK) return s;
    if (v->kind != AC_PK_LIST) return ac_fail(AC_ERR_FORMAT, "legacy storage key list is not a list");
    pos += used;
    // Raw records: u64 element count, then the bytes, for every key in list order.
    for (size_t i = 0; i < v->u.seq.n; i++) {
        const ac_pk_value *k = v->u.seq.items[i];
        if (k->kind != AC_PK_STR) return ac_fail(AC_ERR_FORMAT, "legacy storage key %zu is not a string", i);
        srec *r = find_rec(L, k->u.str.data);
        if (!r) return ac_fail(AC_ERR_FORMAT, "storage '%s' is listed but never used", k->u.str.data);
        if (r->data) return ac_fail(AC_ERR_FORMAT, "storage '%s' is listed twice", r->key);
        if (L->file_len - pos < 8)
            return ac_fail(AC_ERR_FORMAT, "file truncated in the record of storage '%s'", r->key);
        uint64_t count = 0;
        for (int b = 0; b < 8; b++) count |= (uint64_t)L->file[pos + (size_t)b] << (8 * b);
        pos += 8;
        size_t bytes;
        if (count > SIZE_MAX || !ac_mul_size((size_t)count, ac_pk_dtype_size(r->dtype), &bytes) ||
            bytes > L->file_len - pos)
            return ac_fail(AC_ERR_FORMAT, "file truncated: storage '%s' needs %llu elements of %zu bytes",
                           r->key, (unsigned long long)count, ac_pk_dtype_size(r->dtype));
        if (count < (uint64_t)r->numel)
            return ac_fail(AC_ERR_FORMAT, "storage '%s' holds %llu elements, its header declares %lld",
                           r->key, (unsigned long long)count, (long long)r->numel);
        r->data = L->file + pos;
        r->bytes = bytes;
        pos += bytes;
    }
    return AC_OK;
}

// ---------------------------------------------------------------------------------------
// Opening and choosing the state dict

// path != NULL: the file; otherwise the checkpoint is mem[0..len).
static ac_status open_checkpoint(loader *L, const char *path, const unsigned char *mem, size_t len) {
    memset(L, 0, sizeof *L);
    L->path = path;
    L->mem = path ? NULL : mem;
    L->mem_len = path ? 0 : len;
    L->vm = ac_pickle_new();
    unsigned char head[4] = {0};
    size_t n = AC_MIN(len, (size_t)4);
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) return ac_fail(AC_ERR_IO, "cannot open: %s", strerror(errno));
        n = fread(head, 1, 4, f);
        fclose(f);
    } else if (n) {
        memcpy(head, mem, n);
    }
    if (n == 4 && head[0] == 'P' && head[1] == 'K' && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)))
        return open_zip(L);
    ac_status s = open_legacy(L);
    if (s != AC_OK && L->file && L->file_len > 262 && !memcmp(L->file + 257, "ustar", 5))
        return ac_fail(AC_ERR_UNSUPPORTED, "a tar archive: PyTorch's format before 0.1.10 is not supported");
    return s;
}

// "a, b, c" (truncated), for error messages.
static void list_keys(const ac_pk_value *d, char *buf, size_t size) {
    size_t m = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->u.dict.n && m + 8 < size; i++) {
        const ac_pk_value *k = d->u.dict.keys[i];
        char tmp[160];
        if (k->kind == AC_PK_STR) snprintf(tmp, sizeof tmp, "'%.120s'", k->u.str.data);
        else ac_pk_describe(k, tmp, sizeof tmp);
        int w = snprintf(buf + m, size - m, "%s%s", i ? ", " : "", tmp);
        if (w < 0 || (size_t)w >= size - m) {
            snprintf(buf + m, size - m, ", ...");
            return;
        }
        m += (size_t)w;
    }
    if (!d->u.dict.n) snprintf(buf, size, "(none)");
}

static bool has_tensors(const ac_pk_value *d) {
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.keys[i]->kind == AC_PK_STR && d->u.dict.vals[i]->kind == AC_PK_TENSOR) return true;
    return false;
}

static ac_status select_dict(const loader *L, const char *entry, const ac_pk_value **out) {
    const ac_pk_value *top = L->top;
    char d[256], keys[512];
    if (top->kind != AC_PK_DICT)
        return ac_fail(AC_ERR_FORMAT, "the checkpoint holds %s, not a dict of tensors", ac_pk_describe(top, d, sizeof d));
    list_keys(top, keys, sizeof keys);
    const char *want = entry ? entry : "state_dict";
    const ac_pk_value *v = ac_pk_dict_get(top, want);
    if (!v && !entry) {
        if (!has_tensors(top))
            return ac_fail(AC_ERR_FORMAT, "no 'state_dict' entry and no tensors at the top level; keys: %s", keys);
        *out = top;
        return AC_OK;
    }
    if (!v) return ac_fail(AC_ERR_ARG, "no entry '%s' in the checkpoint; keys: %s", entry, keys);
    if (v->kind != AC_PK_DICT)
        return ac_fail(AC_ERR_FORMAT, "entry '%s' holds %s, not a state dict", want, ac_pk_describe(v, d, sizeof d));
    if (!has_tensors(v)) {
        list_keys(v, keys, sizeof keys);
        return ac_fail(AC_ERR_FORMAT, "entry '%s' holds no tensors (its keys: %s)", want, keys);
    }
    *out = v;
    return AC_OK;
}

// ---------------------------------------------------------------------------------------
// Materialising tensors

typedef float (*elem_reader)(const unsigned char *p);

static uint64_t le_bits(const unsigned char *p, int n) {
    uint64_t u = 0;
    for (int i = 0; i < n; i++) u |= (uint64_t)p[i] << (8 * i);
    return u;
}
static float rd_f32(const unsigned char *p) { return ac_f32_from_bits((uint32_t)le_bits(p, 4)); }
static float rd_f64(const unsigned char *p) {
    uint64_t u = le_bits(p, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    return (float)d;
}
static float rd_f16(const unsigned char *p) { return ac_f16_to_f32((uint16_t)le_bits(p, 2)); }
static float rd_bf16(const unsigned char *p) { return ac_bf16_to_f32((uint16_t)le_bits(p, 2)); }
static float rd_i64(const unsigned char *p) { return (float)(int64_t)le_bits(p, 8); }
static float rd_i32(const unsigned char *p) { return (float)(int32_t)(uint32_t)le_bits(p, 4); }
static float rd_i16(const unsigned char *p) { return (float)(int16_t)(uint16_t)le_bits(p, 2); }
static float rd_i8(const unsigned char *p) { return (float)(int8_t)p[0]; }
static float rd_u8(const unsigned char *p) { return (float)p[0]; }
static float rd_bool(const unsigned char *p) { return p[0] ? 1.0f : 0.0f; }

static elem_reader reader_for(ac_pk_dtype dt) {
    switch (dt) {
    case AC_PK_F32: return rd_f32;
    case AC_PK_F64: return rd_f64;
    case AC_PK_F16: return rd_f16;
    case AC_PK_BF16: return rd_bf16;
    case AC_PK_I64: return rd_i64;
    case AC_PK_I32: return rd_i32;
    case AC_PK_I16: return rd_i16;
    case AC_PK_I8: return rd_i8;
    case AC_PK_U8: return rd_u8;
    case AC_PK_BOOL_T: return rd_bool;
    default: return NULL;
    }
}

static bool host_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

// Row-major contiguous (dimensions of size 1 may have any stride).
static bool is_contiguous(int nd, const int64_t *size, const int64_t *stride) {
    int64_t expect = 1;
    for (int d = nd - 1; d >= 0; d--) {
        if (size[d] != 1 && stride[d] != expect) return false;
        expect *= size[d];
    }
    return true;
}

// The checkpoint's size in bytes.
static uint64_t input_size(const loader *L) { return L->za ? L->archive_size : (uint64_t)L->file_len; }

static size_t max_output(const loader *L) {
    uint64_t n = input_size(L);
    if (n > (MAX_OUTPUT_BYTES - EXPANSION_SLACK) / MAX_EXPANSION) return MAX_OUTPUT_BYTES;
    return (size_t)n * MAX_EXPANSION + EXPANSION_SLACK;
}

static ac_status materialise(loader *L, const char *name, const ac_pk_value *tv, ac_tensor **out) {
    const ac_pk_value *sv = tv->u.tensor.storage;
    ac_pk_dtype dt = sv->u.storage.dtype;
    elem_reader rd = reader_for(dt);
    if (!rd) return ac_fail(AC_ERR_UNSUPPORTED, "tensor '%s' has dtype %s (not convertible to float32)", name, ac_pk_dtype_name(dt));
    int nd = tv->u.tensor.ndim;
    if (nd > AC_MAX_DIMS)
        return ac_fail(AC_ERR_UNSUPPORTED, "tensor '%s' has %d dimensions (at most %d supported)", name, nd, AC_MAX_DIMS);
    const int64_t *size = tv->u.tensor.size, *stride = tv->u.tensor.stride;
    int shape[AC_MAX_DIMS];
    uint64_t numel = 1, last = (uint64_t)tv->u.tensor.offset;
    bool overflow = false;
    for (int i = 0; i < nd; i++) {
        if (size[i] > INT_MAX) return ac_fail(AC_ERR_FORMAT, "tensor '%s' dimension %d is too large (%lld)", name, i, (long long)size[i]);
        shape[i] = (int)size[i];
        overflow |= __builtin_mul_overflow(numel, (uint64_t)size[i], &numel);
    }
    if (overflow) return ac_fail(AC_ERR_FORMAT, "tensor '%s' has too many elements", name);
    size_t esz = ac_pk_dtype_size(dt);
    srec *r = find_rec(L, sv->u.storage.key);
    AC_ASSERT(r != NULL);  // every storage reference was registered by persload
    if (numel > 0) {
        for (int i = 0; i < nd; i++) {
            uint64_t span;
            overflow |= __builtin_mul_overflow((uint64_t)(size[i] - 1), (uint64_t)stride[i], &span);
            overflow |= __builtin_add_overflow(last, span, &last);
        }
        uint64_t visible = (uint64_t)sv->u.storage.numel, base = (uint64_t)sv->u.storage.view_offset;
        if (overflow || last >= visible)
            return ac_fail(AC_ERR_FORMAT, "tensor '%s' reaches past the end of its storage '%s' (%lld elements)",
                           name, r->key, (long long)visible);
        if (sv->u.storage.is_view && (base > (uint64_t)r->numel || visible > (uint64_t)r->numel - base))
            return ac_fail(AC_ERR_FORMAT, "storage view of '%s' reaches past its end", r->key);
        if (!r->data) {
            if (!L->za) return ac_fail(AC_ERR_FORMAT, "storage '%s' has no data record", r->key);
            ac_status s = zip_load_storage(L, r);
            if (s != AC_OK) return s;
        }
        if (base + last >= r->bytes / esz)
            return ac_fail(AC_ERR_FORMAT, "tensor '%s' reaches past the end of storage '%s' (%zu bytes)",
                           name, r->key, r->bytes);
    }
    size_t bytes;
    if (numel > SIZE_MAX / 4 || !ac_add_size(L->out_bytes, (size_t)numel * 4, &bytes) || bytes > MAX_OUTPUT_BYTES)
        return ac_fail(AC_ERR_NOMEM, "the state dict needs more than %zu bytes of float32", MAX_OUTPUT_BYTES);
    if (bytes > max_output(L))
        return ac_fail(AC_ERR_FORMAT, "tensor '%s' takes the state dict to %zu bytes of float32, more than %d times "
                       "the %llu bytes of the file (plus %zu MiB): views repeat storage elements too often",
                       name, bytes, MAX_EXPANSION, (unsigned long long)input_size(L), EXPANSION_SLACK >> 20);
    L->out_bytes = bytes;
    ac_tensor *t = ac_tensor_try_new(nd, shape);
    if (!t) {
        ac_error_prefix("tensor '%s'", name);
        return AC_ERR_NOMEM;
    }
    if (numel > 0 && dt == AC_PK_F32 && host_little_endian() && is_contiguous(nd, size, stride)) {
        const unsigned char *src = r->data + ((size_t)sv->u.storage.view_offset + (size_t)tv->u.tensor.offset) * 4;
        memcpy(t->data, src, (size_t)numel * 4);
    } else if (numel > 0) {
        const unsigned char *data = r->data + (size_t)sv->u.storage.view_offset * esz;
        uint64_t pos = (uint64_t)tv->u.tensor.offset;
        int64_t idx[AC_MAX_DIMS] = {0};
        for (size_t i = 0; i < (size_t)numel; i++) {
            t->data[i] = rd(data + pos * esz);
            for (int d = nd - 1; d >= 0; d--) {  // odometer over the strided view
                pos += (uint64_t)stride[d];
                if (++idx[d] < size[d]) break;
                pos -= (uint64_t)stride[d] * (uint64_t)size[d];
                idx[d] = 0;
            }
        }
    }
    *out = t;
    return AC_OK;
}

typedef struct pick {
    const char *name;
    const ac_pk_value *tensor;
} pick;

static ac_status collect(loader *L, const ac_pk_value *dict, ac_tensor_map **out) {
    size_t n = dict->u.dict.n, np = 0, cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    pick *picks = ac_xcalloc(n ? n : 1, sizeof *picks);
    size_t *slots = ac_xcalloc(cap, sizeof *slots);  // name -> pick index + 1
    ac_status s = AC_OK;
    for (size_t i = 0; i < n && s == AC_OK; i++) {
        const ac_pk_value *k = dict->u.dict.keys[i], *v = dict->u.dict.vals[i];
        if (k->kind != AC_PK_STR || v->kind != AC_PK_TENSOR) continue;  // not a named tensor
        if (strlen(k->u.str.data) != k->u.str.len) {
            s = ac_fail(AC_ERR_FORMAT, "a tensor name contains a NUL character");
            break;
        }
        size_t h = str_hash(k->u.str.data) & (cap - 1);
        while (slots[h] && strcmp(picks[slots[h] - 1].name, k->u.str.data)) h = (h + 1) & (cap - 1);
        if (slots[h]) {  // a repeated key: the last value wins, the first position stays
            picks[slots[h] - 1].tensor = v;
            continue;
        }
        if (np >= MAX_TENSORS) s = ac_fail(AC_ERR_FORMAT, "the state dict holds more than %d tensors", MAX_TENSORS);
        picks[np] = (pick){k->u.str.data, v};
        slots[h] = ++np;
    }
    for (size_t i = 0; i < np && s == AC_OK; i++) find_rec(L, picks[i].tensor->u.tensor.storage->u.storage.key)->refs++;
    ac_tensor_map *m = ac_tensor_map_new();
    for (size_t i = 0; i < np && s == AC_OK; i++) {
        ac_tensor *t = NULL;
        s = materialise(L, picks[i].name, picks[i].tensor, &t);
        if (s != AC_OK) break;
        ac_tensor_map_append(m, picks[i].name, t);  // names are unique (deduplicated above)
        srec *r = find_rec(L, picks[i].tensor->u.tensor.storage->u.storage.key);
        if (--r->refs == 0 && r->owned) {  // free storages read from the zip after last use
            free(r->owned);
            r->owned = NULL;
            r->data = NULL;
        }
    }
    free(picks);
    free(slots);
    if (s != AC_OK) {
        ac_tensor_map_free(m);
        return s;
    }
    *out = m;
    return AC_OK;
}

static ac_status load(const char *path, const unsigned char *mem, size_t len, const char *name,
                      const char *entry, ac_tensor_map **out) {
    *out = NULL;
    loader L;
    ac_status s = open_checkpoint(&L, path, mem, len);
    const ac_pk_value *dict = NULL;
    if (s == AC_OK) s = select_dict(&L, entry, &dict);
    if (s == AC_OK) s = collect(&L, dict, out);
    if (s != AC_OK) ac_error_prefix("%s", name);
    loader_free(&L);
    return s;
}

ac_status ac_torch_load(const char *path, const char *entry, ac_tensor_map **out) {
    return load(path, NULL, 0, path, entry, out);
}

ac_status ac_torch_load_mem(const unsigned char *buf, size_t size, const char *name, const char *entry,
                            ac_tensor_map **out) {
    return load(NULL, buf, size, name, entry, out);
}

static ac_status describe(const char *path, const unsigned char *mem, size_t len, const char *name, char **out) {
    *out = NULL;
    loader L;
    ac_status s = open_checkpoint(&L, path, mem, len);
    if (s != AC_OK) {
        ac_error_prefix("%s", name);
        loader_free(&L);
        return s;
    }
    const ac_pk_value *top = L.top;
    size_t cap = 4096, m = 0;
    char *text = ac_xmalloc(cap), d[256];
    m += (size_t)snprintf(text, cap, "%s: %s\n", L.za ? "zip checkpoint" : "legacy checkpoint", ac_pk_describe(top, d, sizeof d));
    for (size_t i = 0; top->kind == AC_PK_DICT && i < top->u.dict.n; i++) {
        char k[160];
        const ac_pk_value *key = top->u.dict.keys[i];
        if (key->kind == AC_PK_STR) snprintf(k, sizeof k, "%.150s", key->u.str.data);
        else ac_pk_describe(key, k, sizeof k);
        ac_pk_describe(top->u.dict.vals[i], d, sizeof d);
        size_t need = strlen(k) + strlen(d) + 8;
        if (m + need > cap) {
            while (m + need > cap) cap *= 2;
            text = ac_xrealloc(text, cap);
        }
        m += (size_t)snprintf(text + m, cap - m, "  %s: %s\n", k, d);
    }
    *out = text;
    loader_free(&L);
    return AC_OK;
}

ac_status ac_torch_describe(const char *path, char **out) { return describe(path, NULL, 0, path, out); }

ac_status ac_torch_describe_mem(const unsigned char *buf, size_t size, const char *name, char **out) {
    return describe(NULL, buf, size, name, out);
}
