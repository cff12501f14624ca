// test_restore.c: model files and restoration against PyTorch (tests/golden/models from
// tools/golden/gen_model_files.py): Net(b=8, res_blocks=2) saved as a zip state dict, a legacy
// DataParallel state dict and a reference training checkpoint.
// - All three load (architecture inferred), to identical parameters, and restore the test
//   image like PyTorch: padded-and-cropped output and the official-resize path (its resize
//   against F.interpolate, its output against the network's), within 1e-5.
// - safetensors round trip: export with metadata, read back, architecture from metadata,
//   same restoration.
// - Strict loading: width mismatch, missing and unexpected tensors, a wrong entry, a file
//   that is not a model, a missing file; every message names the file.
// - "module." is stripped only when every key has it; flags override the file's settings.
#include <stdarg.h>
#include <unistd.h>

#include "image/image.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "restore/restore.h"
#include "test_golden_net.h"

#define DIR "tests/golden/models/"

static const char *const files[] = {DIR "net_b8.pth", DIR "net_b8_legacy.pth",
                                    DIR "epoch_2_psnr21.500_ssim0.700"};
static const ac_model_file_kind kinds[] = {AC_MODEL_FILE_TORCH_ZIP, AC_MODEL_FILE_TORCH_LEGACY,
                                           AC_MODEL_FILE_TORCH_ZIP};
static ac_tensor_map *expected;
static char tmpdir[64];

static char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static ac_net *load(const char *path, const ac_model_file_opts *o) {
    ac_net *net = NULL;
    ac_status st = ac_model_file_load_net(path, o, &net);
    CHECK_MSG(st == AC_OK, "%s: %s", path, ac_error_message());
    return net;
}

static ac_tensor *restore(ac_net *net, const ac_tensor *img, bool official) {
    ac_restore_opts o;
    ac_restore_opts_init(&o);
    o.official_resize = official;
    ac_tensor *y = NULL;
    ac_status st = ac_restore_image(net, img, &o, &y);
    CHECK_MSG(st == AC_OK, "restore: %s", ac_error_message());
    return y;
}

static ac_tensor *input_image(void) {
    ac_tensor *img = NULL;
    ac_status st = ac_image_read(DIR "restore_input.png", &img);
    AC_ASSERT_MSG(st == AC_OK, ac_error_message());
    return img;
}

static void test_three_files_restore_like_pytorch(void) {
    ac_tensor *img = input_image();
    ac_net *first = NULL;
    for (int f = 0; f < 3; f++) {
        ac_tensor_map *m = NULL;
        ac_model_file_kind kind;
        ac_status st = ac_model_file_read(files[f], NULL, &m, &kind);
        CHECK_MSG(st == AC_OK, "%s", ac_error_message());
        if (st) continue;
        CHECK_MSG(kind == kinds[f], "%s: kind %s", files[f], ac_model_file_kind_name(kind));
        CHECK(m->count == atoi(ac_tensor_map_meta(expected, "tensors")));
        CHECK_MSG(!strncmp(m->items[0].name, "conv_input.", 11), "first key %s", m->items[0].name);
        ac_net_config cfg;
        ac_config_source src[2];
        CHECK(ac_model_file_config(m, NULL, &cfg, src) == AC_OK);
        CHECK(cfg.width == 8 && cfg.res_blocks == 2);
        CHECK(src[0] == AC_CONFIG_INFERRED && src[1] == AC_CONFIG_INFERRED);
        ac_tensor_map_free(m);

        ac_net *net = load(files[f], NULL);
        if (!net) continue;
        CHECK(ac_params_numel(ac_net_params(net)) == (size_t)atol(ac_tensor_map_meta(expected, "params")));
        char what[160];
        snprintf(what, sizeof what, "%s pad/y", files[f]);
        ac_tensor *y = restore(net, img, false);
        if (y) gn_close_t(what, y, gn_get(expected, "pad/y"), 1e-5, 1e-5);
        snprintf(what, sizeof what, "%s resize/y", files[f]);
        ac_tensor *yr = restore(net, img, true);
        if (yr) gn_close_t(what, yr, gn_get(expected, "resize/y"), 1e-5, 1e-5);
        ac_tensor_free(y);
        ac_tensor_free(yr);
        if (!first) {
            first = net;
            continue;
        }
        ac_params *a = ac_net_params(first), *b = ac_net_params(net);
        bool same = a->count == b->count;
        for (int i = 0; same && i < a->count; i++)
            same = !memcmp(a->items[i].tensor->data, b->items[i].tensor->data,
                           ac_numel(a->items[i].tensor) * sizeof(float));
        CHECK_MSG(same, "%s: parameters differ from %s", files[f], files[0]);
        ac_net_free(net);
    }
    ac_net_free(first);
    ac_tensor_free(img);
}

