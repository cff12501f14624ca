// outputs.c: checks of the places a command will write, made before any work so that an
// output that cannot be written is a usage error (exit 2, one line) rather than a failure
// after minutes of work; and folders made for outputs, removed again when a command fails
// without writing into them (no leftovers); and the file name of a path.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "data/meta.h"

const char *ac_cli_base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

// `path` without trailing slashes (new string; "/" stays "/").
static char *trimmed(const char *path) {
    char *p = ac_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    return p;
}

// Replaces *p by its parent folder; false when *p was already the top ("/" or ".").
static bool step_up(char **p) {
    char *up = ac_path_parent(*p);
    bool top = !strcmp(up, *p);
    free(*p);
    *p = up;
    return !top;
}

// Creates and removes a file in the existing folder `dir`: the only sure test that files
// can be made there (permissions, read-only or special file systems such as /proc).
static bool can_create_in(const char *dir, int *err) {
    size_t n = strlen(dir) + 32;
    char *probe = ac_xmalloc(n);
    snprintf(probe, n, "%s/.allclear-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    *err = errno;
    if (fd >= 0) {
        close(fd);
        unlink(probe);
    }
    free(probe);
    return fd >= 0;
}

int ac_cli_check_out_file(const char *cmd, const char *path) {
    struct stat s;
    if (stat(path, &s) == 0 && S_ISDIR(s.st_mode)) {
        ac_cli_error("%s: %s: is a folder; give a file name", cmd, path);
        return 2;
    }
    char *dir = ac_path_parent(path);
    int rc = 0, err = 0;
    if (stat(dir, &s) != 0) {
        ac_cli_error("%s: %s: the folder %s %s", cmd, path, dir,
                     errno == ENOTDIR ? "is under a file, not a folder" : "does not exist");
        rc = 2;
    } else if (!S_ISDIR(s.st_mode)) {
        ac_cli_error("%s: %s: %s is not a folder", cmd, path, dir);
        rc = 2;
    } else if (!can_create_in(dir, &err)) {
        ac_cli_error("%s: %s: cannot write in %s: %s", cmd, path, dir, strerror(err));
        rc = 2;
    }
    free(dir);
    return rc;
}

int ac_cli_check_out_dir(const char *cmd, const char *dir) {
    // The folder itself when it exists, else its nearest existing ancestor, where the
    // missing folders would be made.
    char *p = trimmed(dir);
    int rc = 0, err = 0;
    struct stat s;
    for (;;) {
        if (stat(p, &s) == 0) {
            if (!S_ISDIR(s.st_mode)) {
                if (!strcmp(p, dir)) ac_cli_error("%s: %s: exists and is not a folder", cmd, dir);
                else ac_cli_error("%s: %s: cannot make this folder: %s is a file", cmd, dir, p);
                rc = 2;
            } else if (!can_create_in(p, &err)) {
                ac_cli_error("%s: %s: cannot write in %s: %s", cmd, dir, p, strerror(err));
                rc = 2;
            }
            break;
        }
        if (errno != ENOENT && errno != ENOTDIR) {  // ENOTDIR: a file on the way, reported above
            ac_cli_error("%s: %s: %s", cmd, dir, strerror(errno));
            rc = 2;
            break;
        }
        if (!step_up(&p)) break;
    }
    free(p);
    return rc;
}

char *ac_cli_missing_top(const char *dir) {
    char *p = trimmed(dir), *top = NULL;
    while (!ac_path_exists(p)) {
        free(top);
        top = ac_xstrdup(p);
        if (!step_up(&p)) break;
    }
    free(p);
    return top;
}

void ac_cli_remove_made(const char *dir, char *top) {
    if (!top) return;
    char *p = trimmed(dir);
    for (;;) {
        if (rmdir(p) != 0) break;  // not empty: keep it and its parents
        if (!strcmp(p, top) || !step_up(&p)) break;
    }
    free(p);
    free(top);
}
