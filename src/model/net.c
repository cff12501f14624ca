// net.c: MSBDN-RDFF assembled from the blocks of net_blocks.c: registration in PyTorch
// state_dict order, configuration from a weight map, and the forward pass with early release
// of intermediates in inference graphs.
#include "model/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/net_blocks.h"
#include "ops/ops.h"

#define LEVELS 4

// One encoder level k (0..3): conv{2^(k+1)}x, conv{k+1} (RDB), fusion{k+1}, dense{k+1}
// (the last level has no dense sequence).
typedef struct enc_level {
    ac_conv_layer down;
    ac_rdb rdb;
    ac_fusion fusion;
    ac_res_seq dense;  // n == 0 for the last level
} enc_level;

// One decoder level k (0..3, from the bottleneck up): convd{16/2^k}x, dense_{4-k},
// conv_{4-k} (RDB), fusion_{4-k}.
typedef struct dec_level {
    ac_upconv_layer up;
    ac_res_seq dense;
    ac_rdb rdb;
    ac_fusion fusion;
} dec_level;

struct ac_net {
    ac_net_config cfg;
    ac_params *params;
    ac_conv_layer conv_input;
    ac_res_seq dense0;
    enc_level enc[LEVELS];
    ac_res_seq dehaze;
    dec_level dec[LEVELS];
    ac_conv_layer conv_output;
};

ac_status ac_net_config_check(const ac_net_config *cfg) {
    if (cfg->width < 4 || cfg->width % 4 != 0 || cfg->width > 4096)
        return ac_fail(AC_ERR_ARG, "network width %d is not supported (a multiple of 4, e.g. 8 or 16)",
                       cfg->width);
    if (cfg->res_blocks < 1 || cfg->res_blocks > 1000)
        return ac_fail(AC_ERR_ARG, "network res_blocks %d is not supported (1 to 1000)",
                       cfg->res_blocks);
    return AC_OK;
}

ac_net *ac_net_new(const ac_net_config *cfg, ac_rng *rng) {
    AC_ASSERT_MSG(ac_net_config_check(cfg) == AC_OK, ac_error_message());
    ac_net *n = ac_xcalloc(1, sizeof *n);
    n->cfg = *cfg;
    ac_params *p = n->params = ac_params_new();
    const int b = cfg->width;
    char name[64];

    ac_conv_layer_init(&n->conv_input, p, "conv_input", 3, b, 11, 1);
    ac_res_seq_init(&n->dense0, p, "dense0", b, 3, false);
    for (int k = 0; k < LEVELS; k++) {
        enc_level *e = &n->enc[k];
        int cin = b << k, c = b << (k + 1);  // in, out channels of the strided conv
        snprintf(name, sizeof name, "conv%dx", 2 << k);
        ac_conv_layer_init(&e->down, p, name, cin, c, 3, 2);
        snprintf(name, sizeof name, "conv%d", k + 1);
        ac_rdb_init(&e->rdb, p, name, c / 2, c / 2);
        snprintf(name, sizeof name, "fusion%d", k + 1);
        ac_fusion_init(&e->fusion, p, name, c / 2, k + 2, false);
        if (k < LEVELS - 1) {
            snprintf(name, sizeof name, "dense%d", k + 1);
            ac_res_seq_init(&e->dense, p, name, c, 3, false);
        }
    }
    ac_res_seq_init(&n->dehaze, p, "dehaze", 16 * b, cfg->res_blocks, true);
    for (int k = 0; k < LEVELS; k++) {
        dec_level *d = &n->dec[k];
        int cin = (16 * b) >> k, c = cin / 2;  // transposed conv in, out channels
        int idx = LEVELS - k;                   // 4, 3, 2, 1
        snprintf(name, sizeof name, "convd%dx", 16 >> k);
        ac_upconv_layer_init(&d->up, p, name, cin, c);
        snprintf(name, sizeof name, "dense_%d", idx);
        ac_res_seq_init(&d->dense, p, name, c, 3, false);
        snprintf(name, sizeof name, "conv_%d", idx);
        ac_rdb_init(&d->rdb, p, name, c / 2, c / 2);
        snprintf(name, sizeof name, "fusion_%d", idx);
        ac_fusion_init(&d->fusion, p, name, c / 2, k + 2, true);
    }
    ac_conv_layer_init(&n->conv_output, p, "conv_output", b, 3, 3, 1);
    if (rng) ac_params_init(p, rng);
    return n;
}

