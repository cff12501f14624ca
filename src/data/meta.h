// meta.h: dataset meta files, the reference's format: a JSON array of pairs
// [["clean_gt.png", "degraded_input.png"], ...] (ground truth first).
// Paths are resolved like the reference (relative to the current folder); when a relative
// path does not exist there but does exist relative to the meta file's own folder, that is
// used instead, so a dataset folder can be moved or used from anywhere. Every listed file is
// checked when the meta file is opened; the error names the meta file and the first few
// missing entries (index and path) with a count.
// A training folder holds one meta file per weather type: *.json sorted by file name, the
// i-th being type i (named by its file stem, e.g. "rain").
#ifndef AC_META_H
#define AC_META_H

#include "core/common.h"

typedef struct ac_pair {
    char *gt;     // resolved paths (as listed, or joined with the meta file's folder)
    char *input;
} ac_pair;

typedef struct ac_meta {
    char *path;   // the meta file
    char *name;   // its stem: the weather type's name
    ac_pair *pairs;
    size_t count;
} ac_meta;

// Reads and checks one meta file (an empty list is an error).
ac_status ac_meta_read(const char *path, ac_meta **out);
// The same on the file's text held in memory (buf[0..size), not NUL-terminated); `path` names
// the meta file (its folder and stem are used as by ac_meta_read; it is not opened).
ac_status ac_meta_parse_mem(const unsigned char *buf, size_t size, const char *path, ac_meta **out);
void ac_meta_free(ac_meta *m);

// Writes a meta file atomically (paths written as given).
ac_status ac_meta_write(const char *path, const ac_pair *pairs, size_t count);

typedef struct ac_meta_set {
    ac_meta **sources;  // sorted by file name
    int count;
} ac_meta_set;

// `path` is a folder (every *.json in it, sorted by name; at least one) or a single meta
// file (one source).
ac_status ac_meta_set_open(const char *path, ac_meta_set **out);
void ac_meta_set_free(ac_meta_set *s);

// Helpers shared with the CLI.
bool ac_path_is_dir(const char *path);
bool ac_path_exists(const char *path);
// Creates a folder and its parents (like mkdir -p).
ac_status ac_mkdir_p(const char *path);
// New string: the file name without folder and extension.
char *ac_path_stem(const char *path);
// New string: the folder holding `path`, trailing slashes ignored ("." for a bare name, "/"
// for a file at the root).
char *ac_path_parent(const char *path);
// New string: a + "/" + b (b returned as is when absolute).
char *ac_path_join(const char *a, const char *b);
// Lists the files in `dir` whose names end with one of `exts` (case-insensitive; NULL-
// terminated list, e.g. {".png", ".jpg", NULL}), sorted by name; each joined with dir.
ac_status ac_list_dir(const char *dir, const char *const *exts, char ***files, size_t *count);
void ac_free_list(char **files, size_t count);

#endif
