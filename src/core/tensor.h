// tensor.h: the float32 NCHW tensor. Parameters own heap storage (data, grad); activations
// belong to a graph (graph.h) that allocates them from its arena or, in inference mode, from
// the heap so that they can be freed after their last use.
#ifndef AC_TENSOR_H
#define AC_TENSOR_H

#include "core/common.h"

#define AC_MAX_DIMS 4

typedef enum ac_storage {
    AC_STORAGE_OWNED,  // ac_tensor_new: data and grad on the heap, freed by ac_tensor_free
    AC_STORAGE_ARENA,  // a recording graph's activation, lives until ac_graph_reset
    AC_STORAGE_HEAP,   // an inference graph's activation, freed by ac_graph_drop/reset
    AC_STORAGE_VIEW,   // an inference graph's view into another activation (ac_graph_view)
} ac_storage;

typedef struct ac_tensor {
    int ndim;
    int shape[AC_MAX_DIMS];
    float *data;          // contiguous, row-major, 64-byte aligned
    float *grad;          // same shape as data; NULL until a gradient is needed
    bool requires_grad;   // a trainable leaf, or a result computed from one
    uint8_t storage;      // ac_storage
    int slot;             // graph bookkeeping (heap slot), -1 for owned tensors
} ac_tensor;

// A new zero-filled tensor that owns its storage (parameters, inputs, fixtures).
ac_tensor *ac_tensor_new(int ndim, const int *shape);
ac_tensor *ac_tensor_new4(int n, int c, int h, int w);
ac_tensor *ac_tensor_new1(int n);
// Like ac_tensor_new but returns NULL (with ac_fail set) when the size overflows or memory is short;
// for sizes that come from files.
ac_tensor *ac_tensor_try_new(int ndim, const int *shape);
void ac_tensor_free(ac_tensor *t);
// Marks an owned tensor as trainable and gives it a zeroed gradient buffer.
void ac_tensor_enable_grad(ac_tensor *t);
void ac_tensor_zero_grad(ac_tensor *t);
ac_tensor *ac_tensor_clone(const ac_tensor *t);  // owned copy of data (no grad)

static inline size_t ac_numel(const ac_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}
bool ac_same_shape(const ac_tensor *a, const ac_tensor *b);
// Writes "[2,3,4]" into buf; returns buf.
char *ac_shape_str(const ac_tensor *t, char *buf, size_t size);
// Number of elements for a shape; false when a dimension is negative or the product overflows.
bool ac_shape_numel(int ndim, const int *shape, size_t *out);

#endif
