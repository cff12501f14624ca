// net_blocks.c: registration and forward of the MSBDN-RDFF building blocks (net_blocks.h).
// Parameter names follow the PyTorch module paths; default initialisation is PyTorch's
// (uniform +-1/sqrt(fan_in) for conv weights and biases, PReLU slope 0.25).
#include "model/net_blocks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/ops.h"

#define NAME_MAX_LEN 256

// "prefix.suffix", or "suffix" when the prefix is empty.
static const char *pname(char *buf, const char *prefix, const char *suffix) {
    int n = snprintf(buf, NAME_MAX_LEN, "%s%s%s", prefix, *prefix ? "." : "", suffix);
    AC_ASSERT_MSG(n > 0 && n < NAME_MAX_LEN, "parameter name too long");
    return buf;
}

// A conv weight [d0, d1, k, k] with PyTorch's default bound 1/sqrt(d1 k k), and its bias.
static ac_tensor *add_conv_weight(ac_params *p, const char *prefix, const char *suffix, int d0,
                                  int d1, int k, float *bound) {
    char buf[NAME_MAX_LEN];
    int shape[4] = {d0, d1, k, k};
    *bound = 1.0f / sqrtf((float)(d1 * k * k));
    return ac_params_add(p, pname(buf, prefix, suffix), 4, shape, AC_INIT_UNIFORM, *bound);
}

static ac_tensor *add_bias(ac_params *p, const char *prefix, const char *suffix, int n,
                           float bound) {
    char buf[NAME_MAX_LEN];
    return ac_params_add(p, pname(buf, prefix, suffix), 1, &n, AC_INIT_UNIFORM, bound);
}

static ac_tensor *add_slope(ac_params *p, const char *prefix, const char *suffix) {
    char buf[NAME_MAX_LEN];
    int one = 1;
    return ac_params_add(p, pname(buf, prefix, suffix), 1, &one, AC_INIT_CONST, 0.25f);
}

// ---- ConvLayer ----

void ac_conv_layer_init(ac_conv_layer *l, ac_params *p, const char *prefix, int cin, int cout,
                        int k, int stride) {
    float bound;
    l->w = add_conv_weight(p, prefix, "conv2d.weight", cout, cin, k, &bound);
    l->b = add_bias(p, prefix, "conv2d.bias", cout, bound);
    l->k = k;
    l->stride = stride;
}

ac_tensor *ac_conv_layer_forward(const ac_conv_layer *l, ac_graph *g, ac_tensor *x) {
    // the reflection padding folded into the convolution (recorded or not)
    ac_conv_opts o = {.stride = l->stride, .pad = l->k / 2, .mode = AC_PAD_REFLECT};
    return ac_conv2d_fused(g, x, l->w, l->b, &o, NULL, 0);
}

// ---- UpsampleConvLayer ----

void ac_upconv_layer_init(ac_upconv_layer *l, ac_params *p, const char *prefix, int cin,
                          int cout) {
    float bound;
    l->w = add_conv_weight(p, prefix, "conv2d.weight", cin, cout, 3, &bound);
    l->b = add_bias(p, prefix, "conv2d.bias", cout, bound);
}

ac_tensor *ac_upconv_layer_forward(const ac_upconv_layer *l, ac_graph *g, ac_tensor *x) {
    return ac_conv_transpose2d(g, x, l->w, l->b, 2, 0, 0);
}

// ---- ResidualBlock and sequences of them ----

void ac_resblock_init(ac_resblock *rb, ac_params *p, const char *prefix, int c) {
    char buf[NAME_MAX_LEN];
    ac_conv_layer_init(&rb->conv1, p, pname(buf, prefix, "conv1"), c, c, 3, 1);
    ac_conv_layer_init(&rb->conv2, p, pname(buf, prefix, "conv2"), c, c, 3, 1);
    rb->slope = add_slope(p, prefix, "relu.weight");
}

// The fused residual block, then (+ add) - sub, each optional, in the second convolution.
static ac_tensor *resblock_fused(const ac_resblock *rb, ac_graph *g, ac_tensor *x,
                                 ac_tensor *add, ac_tensor *sub) {
    ac_conv_opts o1 = {.stride = 1, .pad = 1, .mode = AC_PAD_REFLECT, .act = AC_ACT_PRELU,
                       .slope = rb->slope};
    ac_tensor *t = ac_conv2d_fused(g, x, rb->conv1.w, rb->conv1.b, &o1, NULL, 0);
    ac_conv_opts o2 = {.stride = 1, .pad = 1, .mode = AC_PAD_REFLECT, .scale = 0.1f,
                       .residual = x, .add = add, .sub = sub};
    ac_tensor *y = ac_conv2d_fused(g, t, rb->conv2.w, rb->conv2.b, &o2, NULL, 0);
    ac_graph_drop(g, t);
    return y;
}

