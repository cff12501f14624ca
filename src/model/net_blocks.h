// net_blocks.h: the building blocks of MSBDN-RDFF (architecture.md, "Building blocks"). Each
// block registers its parameters in a registry under a name prefix (the PyTorch module path,
// e.g. "dense0.1") and has a forward function on a graph.
//
// Memory rule for every forward here: the block never drops its input; it drops every
// intermediate it creates (a no-op in recording graphs) and returns a fresh tensor.
#ifndef AC_NET_BLOCKS_H
#define AC_NET_BLOCKS_H

#include "core/graph.h"
#include "model/params.h"

// ConvLayer(cin, cout, k, s): reflection pad k/2, conv k x k stride s, with bias.
typedef struct ac_conv_layer {
    ac_tensor *w, *b;
    int k, stride;
} ac_conv_layer;

// UpsampleConvLayer(cin, cout, 3, 2): transposed conv 3x3 stride 2, padding 0, with bias.
typedef struct ac_upconv_layer {
    ac_tensor *w, *b;
} ac_upconv_layer;

// ResidualBlock(c): x + 0.1 conv2(prelu(conv1(x))).
typedef struct ac_resblock {
    ac_conv_layer conv1, conv2;
    ac_tensor *slope;
} ac_resblock;

// A sequence of ResidualBlocks (nn.Sequential).
typedef struct ac_res_seq {
    ac_resblock *blocks;
    int n;
} ac_res_seq;

// RDB(c, 4, g): 4 make_dense layers (3x3, no bias, relu, concat), 1x1 conv, plus x.
#define AC_RDB_LAYERS 4
typedef struct ac_rdb {
    ac_tensor *dense[AC_RDB_LAYERS];
    ac_tensor *conv1x1;
} ac_rdb;

// ConvBlock (conv 4x4 s2 p1) or DeconvBlock (transposed conv 4x4 s2 p1), bias, PReLU.
typedef struct ac_conv_block {
    ac_tensor *w, *b, *slope;
    bool transposed;
} ac_conv_block;

// Encoder_MDCBlock1 / Decoder_MDCBlock1 in mode "iter2" with m = num_ft - 1 stages.
#define AC_FUSION_MAX 4
typedef struct ac_fusion {
    bool decoder;
    int m;
    ac_conv_block up[AC_FUSION_MAX], down[AC_FUSION_MAX];
} ac_fusion;

void ac_conv_layer_init(ac_conv_layer *l, ac_params *p, const char *prefix, int cin, int cout,
                        int k, int stride);
ac_tensor *ac_conv_layer_forward(const ac_conv_layer *l, ac_graph *g, ac_tensor *x);

void ac_upconv_layer_init(ac_upconv_layer *l, ac_params *p, const char *prefix, int cin,
                          int cout);
ac_tensor *ac_upconv_layer_forward(const ac_upconv_layer *l, ac_graph *g, ac_tensor *x);

void ac_resblock_init(ac_resblock *rb, ac_params *p, const char *prefix, int c);
ac_tensor *ac_resblock_forward(const ac_resblock *rb, ac_graph *g, ac_tensor *x);

// Blocks named prefix.res0, prefix.res1, ... when `res_names`, else prefix.0, prefix.1, ...
void ac_res_seq_init(ac_res_seq *s, ac_params *p, const char *prefix, int c, int n,
                     bool res_names);
void ac_res_seq_free(ac_res_seq *s);
ac_tensor *ac_res_seq_forward(const ac_res_seq *s, ac_graph *g, ac_tensor *x);
// seq(x) + x, then minus `sub` when it is given (the skip connections of the network); the
// additions ride in the last convolution's epilogue (recorded or not).
ac_tensor *ac_res_seq_skip_forward(const ac_res_seq *s, ac_graph *g, ac_tensor *x,
                                   ac_tensor *sub);

void ac_rdb_init(ac_rdb *r, ac_params *p, const char *prefix, int c, int growth);
ac_tensor *ac_rdb_forward(const ac_rdb *r, ac_graph *g, ac_tensor *x);

void ac_conv_block_init(ac_conv_block *b, ac_params *p, const char *prefix, int cin, int cout,
                        bool transposed);
// PReLU(conv or transposed conv, stride 2)(x), then + add and - sub (each NULL or of the
// output's shape) in the kernel's epilogue where it takes them.
ac_tensor *ac_conv_block_forward(const ac_conv_block *b, ac_graph *g, ac_tensor *x,
                                 ac_tensor *add, ac_tensor *sub);

// Encoder_MDCBlock1(f, num_ft) when !decoder, Decoder_MDCBlock1(f, num_ft) otherwise.
void ac_fusion_init(ac_fusion *f, ac_params *p, const char *prefix, int filters, int num_ft,
                    bool decoder);
// ft: the feature to fuse; mem: the n_mem = m earlier features, oldest first.
ac_tensor *ac_fusion_forward(const ac_fusion *f, ac_graph *g, ac_tensor *ft,
                             ac_tensor *const *mem, int n_mem);

#endif