void ac_net_free(ac_net *net) {
    if (!net) return;
    ac_res_seq_free(&net->dense0);
    for (int k = 0; k < LEVELS; k++) {
        if (net->enc[k].dense.n) ac_res_seq_free(&net->enc[k].dense);
        ac_res_seq_free(&net->dec[k].dense);
    }
    ac_res_seq_free(&net->dehaze);
    ac_params_free(net->params);
    free(net);
}

const ac_net_config *ac_net_config_of(const ac_net *net) { return &net->cfg; }
ac_params *ac_net_params(ac_net *net) { return net->params; }

// ---- configuration from a weight map, load, export ----

static bool parse_int(const char *s, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1000000) return false;
    *out = (int)v;
    return true;
}

ac_status ac_net_config_from_map(const ac_tensor_map *m, ac_net_config *cfg) {
    ac_net_config c = {0, 0};
    const char *mw = ac_tensor_map_meta(m, "width"), *mr = ac_tensor_map_meta(m, "res_blocks");
    if (mw && !parse_int(mw, &c.width))
        return ac_fail(AC_ERR_FORMAT, "metadata width '%s' is not a number", mw);
    if (mr && !parse_int(mr, &c.res_blocks))
        return ac_fail(AC_ERR_FORMAT, "metadata res_blocks '%s' is not a number", mr);
    if (!mw) {
        const ac_tensor *w = ac_tensor_map_get(m, "conv_input.conv2d.weight");
        if (!w || w->ndim != 4)
            return ac_fail(AC_ERR_FORMAT,
                           "not an MSBDN-RDFF state_dict (no 4-D 'conv_input.conv2d.weight')");
        c.width = w->shape[0];
    }
    if (!mr) {
        // Count dehaze.res{i} for i = 0, 1, ... (a gap ends the count; strict loading
        // reports any stray block afterwards).
        char key[64];
        for (;;) {
            snprintf(key, sizeof key, "dehaze.res%d.conv1.conv2d.weight", c.res_blocks);
            if (!ac_tensor_map_get(m, key)) break;
            c.res_blocks++;
        }
        if (!c.res_blocks)
            return ac_fail(AC_ERR_FORMAT, "not an MSBDN-RDFF state_dict (no 'dehaze.res0' block)");
    }
    ac_status st = ac_net_config_check(&c);
    if (st) return st;
    *cfg = c;
    return AC_OK;
}

ac_status ac_net_load(ac_net *net, const ac_tensor_map *m) {
    return ac_params_load(net->params, m, NULL);
}

ac_tensor_map *ac_net_export(const ac_net *net) {
    ac_tensor_map *m = ac_tensor_map_new();
    ac_params_export(net->params, m, NULL);
    char v[32];
    ac_tensor_map_set_meta(m, "arch", "MSBDN-RDFF");
    snprintf(v, sizeof v, "%d", net->cfg.width);
    ac_tensor_map_set_meta(m, "width", v);
    snprintf(v, sizeof v, "%d", net->cfg.res_blocks);
    ac_tensor_map_set_meta(m, "res_blocks", v);
    return m;
}

// ---- forward ----

// Drops t unless it is one of the tensors that must survive (features the caller asked for).
static void drop_unless(ac_graph *g, ac_tensor *t, bool keep) {
    if (!keep) ac_graph_drop(g, t);
}

// seq(x) + x, then minus `sub` when it is given; drops the intermediates, not x.
static ac_tensor *res_seq_skip(ac_graph *g, const ac_res_seq *s, ac_tensor *x, ac_tensor *sub) {
    return ac_res_seq_skip_forward(s, g, x, sub);
}

// split(r) -> (a, c); a = fusion(a, mem); c = rdb(c); returns cat(a, c) and the fused a in
// *fused. Drops r and the halves (views into r for one image in inference: r goes last).
static ac_tensor *split_fuse(ac_graph *g, ac_tensor *r, const ac_fusion *fusion,
                             const ac_rdb *rdb, ac_tensor *const *mem, int n_mem,
                             ac_tensor **fused) {
    ac_tensor *a, *c;
    const bool views = ac_split_channels_view(g, r, &a, &c);
    if (!views) ac_graph_drop(g, r);
    ac_tensor *a2 = ac_fusion_forward(fusion, g, a, mem, n_mem);
    ac_graph_drop(g, a);
    ac_tensor *c2 = ac_rdb_forward(rdb, g, c);
    ac_graph_drop(g, c);
    if (views) ac_graph_drop(g, r);
    ac_tensor *parts[2] = {a2, c2};
    ac_tensor *y = ac_concat(g, parts, 2, 1);
    ac_graph_drop(g, c2);
    *fused = a2;
    return y;
}