// Recorded or not: the fused convolutions are nodes of the tape when the graph records.
ac_tensor *ac_resblock_forward(const ac_resblock *rb, ac_graph *g, ac_tensor *x) {
    return resblock_fused(rb, g, x, NULL, NULL);
}

void ac_res_seq_init(ac_res_seq *s, ac_params *p, const char *prefix, int c, int n,
                     bool res_names) {
    AC_ASSERT(n >= 1);
    s->n = n;
    s->blocks = ac_xcalloc((size_t)n, sizeof *s->blocks);
    for (int i = 0; i < n; i++) {
        char child[32], buf[NAME_MAX_LEN];
        snprintf(child, sizeof child, res_names ? "res%d" : "%d", i);
        ac_resblock_init(&s->blocks[i], p, pname(buf, prefix, child), c);
    }
}

void ac_res_seq_free(ac_res_seq *s) {
    free(s->blocks);
    s->blocks = NULL;
    s->n = 0;
}

ac_tensor *ac_res_seq_skip_forward(const ac_res_seq *s, ac_graph *g, ac_tensor *x,
                                   ac_tensor *sub) {
    ac_tensor *cur = x;
    for (int i = 0; i < s->n; i++) {
        const bool last = i == s->n - 1;
        ac_tensor *next = resblock_fused(&s->blocks[i], g, cur, last ? x : NULL, last ? sub : NULL);
        if (cur != x) ac_graph_drop(g, cur);
        cur = next;
    }
    return cur;
}

ac_tensor *ac_res_seq_forward(const ac_res_seq *s, ac_graph *g, ac_tensor *x) {
    ac_tensor *cur = x;
    for (int i = 0; i < s->n; i++) {
        ac_tensor *next = ac_resblock_forward(&s->blocks[i], g, cur);
        if (cur != x) ac_graph_drop(g, cur);
        cur = next;
    }
    return cur;
}

// ---- RDB ----

void ac_rdb_init(ac_rdb *r, ac_params *p, const char *prefix, int c, int growth) {
    char suffix[64];
    float bound;
    int ch = c;
    for (int i = 0; i < AC_RDB_LAYERS; i++) {
        snprintf(suffix, sizeof suffix, "dense_layers.%d.conv.weight", i);
        r->dense[i] = add_conv_weight(p, prefix, suffix, growth, ch, 3, &bound);
        ch += growth;
    }
    r->conv1x1 = add_conv_weight(p, prefix, "conv_1x1.weight", c, ch, 1, &bound);
}

// The dense layers write into channel slices of one tensor instead of concatenating, each
// reading the channels before its slice; recorded or not (the slices are tape nodes then).
ac_tensor *ac_rdb_forward(const ac_rdb *r, ac_graph *g, ac_tensor *x) {
    const int c = x->shape[1], grow = r->dense[0]->shape[0];
    ac_tensor *buf = ac_graph_tensor4(g, x->shape[0], c + AC_RDB_LAYERS * grow, x->shape[2],
                                      x->shape[3]);
    ac_copy_into(g, x, buf, 0);
    ac_conv_opts od = {.stride = 1, .pad = 1, .mode = AC_PAD_ZERO, .act = AC_ACT_RELU};
    for (int i = 0; i < AC_RDB_LAYERS; i++)  // reads channels [0, c + i grow)
        ac_conv2d_fused(g, buf, r->dense[i], NULL, &od, buf, c + i * grow);
    ac_conv_opts o1 = {.stride = 1, .pad = 0, .mode = AC_PAD_ZERO, .residual = x};
    ac_tensor *y = ac_conv2d_fused(g, buf, r->conv1x1, NULL, &o1, NULL, 0);
    ac_graph_drop(g, buf);
    return y;
}

// ---- ConvBlock / DeconvBlock ----

