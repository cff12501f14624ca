// tensor_map.h: an ordered set of named tensors plus string metadata: what a weight file
// holds. Weights are always named (PyTorch state_dict keys), never implied by order; the
// order of insertion is kept so that files list tensors the way PyTorch does.
#ifndef AC_TENSOR_MAP_H
#define AC_TENSOR_MAP_H

#include "core/tensor.h"

typedef struct ac_named_tensor {
    char *name;
    ac_tensor *tensor;  // owned by the map
} ac_named_tensor;

typedef struct ac_meta_entry {
    char *key, *value;
} ac_meta_entry;

typedef struct ac_tensor_map {
    ac_named_tensor *items;
    int count, cap;
    ac_meta_entry *meta;
    int n_meta, cap_meta;
} ac_tensor_map;

ac_tensor_map *ac_tensor_map_new(void);
void ac_tensor_map_free(ac_tensor_map *m);
// Adds (or replaces) `name`; the map takes ownership of t.
void ac_tensor_map_put(ac_tensor_map *m, const char *name, ac_tensor *t);
// Appends `name` without looking for an earlier entry (put's look-up is linear in the map's
// size): for readers that have already made sure that the names are unique.
void ac_tensor_map_append(ac_tensor_map *m, const char *name, ac_tensor *t);
ac_tensor *ac_tensor_map_get(const ac_tensor_map *m, const char *name);
// Removes `name` from the map and hands the tensor to the caller (NULL when absent).
ac_tensor *ac_tensor_map_take(ac_tensor_map *m, const char *name);
void ac_tensor_map_set_meta(ac_tensor_map *m, const char *key, const char *value);
const char *ac_tensor_map_meta(const ac_tensor_map *m, const char *key);

#endif
