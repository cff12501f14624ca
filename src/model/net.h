// net.h: the restoration network MSBDN-RDFF (architecture.md, "The restoration network"),
// used for every teacher and for the student. Width b and the number of residual blocks in
// the bottleneck are settings (reference: 16 and 18, 28,712,861 parameters).
#ifndef AC_NET_H
#define AC_NET_H

#include "core/graph.h"
#include "model/params.h"

#define AC_NET_FEATURES 4
#define AC_NET_DEFAULT_WIDTH 16
#define AC_NET_DEFAULT_RES_BLOCKS 18

typedef struct ac_net_config {
    int width;       // b: even, with b/2 even (b = 8, 16, ...)
    int res_blocks;  // residual blocks in the bottleneck ("dehaze")
} ac_net_config;

typedef struct ac_net ac_net;

// A new network. With a generator the parameters get PyTorch's default initialisation,
// without one they are zero (to be loaded). Parameters start frozen (no gradients).
ac_net *ac_net_new(const ac_net_config *cfg, ac_rng *rng);
void ac_net_free(ac_net *net);
ac_status ac_net_config_check(const ac_net_config *cfg);
const ac_net_config *ac_net_config_of(const ac_net *net);
ac_params *ac_net_params(ac_net *net);

// The configuration a weight map was written for: the metadata "width" / "res_blocks" when
// present, else inferred from the tensors (conv_input width, count of dehaze.res blocks), as
// for a reference PyTorch state_dict. Fails when neither works.
ac_status ac_net_config_from_map(const ac_tensor_map *m, ac_net_config *cfg);
// Strict load (see ac_params_load); `m` may hold exactly the state_dict of this network.
ac_status ac_net_load(ac_net *net, const ac_tensor_map *m);
// A new map with a copy of every parameter and metadata "arch", "width", "res_blocks".
ac_tensor_map *ac_net_export(const ac_net *net);

// Forward pass. x: (N, 3, H, W) with H and W multiples of 16. Returns the restored image
// (N, 3, H, W). When `features` is not NULL it receives the 4 features [r4 (4b, H/4),
// r8 (8b, H/8), r16 (16b, H/16), r16 after the bottleneck (16b, H/16)], which stay alive in
// the graph. x is never dropped. In an inference graph every intermediate is dropped at its
// last use, so peak memory is a few activations, not all of them.
ac_tensor *ac_net_forward(ac_net *net, ac_graph *g, ac_tensor *x,
                          ac_tensor *features[AC_NET_FEATURES]);

#endif
