// fuzz_image.c: libFuzzer harness for the image readers (src/image/image.c, png.c, jpeg.c):
// the input is a whole file; its header is probed, then it is decoded with ac_image_decode.
// The pixel limit is lowered to 4 megapixels so that one input cannot ask for gigabytes (the
// limit check itself is part of what is fuzzed).
#include "fuzz_util.h"
#include "image/image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ac_image_set_pixel_limit(1u << 22);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ac_image_info info;
    memset(&info, 0, sizeof info);
    switch (ac_image_sniff(data, size)) {
    case AC_IMAGE_PNG: (void)ac_png_decode(data, size, "fuzz", NULL, &info); break;
    case AC_IMAGE_JPEG: (void)ac_jpeg_decode(data, size, "fuzz", NULL, &info); break;
    default: break;
    }
    ac_tensor *t = NULL;
    if (ac_image_decode(data, size, "fuzz", &t) == AC_OK) {
        ac_fuzz_touch_tensor(t);
        ac_tensor_free(t);
    }
    return 0;
}
