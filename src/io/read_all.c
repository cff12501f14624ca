// read_all.c: whole-file reads (read_all.h).
#include "io/read_all.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ac_status ac_file_read_all(const char *path, size_t max_bytes, unsigned char **buf, size_t *size) {
    *buf = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ac_fail(AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return ac_fail(AC_ERR_IO, "%s: is a folder, not a file", path);
    }
    size_t cap = (sb.st_size > 0 && (uint64_t)sb.st_size < SIZE_MAX) ? (size_t)sb.st_size + 1 : 65536;
    if (max_bytes && cap > max_bytes + 1) cap = max_bytes + 1;
    unsigned char *p = malloc(cap);
    size_t n = 0;
    if (!p) {
        fclose(f);
        return ac_fail(AC_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    }
    for (;;) {
        if (n == cap) {
            if (max_bytes && n > max_bytes) break;
            size_t ncap = cap * 2;
            unsigned char *q = ncap > cap ? realloc(p, ncap) : NULL;
            if (!q) {
                free(p);
                fclose(f);
                return ac_fail(AC_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            p = q;
            cap = ncap;
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(p);
        return ac_fail(AC_ERR_IO, "%s: read error", path);
    }
    if (max_bytes && n > max_bytes) {
        free(p);
        return ac_fail(AC_ERR_FORMAT, "%s: file is larger than %zu bytes", path, max_bytes);
    }
    *buf = p;
    *size = n;
    return AC_OK;
}
