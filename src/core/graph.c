// graph.c: tape, activation allocation and the backward walk (see graph.h).
#include "core/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

struct ac_graph {
    bool recording;
    ac_arena *arena;      // recording graphs: tensors, activations, grads, scratch
    ac_node *nodes;
    size_t n_nodes, cap_nodes;
    ac_tensor **heap;     // inference graphs: live heap activations (NULL = free slot)
    int n_heap, cap_heap;
    int *free_slots;
    int n_free;
    size_t heap_bytes, heap_peak;
    void **scratch;       // inference graphs: scratch blocks freed at reset
    size_t n_scratch, cap_scratch;
    // Inference graphs: data buffers of dropped activations, oldest first, kept for reuse by
    // later activations of (nearly) the same size, which spares the page faults of fresh
    // memory. At most POOL_ENTRIES and a quarter of the peak activation bytes (or just the
    // newest buffer).
    struct pooled {
        void *data;
        size_t bytes;
    } pool[16];
    int n_pool;
    size_t pool_bytes;
    // Recording graphs: gradient buffers of activations whose node's backward has run (no
    // one reads them again), for later gradients of the same size in the same backward pass.
    struct released_grad {
        float *data;
        size_t bytes;
    } *free_grad;
    int n_free_grad, cap_free_grad;
};

#define POOL_ENTRIES 16
#define POOL_MIN_BYTES ((size_t)1 << 16)  // smaller buffers go straight back to malloc

// Takes entry i out of the pool (the order of the others kept) and returns its buffer.
static void *pool_remove(ac_graph *g, int i) {
    void *p = g->pool[i].data;
    g->pool_bytes -= g->pool[i].bytes;
    g->n_pool--;
    memmove(g->pool + i, g->pool + i + 1, (size_t)(g->n_pool - i) * sizeof *g->pool);
    return p;
}

static void pool_put(ac_graph *g, void *p, size_t bytes) {
    if (bytes < POOL_MIN_BYTES) {
        ac_aligned_free(p);
        return;
    }
    if (g->n_pool == POOL_ENTRIES) ac_aligned_free(pool_remove(g, 0));
    g->pool[g->n_pool++] = (struct pooled){p, bytes};
    g->pool_bytes += bytes;
    while (g->n_pool > 1 && g->pool_bytes > g->heap_peak / 4)  // keeps the newest
        ac_aligned_free(pool_remove(g, 0));
}

// A pooled buffer of at least `bytes` and at most an eighth more, or NULL.
static void *pool_take(ac_graph *g, size_t bytes) {
    int best = -1;
    for (int i = 0; i < g->n_pool; i++)
        if (g->pool[i].bytes >= bytes && g->pool[i].bytes - bytes <= bytes / 8 &&
            (best < 0 || g->pool[i].bytes < g->pool[best].bytes))
            best = i;
    return best < 0 ? NULL : pool_remove(g, best);
}

// Bytes of the data buffer of an activation of n floats (what the pool matches on).
static size_t data_bytes(size_t n) { return (n * sizeof(float) + AC_ALIGN - 1) / AC_ALIGN * AC_ALIGN; }

ac_graph *ac_graph_new(bool recording) {
    ac_graph *g = ac_xcalloc(1, sizeof *g);
    g->recording = recording;
    g->arena = ac_arena_new(recording ? (64u << 20) : (1u << 20));
    return g;
}

static void free_heap_tensor(ac_graph *g, ac_tensor *t) {
    g->heap_bytes -= ac_numel(t) * sizeof(float);
    pool_put(g, t->data, data_bytes(ac_numel(t)));
    ac_aligned_free(t->grad);
    free(t);
}

void ac_graph_reset(ac_graph *g) {
    for (int i = 0; i < g->n_heap; i++)
        if (g->heap[i]) free_heap_tensor(g, g->heap[i]);
    g->n_heap = 0;
    g->n_free = 0;
    for (size_t i = 0; i < g->n_scratch; i++) free(g->scratch[i]);
    g->n_scratch = 0;
    g->n_nodes = 0;
    g->n_free_grad = 0;
    ac_arena_reset(g->arena);
}

