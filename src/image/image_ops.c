// image_ops.c: pixel helpers on planar float images: bilinear resize (PyTorch semantics),
// reflection padding, crop and horizontal flip.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "image/image.h"

// The CPU kernel of the resize op (src/ops/resize_bilinear.c), bit-exact with PyTorch.
void ac_image_resize_planes(const float *x, size_t nc, int h, int w, float *y, int oh, int ow) {
    AC_ASSERT(h > 0 && w > 0 && oh > 0 && ow > 0);
    ac_cpu_resize_bilinear_forward(nc, h, w, oh, ow, x, y);
}

ac_tensor *ac_image_resize(const ac_tensor *t, int oh, int ow) {
    AC_ASSERT(t->ndim == 4);
    ac_tensor *y = ac_tensor_new4(t->shape[0], t->shape[1], oh, ow);
    ac_image_resize_planes(t->data, (size_t)t->shape[0] * t->shape[1], t->shape[2], t->shape[3],
                           y->data, oh, ow);
    return y;
}

int ac_image_reflect_index(int i, int n) {
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
            const float *row = src + (size_t)ac_image_reflect_index(i, h) * w;
            float *out = dst + (size_t)i * ow;
            memcpy(out, row, sizeof(float) * (size_t)w);
            for (int j = w; j < ow; j++) out[j] = row[ac_image_reflect_index(j, w)];
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
