// test_model.c: the model registries without PyTorch numbers: parameter counts (the
// reference Net has 28,712,861), names and shapes in state_dict order against the key lists
// PyTorch wrote into the golden fixtures, default initialisation, strict loading and its
// error message, export / safetensors round trip, configuration from a weight map, VGG19
// loading from a full torchvision map, the test pattern, and forward/backward wiring
// (non-square input, every parameter receives a gradient).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/ckt.h"
#include "model/net.h"
#include "model/vgg19.h"
#include "ops/ops.h"
#include "test_golden_net.h"

// Compares a registry with "name:d0,d1;name:..." written by gen_net.py (PyTorch order).
static void check_keys(const char *what, const ac_params *p, const char *keys) {
    CHECK_MSG(keys != NULL, "%s: fixture has no key list", what);
    if (!keys) return;
    char *copy = ac_xstrdup(keys), *save = NULL;
    int i = 0, bad = 0;
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save), i++) {
        char *colon = strchr(item, ':');
        AC_ASSERT(colon);
        *colon = '\0';
        char shape[64], want_shape[64];
        snprintf(want_shape, sizeof want_shape, "[%s]", colon + 1);
        if (i >= p->count) {
            if (bad++ < 5) fprintf(stderr, "  %s: PyTorch has extra key %s\n", what, item);
            continue;
        }
        ac_shape_str(p->items[i].tensor, shape, sizeof shape);
        if (strcmp(item, p->items[i].name) || strcmp(shape, want_shape)) {
            if (bad++ < 5)
                fprintf(stderr, "  %s: key %d: PyTorch %s %s, ours %s %s\n", what, i, item,
                        want_shape, p->items[i].name, shape);
        }
    }
    CHECK_MSG(bad == 0 && i == p->count, "%s: %d mismatches; PyTorch %d keys, ours %d", what, bad,
              i, p->count);
    free(copy);
}

static void test_names_match_pytorch(void) {
    ac_tensor_map *fx = gn_load("tests/golden/net_small.safetensors");
    ac_net_config cfg = {8, 2};
    ac_net *net = ac_net_new(&cfg, NULL);
    check_keys("Net(8, 2)", ac_net_params(net), ac_tensor_map_meta(fx, "keys"));
    const char *numel_ref = ac_tensor_map_meta(fx, "numel_ref");
    CHECK(numel_ref && !strcmp(numel_ref, "28712861"));
    ac_net_free(net);
    ac_tensor_map_free(fx);

    fx = gn_load("tests/golden/net_ckt.safetensors");
    ac_ckt *ckt = ac_ckt_new(2, 2, NULL);
    check_keys("CKT(b=2, T=2)", ckt->params, ac_tensor_map_meta(fx, "keys"));
    ac_ckt_free(ckt);
    ac_tensor_map_free(fx);

    fx = gn_load("tests/golden/net_vgg.safetensors");
    ac_vgg19 *vgg = ac_vgg19_new();
    check_keys("VGG19 features[:30]", vgg->params, ac_tensor_map_meta(fx, "keys"));
    ac_vgg19_free(vgg);
    ac_tensor_map_free(fx);
}

static void test_reference_parameter_count(void) {
    ac_net_config cfg = {AC_NET_DEFAULT_WIDTH, AC_NET_DEFAULT_RES_BLOCKS};
    ac_net *net = ac_net_new(&cfg, NULL);
    CHECK_MSG(ac_params_numel(ac_net_params(net)) == 28712861u, "%zu parameters",
              ac_params_numel(ac_net_params(net)));
    ac_net_free(net);
    ac_ckt *ckt = ac_ckt_new(16, 3, NULL);
    // per level c: T (h c 9 + h h 9 + c h 9 + c c 9) + h c 9 + h h 9, h = c / 2
    size_t want = 0;
    for (int c = 64; c <= 256; c *= 2)
        for (int rep = 0; rep < (c == 256 ? 2 : 1); rep++) {
            size_t h = (size_t)c / 2, cc = (size_t)c;
            want += 3 * 9 * (h * cc + h * h + cc * h + cc * cc) + 9 * (h * cc + h * h);
        }
    CHECK(ac_params_numel(ckt->params) == want);
    CHECK(ckt->level[0].channels == 64 && ckt->level[3].channels == 256 && ckt->level[3].hidden == 128);
    ac_ckt_free(ckt);
    ac_vgg19 *vgg = ac_vgg19_new();
    CHECK(vgg->params->count == 26 && ac_params_numel(vgg->params) == 12944960u);
    ac_vgg19_free(vgg);
}

