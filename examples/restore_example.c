/* restore_example.c: using liballclear through its public API (include/allclear.h only).
 *
 *   restore_example MODEL IN OUT.png   restores a PNG or JPEG photo into OUT.png
 *   restore_example MODEL              restores a synthetic 96x64 RGB buffer in memory and
 *                                      prints how much the network changed it
 *
 * MODEL is any model file allclear reads: .safetensors, or a PyTorch checkpoint. */
#include <stdio.h>
#include <stdlib.h>

#include "allclear.h"

static int fail(const char *what) {
    fprintf(stderr, "restore_example: %s: %s\n", what, ac_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: restore_example MODEL [IN OUT.png]\n");
        return 2;
    }
    int status;
    ac_model *model = ac_model_load(argv[1], NULL, &status);
    if (!model) return fail(ac_strerror(status));
    int width, res_blocks;
    size_t params;
    ac_model_info(model, &width, &res_blocks, &params);
    printf("allclear %s: network width %d, %d bottleneck blocks, %zu parameters\n", ac_version(),
           width, res_blocks, params);

    if (argc == 4) {
        status = ac_model_restore_file(model, argv[2], argv[3], 8);
        ac_model_free(model);
        if (status != AC_STATUS_OK) return fail("restore");
        printf("wrote %s\n", argv[3]);
        return 0;
    }

    /* A synthetic image in an interleaved RGB buffer whose rows are padded to 4 bytes. */
    enum { W = 96, H = 64 };
    size_t stride = (3 * W + 3) / 4 * 4;
    uint8_t *in = calloc(stride * H, 1), *out = calloc(3 * W * H, 1);
    if (!in || !out) return 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = in + (size_t)y * stride + 3 * (size_t)x;
            p[0] = (uint8_t)(x * 255 / (W - 1));
            p[1] = (uint8_t)(y * 255 / (H - 1));
            p[2] = (uint8_t)(((x / 8 + y / 8) % 2) ? 200 : 60);
        }
    int ow, oh;
    ac_model_output_size(model, W, H, &ow, &oh);
    status = ac_model_restore_rgb(model, in, W, H, stride, out, 3 * (size_t)ow);
    ac_model_free(model);
    if (status != AC_STATUS_OK) {
        free(in);
        free(out);
        return fail("restore");
    }
    double change = 0;
    for (int y = 0; y < oh; y++)
        for (int k = 0; k < 3 * ow; k++)
            change += abs((int)out[(size_t)y * 3 * ow + k] - (int)in[(size_t)y * stride + k]);
    printf("restored a %dx%d buffer into %dx%d; mean absolute change %.2f (of 255)\n", W, H, ow, oh,
           change / (3.0 * ow * oh));
    free(in);
    free(out);
    return 0;
}
