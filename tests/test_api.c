// test_api.c: the public C API (include/allclear.h) against the PyTorch restorations of
// tests/golden/models (tools/golden/gen_model_files.py).
// - Version, status strings, threads, load errors (NULL, status, a message naming the file).
// - ac_model_restore_float equals PyTorch's output (1e-5), also with the official resize;
//   ac_model_restore_rgb with padded row strides equals PyTorch's output rounded as
//   save_image does (a sample may differ by 1 where the float64 reference sits on a rounding
//   boundary); ac_model_restore_file writes that PNG; tiles through the API.
// - Bad arguments are reported, never crash.
#include <unistd.h>

#include "allclear.h"
#include "image/image.h"
#include "io/safetensors.h"
#include "test_golden_net.h"

#define DIR "tests/golden/models/"

static ac_tensor_map *expected;
static ac_tensor *input;  // (1, 3, 36, 52) in [0, 1], exactly k / 255

static void test_version_errors_threads(void) {
    CHECK(!strcmp(ac_version(), AC_LIB_VERSION));
    CHECK(!strcmp(ac_strerror(AC_STATUS_OK), "success"));
    CHECK(strstr(ac_strerror(AC_STATUS_SHAPE), "weights") != NULL);
    CHECK(!strcmp(ac_strerror(99), "unknown status"));
    ac_set_num_threads(1);
    CHECK(ac_get_num_threads() == 1);
    ac_set_num_threads(0);
    CHECK(ac_get_num_threads() >= 1);
    ac_set_num_threads(2);

    int st = -1;
    CHECK(ac_model_load(DIR "missing.pth", NULL, &st) == NULL && st == AC_STATUS_IO);
    CHECK_MSG(strstr(ac_last_error(), DIR "missing.pth: cannot open") != NULL, "%s", ac_last_error());
    ac_model_options o = {.width = 16};
    CHECK(ac_model_load(DIR "net_b8.pth", &o, &st) == NULL && st == AC_STATUS_SHAPE);
    CHECK_MSG(strstr(ac_last_error(), "has shape [8,3,11,11], model expects [16,3,11,11]") != NULL, "%s",
              ac_last_error());
    o = (ac_model_options){.width = -1};
    CHECK(ac_model_load(DIR "net_b8.pth", &o, &st) == NULL && st == AC_STATUS_ARG);
    CHECK(ac_model_load(NULL, NULL, NULL) == NULL);
    ac_model_free(NULL);
}

static void test_restore_float_like_pytorch(void) {
    int st;
    ac_model *m = ac_model_load(DIR "epoch_2_psnr21.500_ssim0.700", NULL, &st);
    CHECK_MSG(m != NULL, "%s", ac_last_error());
    if (!m) return;
    int w, rb;
    size_t np;
    ac_model_info(m, &w, &rb, &np);
    CHECK(w == 8 && rb == 2 && np == (size_t)atol(ac_tensor_map_meta(expected, "params")));

    const ac_tensor *want = gn_get(expected, "pad/y");
    float *out = malloc(ac_numel(want) * sizeof(float));
    int ow, oh;
    ac_model_output_size(m, 52, 36, &ow, &oh);
    CHECK(ow == 52 && oh == 36);
    CHECK(ac_model_restore_float(m, input->data, 52, 36, out) == AC_STATUS_OK);
    gn_close("restore_float", out, want, 1e-5, 1e-5);

    // Tiles through the API: whole-image output within the tiling tolerance, same size.
    CHECK(ac_model_set_tiling(m, 32, 16, 0) == AC_STATUS_OK);
    CHECK(ac_model_restore_float(m, input->data, 52, 36, out) == AC_STATUS_OK);
    double maxd = 0;
    for (size_t i = 0; i < ac_numel(want); i++) maxd = fmax(maxd, fabs((double)out[i] - want->data[i]));
    CHECK_MSG(maxd > 0 && maxd < 2.0, "tiled max diff %.3g", maxd);
    CHECK(ac_model_set_tiling(m, 40, 16, 0) == AC_STATUS_ARG);  // not a multiple of 16
    CHECK(strstr(ac_last_error(), "multiple of 16") != NULL);
    CHECK(ac_model_set_tiling(m, -1, 64, 1024) == AC_STATUS_OK);

    const ac_tensor *want_r = gn_get(expected, "resize/y");
    CHECK(ac_model_set_official_resize(m, 1) == AC_STATUS_OK);
    ac_model_output_size(m, 52, 36, &ow, &oh);
    CHECK(ow == 48 && oh == 32);
    ac_model_output_size(m, 52, 12, &ow, &oh);
    CHECK(ow == 0 && oh == 0);
    CHECK(ac_model_restore_float(m, input->data, 52, 36, out) == AC_STATUS_OK);
    gn_close("restore_float official resize", out, want_r, 1e-5, 1e-5);
    CHECK(ac_model_set_official_resize(m, 0) == AC_STATUS_OK);

    CHECK(ac_model_restore_float(m, NULL, 52, 36, out) == AC_STATUS_ARG);
    CHECK(ac_model_restore_float(m, input->data, 0, 36, out) == AC_STATUS_ARG);
    free(out);
    ac_model_free(m);
}