static void test_default_init(void) {
    ac_rng r;
    ac_rng_seed(&r, 11);
    ac_net_config cfg = {8, 2};
    ac_net *net = ac_net_new(&cfg, &r);
    const ac_params *p = ac_net_params(net);
    int bad = 0;
    for (int i = 0; i < p->count; i++) {
        const ac_tensor *t = p->items[i].tensor;
        const char *name = p->items[i].name;
        size_t n = ac_numel(t);
        if (strstr(name, "relu.weight") || strstr(name, "act.weight")) {
            if (!(n == 1 && t->data[0] == 0.25f)) bad++;
            continue;
        }
        // Conv weights: fan_in = shape[1] k k; biases share the bound of their weight.
        const ac_tensor *w = t;
        if (t->ndim == 1) {
            char wname[256];
            snprintf(wname, sizeof wname, "%.*sweight", (int)(strlen(name) - 4), name);
            w = ac_params_get(p, wname);
            AC_ASSERT(w);
        }
        double bound = 1.0 / sqrt((double)(w->shape[1] * w->shape[2] * w->shape[3]));
        double mx = gn_maxabs(t->data, n), s2 = 0;
        for (size_t k = 0; k < n; k++) s2 += (double)t->data[k] * t->data[k];
        bool off = mx > bound * (1 + 1e-6) || (n >= 16 && mx < 0.5 * bound) ||
                   (n > 5000 && fabs(sqrt(s2 / n) - bound / sqrt(3.0)) > 0.05 * bound);
        if (off && bad++ < 5) fprintf(stderr, "  %s: max %.4g, bound %.4g\n", name, mx, bound);
    }
    CHECK_MSG(bad == 0, "%d parameters off their default initialisation", bad);
    // Same seed, same weights.
    ac_rng_seed(&r, 11);
    ac_net *again = ac_net_new(&cfg, &r);
    const ac_params *q = ac_net_params(again);
    bool same = true;
    for (int i = 0; i < p->count; i++)
        same &= !memcmp(p->items[i].tensor->data, q->items[i].tensor->data,
                        ac_numel(p->items[i].tensor) * 4);
    CHECK(same);
    ac_net_free(again);
    ac_net_free(net);

    // CKT: Kaiming normal, std sqrt(2 / fan_in), mean 0.
    ac_ckt *ckt = ac_ckt_new(16, 1, &r);
    const ac_tensor *w = ac_params_get(ckt->params, "3.teacher_projectors.IPFPs.0.2.weight");
    AC_ASSERT(w);
    size_t n = ac_numel(w);
    double s = 0, s2 = 0;
    for (size_t k = 0; k < n; k++) {
        s += w->data[k];
        s2 += (double)w->data[k] * w->data[k];
    }
    double want = sqrt(2.0 / (256 * 9));
    CHECK_MSG(fabs(sqrt(s2 / n) - want) < 0.01 * want && fabs(s / n) < 0.01 * want,
              "std %.5g want %.5g, mean %.3g", sqrt(s2 / n), want, s / n);
    ac_ckt_free(ckt);
}

static void test_trainable_toggle(void) {
    ac_ckt *ckt = ac_ckt_new(2, 1, NULL);
    ac_params_set_trainable(ckt->params, true);
    bool all = true;
    for (int i = 0; i < ckt->params->count; i++)
        all &= ckt->params->items[i].tensor->requires_grad && ckt->params->items[i].tensor->grad;
    CHECK(all);
    ac_params_set_trainable(ckt->params, false);
    bool none = true;
    for (int i = 0; i < ckt->params->count; i++)
        none &= !ckt->params->items[i].tensor->requires_grad && !ckt->params->items[i].tensor->grad;
    CHECK(none);
    ac_ckt_free(ckt);
}

