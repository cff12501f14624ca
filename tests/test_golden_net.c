// test_golden_net.c: the whole MSBDN-RDFF network against PyTorch
// (tests/golden/net_small.safetensors, net_ref.safetensors from tools/golden/gen_net.py).
// - Net(b=8, res_blocks=2), weights from the shared closed-form pattern, input 2x3x32x32:
//   output, the 4 features, and the gradients of L = sum(y proj_y) + sum_k sum(f_k proj_k)
//   with respect to the input and a selection of parameters across the network.
// - The same forward on an inference graph: identical output, and its peak activation memory
//   is a small fraction of all the activations a recording graph keeps.
// - The reference width Net(b=16, res_blocks=18) on a 1x3x64x64 input within 1e-4 max abs.
#include "model/net.h"
#include "ops/ops.h"
#include "test_golden_net.h"

static const char *const small_grads[] = {
    "conv_input.conv2d.weight", "conv_input.conv2d.bias", "dense0.0.relu.weight",
    "fusion2.down_convs.1.act.weight", "fusion4.up_convs.3.deconv.weight",
    "dehaze.res1.conv2.conv2d.bias", "dehaze.res0.relu.weight", "convd2x.conv2d.bias",
    "fusion_1.down_convs.0.conv.weight", "conv_1.conv_1x1.weight", "conv_output.conv2d.weight",
    "conv_output.conv2d.bias", NULL};

static ac_tensor_map *small;

static ac_net *small_net(void) {
    ac_net_config cfg = {8, 2};
    ac_net *net = ac_net_new(&cfg, NULL);
    ac_params_fill_pattern(ac_net_params(net), 1.0);
    return net;
}

static size_t recording_bytes;  // all activations of a recording forward (for the memory test)

static void test_net_small_forward_backward(void) {
    ac_net *net = small_net();
    ac_params_set_trainable(ac_net_params(net), true);
    ac_tensor *x = gn_input(small, "x", true);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *f[AC_NET_FEATURES];
    ac_tensor *y = ac_net_forward(net, g, x, f);
    recording_bytes = ac_graph_bytes(g);
    gn_close_t("y", y, gn_get(small, "y"), 1e-5, 1e-5);
    char name[128];
    for (int k = 0; k < AC_NET_FEATURES; k++) {
        snprintf(name, sizeof name, "f%d", k);
        gn_close_t(name, f[k], gn_get(small, name), 1e-5, 1e-5);
    }
    gn_seed(g, y, "proj.y");
    for (int k = 0; k < AC_NET_FEATURES; k++) {
        snprintf(name, sizeof name, "proj.f%d", k);
        gn_seed(g, f[k], name);
    }
    gn_backward(g, y);
    gn_close("dx", x->grad, gn_get(small, "dx"), 1e-5, 1e-4);
    for (int i = 0; small_grads[i]; i++) {
        ac_tensor *p = ac_params_get(ac_net_params(net), small_grads[i]);
        CHECK_MSG(p != NULL, "no parameter %s", small_grads[i]);
        if (!p) continue;
        snprintf(name, sizeof name, "grad.%s", small_grads[i]);
        gn_close(name, p->grad, gn_get(small, name), 1e-5, 1e-4);
    }
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_net_free(net);
}

static void test_net_small_inference_memory(void) {
    ac_net *net = small_net();
    ac_tensor *x = gn_input(small, "x", false);
    ac_graph *g = ac_graph_new(false);
    ac_tensor *y = ac_net_forward(net, g, x, NULL);
    size_t peak = ac_graph_peak_bytes(g);
    gn_close_t("y (inference)", y, gn_get(small, "y"), 1e-5, 1e-5);
    // Only the output is left.
    CHECK(ac_graph_bytes(g) == ac_numel(y) * sizeof(float));
    printf("  inference peak %zu bytes, all activations %zu bytes (%.1f%%)\n", peak,
           recording_bytes, 100.0 * (double)peak / (double)recording_bytes);
    CHECK_MSG(recording_bytes > 0 && peak * 8 < recording_bytes,
              "inference peak %zu bytes is not well below the %zu bytes of all activations", peak,
              recording_bytes);
    ac_graph_reset(g);

    // With features: they survive and match too; the rest is still released.
    ac_tensor *f[AC_NET_FEATURES];
    y = ac_net_forward(net, g, x, f);
    size_t live = ac_numel(y);
    char name[16];
    for (int k = 0; k < AC_NET_FEATURES; k++) {
        snprintf(name, sizeof name, "f%d", k);
        gn_close_t(name, f[k], gn_get(small, name), 1e-5, 1e-5);
        live += ac_numel(f[k]);
    }
    CHECK(ac_graph_bytes(g) == live * sizeof(float));
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_net_free(net);
}

static void test_net_reference_width(void) {
    ac_tensor_map *ref = gn_load("tests/golden/net_ref.safetensors");
    ac_net_config cfg = {AC_NET_DEFAULT_WIDTH, AC_NET_DEFAULT_RES_BLOCKS};
    ac_net *net = ac_net_new(&cfg, NULL);
    ac_params_fill_pattern(ac_net_params(net), 1.0);
    ac_tensor *x = gn_input(ref, "x", false);
    ac_graph *g = ac_graph_new(false);
    ac_tensor *y = ac_net_forward(net, g, x, NULL);
    const ac_tensor *want = gn_get(ref, "y");
    CHECK(ac_same_shape(y, want));
    t_close("reference net y", y->data, want->data, ac_numel(want), 1e-4, 0.0);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_net_free(net);
    ac_tensor_map_free(ref);
}

int main(void) {
    small = gn_load("tests/golden/net_small.safetensors");
    RUN(test_net_small_forward_backward);
    RUN(test_net_small_inference_memory);
    RUN(test_net_reference_width);
    ac_tensor_map_free(small);
    return ac_test_finish();
}
