// safetensors.c: strict reader and atomic writer of .safetensors files (see safetensors.h).
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "io/atomic_file.h"

#define AC_ST_MAX_HEADER (100u << 20)  // 100 MiB of JSON is far beyond any model
#define AC_ST_MAX_TENSORS 1000000
#define AC_ST_MAX_META 4096             // __metadata__ entries (a handful in practice)

typedef struct st_entry {
    const char *name;
    int dtype_size;
    char dtype[8];
    int ndim;
    int shape[AC_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static int dtype_size(const char *d) {
    if (!strcmp(d, "F32")) return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16")) return 2;
    if (!strcmp(d, "F64")) return 8;
    return 0;
}

static int cmp_begin(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static int cmp_name(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    return strcmp(x->name, y->name);
}

// A JSON number that is a whole number in [0, max].
static bool whole_number(const cJSON *v, double max, double *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= max) || d != (double)(uint64_t)d) return false;
    *out = d;
    return true;
}

static ac_status parse_entry(const cJSON *item, st_entry *e) {
    const char *name = item->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return ac_fail(AC_ERR_FORMAT, "tensor '%s' has a malformed header entry", name);
    e->name = name;
    e->dtype_size = dtype_size(dtype->valuestring);
    if (!e->dtype_size)
        return ac_fail(AC_ERR_UNSUPPORTED, "tensor '%s' has unsupported dtype %s", name,
                       dtype->valuestring);
    snprintf(e->dtype, sizeof e->dtype, "%s", dtype->valuestring);
    e->ndim = cJSON_GetArraySize(shape);
    if (e->ndim > AC_MAX_DIMS)
        return ac_fail(AC_ERR_UNSUPPORTED, "tensor '%s' has %d dimensions (at most %d)", name,
                       e->ndim, AC_MAX_DIMS);
    size_t numel = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        double v;
        if (!whole_number(d, 2147483647.0, &v))
            return ac_fail(AC_ERR_FORMAT, "tensor '%s' has an invalid shape", name);
        e->shape[i] = (int)v;
        if (!ac_mul_size(numel, (size_t)e->shape[i], &numel))
            return ac_fail(AC_ERR_FORMAT, "tensor '%s' is too large", name);
    }
    // Offsets are exact integers in a double below 2^53 (9.0e15).
    double b, en;
    if (!whole_number(offs->child, 9.0e15, &b) || !whole_number(offs->child->next, 9.0e15, &en) || en < b)
        return ac_fail(AC_ERR_FORMAT, "tensor '%s' has invalid data_offsets", name);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    size_t bytes;
    if (!ac_mul_size(numel, (size_t)e->dtype_size, &bytes) || bytes != e->end - e->begin)
        return ac_fail(AC_ERR_FORMAT, "tensor '%s': data_offsets span %llu bytes, shape needs %zu",
                       name, (unsigned long long)(e->end - e->begin), bytes);
    return AC_OK;
}

static void convert(const st_entry *e, const unsigned char *src, float *dst, size_t numel) {
    if (e->dtype_size == 4) {
        memcpy(dst, src, numel * 4);
    } else if (!strcmp(e->dtype, "F64")) {
        for (size_t i = 0; i < numel; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
        }
    } else {
        bool bf = !strcmp(e->dtype, "BF16");
        for (size_t i = 0; i < numel; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            dst[i] = bf ? ac_bf16_to_f32(h) : ac_f16_to_f32(h);
        }
    }
}

