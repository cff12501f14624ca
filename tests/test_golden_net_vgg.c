// test_golden_net_vgg.c: VGG19 slices and the SCR / HCR contrastive losses against PyTorch
// (tests/golden/net_vgg.safetensors from tools/golden/gen_net.py; torchvision's
// vgg19().features[:30] with weights from the closed-form pattern, never the real weights).
// - the 5 slice outputs of a 1x3x16x16 input and the gradient to the input of
//   L = sum_k sum(V_k proj_k), with the VGG weights frozen (they get no gradient);
// - SCR and HCR values for a batch of 2 (HCR compares every pair) and their gradients with
//   respect to the restored image a, by relative L2 (training.md testing note);
// - the p and n features leave no tape behind.
#include "model/contrastive.h"
#include "ops/ops.h"
#include "test_golden_net.h"

static ac_tensor_map *fx;
static ac_vgg19 *vgg;

static void test_vgg_slices(void) {
    ac_tensor *x = gn_input(fx, "x", true);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *f[AC_VGG_SLICES];
    ac_vgg19_forward(vgg, g, x, f);
    char name[32];
    for (int k = 0; k < AC_VGG_SLICES; k++) {
        snprintf(name, sizeof name, "relu%d", k + 1);
        gn_close_t(name, f[k], gn_get(fx, name), 1e-5, 1e-4);
        CHECK(f[k]->shape[1] == ac_vgg19_slice_channels(k));
        snprintf(name, sizeof name, "proj.vgg%d", k);
        gn_seed(g, f[k], name);
    }
    gn_backward(g, f[4]);
    gn_close("dx", x->grad, gn_get(fx, "dx"), 1e-4, 1e-3);
    for (int i = 0; i < vgg->params->count; i++) CHECK(vgg->params->items[i].tensor->grad == NULL);
    ac_graph_free(g);

    // Inference graph: same outputs, only the 5 slice outputs remain.
    g = ac_graph_new(false);
    ac_vgg19_forward(vgg, g, x, f);
    size_t live = 0;
    for (int k = 0; k < AC_VGG_SLICES; k++) {
        snprintf(name, sizeof name, "relu%d", k + 1);
        gn_close_t(name, f[k], gn_get(fx, name), 1e-5, 1e-4);
        live += ac_numel(f[k]) * sizeof(float);
    }
    CHECK(ac_graph_bytes(g) == live);
    ac_graph_free(g);
    ac_tensor_free(x);
}

static void check_loss(const char *tag, bool hcr) {
    ac_tensor *a = gn_input(fx, "a", true);
    ac_tensor *p = gn_input(fx, "p", false), *n = gn_input(fx, "n", false);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *loss = hcr ? ac_hcr_loss(g, vgg, a, p, n) : ac_scr_loss(g, vgg, a, p, n);
    CHECK(ac_numel(loss) == 1 && loss->requires_grad);
    const ac_tensor *want = gn_get(fx, tag);
    printf("  %s = %.8g (PyTorch float64 %.8g)\n", tag, loss->data[0], want->data[0]);
    t_close(tag, loss->data, want->data, 1, 0.0, 1e-5);
    ac_backward(g, loss);
    char name[32];
    snprintf(name, sizeof name, "d%s_da", tag);
    const ac_tensor *dwant = gn_get(fx, name);
    double rel = gn_rel_l2(a->grad, dwant->data, ac_numel(a));
    printf("  %s: relative L2 error %.3g\n", name, rel);
    CHECK_MSG(rel < 0.03, "%s: relative L2 error %.3g", name, rel);
    ac_graph_free(g);
    ac_tensor_free(a);
    ac_tensor_free(p);
    ac_tensor_free(n);
}

static void test_scr(void) { check_loss("scr", false); }
static void test_hcr(void) { check_loss("hcr", true); }

// HCR differs from SCR only when the batch has more than one image: with a batch of one the
// two losses agree exactly.
static void test_hcr_equals_scr_for_one_image(void) {
    ac_tensor *a = gn_input(fx, "a", false), *p = gn_input(fx, "p", false);
    ac_tensor *n = gn_input(fx, "n", false);
    ac_tensor *a1 = ac_tensor_new4(1, 3, 16, 16), *p1 = ac_tensor_new4(1, 3, 16, 16);
    ac_tensor *n1 = ac_tensor_new4(1, 3, 16, 16);
    memcpy(a1->data, a->data, ac_numel(a1) * 4);
    memcpy(p1->data, p->data, ac_numel(p1) * 4);
    memcpy(n1->data, n->data, ac_numel(n1) * 4);
    ac_graph *g = ac_graph_new(false);
    float s = ac_scr_loss(g, vgg, a1, p1, n1)->data[0];
    float h = ac_hcr_loss(g, vgg, a1, p1, n1)->data[0];
    CHECK_MSG(fabsf(s - h) <= 1e-6f * fabsf(s), "scr %.8g hcr %.8g", s, h);
    ac_graph_free(g);
    ac_tensor_free(a);
    ac_tensor_free(p);
    ac_tensor_free(n);
    ac_tensor_free(a1);
    ac_tensor_free(p1);
    ac_tensor_free(n1);
}

// The constant features of p and n take no tape nodes: the tape holds exactly the nodes of
// the anchor's VGG pass plus the loss arithmetic.
static void test_constant_features_not_taped(void) {
    ac_tensor *a = gn_input(fx, "a", true), *p = gn_input(fx, "p", false);
    ac_tensor *n = gn_input(fx, "n", false);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *f[AC_VGG_SLICES];
    ac_vgg19_forward(vgg, g, a, f);
    size_t vgg_nodes = ac_graph_node_count(g);
    ac_graph_reset(g);
    ac_scr_loss(g, vgg, a, p, n);
    // per slice: 2 L1, add_const, div, scale; 4 adds between the 5 terms
    CHECK_MSG(ac_graph_node_count(g) == vgg_nodes + 5 * 5 + 4, "%zu nodes, vgg %zu",
              ac_graph_node_count(g), vgg_nodes);
    ac_graph_free(g);
    ac_tensor_free(a);
    ac_tensor_free(p);
    ac_tensor_free(n);
}

int main(void) {
    fx = gn_load("tests/golden/net_vgg.safetensors");
    vgg = ac_vgg19_new();
    const char *gain = ac_tensor_map_meta(fx, "gain");
    CHECK(gain != NULL);
    ac_params_fill_pattern(vgg->params, gain ? atof(gain) : 2.0);
    RUN(test_vgg_slices);
    RUN(test_scr);
    RUN(test_hcr);
    RUN(test_hcr_equals_scr_for_one_image);
    RUN(test_constant_features_not_taped);
    ac_vgg19_free(vgg);
    ac_tensor_map_free(fx);
    return ac_test_finish();
}