ac_tensor *ac_net_forward(ac_net *net, ac_graph *g, ac_tensor *x,
                          ac_tensor *features[AC_NET_FEATURES]) {
    AC_ASSERT(x->ndim == 4 && x->shape[1] == 3);
    AC_ASSERT_MSG(x->shape[2] % 16 == 0 && x->shape[3] % 16 == 0 && x->shape[2] >= 16 &&
                      x->shape[3] >= 16,
                  "network input sides must be multiples of 16");
    const bool keep = features != NULL;
    ac_tensor *mem[LEVELS + 1];  // encoder memory: r1a, then the fused halves of levels 0..2
    ac_tensor *skip[LEVELS + 1];  // x1 (full size), r2, r4, r8, r16

    ac_tensor *r1 = ac_conv_layer_forward(&net->conv_input, g, x);
    mem[0] = ac_slice(g, r1, 1, 0, r1->shape[1] / 2);  // (r1a, _) = split(r1)
    skip[0] = res_seq_skip(g, &net->dense0, r1, NULL);
    ac_graph_drop(g, r1);

    for (int k = 0; k < LEVELS; k++) {
        enc_level *e = &net->enc[k];
        ac_tensor *r = ac_conv_layer_forward(&e->down, g, skip[k]);
        ac_tensor *fused;
        r = split_fuse(g, r, &e->fusion, &e->rdb, mem, k + 1, &fused);
        if (k < LEVELS - 1) {
            mem[k + 1] = fused;
            skip[k + 1] = res_seq_skip(g, &e->dense, r, NULL);
            ac_graph_drop(g, r);
        } else {
            ac_graph_drop(g, fused);
            skip[k + 1] = r;
        }
    }
    for (int i = 0; i < LEVELS; i++) ac_graph_drop(g, mem[i]);
    if (keep) {
        features[0] = skip[2];
        features[1] = skip[3];
        features[2] = skip[4];
    }

    // Bottleneck: dehaze(2 r16) + 2 r16 - r16.
    ac_tensor *in2 = ac_scale(g, skip[4], 2.0f);
    ac_tensor *t = res_seq_skip(g, &net->dehaze, in2, skip[4]);
    ac_graph_drop(g, in2);
    drop_unless(g, skip[4], keep);
    if (keep) features[3] = t;

    ac_tensor *up[LEVELS];  // decoder memory
    up[0] = ac_slice(g, t, 1, 0, t->shape[1] / 2);  // (a, _) = split(t)

    ac_tensor *cur = t;  // the feature map going up
    for (int k = 0; k < LEVELS; k++) {
        dec_level *d = &net->dec[k];
        ac_tensor *s = skip[LEVELS - 1 - k];  // r8, r4, r2, x1
        bool s_is_feature = keep && (LEVELS - 1 - k == 2 || LEVELS - 1 - k == 3);
        ac_tensor *u0 = ac_upconv_layer_forward(&d->up, g, cur);
        drop_unless(g, cur, keep && k == 0);
        // F.interpolate to the skip's size, which copies when the sizes agree (they always do
        // for sides that are multiples of 16): the copy is left out.
        ac_tensor *u = u0;
        if (u0->shape[2] != s->shape[2] || u0->shape[3] != s->shape[3]) {
            u = ac_resize_bilinear(g, u0, s->shape[2], s->shape[3]);
            ac_graph_drop(g, u0);
        }
        ac_tensor *sum = ac_add(g, u, s);
        drop_unless(g, s, s_is_feature);
        ac_tensor *r = res_seq_skip(g, &d->dense, sum, u);
        ac_graph_drop(g, sum);
        ac_graph_drop(g, u);
        ac_tensor *fused;
        cur = split_fuse(g, r, &d->fusion, &d->rdb, up, k + 1, &fused);
        if (k < LEVELS - 1) up[k + 1] = fused;
        else ac_graph_drop(g, fused);
    }
    for (int i = 0; i < LEVELS; i++) ac_graph_drop(g, up[i]);
    ac_tensor *out = ac_conv_layer_forward(&net->conv_output, g, cur);
    ac_graph_drop(g, cur);
    return out;
}