static void test_official_resize_matches_interpolate(void) {
    ac_tensor *img = input_image();
    CHECK(img->shape[2] == 36 && img->shape[3] == 52);
    ac_tensor *xr = ac_image_resize(img, 32, 48);
    gn_close_t("resize/x", xr, gn_get(expected, "resize/x"), 1e-6, 1e-6);
    ac_restore_opts o;
    ac_restore_opts_init(&o);
    o.official_resize = true;
    int oh, ow;
    ac_restore_output_size(&o, 36, 52, &oh, &ow);
    CHECK(oh == 32 && ow == 48);
    o.official_resize = false;
    ac_restore_output_size(&o, 36, 52, &oh, &ow);
    CHECK(oh == 36 && ow == 52);
    // Too small for the official resize: an error, not a crash.
    ac_net_config cfg = {8, 1};
    ac_net *net = ac_net_new(&cfg, NULL);
    ac_tensor *tiny = ac_tensor_new4(1, 3, 12, 40), *y = NULL;
    o.official_resize = true;
    CHECK(ac_restore_image(net, tiny, &o, &y) == AC_ERR_ARG && y == NULL);
    CHECK_MSG(strstr(ac_error_message(), "40x12") != NULL, "%s", ac_error_message());
    ac_tensor_free(tiny);
    ac_net_free(net);
    ac_tensor_free(xr);
    ac_tensor_free(img);
}

static void test_safetensors_round_trip(void) {
    ac_net *net = load(files[0], NULL);
    if (!net) return;
    ac_tensor_map *m = ac_net_export(net);
    CHECK(ac_safetensors_write(tmp_path("net.safetensors"), m) == AC_OK);
    ac_tensor_map_free(m);
    m = NULL;
    ac_model_file_kind kind;
    CHECK(ac_model_file_read(tmp_path("net.safetensors"), NULL, &m, &kind) == AC_OK);
    CHECK(kind == AC_MODEL_FILE_SAFETENSORS);
    ac_net_config cfg;
    ac_config_source src[2];
    CHECK(m && ac_model_file_config(m, NULL, &cfg, src) == AC_OK);
    CHECK(cfg.width == 8 && cfg.res_blocks == 2);
    CHECK(src[0] == AC_CONFIG_FROM_METADATA && src[1] == AC_CONFIG_FROM_METADATA);
    ac_tensor_map_free(m);

    ac_net *back = load(tmp_path("net.safetensors"), NULL);
    ac_tensor *img = input_image();
    ac_tensor *y = back ? restore(back, img, false) : NULL;
    if (y) gn_close_t("safetensors pad/y", y, gn_get(expected, "pad/y"), 1e-5, 1e-5);
    // An entry name makes no sense for safetensors.
    ac_model_file_opts o = {.entry = "ckt_module"};
    ac_net *bad = NULL;
    CHECK(ac_model_file_load_net(tmp_path("net.safetensors"), &o, &bad) == AC_ERR_ARG && !bad);
    CHECK_MSG(strstr(ac_error_message(), "net.safetensors: ") != NULL, "%s", ac_error_message());
    ac_tensor_free(y);
    ac_tensor_free(img);
    ac_net_free(back);
    ac_net_free(net);
}

// Expects loading to fail with `st`, the message starting with the path and holding each of
// the NULL-terminated `parts`.
static void load_fails(const char *path, const ac_model_file_opts *o, ac_status want, ...) {
    ac_net *net = NULL;
    ac_status st = ac_model_file_load_net(path, o, &net);
    const char *msg = ac_error_message();
    CHECK_MSG(st == want && net == NULL, "%s: status %s (want %s): %s", path, ac_status_name(st),
              ac_status_name(want), msg);
    CHECK_MSG(!strncmp(msg, path, strlen(path)) && msg[strlen(path)] == ':', "message does not start with the path: %s", msg);
    CHECK_MSG(strchr(msg, '\n') == NULL, "not one line: %s", msg);
    va_list ap;
    va_start(ap, want);
    for (const char *p; (p = va_arg(ap, const char *));)
        CHECK_MSG(strstr(msg, p) != NULL, "message lacks \"%s\": %s", p, msg);
    va_end(ap);
    ac_net_free(net);
}

