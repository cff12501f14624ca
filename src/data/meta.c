// meta.c: meta files (JSON lists of clean/degraded pairs) read with cJSON, path resolution
// and up-front checks, the writer, meta folders, and small path helpers.
#include "data/meta.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/atomic_file.h"
#include "io/read_all.h"

#define MAX_META_BYTES (256u << 20)
#define SHOW_MISSING 3

bool ac_path_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool ac_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

ac_status ac_mkdir_p(const char *path) {
    char *p = ac_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s == '/' || end) {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                ac_status st = ac_fail(AC_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
                free(p);
                return st;
            }
            if (end) break;
            *s = '/';
        }
    }
    bool ok = ac_path_is_dir(path);
    free(p);
    return ok ? AC_OK : ac_fail(AC_ERR_IO, "%s: exists and is not a folder", path);
}

char *ac_path_stem(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = ac_xstrdup(base);
    char *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = '\0';
    return s;
}

char *ac_path_join(const char *a, const char *b) {
    if (b[0] == '/' || !a[0]) return ac_xstrdup(b);
    size_t na = strlen(a), nb = strlen(b);
    bool slash = a[na - 1] == '/';
    char *s = ac_xmalloc(na + nb + 2);
    memcpy(s, a, na);
    if (!slash) s[na++] = '/';
    memcpy(s + na, b, nb + 1);
    return s;
}

char *ac_path_parent(const char *path) {
    char *p = ac_xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';  // trailing slashes ("/" stays "/")
    char *slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return ac_xstrdup(".");
    }
    if (slash == p) slash[1] = '\0';  // "/x" -> "/"
    else *slash = '\0';
    return p;
}

// The path as listed when it exists; otherwise relative to the meta file's folder when it
// exists there; otherwise NULL.
static char *resolve(const char *listed, const char *meta_dir) {
    if (is_file(listed)) return ac_xstrdup(listed);
    if (listed[0] != '/' && strcmp(meta_dir, ".")) {
        char *alt = ac_path_join(meta_dir, listed);
        if (is_file(alt)) return alt;
        free(alt);
    }
    return NULL;
}

void ac_meta_free(ac_meta *m) {
    if (!m) return;
    for (size_t i = 0; i < m->count; i++) {
        free(m->pairs[i].gt);
        free(m->pairs[i].input);
    }
    free(m->pairs);
    free(m->path);
    free(m->name);
    free(m);
}

ac_status ac_meta_read(const char *path, ac_meta **out) {
    *out = NULL;
    unsigned char *buf;
    size_t size;
    ac_status st = ac_file_read_all(path, MAX_META_BYTES, &buf, &size);
    if (st) return st;
    st = ac_meta_parse_mem(buf, size, path, out);
    free(buf);
    return st;
}

ac_status ac_meta_parse_mem(const unsigned char *buf, size_t size, const char *path, ac_meta **out) {
    *out = NULL;
    ac_status st = AC_OK;
    if (size > MAX_META_BYTES) return ac_fail(AC_ERR_FORMAT, "%s: file is larger than %u bytes", path, MAX_META_BYTES);
    const char *end = NULL, *text = (const char *)buf;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size, &end, false);
    while (root && end < text + size && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (root && end != text + size) {  // trailing text after the list
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root) return ac_fail(AC_ERR_FORMAT, "%s: invalid JSON (expected [[\"clean\", \"degraded\"], ...])", path);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return ac_fail(AC_ERR_FORMAT, "%s: expected a JSON array of [clean, degraded] pairs", path);
    }
    int n = cJSON_GetArraySize(root);
    if (n == 0) {
        cJSON_Delete(root);
        return ac_fail(AC_ERR_FORMAT, "%s: the list of pairs is empty", path);
    }
    ac_meta *m = ac_xcalloc(1, sizeof *m);
    m->path = ac_xstrdup(path);
    m->name = ac_path_stem(path);
    m->pairs = ac_xcalloc((size_t)n, sizeof *m->pairs);
    char *mdir = ac_path_parent(path);
    char missing[SHOW_MISSING][600];
    size_t nmissing = 0, nshow = 0;
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        const cJSON *a = cJSON_GetArrayItem(item, 0), *b = cJSON_GetArrayItem(item, 1);
        if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b) ||
            !a->valuestring[0] || !b->valuestring[0]) {
            st = ac_fail(AC_ERR_FORMAT, "%s: entry %d is not a pair of two file names", path, i);
            break;
        }
        const char *listed[2] = {a->valuestring, b->valuestring};
        char *res[2];
        for (int k = 0; k < 2; k++) {
            res[k] = resolve(listed[k], mdir);
            if (!res[k]) {
                if (nshow < SHOW_MISSING)
                    snprintf(missing[nshow++], sizeof missing[0], "[%d] '%.500s'", i, listed[k]);
                nmissing++;
            }
        }
        m->pairs[i].gt = res[0];
        m->pairs[i].input = res[1];
        m->count = (size_t)++i;
    }
    cJSON_Delete(root);
    free(mdir);
    if (!st && nmissing) {
        char list[SHOW_MISSING * 610] = "";
        for (size_t k = 0; k < nshow; k++) {
            strcat(list, k ? ", " : "");
            strcat(list, missing[k]);
        }
        st = ac_fail(AC_ERR_IO, "%s: %zu listed image%s not found (relative paths are tried from the current "
                     "folder and from the meta file's folder): %s%s", path, nmissing, nmissing == 1 ? " is" : "s are",
                     list, nmissing > nshow ? ", ..." : "");
    }
    if (st) {
        ac_meta_free(m);
        return st;
    }
    *out = m;
    return AC_OK;
}

