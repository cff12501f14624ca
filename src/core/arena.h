// arena.h: a bump allocator for one step's activations and gradients. Everything allocated
// from it is released at once by ac_arena_reset; after a reset the arena keeps one block as
// large as the previous step needed, so steady-state steps do no system allocation.
#ifndef AC_ARENA_H
#define AC_ARENA_H

#include "core/common.h"

typedef struct ac_arena ac_arena;

ac_arena *ac_arena_new(size_t initial_bytes);
void ac_arena_free(ac_arena *a);
// 64-byte aligned, uninitialised; aborts when memory is exhausted.
void *ac_arena_alloc(ac_arena *a, size_t bytes);
void ac_arena_reset(ac_arena *a);
size_t ac_arena_used(const ac_arena *a);
size_t ac_arena_peak(const ac_arena *a);

#endif