ac_status ac_safetensors_read_mem(const unsigned char *buf, size_t size, ac_tensor_map **out) {
    *out = NULL;
    if (size < 8) return ac_fail(AC_ERR_FORMAT, "file too short for a safetensors header");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > AC_ST_MAX_HEADER || hlen > size - 8)
        return ac_fail(AC_ERR_FORMAT, "header length %llu exceeds the file",
                       (unsigned long long)hlen);
    // Only spaces (the writers' padding) or other JSON whitespace may follow the object.
    const char *end = NULL, *text = (const char *)buf + 8;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, false);
    while (root && end < text + hlen && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (!root || !cJSON_IsObject(root) || end != text + hlen) {
        cJSON_Delete(root);
        return ac_fail(AC_ERR_FORMAT, "header is not a valid JSON object");
    }
    const unsigned char *data = buf + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    int n = cJSON_GetArraySize(root);
    if (n > AC_ST_MAX_TENSORS) {
        cJSON_Delete(root);
        return ac_fail(AC_ERR_FORMAT, "too many entries in the header (%d)", n);
    }
    st_entry *entries = ac_xcalloc((size_t)n + 1, sizeof *entries);
    int count = 0;
    ac_status st = AC_OK;
    const cJSON *meta = NULL;
    for (const cJSON *item = root->child; item && st == AC_OK; item = item->next) {
        if (!item->string) { st = ac_fail(AC_ERR_FORMAT, "header entry without a name"); break; }
        if (!strcmp(item->string, "__metadata__")) {
            if (meta || !cJSON_IsObject(item)) st = ac_fail(AC_ERR_FORMAT, "invalid __metadata__");
            meta = item;
            continue;
        }
        st = parse_entry(item, &entries[count]);
        if (st == AC_OK) count++;
    }
    if (st == AC_OK && meta && cJSON_GetArraySize(meta) > AC_ST_MAX_META)
        st = ac_fail(AC_ERR_FORMAT, "__metadata__ holds more than %d entries", AC_ST_MAX_META);
    if (st == AC_OK) {
        // Names must be unique; offsets must tile the data buffer exactly: sorted, contiguous,
        // no overlap, no gap.
        st_entry *sorted = ac_xmalloc(((size_t)count + 1) * sizeof *sorted);
        memcpy(sorted, entries, (size_t)count * sizeof *sorted);
        qsort(sorted, (size_t)count, sizeof *sorted, cmp_name);
        for (int i = 1; i < count && st == AC_OK; i++)
            if (!strcmp(sorted[i - 1].name, sorted[i].name))
                st = ac_fail(AC_ERR_FORMAT, "duplicate tensor name '%s'", sorted[i].name);
        qsort(sorted, (size_t)count, sizeof *sorted, cmp_begin);
        uint64_t pos = 0;
        for (int i = 0; i < count && st == AC_OK; i++) {
            if (sorted[i].begin != pos)
                st = ac_fail(AC_ERR_FORMAT, "tensor '%s' data %s", sorted[i].name,
                             sorted[i].begin < pos ? "overlaps another tensor" : "leaves a gap");
            pos = sorted[i].end;
        }
        if (st == AC_OK && pos != data_size)
            st = ac_fail(AC_ERR_FORMAT, "tensor data covers %llu bytes but the file holds %llu",
                         (unsigned long long)pos, (unsigned long long)data_size);
        free(sorted);
    }
    ac_tensor_map *m = NULL;
    if (st == AC_OK) {
        m = ac_tensor_map_new();
        for (int i = 0; i < count && st == AC_OK; i++) {
            ac_tensor *t = ac_tensor_try_new(entries[i].ndim, entries[i].shape);
            if (!t) { st = AC_ERR_NOMEM; break; }
            convert(&entries[i], data + entries[i].begin, t->data, ac_numel(t));
            ac_tensor_map_append(m, entries[i].name, t);  // names checked unique above
        }
        for (const cJSON *kv = meta ? meta->child : NULL; kv && st == AC_OK; kv = kv->next) {
            if (!cJSON_IsString(kv))
                st = ac_fail(AC_ERR_FORMAT, "__metadata__ value '%s' is not a string", kv->string);
            else
                ac_tensor_map_set_meta(m, kv->string, kv->valuestring);
        }
    }
    free(entries);
    cJSON_Delete(root);
    if (st != AC_OK) {
        ac_tensor_map_free(m);
        return st;
    }
    *out = m;
    return AC_OK;
}

ac_status ac_safetensors_read(const char *path, ac_tensor_map **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ac_fail(AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return ac_fail(AC_ERR_IO, "%s: cannot read (not a regular file?)", path);
    }
    long len = ftell(f);
    if (len < 0) {
        fclose(f);
        return ac_fail(AC_ERR_IO, "%s: cannot read (not a regular file?)", path);
    }
    rewind(f);
    unsigned char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return ac_fail(AC_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, len);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return ac_fail(AC_ERR_IO, "%s: read failed", path);
    }
    ac_status st = ac_safetensors_read_mem(buf, (size_t)len, out);
    free(buf);
    if (st != AC_OK) ac_error_prefix("%s", path);
    return st;
}

ac_status ac_safetensors_write(const char *path, const ac_tensor_map *m) {
    cJSON *root = cJSON_CreateObject();
    if (m->n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < m->n_meta; i++)
            cJSON_AddStringToObject(meta, m->meta[i].key, m->meta[i].value);
    }
    uint64_t offset = 0;
    for (int i = 0; i < m->count; i++) {
        const ac_tensor *t = m->items[i].tensor;
        cJSON *e = cJSON_AddObjectToObject(root, m->items[i].name);
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(t->shape[d]));
        uint64_t bytes = ac_numel(t) * sizeof(float);
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + bytes)));
        offset += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    AC_ASSERT_MSG(json != NULL, "out of memory printing a safetensors header");
    size_t jlen = strlen(json);
    size_t padded = (jlen + 7) / 8 * 8;  // keeps tensor data 8-byte aligned
    ac_atomic_file af;
    ac_status st = ac_atomic_open(&af, path);
    if (st != AC_OK) {
        free(json);
        return st;
    }
    unsigned char hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    ac_atomic_write(&af, hdr, 8);
    ac_atomic_write(&af, json, jlen);
    ac_atomic_write(&af, "        ", padded - jlen);
    free(json);
    for (int i = 0; i < m->count; i++) {
        const ac_tensor *t = m->items[i].tensor;
        ac_atomic_write(&af, t->data, ac_numel(t) * sizeof(float));
    }
    return ac_atomic_commit(&af);
}
