// atomic_file.c: temporary file + fsync + rename (see atomic_file.h).
#include "io/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ---- the fault-injection test hook (atomic_file.h) ----

static atomic_llong fault_count;

// Counts one atomic write and tells whether it is the one to kill and after how many bytes
// (*kill_at < 0: after all of them). False without the variable.
static bool fault_next(long long *kill_at) {
    *kill_at = -1;
    const char *s = getenv("AC_FAULT_KILL_WRITE");
    if (!s || !*s) return false;
    char *end;
    long long n = strtoll(s, &end, 10), b = -1;
    if (*end == ':') b = strtoll(end + 1, &end, 10);
    if (n < 1 || *end) return false;  // not a valid setting: no fault
    if (atomic_fetch_add(&fault_count, 1) + 1 != n) return false;
    *kill_at = b;
    return true;
}

static void fault_kill(void) {
    kill(getpid(), SIGKILL);
    for (;;) pause();  // SIGKILL cannot be caught: never reached
}

// The hook's crash: the first `n` bytes of data reach the temporary file, then SIGKILL.
static void fault_write_and_kill(ac_atomic_file *af, const void *data, size_t n) {
    if (n) fwrite(data, 1, n, af->f);
    fflush(af->f);
    fault_kill();
}

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
    af->kill = fault_next(&af->kill_at);
    return AC_OK;
}

bool ac_atomic_write(ac_atomic_file *af, const void *data, size_t size) {
    if (af->failed) return false;
    if (af->kill && af->kill_at >= 0 && af->written + (long long)size >= af->kill_at)
        fault_write_and_kill(af, data, (size_t)(af->kill_at - af->written));
    af->written += (long long)size;
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
    if (af->kill) fault_write_and_kill(af, NULL, 0);
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

ac_status ac_file_write_atomic(const char *path, const void *buf, size_t size) {
    ac_atomic_file af;
    ac_status st = ac_atomic_open(&af, path);
    if (st) return st;
    if (!ac_atomic_write(&af, buf, size)) {
        st = ac_fail(AC_ERR_IO, "%s: cannot write: %s", path, strerror(errno ? errno : EIO));
        ac_atomic_abort(&af);
        return st;
    }
    return ac_atomic_commit(&af);
}

// ---- leftovers of killed writers ----

static bool is_temp_name(const char *name) {
    size_t n = strlen(name);
    if (n < 12) return false;
    const char *t = name + n - 11;  // ".tmp.XXXXXX" or ".tmp-XXXXXX"
    if (strncmp(t, ".tmp", 4) || (t[4] != '.' && t[4] != '-')) return false;
    for (int i = 5; i < 11; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

ac_status ac_atomic_sweep(const char *dir, int *removed) {
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return ac_fail(AC_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    ac_status st = AC_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_temp_name(e->d_name)) continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = ac_xmalloc(n);
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (unlink(p) == 0) (*removed)++;
            else if (!st) st = ac_fail(AC_ERR_IO, "%s: cannot remove: %s", p, strerror(errno));
        }
        free(p);
    }
    closedir(d);
    return st;
}
