// atomic_file.h: writes that never leave a half-written file. Data goes to a temporary file
// in the destination's folder; commit flushes, fsyncs and renames it over the destination;
// abort (or any failure) removes the temporary file.
#ifndef AC_ATOMIC_FILE_H
#define AC_ATOMIC_FILE_H

#include <stdio.h>

#include "core/common.h"

typedef struct ac_atomic_file {
    FILE *f;
    char *tmp_path;
    char *path;
    bool failed;
} ac_atomic_file;

ac_status ac_atomic_open(ac_atomic_file *af, const char *path);
// fwrite that remembers failure; returns false once anything failed.
bool ac_atomic_write(ac_atomic_file *af, const void *data, size_t size);
ac_status ac_atomic_commit(ac_atomic_file *af);
void ac_atomic_abort(ac_atomic_file *af);

#endif