static void test_strict_load_errors(void) {
    ac_rng r;
    ac_rng_seed(&r, 5);
    ac_net_config cfg = {8, 2};
    ac_net *net = ac_net_new(&cfg, &r);
    ac_tensor_map *m = ac_net_export(net);
    ac_net *other = ac_net_new(&cfg, NULL);

    // One missing, one unexpected, one wrongly shaped: all named, nothing loaded.
    ac_tensor_free(ac_tensor_map_take(m, "dense0.1.conv2.conv2d.weight"));
    ac_tensor_map_put(m, "dense0.1.conv3.conv2d.weight", ac_tensor_new1(4));
    ac_tensor_map_put(m, "conv_output.conv2d.bias", ac_tensor_new1(4));
    ac_status st = ac_net_load(other, m);
    const char *msg = ac_error_message();
    CHECK(st == AC_ERR_SHAPE);
    CHECK_MSG(strstr(msg, "'dense0.1.conv2.conv2d.weight'") &&
                  strstr(msg, "'dense0.1.conv3.conv2d.weight'") &&
                  strstr(msg, "tensor 'conv_output.conv2d.bias' has shape [4], model expects [3]"),
              "message: %s", msg);
    CHECK(strstr(msg, "1 missing") && strstr(msg, "1 unexpected") && strstr(msg, "1 wrongly shaped"));
    CHECK(gn_maxabs(ac_params_get(ac_net_params(other), "conv_input.conv2d.weight")->data, 100) == 0);
    ac_tensor_map_free(m);

    // A reference-width map into a b = 8 net: the message names the first problems of each
    // kind, counts them all, and fits the error buffer.
    ac_net_config big = {16, 3};
    ac_net *wide = ac_net_new(&big, NULL);
    m = ac_net_export(wide);
    st = ac_net_load(other, m);
    msg = ac_error_message();
    CHECK(st == AC_ERR_SHAPE);
    CHECK_MSG(strstr(msg, "tensor 'conv_input.conv2d.weight' has shape [16,3,11,11], model "
                          "expects [8,3,11,11]") &&
                  strstr(msg, "unexpected: 'dehaze.res2.") && strstr(msg, "more)"),
              "message: %s", msg);
    printf("  message (%zu chars): %s\n", strlen(msg), msg);
    ac_tensor_map_free(m);
    ac_net_free(wide);
    ac_net_free(other);
    ac_net_free(net);
}

static void test_export_roundtrip_and_config(void) {
    ac_rng r;
    ac_rng_seed(&r, 6);
    ac_net_config cfg = {8, 3};
    ac_net *net = ac_net_new(&cfg, &r);
    ac_tensor_map *m = ac_net_export(net);
    CHECK(m->count == ac_net_params(net)->count);
    CHECK(!strcmp(ac_tensor_map_meta(m, "width"), "8") &&
          !strcmp(ac_tensor_map_meta(m, "res_blocks"), "3"));
    char path[] = "/tmp/ac_model_XXXXXX";
    int fd = mkstemp(path);
    AC_ASSERT(fd >= 0);
    close(fd);
    CHECK(ac_safetensors_write(path, m) == AC_OK);
    ac_tensor_map *back = NULL;
    CHECK(ac_safetensors_read(path, &back) == AC_OK);
    unlink(path);
    ac_net_config got;
    CHECK(back && ac_net_config_from_map(back, &got) == AC_OK && got.width == 8 && got.res_blocks == 3);
    ac_net *copy = ac_net_new(&got, NULL);
    CHECK(ac_net_load(copy, back) == AC_OK);
    bool same = true;
    const ac_params *a = ac_net_params(net), *b = ac_net_params(copy);
    for (int i = 0; i < a->count; i++)
        same &= !memcmp(a->items[i].tensor->data, b->items[i].tensor->data,
                        ac_numel(a->items[i].tensor) * 4);
    CHECK(same);

    // A plain PyTorch state_dict (no metadata): width and blocks inferred from the tensors.
    ac_tensor_map *plain = ac_tensor_map_new();
    ac_params_export(ac_net_params(net), plain, NULL);
    CHECK(ac_net_config_from_map(plain, &got) == AC_OK && got.width == 8 && got.res_blocks == 3);
    ac_tensor_free(ac_tensor_map_take(plain, "conv_input.conv2d.weight"));
    CHECK(ac_net_config_from_map(plain, &got) == AC_ERR_FORMAT);
    ac_tensor_map_set_meta(plain, "width", "x8");
    CHECK(ac_net_config_from_map(plain, &got) == AC_ERR_FORMAT);
    ac_tensor_map_set_meta(plain, "width", "6");
    CHECK(ac_net_config_from_map(plain, &got) == AC_ERR_ARG);

    // Prefixed export/load (a combined checkpoint).
    ac_tensor_map *comb = ac_tensor_map_new();
    ac_params_export(ac_net_params(net), comb, "student.");
    ac_tensor_map_put(comb, "ckt.0.x", ac_tensor_new1(1));
    ac_load_opts opts = {"student.", NULL};
    CHECK(ac_params_load(ac_net_params(copy), comb, &opts) == AC_OK);
    ac_load_opts wrong = {"teacher.", NULL};
    CHECK(ac_params_load(ac_net_params(copy), comb, &wrong) == AC_ERR_SHAPE);
    CHECK(strstr(ac_error_message(), "'teacher.conv_input.conv2d.weight'") != NULL);

    ac_tensor_map_free(comb);
    ac_tensor_map_free(plain);
    ac_tensor_map_free(back);
    ac_tensor_map_free(m);
    ac_net_free(copy);
    ac_net_free(net);
}

