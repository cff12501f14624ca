// graph.h: the reverse-mode autograd tape and the owner of one step's activations.
//
// A recording graph (training) allocates activations and their gradients from an arena and
// appends one node per op whose inputs require gradients; ac_backward walks the nodes in
// reverse and each node's backward accumulates into its inputs' gradients. Parameters that do
// not require gradients (frozen VGG19, teachers) get none, yet gradients still flow through
// the ops that use them to inputs that do.
//
// An inference graph records nothing; its activations live on the heap and the model code
// frees each one after its last use with ac_graph_drop, which keeps peak memory low.
#ifndef AC_GRAPH_H
#define AC_GRAPH_H

#include "core/tensor.h"

typedef struct ac_graph ac_graph;
typedef struct ac_node ac_node;
typedef void (*ac_backward_fn)(ac_graph *g, ac_node *node);

#define AC_NODE_MAX_IARGS 12
#define AC_NODE_MAX_FARGS 4

struct ac_node {
    ac_backward_fn backward;
    ac_tensor *out;
    ac_tensor **in;  // n_in inputs, in the op's order
    int n_in;
    int iarg[AC_NODE_MAX_IARGS];  // op-specific integer arguments (stride, padding, ...)
    float farg[AC_NODE_MAX_FARGS];
    void *extra;                  // op-specific data allocated with ac_graph_scratch
    // The op wrote into a channel slice of `out`, which an earlier node created: out's
    // gradient stays for the earlier nodes after this node's backward (set by the op).
    bool writes_slice;
};

ac_graph *ac_graph_new(bool recording);
void ac_graph_free(ac_graph *g);
// Forgets the tape and releases every activation and activation gradient.
void ac_graph_reset(ac_graph *g);
bool ac_graph_recording(const ac_graph *g);

// A new activation (uninitialised data, no grad).
ac_tensor *ac_graph_tensor(ac_graph *g, int ndim, const int *shape);
ac_tensor *ac_graph_tensor4(ac_graph *g, int n, int c, int h, int w);
ac_tensor *ac_graph_tensor_like(ac_graph *g, const ac_tensor *t);
// Releases an activation after its last use. In a recording graph this does nothing (the tape
// still needs it); owned tensors are never touched.
void ac_graph_drop(ac_graph *g, ac_tensor *t);
// In an inference graph: a tensor of the given shape whose data is x's from element `offset`
// on (64-byte aligned), without a copy. x must outlive it; dropping the view does nothing.
ac_tensor *ac_graph_view(ac_graph *g, ac_tensor *x, int ndim, const int *shape, size_t offset);
// Memory that lives until the next reset (64-byte aligned, uninitialised).
void *ac_graph_scratch(ac_graph *g, size_t bytes);

// For ops: when the graph records and any input requires a gradient, marks `out` as requiring
// one and appends a node (returned, for the op to fill its arguments); otherwise returns NULL.
ac_node *ac_graph_record(ac_graph *g, ac_tensor *out, ac_backward_fn backward, int n_in,
                         ac_tensor *const *in);
// The gradient buffer of t, allocated zero-filled on first use (owned tensors must have called
// ac_tensor_enable_grad). Returns NULL when t does not require a gradient.
float *ac_graph_grad(ac_graph *g, ac_tensor *t);
// The same for an op that writes every element of t's gradient: where t has none yet, its
// buffer is not zero-filled and *overwrite is set (the op assigns instead of adding: a
// separate pass that zeroes an activation's gradient costs a trip through memory); otherwise
// *overwrite is cleared and the op adds. With AC_POISON_GRADS set in the environment such
// buffers start as NaN, so that a missed element shows in the tests.
float *ac_graph_grad_to_write(ac_graph *g, ac_tensor *t, bool *overwrite);

// Seeds d(loss)/d(loss) = 1 for a one-element loss and runs the tape backwards. Afterwards
// only the gradients of owned tensors (parameters, inputs) and of the seeded tensor remain:
// an activation's gradient buffer is reused once its node's backward has run (its grad is
// NULL then).
void ac_backward(ac_graph *g, ac_tensor *loss);
// Same, seeding the gradient of `out` with `seed` (numel(out) values).
void ac_backward_seeded(ac_graph *g, ac_tensor *out, const float *seed);

size_t ac_graph_node_count(const ac_graph *g);
// Bytes of activation memory: current and peak (arena or heap).
size_t ac_graph_bytes(const ac_graph *g);
size_t ac_graph_peak_bytes(const ac_graph *g);

#endif
