// test_golden_net_blocks.c: the MSBDN-RDFF building blocks against PyTorch
// (tests/golden/net_blocks.safetensors from tools/golden/gen_net.py): ResidualBlock, RDB,
// Encoder_MDCBlock1 and Decoder_MDCBlock1 (iter2) forward, and the gradients of
// L = sum(y * proj) with respect to every input and every parameter. The parameters are
// loaded by name from the fixture (prefix "<block>.param."), which also proves the
// parameter names and shapes of each block.
#include "model/net_blocks.h"
#include "ops/ops.h"
#include "test_golden_net.h"

static ac_tensor_map *fx;

typedef enum { B_RES, B_RDB, B_ENC, B_DEC } block_kind;

typedef struct block_case {
    const char *tag;
    block_kind kind;
    int n_inputs;
} block_case;

static void run_case(const block_case *bc) {
    ac_params *p = ac_params_new();
    ac_resblock rb;
    ac_rdb rdb;
    ac_fusion fu;
    switch (bc->kind) {
    case B_RES: ac_resblock_init(&rb, p, "", 4); break;
    case B_RDB: ac_rdb_init(&rdb, p, "", 4, 4); break;
    case B_ENC: ac_fusion_init(&fu, p, "", 8, 3, false); break;
    case B_DEC: ac_fusion_init(&fu, p, "", 2, 3, true); break;
    }
    char prefix[64], name[256];
    snprintf(prefix, sizeof prefix, "%s.param.", bc->tag);
    ac_load_opts opts = {prefix, NULL};
    ac_status st = ac_params_load(p, fx, &opts);
    CHECK_MSG(st == AC_OK, "%s: load: %s", bc->tag, ac_error_message());
    ac_params_set_trainable(p, true);

    ac_tensor *in[3];
    for (int i = 0; i < bc->n_inputs; i++) {
        snprintf(name, sizeof name, "%s.x%d", bc->tag, i);
        in[i] = gn_input(fx, name, true);
    }
    ac_graph *g = ac_graph_new(true);
    ac_tensor *y = NULL;
    switch (bc->kind) {
    case B_RES: y = ac_resblock_forward(&rb, g, in[0]); break;
    case B_RDB: y = ac_rdb_forward(&rdb, g, in[0]); break;
    case B_ENC:
    case B_DEC: y = ac_fusion_forward(&fu, g, in[0], in + 1, bc->n_inputs - 1); break;
    }
    snprintf(name, sizeof name, "%s.y", bc->tag);
    gn_close_t(name, y, gn_get(fx, name), 1e-5, 1e-5);

    snprintf(name, sizeof name, "proj.%s", bc->tag);
    gn_seed(g, y, name);
    gn_backward(g, y);
    for (int i = 0; i < bc->n_inputs; i++) {
        snprintf(name, sizeof name, "%s.dx%d", bc->tag, i);
        gn_close(name, in[i]->grad, gn_get(fx, name), 1e-5, 1e-4);
    }
    for (int i = 0; i < p->count; i++) {
        snprintf(name, sizeof name, "%s.grad.%s", bc->tag, p->items[i].name);
        gn_close(name, p->items[i].tensor->grad, gn_get(fx, name), 1e-5, 1e-4);
    }
    ac_graph_free(g);
    for (int i = 0; i < bc->n_inputs; i++) ac_tensor_free(in[i]);
    ac_params_free(p);
}

static void test_resblock(void) { run_case(&(block_case){"resblock", B_RES, 1}); }
static void test_rdb(void) { run_case(&(block_case){"rdb", B_RDB, 1}); }
static void test_encoder_fusion(void) { run_case(&(block_case){"encoder", B_ENC, 3}); }
static void test_decoder_fusion(void) { run_case(&(block_case){"decoder", B_DEC, 3}); }

// The same blocks on an inference graph give the same output and leave no activation
// behind but the output (every intermediate was dropped).
static void test_blocks_drop_intermediates(void) {
    ac_params *p = ac_params_new();
    ac_fusion fu;
    ac_fusion_init(&fu, p, "", 8, 3, false);
    ac_load_opts opts = {"encoder.param.", NULL};
    CHECK(ac_params_load(p, fx, &opts) == AC_OK);
    ac_tensor *in[3] = {gn_input(fx, "encoder.x0", false), gn_input(fx, "encoder.x1", false),
                        gn_input(fx, "encoder.x2", false)};
    ac_graph *g = ac_graph_new(false);
    ac_tensor *y = ac_fusion_forward(&fu, g, in[0], in + 1, 2);
    gn_close_t("encoder.y (inference)", y, gn_get(fx, "encoder.y"), 1e-5, 1e-5);
    CHECK(ac_graph_bytes(g) == ac_numel(y) * sizeof(float));
    ac_graph_free(g);
    for (int i = 0; i < 3; i++) ac_tensor_free(in[i]);
    ac_params_free(p);
}

int main(void) {
    fx = gn_load("tests/golden/net_blocks.safetensors");
    RUN(test_resblock);
    RUN(test_rdb);
    RUN(test_encoder_fusion);
    RUN(test_decoder_fusion);
    RUN(test_blocks_drop_intermediates);
    ac_tensor_map_free(fx);
    return ac_test_finish();
}
