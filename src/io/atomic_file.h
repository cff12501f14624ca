// atomic_file.h: writes that never leave a half-written file. Data goes to a temporary file
// in the destination's folder; commit flushes, fsyncs and renames it over the destination;
// abort (or any failure) removes the temporary file. A process killed mid-write leaves the
// old destination intact plus a stray temporary file (DEST.tmp.XXXXXX; older versions also
// wrote DEST.tmp-XXXXXX), which ac_atomic_sweep removes.
//
// Test hook (fault injection, for crash-safety tests): with the environment variable
// AC_FAULT_KILL_WRITE=N or N:B, the process kills itself with SIGKILL during its Nth atomic
// write (counting ac_atomic_open calls from 1): after B bytes of
// the temporary file are on disk (N alone: after all of them), before the rename.
#ifndef AC_ATOMIC_FILE_H
#define AC_ATOMIC_FILE_H

#include <stdio.h>

#include "core/common.h"

typedef struct ac_atomic_file {
    FILE *f;
    char *tmp_path;
    char *path;
    bool failed;
    // the test hook: this is the write to kill, after kill_at bytes (< 0: before the rename)
    bool kill;
    long long kill_at, written;
} ac_atomic_file;

ac_status ac_atomic_open(ac_atomic_file *af, const char *path);
// fwrite that remembers failure; returns false once anything failed.
bool ac_atomic_write(ac_atomic_file *af, const void *data, size_t size);
ac_status ac_atomic_commit(ac_atomic_file *af);
void ac_atomic_abort(ac_atomic_file *af);

// Writes a whole buffer to `path` atomically (open, write, commit above).
ac_status ac_file_write_atomic(const char *path, const void *buf, size_t size);

// Removes from dir the temporary files of atomic writes that a killed process left behind
// (names ending in .tmp.XXXXXX or .tmp-XXXXXX, six characters of mkstemp's alphabet); sets
// *removed to their number. Only for folders that no other process is writing into.
ac_status ac_atomic_sweep(const char *dir, int *removed);

#endif
