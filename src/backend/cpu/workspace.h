// workspace.h: scratch memory for the CPU kernels. Large buffers (padded inputs, transformed
// weights, GEMM panels) are needed for the length of one kernel call, again and again with
// the same few sizes; freeing them hands them back to the system and the next call pays page
// faults to zero fresh pages. Freed workspaces are kept in a small cache (a few blocks, a
// bounded number of bytes) and handed out again to requests they fit.
#ifndef AC_WORKSPACE_H
#define AC_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>

// At least `bytes` (64-byte aligned, uninitialised); asserts on exhaustion.
void *ac_cpu_ws_alloc(size_t bytes);
// Gives a workspace back (NULL is ignored).
void ac_cpu_ws_free(void *p);
// Frees every cached block (tests, or to return memory after a burst of work).
void ac_cpu_ws_trim(void);
// Tests: while on, every workspace handed out is first filled with NaN bits, so that a kernel
// whose results depend on scratch it never wrote shows it.
void ac_cpu_ws_set_poison(bool on);

#endif