void ac_graph_free(ac_graph *g) {
    if (!g) return;
    ac_graph_reset(g);
    while (g->n_pool > 0) ac_aligned_free(pool_remove(g, g->n_pool - 1));
    ac_arena_free(g->arena);
    free(g->nodes);
    free(g->heap);
    free(g->free_slots);
    free(g->scratch);
    free(g->free_grad);
    free(g);
}

bool ac_graph_recording(const ac_graph *g) { return g->recording; }

ac_tensor *ac_graph_tensor(ac_graph *g, int ndim, const int *shape) {
    AC_ASSERT(ndim >= 1 && ndim <= AC_MAX_DIMS);
    size_t n;
    AC_ASSERT(ac_shape_numel(ndim, shape, &n));
    ac_tensor *t;
    if (g->recording) {
        t = ac_arena_alloc(g->arena, sizeof *t);
        memset(t, 0, sizeof *t);
        t->data = ac_arena_alloc(g->arena, n * sizeof(float));
        t->storage = AC_STORAGE_ARENA;
        t->slot = -1;
    } else {
        t = ac_xcalloc(1, sizeof *t);
        t->data = pool_take(g, data_bytes(n));
        if (!t->data) t->data = ac_aligned_alloc(n * sizeof(float));
        AC_ASSERT_MSG(t->data != NULL, "out of memory for an activation");
        t->storage = AC_STORAGE_HEAP;
        if (g->n_free > 0) {
            t->slot = g->free_slots[--g->n_free];
        } else {
            if (g->n_heap == g->cap_heap) {
                g->cap_heap = g->cap_heap ? g->cap_heap * 2 : 64;
                g->heap = ac_xrealloc(g->heap, (size_t)g->cap_heap * sizeof *g->heap);
                g->free_slots = ac_xrealloc(g->free_slots, (size_t)g->cap_heap * sizeof(int));
            }
            t->slot = g->n_heap++;
        }
        g->heap[t->slot] = t;
        g->heap_bytes += n * sizeof(float);
        if (g->heap_bytes > g->heap_peak) g->heap_peak = g->heap_bytes;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    return t;
}

ac_tensor *ac_graph_tensor4(ac_graph *g, int n, int c, int h, int w) {
    int shape[4] = {n, c, h, w};
    return ac_graph_tensor(g, 4, shape);
}

ac_tensor *ac_graph_tensor_like(ac_graph *g, const ac_tensor *t) {
    return ac_graph_tensor(g, t->ndim, t->shape);
}

void ac_graph_drop(ac_graph *g, ac_tensor *t) {
    if (!t || g->recording || t->storage != AC_STORAGE_HEAP) return;
    AC_ASSERT(t->slot >= 0 && t->slot < g->n_heap && g->heap[t->slot] == t);
    g->heap[t->slot] = NULL;
    g->free_slots[g->n_free++] = t->slot;
    free_heap_tensor(g, t);
}

ac_tensor *ac_graph_view(ac_graph *g, ac_tensor *x, int ndim, const int *shape, size_t offset) {
    AC_ASSERT(!g->recording && ndim >= 1 && ndim <= AC_MAX_DIMS);
    size_t n;
    AC_ASSERT(ac_shape_numel(ndim, shape, &n) && offset + n <= ac_numel(x));
    AC_ASSERT_MSG(offset % 16 == 0, "view: data must stay 64-byte aligned");
    ac_tensor *t = ac_graph_scratch(g, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = x->data + offset;
    t->storage = AC_STORAGE_VIEW;
    t->slot = -1;
    return t;
}

void *ac_graph_scratch(ac_graph *g, size_t bytes) {
    if (g->recording) return ac_arena_alloc(g->arena, bytes);
    if (g->n_scratch == g->cap_scratch) {
        g->cap_scratch = g->cap_scratch ? g->cap_scratch * 2 : 16;
        g->scratch = ac_xrealloc(g->scratch, g->cap_scratch * sizeof *g->scratch);
    }
    void *p = ac_xmalloc(bytes);
    g->scratch[g->n_scratch++] = p;
    return p;
}

ac_node *ac_graph_record(ac_graph *g, ac_tensor *out, ac_backward_fn backward, int n_in,
                         ac_tensor *const *in) {
    if (!g->recording) return NULL;
    bool any = false;
    for (int i = 0; i < n_in; i++)
        if (in[i] && in[i]->requires_grad) any = true;
    if (!any) return NULL;
    out->requires_grad = true;
    if (g->n_nodes == g->cap_nodes) {
        g->cap_nodes = g->cap_nodes ? g->cap_nodes * 2 : 256;
        g->nodes = ac_xrealloc(g->nodes, g->cap_nodes * sizeof *g->nodes);
    }
    ac_node *node = &g->nodes[g->n_nodes++];
    memset(node, 0, sizeof *node);
    node->backward = backward;
    node->out = out;
    node->n_in = n_in;
    node->in = ac_arena_alloc(g->arena, (size_t)n_in * sizeof *node->in);
    memcpy(node->in, in, (size_t)n_in * sizeof *node->in);
    return node;
}

// t's gradient buffer, taken from the released ones or the arena, contents undefined.
static float *new_grad(ac_graph *g, ac_tensor *t, size_t bytes) {
    AC_ASSERT_MSG(t->storage == AC_STORAGE_ARENA,
                  "a trainable owned tensor needs ac_tensor_enable_grad");
    for (int i = g->n_free_grad; i-- > 0;)  // the most recently released first
        if (g->free_grad[i].bytes == bytes) {
            float *d = g->free_grad[i].data;
            g->free_grad[i] = g->free_grad[--g->n_free_grad];
            return d;
        }
    return ac_arena_alloc(g->arena, bytes);
}

float *ac_graph_grad(ac_graph *g, ac_tensor *t) {
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        t->grad = new_grad(g, t, ac_numel(t) * sizeof(float));
        ac_zero_floats(t->grad, ac_numel(t));
    }
    return t->grad;
}

static bool poison_grads(void) {
    static int on = -1;  // read once
    if (on < 0) on = getenv("AC_POISON_GRADS") != NULL;
    return on;
}

float *ac_graph_grad_to_write(ac_graph *g, ac_tensor *t, bool *overwrite) {
    *overwrite = false;
    if (!t || !t->requires_grad) return NULL;
    if (t->grad) return t->grad;
    const size_t n = ac_numel(t);
    t->grad = new_grad(g, t, n * sizeof(float));
    if (poison_grads())
        for (size_t i = 0; i < n; i++) t->grad[i] = NAN;
    *overwrite = true;
    return t->grad;
}

void ac_backward_seeded(ac_graph *g, ac_tensor *out, const float *seed) {
    AC_ASSERT_MSG(g->recording, "backward needs a recording graph");
    if (!out->requires_grad) return;  // nothing upstream can learn
    float *dout = ac_graph_grad(g, out);
    size_t n = ac_numel(out);
    for (size_t i = 0; i < n; i++) dout[i] += seed[i];
    for (size_t k = g->n_nodes; k-- > 0;) {
        ac_node *node = &g->nodes[k];
        ac_tensor *y = node->out;
        if (!y->grad) continue;
        node->backward(g, node);
        // Every reader of y's gradient (the nodes recorded after this one) has run: its
        // buffer serves a later gradient, unless an earlier node wrote another part of y. The
        // loss (out) keeps its own.
        if (y->storage == AC_STORAGE_ARENA && y != out && !node->writes_slice) {
            if (g->n_free_grad == g->cap_free_grad) {
                g->cap_free_grad = g->cap_free_grad ? 2 * g->cap_free_grad : 64;
                g->free_grad = ac_xrealloc(g->free_grad, (size_t)g->cap_free_grad * sizeof *g->free_grad);
            }
            g->free_grad[g->n_free_grad++] = (struct released_grad){y->grad, ac_numel(y) * sizeof(float)};
            y->grad = NULL;
        }
    }
}

void ac_backward(ac_graph *g, ac_tensor *loss) {
    AC_ASSERT_MSG(ac_numel(loss) == 1, "backward starts from a one-element loss");
    const float one = 1.0f;
    ac_backward_seeded(g, loss, &one);
}

size_t ac_graph_node_count(const ac_graph *g) { return g->n_nodes; }
size_t ac_graph_bytes(const ac_graph *g) {
    return g->recording ? ac_arena_used(g->arena) : g->heap_bytes;
}
size_t ac_graph_peak_bytes(const ac_graph *g) {
    return g->recording ? ac_arena_peak(g->arena) : g->heap_peak;
}