ac_status ac_meta_write(const char *path, const ac_pair *pairs, size_t count) {
    cJSON *root = cJSON_CreateArray();
    for (size_t i = 0; i < count; i++) {
        const char *p[2] = {pairs[i].gt, pairs[i].input};
        cJSON_AddItemToArray(root, cJSON_CreateStringArray(p, 2));
    }
    // one pair per line, like the reference's files
    size_t cap = 64, len = 0;
    char *text = ac_xmalloc(cap);
    text[len++] = '[';
    for (size_t i = 0; i < count; i++) {
        char *item = cJSON_PrintUnformatted(cJSON_GetArrayItem(root, (int)i));
        AC_ASSERT(item != NULL);
        size_t n = strlen(item);
        while (len + n + 8 > cap) cap *= 2;
        text = ac_xrealloc(text, cap);
        len += (size_t)sprintf(text + len, "\n  %s%s", item, i + 1 < count ? "," : "");
        free(item);
    }
    text = ac_xrealloc(text, len + 4);
    len += (size_t)sprintf(text + len, "\n]\n");
    cJSON_Delete(root);
    ac_status st = ac_file_write_atomic(path, text, len);
    free(text);
    return st;
}

void ac_free_list(char **files, size_t count) {
    for (size_t i = 0; i < count; i++) free(files[i]);
    free(files);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool has_ext(const char *name, const char *const *exts) {
    size_t n = strlen(name);
    for (; *exts; exts++) {
        size_t k = strlen(*exts);
        if (n > k && !strcasecmp(name + n - k, *exts)) return true;
    }
    return false;
}

ac_status ac_list_dir(const char *dir, const char *const *exts, char ***files, size_t *count) {
    *files = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return ac_fail(AC_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    size_t n = 0, cap = 16;
    char **list = ac_xmalloc(cap * sizeof *list);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_ext(e->d_name, exts)) continue;
        char *p = ac_path_join(dir, e->d_name);
        if (!is_file(p)) {
            free(p);
            continue;
        }
        if (n == cap) list = ac_xrealloc(list, (cap *= 2) * sizeof *list);
        list[n++] = p;
    }
    closedir(d);
    qsort(list, n, sizeof *list, cmp_str);
    *files = list;
    *count = n;
    return AC_OK;
}

void ac_meta_set_free(ac_meta_set *s) {
    if (!s) return;
    for (int i = 0; i < s->count; i++) ac_meta_free(s->sources[i]);
    free(s->sources);
    free(s);
}

ac_status ac_meta_set_open(const char *path, ac_meta_set **out) {
    *out = NULL;
    char **files = NULL;
    size_t n = 0;
    if (ac_path_is_dir(path)) {
        static const char *const json[] = {".json", NULL};
        ac_status st = ac_list_dir(path, json, &files, &n);
        if (st) return st;
        if (n == 0) {
            ac_free_list(files, n);
            return ac_fail(AC_ERR_IO, "%s: no meta files (*.json) in this folder", path);
        }
    } else {
        files = ac_xmalloc(sizeof *files);
        files[0] = ac_xstrdup(path);
        n = 1;
    }
    ac_meta_set *s = ac_xcalloc(1, sizeof *s);
    s->sources = ac_xcalloc(n, sizeof *s->sources);
    for (size_t i = 0; i < n; i++) {
        ac_status st = ac_meta_read(files[i], &s->sources[i]);
        if (st) {
            ac_meta_set_free(s);
            ac_free_list(files, n);
            return st;
        }
        s->count = (int)i + 1;
    }
    ac_free_list(files, n);
    *out = s;
    return AC_OK;
}