void ac_conv_block_init(ac_conv_block *b, ac_params *p, const char *prefix, int cin, int cout,
                        bool transposed) {
    float bound;
    b->transposed = transposed;
    if (transposed) {
        b->w = add_conv_weight(p, prefix, "deconv.weight", cin, cout, 4, &bound);
        b->b = add_bias(p, prefix, "deconv.bias", cout, bound);
    } else {
        b->w = add_conv_weight(p, prefix, "conv.weight", cout, cin, 4, &bound);
        b->b = add_bias(p, prefix, "conv.bias", cout, bound);
    }
    b->slope = add_slope(p, prefix, "act.weight");
}

ac_tensor *ac_conv_block_forward(const ac_conv_block *b, ac_graph *g, ac_tensor *x,
                                 ac_tensor *add, ac_tensor *sub) {
    if (!b->transposed) {  // recorded or not
        ac_conv_opts o = {.stride = 2, .pad = 1, .mode = AC_PAD_ZERO, .act = AC_ACT_PRELU,
                          .slope = b->slope, .add = add, .sub = sub};
        return ac_conv2d_fused(g, x, b->w, b->b, &o, NULL, 0);
    }
    return ac_conv_transpose2d_act(g, x, b->w, b->b, 2, 1, 0, AC_ACT_PRELU, b->slope, add, sub);
}

// ---- Encoder_MDCBlock1 / Decoder_MDCBlock1 (mode iter2) ----

void ac_fusion_init(ac_fusion *f, ac_params *p, const char *prefix, int filters, int num_ft,
                    bool decoder) {
    AC_ASSERT(num_ft >= 2 && num_ft - 1 <= AC_FUSION_MAX);
    f->decoder = decoder;
    f->m = num_ft - 1;
    char child[64], buf[NAME_MAX_LEN];
    // PyTorch registers up_convs first in the encoder and down_convs first in the decoder.
    for (int pass = 0; pass < 2; pass++) {
        bool ups = (pass == 0) != decoder;
        for (int i = 0; i < f->m; i++) {
            int hi, lo;  // channels of the larger (encoder) / smaller (decoder) side
            if (!decoder) {
                hi = filters >> i;        // f / 2^i
                lo = filters >> (i + 1);  // f / 2^(i+1)
                AC_ASSERT_MSG(lo << (i + 1) == filters, "fusion width not divisible");
                snprintf(child, sizeof child, "%s.%d", ups ? "up_convs" : "down_convs", i);
                if (ups) ac_conv_block_init(&f->up[i], p, pname(buf, prefix, child), hi, lo, true);
                else ac_conv_block_init(&f->down[i], p, pname(buf, prefix, child), lo, hi, false);
            } else {
                lo = filters << i;        // f * 2^i
                hi = filters << (i + 1);  // f * 2^(i+1)
                snprintf(child, sizeof child, "%s.%d", ups ? "up_convs" : "down_convs", i);
                if (ups) ac_conv_block_init(&f->up[i], p, pname(buf, prefix, child), hi, lo, true);
                else ac_conv_block_init(&f->down[i], p, pname(buf, prefix, child), lo, hi, false);
            }
        }
    }
}

ac_tensor *ac_fusion_forward(const ac_fusion *f, ac_graph *g, ac_tensor *ft,
                             ac_tensor *const *mem, int n_mem) {
    AC_ASSERT(n_mem >= 1 && n_mem <= f->m);
    // Encoder: go up (deconv) to the memory's size, subtract, come back down (conv).
    // Decoder: the mirror image.
    const ac_conv_block *there = f->decoder ? f->down : f->up;
    const ac_conv_block *back = f->decoder ? f->up : f->down;
    ac_tensor *fusion = ft;
    for (int i = 0; i < n_mem; i++) {
        // The subtraction of the memory and the addition of `fusion` (a + b = b + a exactly)
        // run in the epilogues of the last block of each way.
        int steps = f->m - i;
        ac_tensor *t = fusion;
        for (int j = 0; j < steps; j++) {
            ac_tensor *next = ac_conv_block_forward(&there[j], g, t, NULL, j == steps - 1 ? mem[i] : NULL);
            if (t != fusion) ac_graph_drop(g, t);
            t = next;
        }
        for (int j = 0; j < steps; j++) {
            ac_tensor *next = ac_conv_block_forward(&back[f->m - i - j - 1], g, t,
                                                    j == steps - 1 ? fusion : NULL, NULL);
            ac_graph_drop(g, t);
            t = next;
        }
        if (fusion != ft) ac_graph_drop(g, fusion);
        fusion = t;
    }
    return fusion;
}