static void test_strict_loading_errors(void) {
    ac_model_file_opts o = {.width = 16};
    load_fails(files[0], &o, AC_ERR_SHAPE,
               "tensor 'conv_input.conv2d.weight' has shape [8,3,11,11], model expects [16,3,11,11]", NULL);
    o = (ac_model_file_opts){.res_blocks = 3};
    load_fails(files[1], &o, AC_ERR_SHAPE, "missing", "'dehaze.res2.conv1.conv2d.weight'", NULL);
    o = (ac_model_file_opts){.res_blocks = 1};
    load_fails(files[2], &o, AC_ERR_SHAPE, "unexpected", "'dehaze.res1.conv1.conv2d.weight'", NULL);
    o = (ac_model_file_opts){.entry = "ckt_module"};
    load_fails(files[2], &o, AC_ERR_ARG, "ckt_module", "state_dict", NULL);
    o = (ac_model_file_opts){.width = 6};
    load_fails(files[0], &o, AC_ERR_ARG, "width 6", NULL);
    load_fails(DIR "restore_input.png", NULL, AC_ERR_FORMAT, "not a PyTorch checkpoint", NULL);
    load_fails(DIR "no_such_model.pth", NULL, AC_ERR_IO, "cannot open", NULL);

    // Missing + unexpected + mis-shaped together, in one line.
    ac_tensor_map *m = NULL;
    CHECK(ac_model_file_read(files[0], NULL, &m, NULL) == AC_OK);
    if (!m) return;
    ac_tensor_free(ac_tensor_map_take(m, "conv_output.conv2d.bias"));
    ac_tensor_map_put(m, "extra.weight", ac_tensor_new1(3));
    ac_tensor_map_put(m, "dense0.0.relu.weight", ac_tensor_new1(2));
    CHECK(ac_safetensors_write(tmp_path("broken.safetensors"), m) == AC_OK);
    ac_tensor_map_free(m);
    load_fails(tmp_path("broken.safetensors"), NULL, AC_ERR_SHAPE,
               "tensor 'dense0.0.relu.weight' has shape [2], model expects [1]",
               "missing", "'conv_output.conv2d.bias'", "unexpected", "'extra.weight'", NULL);
    // A state dict of something else.
    m = ac_tensor_map_new();
    ac_tensor_map_put(m, "features.0.weight", ac_tensor_new4(4, 3, 3, 3));
    CHECK(ac_safetensors_write(tmp_path("other.safetensors"), m) == AC_OK);
    ac_tensor_map_free(m);
    load_fails(tmp_path("other.safetensors"), NULL, AC_ERR_FORMAT, "not an MSBDN-RDFF state_dict", NULL);
}

static void test_data_parallel_prefix_and_flags(void) {
    ac_tensor_map *m = ac_tensor_map_new();
    ac_tensor_map_put(m, "module.a", ac_tensor_new1(1));
    ac_tensor_map_put(m, "b", ac_tensor_new1(1));
    CHECK(ac_safetensors_write(tmp_path("mixed.safetensors"), m) == AC_OK);
    ac_tensor_map_free(m);
    m = NULL;
    CHECK(ac_model_file_read(tmp_path("mixed.safetensors"), NULL, &m, NULL) == AC_OK);
    CHECK(m && ac_tensor_map_get(m, "module.a") && ac_tensor_map_get(m, "b"));  // kept
    ac_tensor_map_free(m);

    m = NULL;
    CHECK(ac_model_file_read(files[1], NULL, &m, NULL) == AC_OK);  // all keys 'module.'
    CHECK(m && ac_tensor_map_get(m, "conv_input.conv2d.weight") != NULL);
    ac_net_config cfg;
    ac_config_source src[2];
    ac_model_file_opts o = {.width = 8, .res_blocks = 2};
    CHECK(m && ac_model_file_config(m, &o, &cfg, src) == AC_OK);
    CHECK(cfg.width == 8 && cfg.res_blocks == 2 && src[0] == AC_CONFIG_FROM_FLAG && src[1] == AC_CONFIG_FROM_FLAG);
    // Metadata in a safetensors file wins over inference, flags win over metadata.
    ac_tensor_map_set_meta(m, "res_blocks", "5");
    CHECK(ac_model_file_config(m, NULL, &cfg, src) == AC_OK && cfg.res_blocks == 5 && cfg.width == 8);
    CHECK(src[1] == AC_CONFIG_FROM_METADATA && src[0] == AC_CONFIG_INFERRED);
    o = (ac_model_file_opts){.res_blocks = 2};
    CHECK(ac_model_file_config(m, &o, &cfg, src) == AC_OK && cfg.res_blocks == 2);
    ac_tensor_map_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ac_restore_XXXXXX");
    AC_ASSERT(mkdtemp(tmpdir));
    expected = gn_load(DIR "expected.safetensors");
    RUN(test_three_files_restore_like_pytorch);
    RUN(test_official_resize_matches_interpolate);
    RUN(test_safetensors_round_trip);
    RUN(test_strict_loading_errors);
    RUN(test_data_parallel_prefix_and_flags);
    ac_tensor_map_free(expected);
    const char *names[] = {"net.safetensors", "broken.safetensors", "other.safetensors", "mixed.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return ac_test_finish();
}
