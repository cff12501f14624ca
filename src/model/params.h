// params.h: the parameter registry of a model: owned tensors under their exact PyTorch
// state_dict names, kept in state_dict order, each with its default initialisation.
// Loading from a tensor map is strict (every missing, unexpected and wrongly shaped tensor is
// named in one error); exporting copies the tensors into a map for a weight file.
#ifndef AC_PARAMS_H
#define AC_PARAMS_H

#include "core/rng.h"
#include "io/tensor_map.h"

typedef enum ac_init_kind {
    AC_INIT_NONE,     // left as it is (zero after creation)
    AC_INIT_UNIFORM,  // uniform in [-value, value]
    AC_INIT_NORMAL,   // normal, mean 0, std value
    AC_INIT_CONST,    // every element = value
} ac_init_kind;

typedef struct ac_param {
    char *name;
    ac_tensor *tensor;  // owned by the registry
    uint8_t init;       // ac_init_kind
    float init_value;
} ac_param;

typedef struct ac_params {
    ac_param *items;
    int count, cap;
} ac_params;

ac_params *ac_params_new(void);
void ac_params_free(ac_params *p);

// Registers a new zero-filled parameter named `name` (must be unique) with its default
// initialisation; returns the tensor, which the registry owns.
ac_tensor *ac_params_add(ac_params *p, const char *name, int ndim, const int *shape,
                         ac_init_kind init, float init_value);
ac_tensor *ac_params_get(const ac_params *p, const char *name);
size_t ac_params_numel(const ac_params *p);  // total number of scalar parameters

// Draws every parameter from its default initialisation, in registration order.
void ac_params_init(ac_params *p, ac_rng *r);
// Trainable: every tensor requires a gradient (buffers allocated, zeroed). Frozen: none do,
// and gradient buffers are released (gradients still flow through them to their inputs).
void ac_params_set_trainable(ac_params *p, bool trainable);
void ac_params_zero_grad(ac_params *p);

// Options for ac_params_load; a NULL pointer means all defaults.
typedef struct ac_load_opts {
    // When set, only map keys that start with it are considered, and the rest of the key is
    // the parameter name (e.g. "student." in a combined checkpoint). Other keys are ignored.
    const char *prefix;
    // NULL-terminated list of key prefixes (after `prefix` is removed) that are skipped
    // silently, e.g. {"classifier.", NULL} for a full torchvision VGG19 file.
    const char *const *ignore;
} ac_load_opts;

// Copies every parameter from `m`. Strict: when any parameter is missing, any key is
// unexpected or any shape differs, nothing is changed and AC_ERR_SHAPE is returned with one
// message naming the problems (the first several of each kind and how many in all).
ac_status ac_params_load(ac_params *p, const ac_tensor_map *m, const ac_load_opts *opts);
// Adds a copy of every parameter to `m` under `prefix` + name (prefix may be NULL), in order.
void ac_params_export(const ac_params *p, ac_tensor_map *m, const char *prefix);

// Deterministic test pattern used by the golden fixtures (tools/golden/gen_net.py computes
// the same values): element i of the tensor named `name` is
//   scale * (2 u - 1),  u = (mix64(fnv1a64(name) + (i + 1) * 0x9E3779B97F4A7C15) >> 40) / 2^24
// with mix64 the splitmix64 finaliser, all in float32 (exact up to the final product).
// ac_tensor_fill_pattern uses scale = (float)(gain / sqrt(numel / shape[0])) for tensors of
// 2 or more dimensions (a fan-in scaled weight) and 0.1 for 1-D tensors (biases, slopes).
void ac_tensor_fill_pattern_scaled(ac_tensor *t, const char *name, float scale);
void ac_tensor_fill_pattern(ac_tensor *t, const char *name, double gain);
void ac_params_fill_pattern(ac_params *p, double gain);
uint64_t ac_fnv1a64(const char *s);

#endif
