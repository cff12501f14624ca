// test_golden_net_ckt.c: the CKT projector modules against PyTorch
// (tests/golden/net_ckt.safetensors from tools/golden/gen_net.py): width b = 2 (level channels
// 8, 16, 32, 32), 2 teachers, weights from the closed-form pattern (gain 2). Checks P_t, R_t
// and Q of every level and the gradients of L = sum over outputs of sum(out proj) with
// respect to the student features, every weight of level 0 and one of level 3.
#include "model/ckt.h"
#include "ops/ops.h"
#include "test_golden_net.h"

#define T 2

static void test_ckt_forward_backward(void) {
    ac_tensor_map *fx = gn_load("tests/golden/net_ckt.safetensors");
    const char *gain = ac_tensor_map_meta(fx, "gain");
    CHECK(gain != NULL);
    ac_ckt *m = ac_ckt_new(2, T, NULL);
    ac_params_fill_pattern(m->params, gain ? atof(gain) : 2.0);
    ac_params_set_trainable(m->params, true);
    ac_graph *g = ac_graph_new(true);
    char name[128];
    ac_tensor *S[AC_CKT_LEVELS], *F[AC_CKT_LEVELS][T], *last = NULL;
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        for (int t = 0; t < T; t++) {
            snprintf(name, sizeof name, "F%d_%d", l, t);
            F[l][t] = gn_input(fx, name, false);
        }
        snprintf(name, sizeof name, "S%d", l);
        S[l] = gn_input(fx, name, true);
        ac_tensor *P[T], *R[T], *Q;
        ac_ckt_forward(m, g, l, F[l], S[l], P, R, &Q);
        for (int t = 0; t < T; t++) {
            snprintf(name, sizeof name, "P%d_%d", l, t);
            gn_close_t(name, P[t], gn_get(fx, name), 1e-5, 1e-5);
            snprintf(name, sizeof name, "R%d_%d", l, t);
            gn_close_t(name, R[t], gn_get(fx, name), 1e-5, 1e-5);
            snprintf(name, sizeof name, "proj.P%d_%d", l, t);
            gn_seed(g, P[t], name);
            snprintf(name, sizeof name, "proj.R%d_%d", l, t);
            gn_seed(g, R[t], name);
        }
        snprintf(name, sizeof name, "Q%d", l);
        gn_close_t(name, Q, gn_get(fx, name), 1e-5, 1e-5);
        snprintf(name, sizeof name, "proj.Q%d", l);
        gn_seed(g, Q, name);
        last = Q;
    }
    gn_backward(g, last);
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        snprintf(name, sizeof name, "dS%d", l);
        gn_close(name, S[l]->grad, gn_get(fx, name), 1e-5, 1e-4);
    }
    int compared = 0;
    for (int i = 0; i < m->params->count; i++) {
        snprintf(name, sizeof name, "grad.%s", m->params->items[i].name);
        const ac_tensor *want = ac_tensor_map_get(fx, name);
        if (!want) continue;
        gn_close(name, m->params->items[i].tensor->grad, want, 1e-5, 1e-4);
        compared++;
    }
    CHECK(compared == 4 * T + 2 + 1);
    ac_graph_free(g);
    for (int l = 0; l < AC_CKT_LEVELS; l++) {
        ac_tensor_free(S[l]);
        for (int t = 0; t < T; t++) ac_tensor_free(F[l][t]);
    }
    ac_ckt_free(m);
    ac_tensor_map_free(fx);
}

// Only Q, or only P: the other outputs are not computed and nothing is left behind.
static void test_ckt_partial_outputs(void) {
    ac_ckt *m = ac_ckt_new(2, T, NULL);
    ac_params_fill_pattern(m->params, 2.0);
    ac_rng r;
    ac_rng_seed(&r, 3);
    ac_tensor *f[T] = {t_rand4(&r, 1, 8, 4, 4, false), t_rand4(&r, 1, 8, 4, 4, false)};
    ac_tensor *s = t_rand4(&r, 2, 8, 4, 4, false);
    ac_graph *g = ac_graph_new(false);
    ac_tensor *Q;
    ac_ckt_forward(m, g, 0, f, s, NULL, NULL, &Q);
    CHECK(Q->shape[0] == 2 && Q->shape[1] == 4 && ac_graph_bytes(g) == ac_numel(Q) * 4);
    ac_tensor *P[T];
    ac_graph_reset(g);
    ac_ckt_forward(m, g, 0, f, s, P, NULL, NULL);
    CHECK(ac_graph_bytes(g) == 2 * ac_numel(P[0]) * 4);
    ac_graph_free(g);
    ac_tensor_free(f[0]);
    ac_tensor_free(f[1]);
    ac_tensor_free(s);
    ac_ckt_free(m);
}

int main(void) {
    RUN(test_ckt_forward_backward);
    RUN(test_ckt_partial_outputs);
    return ac_test_finish();
}
