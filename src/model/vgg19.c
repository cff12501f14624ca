// vgg19.c: VGG19 feature slices (vgg19.h).
#include "model/vgg19.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

// Layer plan of features[0..29]: 'C' conv (+ the ReLU that follows it), 'P' max pool, and
// the slice boundaries after layers 1, 6, 11, 20, 29.
typedef struct vgg_conv {
    int index, cin, cout;
    bool pool_before;  // a 2x2 max pool precedes this conv
    int slice_end;     // > 0: the ReLU after this conv ends slice slice_end
} vgg_conv;

static const vgg_conv plan[AC_VGG_CONVS] = {
    {0, 3, 64, false, 1},     {2, 64, 64, false, 0},    {5, 64, 128, true, 2},
    {7, 128, 128, false, 0},  {10, 128, 256, true, 3},  {12, 256, 256, false, 0},
    {14, 256, 256, false, 0}, {16, 256, 256, false, 0}, {19, 256, 512, true, 4},
    {21, 512, 512, false, 0}, {23, 512, 512, false, 0}, {25, 512, 512, false, 0},
    {28, 512, 512, true, 5},
};

int ac_vgg19_slice_channels(int k) {
    static const int ch[AC_VGG_SLICES] = {64, 128, 256, 512, 512};
    AC_ASSERT(k >= 0 && k < AC_VGG_SLICES);
    return ch[k];
}

ac_vgg19 *ac_vgg19_new(void) {
    ac_vgg19 *v = ac_xcalloc(1, sizeof *v);
    v->params = ac_params_new();
    char name[64];
    for (int i = 0; i < AC_VGG_CONVS; i++) {
        const vgg_conv *c = &plan[i];
        int shape[4] = {c->cout, c->cin, 3, 3};
        float bound = 1.0f / sqrtf((float)(c->cin * 9));
        snprintf(name, sizeof name, "features.%d.weight", c->index);
        v->w[i] = ac_params_add(v->params, name, 4, shape, AC_INIT_UNIFORM, bound);
        snprintf(name, sizeof name, "features.%d.bias", c->index);
        v->b[i] = ac_params_add(v->params, name, 1, &c->cout, AC_INIT_UNIFORM, bound);
    }
    return v;
}

void ac_vgg19_free(ac_vgg19 *v) {
    if (!v) return;
    ac_params_free(v->params);
    free(v);
}

ac_status ac_vgg19_load(ac_vgg19 *v, const ac_tensor_map *m) {
    // torchvision's features 30..36 hold three more convs (30, 32, 34) that are not used.
    static const char *const ignore[] = {"classifier.", "features.30.", "features.32.",
                                         "features.34.", NULL};
    ac_load_opts opts = {NULL, ignore};
    return ac_params_load(v->params, m, &opts);
}

void ac_vgg19_forward(const ac_vgg19 *v, ac_graph *g, ac_tensor *x,
                      ac_tensor *out[AC_VGG_SLICES]) {
    AC_ASSERT(x->ndim == 4 && x->shape[1] == 3);
    ac_tensor *cur = x;
    bool cur_kept = true;  // cur is x or a slice output: never dropped here
    for (int i = 0; i < AC_VGG_CONVS; i++) {
        const vgg_conv *c = &plan[i];
        if (c->pool_before) {
            ac_tensor *p = ac_maxpool2x2(g, cur);
            if (!cur_kept) ac_graph_drop(g, cur);
            cur = p;
            cur_kept = false;
        }
        // the ReLU in the conv's epilogue (recorded or not: its backward reads the output)
        ac_conv_opts o = {.stride = 1, .pad = 1, .mode = AC_PAD_ZERO, .act = AC_ACT_RELU};
        ac_tensor *next = ac_conv2d_fused(g, cur, v->w[i], v->b[i], &o, NULL, 0);
        if (!cur_kept) ac_graph_drop(g, cur);
        cur = next;
        cur_kept = c->slice_end > 0;
        if (cur_kept) out[c->slice_end - 1] = cur;
    }
}

void ac_vgg19_features_const(const ac_vgg19 *v, ac_graph *g, ac_tensor *x,
                             ac_tensor *out[AC_VGG_SLICES]) {
    if (!ac_graph_recording(g)) {
        // Nothing would be recorded anyway as long as x needs no gradient.
        AC_ASSERT(!x->requires_grad);
        ac_vgg19_forward(v, g, x, out);
        return;
    }
    ac_graph *tmp = ac_graph_new(false);
    ac_tensor *f[AC_VGG_SLICES];
    ac_vgg19_forward(v, tmp, x, f);
    for (int k = 0; k < AC_VGG_SLICES; k++) {
        out[k] = ac_graph_tensor_like(g, f[k]);
        memcpy(out[k]->data, f[k]->data, ac_numel(f[k]) * sizeof(float));
        ac_graph_drop(tmp, f[k]);
    }
    ac_graph_free(tmp);
}

void ac_vgg19_features_const2(const ac_vgg19 *v, ac_graph *g, ac_tensor *x0, ac_tensor *x1,
                              ac_tensor *out0[AC_VGG_SLICES], ac_tensor *out1[AC_VGG_SLICES]) {
    AC_ASSERT(ac_same_shape(x0, x1) && x0->ndim == 4);
    AC_ASSERT(!ac_graph_recording(g) || (!x0->requires_grad && !x1->requires_grad));
    // One batch: each layer's weights are prepared once for both, and the kernels give every
    // image the result it gets alone (batch invariance), so this equals two separate calls.
    const int n0 = x0->shape[0];
    ac_tensor *both = ac_tensor_new4(n0 + x1->shape[0], x0->shape[1], x0->shape[2], x0->shape[3]);
    ac_copy_floats(both->data, x0->data, ac_numel(x0));
    ac_copy_floats(both->data + ac_numel(x0), x1->data, ac_numel(x1));
    ac_graph *tmp = ac_graph_new(false);
    ac_tensor *f[AC_VGG_SLICES];
    ac_vgg19_forward(v, tmp, both, f);
    for (int k = 0; k < AC_VGG_SLICES; k++) {
        const size_t per = ac_numel(f[k]) / (size_t)f[k]->shape[0];
        out0[k] = ac_graph_tensor4(g, n0, f[k]->shape[1], f[k]->shape[2], f[k]->shape[3]);
        out1[k] = ac_graph_tensor4(g, x1->shape[0], f[k]->shape[1], f[k]->shape[2], f[k]->shape[3]);
        ac_copy_floats(out0[k]->data, f[k]->data, (size_t)n0 * per);
        ac_copy_floats(out1[k]->data, f[k]->data + (size_t)n0 * per, ac_numel(out1[k]));
        ac_graph_drop(tmp, f[k]);
    }
    ac_graph_free(tmp);
    ac_tensor_free(both);
}
