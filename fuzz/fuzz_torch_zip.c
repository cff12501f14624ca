// fuzz_torch_zip.c: libFuzzer harness for the zip side of the PyTorch checkpoint reader. A
// mutated zip almost never survives libzip's CRC checks, so this harness wraps the fuzzed
// bytes in a valid archive built in memory and loads that with ac_torch_load_mem:
//   byte 0: flags (bit 0: entries under "archive/", bit 1: a byteorder entry,
//           bit 2: byteorder says "big", bit 3: store data.pkl deflated)
//   bytes 1-2: n, the length of data.pkl (little-endian), then n bytes of data.pkl
//   the rest: the bytes of every storage entry data/0 .. data/15.
#include <stdlib.h>
#include <zip.h>

#include "fuzz_util.h"
#include "io/torch_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool add(zip_t *za, const char *prefix, const char *name, const void *buf, size_t len, bool deflate) {
    char full[64];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    zip_source_t *s = zip_source_buffer(za, buf, len, 0);
    if (!s) return false;
    zip_int64_t idx = zip_file_add(za, full, s, ZIP_FL_OVERWRITE);
    if (idx < 0) {
        zip_source_free(s);
        return false;
    }
    return zip_set_file_compression(za, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 1) == 0;
}

// Builds the archive; returns a malloc'ed buffer or NULL.
static unsigned char *build_zip(const uint8_t *data, size_t size, size_t *out_len) {
    if (size < 3) return NULL;
    unsigned flags = data[0];
    size_t n = (size_t)data[1] | (size_t)data[2] << 8;
    if (n > size - 3) n = size - 3;
    const uint8_t *pkl = data + 3, *rest = pkl + n;
    size_t nrest = size - 3 - n;
    const char *prefix = (flags & 1) ? "archive/" : "";
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
    zip_error_fini(&ze);
    if (!za) {
        if (src) zip_source_free(src);
        return NULL;
    }
    zip_source_keep(src);
    bool ok = add(za, prefix, "data.pkl", pkl, n, flags & 8);
    if (ok && (flags & 2)) ok = add(za, prefix, "byteorder", (flags & 4) ? "big" : "little", (flags & 4) ? 3 : 6, false);
    for (int k = 0; ok && k < 16; k++) {
        char name[16];
        snprintf(name, sizeof name, "data/%d", k);
        ok = add(za, prefix, name, rest, nrest, false);
    }
    if (!ok || zip_close(za) != 0) {
        if (!ok) zip_discard(za);
        zip_source_free(src);
        return NULL;
    }
    unsigned char *buf = NULL;
    zip_stat_t st;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        buf = malloc(st.size ? st.size : 1);
        if (buf && zip_source_read(src, buf, st.size) != (zip_int64_t)st.size) {
            free(buf);
            buf = NULL;
        }
        zip_source_close(src);
        *out_len = st.size;
    }
    zip_source_free(src);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t len = 0;
    unsigned char *zipbuf = build_zip(data, size, &len);
    if (!zipbuf) return 0;
    ac_tensor_map *m = NULL;
    if (ac_torch_load_mem(zipbuf, len, "fuzz.pth", NULL, &m) == AC_OK) {
        ac_fuzz_touch_map(m);
        ac_tensor_map_free(m);
    }
    free(zipbuf);
    return 0;
}
