// adam.c: torch.optim.Adam, single-tensor code path of PyTorch 1.13, in float32 with the
// scalar factors (bias corrections, step size) computed in double as Python does.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim.h"

ac_adam *ac_adam_new(double beta1, double beta2, double eps, double weight_decay) {
    ac_adam *o = ac_xcalloc(1, sizeof *o);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    return o;
}

void ac_adam_free(ac_adam *o) {
    if (!o) return;
    for (int i = 0; i < o->n_params; i++) {
        ac_aligned_free(o->params[i].m);
        ac_aligned_free(o->params[i].v);
    }
    free(o->params);
    free(o->group_lr);
    free(o);
}

int ac_adam_add_group(ac_adam *o, ac_tensor *const *params, int n, double lr) {
    int group = o->n_groups++;
    o->group_lr = ac_xrealloc(o->group_lr, (size_t)o->n_groups * sizeof *o->group_lr);
    o->group_lr[group] = lr;
    for (int i = 0; i < n; i++) {
        AC_ASSERT_MSG(params[i]->grad != NULL, "Adam parameters need gradients enabled");
        if (o->n_params == o->cap_params) {
            o->cap_params = o->cap_params ? o->cap_params * 2 : 64;
            o->params = ac_xrealloc(o->params, (size_t)o->cap_params * sizeof *o->params);
        }
        size_t bytes = ac_numel(params[i]) * sizeof(float);
        ac_adam_param *p = &o->params[o->n_params++];
        p->param = params[i];
        p->group = group;
        p->m = ac_aligned_alloc(bytes);
        p->v = ac_aligned_alloc(bytes);
        AC_ASSERT_MSG(p->m && p->v, "out of memory for Adam moments");
        memset(p->m, 0, bytes);
        memset(p->v, 0, bytes);
    }
    return group;
}

void ac_adam_set_lr(ac_adam *o, double lr) {
    for (int g = 0; g < o->n_groups; g++) o->group_lr[g] = lr;
}

// Both loops below run every parameter inside one parallel region, each tensor's range split
// over the threads without a barrier between tensors (elementwise work: the results do not
// depend on the split). A region per tensor, as before, woke the sleeping worker thread
// about 850 times a collation step for the zeroing and 450 times for the update.
// Whether the parameters together are worth waking the other threads for.
static bool worth_threads(const ac_adam *o) {
    size_t n = 0;
    for (int i = 0; i < o->n_params; i++) n += ac_numel(o->params[i].param);
    return n > ((size_t)1 << 18);
}

void ac_adam_zero_grad(ac_adam *o) {
#pragma omp parallel if (worth_threads(o))
    for (int i = 0; i < o->n_params; i++) {
        float *g = o->params[i].param->grad;
        if (!g) continue;
        const size_t n = ac_numel(o->params[i].param);
#pragma omp for schedule(static) nowait
        for (size_t k = 0; k < n; k++) g[k] = 0.0f;
    }
}

void ac_adam_step(ac_adam *o) {
    o->step++;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->step);
    const double bc2 = 1.0 - pow(o->beta2, (double)o->step);
    // Scalars reach the float kernels the way PyTorch passes Python floats: computed in
    // double, then rounded to float once.
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)o->beta1, one_b1 = (float)(1.0 - o->beta1);
    const float b2 = (float)o->beta2, one_b2 = (float)(1.0 - o->beta2);
    const float eps = (float)o->eps, wd = (float)o->weight_decay;
#pragma omp parallel if (worth_threads(o))
    for (int i = 0; i < o->n_params; i++) {
        ac_adam_param *p = &o->params[i];
        float *w = p->param->data;
        const float *g = p->param->grad;
        if (!g) continue;  // frozen for now (e.g. the CKT modules during knowledge examination)
        float *m = p->m, *v = p->v;
        const float step_size = (float)(o->group_lr[p->group] / bc1);
        size_t n = ac_numel(p->param);
#pragma omp for schedule(static) nowait
        for (size_t k = 0; k < n; k++) {
            float gk = wd != 0.0f ? g[k] + wd * w[k] : g[k];
            m[k] = m[k] * b1 + one_b1 * gk;
            v[k] = v[k] * b2 + one_b2 * gk * gk;
            float denom = sqrtf(v[k]) / bc2_sqrt + eps;
            w[k] -= step_size * (m[k] / denom);
        }
    }
}