// PyTorch's output as save_image quantises it.
static uint8_t quantize(float v) { return !(v > 0) ? 0 : v >= 1 ? 255 : (uint8_t)floorf(v * 255.0f + 0.5f); }

static void test_restore_rgb_and_file(void) {
    ac_model *m = ac_model_load(DIR "net_b8_legacy.pth", NULL, NULL);
    CHECK_MSG(m != NULL, "%s", ac_last_error());
    if (!m) return;
    const int w = 52, h = 36;
    size_t stride = 3 * w + 5, ostride = 3 * w + 7;
    uint8_t *rgb = calloc(stride * h, 1), *out = malloc(ostride * h);
    memset(out, 0xAB, ostride * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rgb[y * stride + 3 * x + c] = (uint8_t)lrintf(input->data[(c * h + y) * w + x] * 255.0f);
    CHECK(ac_model_restore_rgb(m, rgb, w, h, stride, out, ostride) == AC_STATUS_OK);
    const ac_tensor *want = gn_get(expected, "pad/y");
    int off_by_one = 0, worse = 0;
    bool pad_kept = true;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int d = abs((int)out[y * ostride + 3 * x + c] - (int)quantize(want->data[(c * h + y) * w + x]));
                off_by_one += d == 1;
                worse += d > 1;
            }
        for (size_t k = 3 * w; k < ostride; k++) pad_kept &= out[y * ostride + k] == 0xAB;
    }
    CHECK_MSG(worse == 0 && off_by_one <= 5, "8-bit output: %d samples off by one, %d by more", off_by_one, worse);
    CHECK_MSG(pad_kept, "bytes past 3 * width of an output row were written");
    CHECK(ac_model_restore_rgb(m, rgb, w, h, 3 * w - 1, out, ostride) == AC_STATUS_ARG);

    char dir[] = "/tmp/ac_api_XXXXXX", path[64];
    AC_ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.png", dir);
    CHECK(ac_model_restore_file(m, DIR "restore_input.png", path, 8) == AC_STATUS_OK);
    ac_tensor *back = NULL;
    CHECK(ac_image_read(path, &back) == AC_OK);
    if (back) {
        int same = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    same += lrintf(back->data[(c * h + y) * w + x] * 255.0f) == out[y * ostride + 3 * x + c];
        CHECK_MSG(same == 3 * w * h, "the file differs from the buffer in %d samples", 3 * w * h - same);
    }
    ac_tensor_free(back);
    CHECK(ac_model_restore_file(m, DIR "restore_input.png", path, 12) == AC_STATUS_ARG);
    CHECK(ac_model_restore_file(m, DIR "no_such.png", path, 8) == AC_STATUS_IO);
    CHECK(strstr(ac_last_error(), "no_such.png") != NULL);
    unlink(path);
    rmdir(dir);
    free(rgb);
    free(out);
    ac_model_free(m);
}

int main(void) {
    expected = gn_load(DIR "expected.safetensors");
    if (ac_image_read(DIR "restore_input.png", &input) != AC_OK) {
        fprintf(stderr, "%s\n", ac_error_message());
        return 1;
    }
    RUN(test_version_errors_threads);
    RUN(test_restore_float_like_pytorch);
    RUN(test_restore_rgb_and_file);
    ac_tensor_free(input);
    ac_tensor_map_free(expected);
    return ac_test_finish();
}
