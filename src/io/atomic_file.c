// atomic_file.c: temporary file + fsync + rename (see atomic_file.h).
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ac_status ac_atomic_open(ac_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->tmp_path = ac_xmalloc(n);
    snprintf(af->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        ac_status st = ac_fail(AC_ERR_IO, "%s: cannot create file: %s", path, strerror(errno));
        free(af->tmp_path);
        af->tmp_path = NULL;
        return st;
    }
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp_path);
        free(af->tmp_path);
        af->tmp_path = NULL;
        return ac_fail(AC_ERR_IO, "%s: cannot open for writing", path);
    }
    af->path = ac_xstrdup(path);
    return AC_OK;
}

bool ac_atomic_write(ac_atomic_file *af, const void *data, size_t size) {
    if (af->failed) return false;
    if (size && fwrite(data, 1, size, af->f) != size) af->failed = true;
    return !af->failed;
}

static void release(ac_atomic_file *af) {
    free(af->tmp_path);
    free(af->path);
    af->tmp_path = af->path = NULL;
    af->f = NULL;
}

void ac_atomic_abort(ac_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp_path) unlink(af->tmp_path);
    release(af);
}

ac_status ac_atomic_commit(ac_atomic_file *af) {
    int err = 0;
    if (af->failed || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) err = errno ? errno : EIO;
    if (fclose(af->f) != 0 && !err) err = errno ? errno : EIO;
    af->f = NULL;
    if (!err && rename(af->tmp_path, af->path) != 0) err = errno;
    if (err) {
        ac_status st = ac_fail(AC_ERR_IO, "%s: write failed: %s", af->path, strerror(err));
        unlink(af->tmp_path);
        release(af);
        return st;
    }
    // Make the rename itself durable.
    char *dir_copy = ac_xstrdup(af->path);
    int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir_copy);
    release(af);
    return AC_OK;
}
