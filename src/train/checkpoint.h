// checkpoint.h: what a training run writes to its folder, and reading it back.
//   - model files: a network alone, as safetensors with metadata arch/width/res_blocks (plus
//     epoch/psnr/ssim for the best checkpoints, named epoch_{e}_psnr{:.3f}_ssim{:.3f});
//   - the training state DIR/latest.safetensors, written atomically after every epoch:
//     the network ("student.*"), the CKT modules ("ckt.*"), Adam's moments
//     ("adam.m.<name>", "adam.v.<name>" for every optimised tensor <name>), and as metadata
//     strings: format, kind, epoch, Adam's step, the RNG state, the kept best checkpoints and
//     the settings of the run: everything a resumed run needs to continue exactly.
//   - the top-k list of best checkpoints by validation PSNR.
#ifndef AC_TRAIN_CHECKPOINT_H
#define AC_TRAIN_CHECKPOINT_H

#include "core/rng.h"
#include "model/net.h"
#include "optim/optim.h"

// ---- best checkpoints ----
typedef struct ac_topk_entry {
    int epoch;
    double psnr, ssim;
    char *file;  // name inside the run folder
} ac_topk_entry;

typedef struct ac_topk {
    int k;
    int count;
    ac_topk_entry *items;  // in order of entry
} ac_topk;

void ac_topk_init(ac_topk *t, int k);
void ac_topk_clear(ac_topk *t);
// Whether a result with this PSNR enters (fewer than k kept, or psnr >= the worst kept), and
// which entry it evicts (-1: none; the lowest PSNR, the oldest among equals).
bool ac_topk_admits(const ac_topk *t, double psnr, int *evict);
// Adds an entry, replacing entry `evict` when >= 0 (whose file name is handed back in
// *evicted_file for the caller to delete; free it).
void ac_topk_insert(ac_topk *t, int evict, int epoch, double psnr, double ssim, const char *file,
                    char **evicted_file);
// "epoch_{e}_psnr{:.3f}_ssim{:.3f}.safetensors" (new string).
char *ac_topk_filename(int epoch, double psnr, double ssim);
// Metadata string form (exact) and back.
char *ac_topk_encode(const ac_topk *t);
ac_status ac_topk_decode(const char *s, ac_topk *t);

// ---- model files ----
// Writes the network as safetensors (atomic), with its architecture metadata and the extra
// metadata of `meta` (may be NULL; its tensors are ignored).
ac_status ac_save_net(const char *path, const ac_net *net, const ac_tensor_map *meta);

// ---- training state ----
typedef struct ac_ckpt_part {
    const char *prefix;  // "student.", "ckt."
    ac_params *params;
} ac_ckpt_part;

typedef struct ac_train_state {
    const char *kind;  // "teacher" or "student"
    int epoch;         // epochs completed
    ac_rng rng;
    ac_topk topk;
} ac_train_state;

// Writes the state (atomic). `settings`' metadata entries (may be NULL) are stored too.
ac_status ac_train_state_save(const char *path, const ac_ckpt_part *parts, int n_parts,
                              const ac_adam *adam, const ac_net_config *cfg,
                              const ac_train_state *s, const ac_tensor_map *settings);
// Reads a state file and checks that it is one (the caller may then inspect its metadata).
ac_status ac_train_state_read(const char *path, ac_tensor_map **out);
// Copies parameters, moments, Adam's step, epoch, RNG and top-k list from a state map into a
// run of the same structure (strict: anything missing or misshaped is an error, and nothing
// is changed then... except for parameters loaded before the failure was found; callers
// abandon the run). s->topk must be initialised (its k is kept).
ac_status ac_train_state_restore(const ac_tensor_map *m, const ac_ckpt_part *parts, int n_parts,
                                 ac_adam *adam, ac_train_state *s);

#endif
