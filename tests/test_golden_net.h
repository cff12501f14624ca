// test_golden_net.h: helpers shared by the model tests that compare against the PyTorch
// fixtures of tools/golden/gen_net.py: loading a fixture, comparing tensors (element-wise with
// a tolerance relative to the largest expected magnitude, or by relative L2 norm), and the
// pattern projections that seed backward passes (L = sum(out * proj)).
#ifndef AC_TEST_GOLDEN_NET_H
#define AC_TEST_GOLDEN_NET_H

#include "io/safetensors.h"
#include "model/params.h"
#include "testlib.h"

static inline ac_tensor_map *gn_load(const char *path) {
    ac_tensor_map *m = NULL;
    ac_status st = ac_safetensors_read(path, &m);
    if (st != AC_OK) {
        fprintf(stderr, "cannot read fixture %s: %s (run from the repository root)\n", path,
                ac_error_message());
        exit(1);
    }
    return m;
}

static inline ac_tensor *gn_get(const ac_tensor_map *m, const char *name) {
    ac_tensor *t = ac_tensor_map_get(m, name);
    if (!t) {
        fprintf(stderr, "fixture lacks tensor '%s'\n", name);
        exit(1);
    }
    return t;
}

// An owned copy of a fixture tensor, optionally requiring a gradient.
static inline ac_tensor *gn_input(const ac_tensor_map *m, const char *name, bool grad) {
    ac_tensor *t = ac_tensor_clone(gn_get(m, name));
    if (grad) ac_tensor_enable_grad(t);
    return t;
}

static inline double gn_maxabs(const float *p, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)p[i]));
    return m;
}

// Element-wise: |got - want| <= tol * (scale + |want|) with scale = max |want|... (atol part)
// scaled by `atol_frac`: atol = atol_frac * max|want|, rtol = rtol.
static inline bool gn_close(const char *what, const float *got, const ac_tensor *want, double atol_frac,
                     double rtol) {
    double scale = gn_maxabs(want->data, ac_numel(want));
    return t_close(what, got, want->data, ac_numel(want), atol_frac * scale, rtol);
}

static inline bool gn_close_t(const char *what, const ac_tensor *got, const ac_tensor *want,
                       double atol_frac, double rtol) {
    char s1[64], s2[64];
    CHECK_MSG(ac_same_shape(got, want), "%s: shape %s, expected %s", what,
              ac_shape_str(got, s1, sizeof s1), ac_shape_str(want, s2, sizeof s2));
    if (!ac_same_shape(got, want)) return false;
    return gn_close(what, got->data, want, atol_frac, rtol);
}

// Relative L2 distance ||got - want|| / ||want||.
static inline double gn_rel_l2(const float *got, const float *want, size_t n) {
    double d = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)got[i] - (double)want[i];
        d += e * e;
        w += (double)want[i] * want[i];
    }
    return w > 0 ? sqrt(d / w) : sqrt(d);
}

// Adds the projection pattern `name` (scale 1) to the gradient of t: seeds L += sum(t * proj).
static inline void gn_seed(ac_graph *g, ac_tensor *t, const char *name) {
    ac_tensor *p = ac_tensor_new(t->ndim, t->shape);
    ac_tensor_fill_pattern_scaled(p, name, 1.0f);
    float *d = ac_graph_grad(g, t);
    AC_ASSERT(d != NULL);
    for (size_t i = 0; i < ac_numel(t); i++) d[i] += p->data[i];
    ac_tensor_free(p);
}

// Runs the tape backwards after the outputs have been seeded with gn_seed (`any` is one of
// the seeded outputs).
static inline void gn_backward(ac_graph *g, ac_tensor *any) {
    float *zero = calloc(ac_numel(any), sizeof(float));
    ac_backward_seeded(g, any, zero);
    free(zero);
}

#endif