static void test_vgg_load_full_torchvision_map(void) {
    ac_vgg19 *src = ac_vgg19_new();
    ac_params_fill_pattern(src->params, 2.0);
    ac_tensor_map *m = ac_tensor_map_new();
    ac_params_export(src->params, m, NULL);
    // What else a torchvision vgg19 file holds.
    int s1[4] = {512, 512, 3, 3}, s2[2] = {4096, 25088};
    ac_tensor_map_put(m, "features.30.weight", ac_tensor_new(4, s1));
    ac_tensor_map_put(m, "features.34.bias", ac_tensor_new1(512));
    ac_tensor_map_put(m, "classifier.0.weight", ac_tensor_new(2, s2));
    ac_tensor_map_put(m, "classifier.6.bias", ac_tensor_new1(1000));
    ac_vgg19 *v = ac_vgg19_new();
    CHECK(ac_vgg19_load(v, m) == AC_OK);
    CHECK(!memcmp(v->w[12]->data, src->w[12]->data, ac_numel(v->w[12]) * 4));
    ac_tensor_free(ac_tensor_map_take(m, "features.28.bias"));
    CHECK(ac_vgg19_load(v, m) == AC_ERR_SHAPE && strstr(ac_error_message(), "'features.28.bias'"));
    ac_tensor_map_free(m);
    ac_vgg19_free(v);
    ac_vgg19_free(src);
}

// Values computed by tools/golden/gen_net.py's pattern() (the golden fixtures rely on it).
static void test_pattern_values(void) {
    CHECK(ac_fnv1a64("conv_input.conv2d.weight") == 0x938537ba28ffd534ull);
    int s[4] = {8, 3, 11, 11};
    ac_tensor *t = ac_tensor_new(4, s);
    ac_tensor_fill_pattern(t, "conv_input.conv2d.weight", 1.0);
    CHECK(t->data[0] == -0.0058573144f && t->data[1] == -0.025935432f &&
          t->data[2903] == -0.026803434f);
    ac_tensor *b = ac_tensor_new1(1);
    ac_tensor_fill_pattern(b, "dense0.0.relu.weight", 1.0);
    CHECK(b->data[0] == 0.08658414f);
    ac_tensor_free(t);
    ac_tensor_free(b);
}

// A non-square input: output and feature shapes; every parameter gets a gradient from an L1
// loss (all of them are wired into the graph).
static void test_net_wiring(void) {
    ac_rng r;
    ac_rng_seed(&r, 9);
    ac_net_config cfg = {8, 1};
    ac_net *net = ac_net_new(&cfg, &r);
    ac_params *p = ac_net_params(net);
    ac_params_set_trainable(p, true);
    ac_tensor *x = ac_tensor_new4(1, 3, 32, 48), *target = ac_tensor_new4(1, 3, 32, 48);
    t_fill_uniform(&r, x->data, ac_numel(x), 0.0f, 1.0f);
    t_fill_uniform(&r, target->data, ac_numel(target), 0.0f, 1.0f);
    ac_graph *g = ac_graph_new(true);
    ac_tensor *f[AC_NET_FEATURES];
    ac_tensor *y = ac_net_forward(net, g, x, f);
    CHECK(ac_same_shape(y, x));
    static const int ch[4] = {32, 64, 128, 128}, div[4] = {4, 8, 16, 16};
    for (int k = 0; k < 4; k++)
        CHECK(f[k]->shape[0] == 1 && f[k]->shape[1] == ch[k] && f[k]->shape[2] == 32 / div[k] &&
              f[k]->shape[3] == 48 / div[k]);
    ac_tensor *loss = ac_l1_mean(g, y, target);
    ac_backward(g, loss);
    int zero = 0;
    for (int i = 0; i < p->count; i++)
        if (gn_maxabs(p->items[i].tensor->grad, ac_numel(p->items[i].tensor)) == 0) {
            if (zero++ < 5) fprintf(stderr, "  no gradient: %s\n", p->items[i].name);
        }
    CHECK_MSG(zero == 0, "%d parameters got no gradient", zero);
    ac_graph_free(g);
    ac_tensor_free(x);
    ac_tensor_free(target);
    ac_net_free(net);
}

int main(void) {
    RUN(test_names_match_pytorch);
    RUN(test_reference_parameter_count);
    RUN(test_default_init);
    RUN(test_trainable_toggle);
    RUN(test_strict_load_errors);
    RUN(test_export_roundtrip_and_config);
    RUN(test_vgg_load_full_torchvision_map);
    RUN(test_pattern_values);
    RUN(test_net_wiring);
    return ac_test_finish();
}
