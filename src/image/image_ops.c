// image_ops.c: pixel helpers on planar float images: bilinear resize (PyTorch semantics),
// reflection padding, crop and horizontal flip.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

// One axis of PyTorch's bilinear sampling (align_corners=False): for each output index the
// two source indices and the weight of the upper one. Arithmetic in float like PyTorch's CPU
// kernel for float tensors, so results agree to the last bit or two.
static void axis_weights(int in, int out, int *i0, int *i1, float *l1) {
    const float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        int lo = (int)src;
        if (lo > in - 1) lo = in - 1;
        i0[d] = lo;
        i1[d] = lo < in - 1 ? lo + 1 : lo;
        l1[d] = src - (float)lo;
    }
}

void ac_image_resize_planes(const float *x, size_t nc, int h, int w, float *y, int oh, int ow) {
    AC_ASSERT(h > 0 && w > 0 && oh > 0 && ow > 0);
    int *y0 = ac_xmalloc(sizeof(int) * (size_t)(2 * oh + 2 * ow));
    int *y1 = y0 + oh, *x0 = y1 + oh, *x1 = x0 + ow;
    float *ly = ac_xmalloc(sizeof(float) * (size_t)(oh + ow)), *lx = ly + oh;
    axis_weights(h, oh, y0, y1, ly);
    axis_weights(w, ow, x0, x1, lx);
    for (size_t p = 0; p < nc; p++) {
        const float *src = x + p * (size_t)h * w;
        float *dst = y + p * (size_t)oh * ow;
        for (int i = 0; i < oh; i++) {
            const float *ra = src + (size_t)y0[i] * w, *rb = src + (size_t)y1[i] * w;
            const float h1 = ly[i], h0 = 1.0f - h1;
            for (int j = 0; j < ow; j++) {
                const float w1 = lx[j], w0 = 1.0f - w1;
                dst[(size_t)i * ow + j] = h0 * (w0 * ra[x0[j]] + w1 * ra[x1[j]]) +
                                          h1 * (w0 * rb[x0[j]] + w1 * rb[x1[j]]);
            }
        }
    }
    free(y0);
    free(ly);
}

ac_tensor *ac_image_resize(const ac_tensor *t, int oh, int ow) {
    AC_ASSERT(t->ndim == 4);
    ac_tensor *y = ac_tensor_new4(t->shape[0], t->shape[1], oh, ow);
    ac_image_resize_planes(t->data, (size_t)t->shape[0] * t->shape[1], t->shape[2], t->shape[3],
                           y->data, oh, ow);
    return y;
}

// Index into [0, n) after mirror reflection without edge repetition, period 2n - 2.
static int reflect_index(int i, int n) {
    if (n == 1) return 0;
    int period = 2 * n - 2;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

ac_tensor *ac_image_pad_reflect(const ac_tensor *t, int pad_bottom, int pad_right) {
    AC_ASSERT(t->ndim == 4 && pad_bottom >= 0 && pad_right >= 0);
    int h = t->shape[2], w = t->shape[3], oh = h + pad_bottom, ow = w + pad_right;
    ac_tensor *y = ac_tensor_new4(t->shape[0], t->shape[1], oh, ow);
    size_t nc = (size_t)t->shape[0] * t->shape[1];
    for (size_t p = 0; p < nc; p++) {
        const float *src = t->data + p * (size_t)h * w;
        float *dst = y->data + p * (size_t)oh * ow;
        for (int i = 0; i < oh; i++) {
            const float *row = src + (size_t)reflect_index(i, h) * w;
            float *out = dst + (size_t)i * ow;
            memcpy(out, row, sizeof(float) * (size_t)w);
            for (int j = w; j < ow; j++) out[j] = row[reflect_index(j, w)];
        }
    }
    return y;
}

ac_tensor *ac_image_crop(const ac_tensor *t, int y0, int x0, int ch, int cw) {
    AC_ASSERT(t->ndim == 4 && y0 >= 0 && x0 >= 0 && ch > 0 && cw > 0);
    int h = t->shape[2], w = t->shape[3];
    AC_ASSERT(y0 + ch <= h && x0 + cw <= w);
    ac_tensor *y = ac_tensor_new4(t->shape[0], t->shape[1], ch, cw);
    size_t nc = (size_t)t->shape[0] * t->shape[1];
    for (size_t p = 0; p < nc; p++)
        for (int i = 0; i < ch; i++)
            memcpy(y->data + (p * ch + i) * (size_t)cw, t->data + (p * h + y0 + i) * (size_t)w + x0,
                   sizeof(float) * (size_t)cw);
    return y;
}

void ac_image_flip_h(ac_tensor *t) {
    AC_ASSERT(t->ndim == 4);
    int w = t->shape[3];
    size_t rows = (size_t)t->shape[0] * t->shape[1] * t->shape[2];
    for (size_t r = 0; r < rows; r++) {
        float *p = t->data + r * (size_t)w;
        for (int a = 0, b = w - 1; a < b; a++, b--) {
            float tmp = p[a];
            p[a] = p[b];
            p[b] = tmp;
        }
    }
}
