// test_golden_kc.c: one knowledge-collation and one knowledge-examination loss, with their
// gradients on a few student and CKT tensors, against PyTorch (float64):
// tests/golden/train_kc.safetensors from tools/golden/gen_kc_step.py. Student and 2 teachers of
// width 4 with 1 res block, weights from the shared pattern; batch 3 (2 + 1 by type), 32x32.
// Loss values element-wise; gradients by relative L2 norm, as the L1 and contrastive terms
// have kinks where rounding flips a sign (training.md, testing note).
#include "backend/backend.h"
#include "test_golden_net.h"
#include "train/kd.h"

static const char *const student_grads[] = {"conv_input.conv2d.weight", "conv_input.conv2d.bias",
                                            "dehaze.res0.relu.weight", "fusion_1.down_convs.0.conv.weight",
                                            "conv_output.conv2d.weight", "conv_output.conv2d.bias"};
static const char *const ckt_grads[] = {"0.student_projector.PFP.0.weight", "0.teacher_projectors.PFPs.1.2.weight",
                                        "0.teacher_projectors.IPFPs.0.2.weight", "1.teacher_projectors.PFPs.1.2.weight"};

static ac_net *pattern_net(double gain) {
    ac_net_config cfg = {4, 1};
    ac_net *n = ac_net_new(&cfg, NULL);
    ac_params_fill_pattern(ac_net_params(n), gain);
    return n;
}

static ac_tensor *pattern_image(const char *name) {
    ac_tensor *t = ac_tensor_new4(3, 3, 32, 32);
    ac_tensor_fill_pattern_scaled(t, name, 1.0f);
    for (size_t i = 0; i < ac_numel(t); i++) t->data[i] = 0.5f + 0.5f * t->data[i];
    return t;
}

static void check_value(const ac_tensor_map *fx, const char *key, double got) {
    double want = gn_get(fx, key)->data[0];
    CHECK_MSG(fabs(got - want) <= 2e-5 * fabs(want) + 1e-7, "%s: got %.9g want %.9g (rel %.2g)", key, got, want,
              fabs(got - want) / fabs(want));
}

static void check_grad(const ac_tensor_map *fx, const char *key, const ac_tensor *t) {
    const ac_tensor *want = gn_get(fx, key);
    CHECK_MSG(t->grad != NULL && ac_same_shape(t, want), "%s: no gradient or wrong shape", key);
    if (!t->grad || !ac_same_shape(t, want)) return;
    double e = gn_rel_l2(t->grad, want->data, ac_numel(want));
    CHECK_MSG(e < 1e-2, "%s: relative L2 error %.3g", key, e);
    if (e >= 1e-3) printf("  %s: relative L2 %.2g\n", key, e);
}

static void test_kc_and_ke_against_pytorch(void) {
    ac_tensor_map *fx = gn_load("tests/golden/train_kc.safetensors");
    ac_net *student = pattern_net(1.0), *teachers[2] = {pattern_net(0.8), pattern_net(1.2)};
    ac_ckt *ckt = ac_ckt_new(4, 2, NULL);
    ac_params_fill_pattern(ckt->params, 2.0);
    ac_vgg19 *vgg = ac_vgg19_new();
    ac_params_fill_pattern(vgg->params, 2.0);
    ac_params_set_trainable(ac_net_params(student), true);
    ac_params_set_trainable(ckt->params, true);
    ac_tensor *x = pattern_image("kc.x"), *y = pattern_image("kc.y");
    const int counts[2] = {2, 1};
    ac_graph *g = ac_graph_new(true);

    ac_kc_models m = {student, teachers, 2, ckt, vgg};
    ac_step_losses l;
    CHECK(ac_kc_step(&m, g, x, y, counts, &l) == AC_OK);
    printf("  KC: T %.8f PFE %.8f PFV %.8f SCR %.8f loss %.8f\n", l.t, l.pfe, l.pfv, l.scr, l.loss);
    check_value(fx, "kc.t", l.t);
    check_value(fx, "kc.pfe", l.pfe);
    check_value(fx, "kc.pfv", l.pfv);
    check_value(fx, "kc.scr", l.scr);
    check_value(fx, "kc.loss", l.loss);
    char key[160];
    for (size_t i = 0; i < sizeof student_grads / sizeof *student_grads; i++) {
        snprintf(key, sizeof key, "kc.grad.student.%s", student_grads[i]);
        check_grad(fx, key, ac_params_get(ac_net_params(student), student_grads[i]));
    }
    for (size_t i = 0; i < sizeof ckt_grads / sizeof *ckt_grads; i++) {
        snprintf(key, sizeof key, "kc.grad.ckt.%s", ckt_grads[i]);
        check_grad(fx, key, ac_params_get(ckt->params, ckt_grads[i]));
    }

    ac_params_zero_grad(ac_net_params(student));
    CHECK(ac_ke_step(student, vgg, g, x, y, &l) == AC_OK);
    printf("  KE: L1 %.8f HCR %.8f loss %.8f\n", l.l1, l.hcr, l.loss);
    check_value(fx, "ke.l1", l.l1);
    check_value(fx, "ke.hcr", l.hcr);
    check_value(fx, "ke.loss", l.loss);
    for (size_t i = 0; i < sizeof student_grads / sizeof *student_grads; i++) {
        snprintf(key, sizeof key, "ke.grad.student.%s", student_grads[i]);
        check_grad(fx, key, ac_params_get(ac_net_params(student), student_grads[i]));
    }

    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(y);
    ac_vgg19_free(vgg);
    ac_ckt_free(ckt);
    ac_net_free(teachers[0]);
    ac_net_free(teachers[1]);
    ac_net_free(student);
    ac_tensor_map_free(fx);
}

int main(void) {
    ac_set_threads(1);  // tiny tensors: threads cost more than they save
    RUN(test_kc_and_ke_against_pytorch);
    return ac_test_finish();
}
