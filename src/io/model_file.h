// model_file.h: loads a restoration network from any model file a user holds: the native
// safetensors (architecture in __metadata__) or a PyTorch checkpoint (.pth, .pt, .tar or no
// extension; zip or legacy; a plain state dict, a DataParallel one whose keys all start with
// "module.", or a training checkpoint whose 'state_dict' entry is taken; a training state's
// student). The kind of file is told by its content (a ".safetensors" name only chooses which
// error a broken file gets). The architecture comes from explicit settings (command-line
// flags), else the file's metadata, else is inferred from the tensors; loading is strict
// (one error naming every missing, unexpected or mis-shaped tensor). Every error message
// starts with the file's path.
#ifndef AC_MODEL_FILE_H
#define AC_MODEL_FILE_H

#include "io/tensor_map.h"
#include "model/net.h"

// Metadata "format" of a training state file (RUN/latest.safetensors, see train/checkpoint.h):
// its network tensors carry the prefix "student."; reading it as a model file yields them.
#define AC_TRAIN_STATE_FORMAT "allclear-train-state"

typedef enum ac_model_file_kind {
    AC_MODEL_FILE_UNKNOWN = 0,
    AC_MODEL_FILE_SAFETENSORS,
    AC_MODEL_FILE_TORCH_ZIP,     // torch.save, PyTorch >= 1.6
    AC_MODEL_FILE_TORCH_LEGACY,  // torch.save, PyTorch < 1.6 or _use_new_zipfile_serialization=False
} ac_model_file_kind;

const char *ac_model_file_kind_name(ac_model_file_kind k);
// The kind of a file from its first bytes (AC_MODEL_FILE_UNKNOWN when it is none of them;
// the legacy test is only a first-byte guess that the loader then checks).
ac_status ac_model_file_sniff(const char *path, ac_model_file_kind *kind);

typedef struct ac_model_file_opts {
    // PyTorch checkpoints: the top-level entry to take (e.g. "ckt_module"); NULL takes
    // 'state_dict' when present, else the object itself when it is a state dict. Safetensors
    // files have no entries: a name other than NULL or "state_dict" is an error there.
    const char *entry;
    int width, res_blocks;  // > 0: override the file's architecture settings
} ac_model_file_opts;

// Reads the named tensors (and, for safetensors, the metadata) of a model file, with a
// "module." prefix removed when every key has it, and of a training state only the student's
// tensors, without their "student." prefix. *kind (may be NULL) receives the file kind.
ac_status ac_model_file_read(const char *path, const char *entry, ac_tensor_map **out,
                             ac_model_file_kind *kind);

// Where each architecture setting came from.
typedef enum ac_config_source {
    AC_CONFIG_FROM_FLAG = 1,
    AC_CONFIG_FROM_METADATA,
    AC_CONFIG_INFERRED,
} ac_config_source;
const char *ac_config_source_name(ac_config_source s);

// The architecture for map `m`: opts' settings where given, else ac_net_config_from_map.
// src (may be NULL) receives the source of width and res_blocks.
ac_status ac_model_file_config(const ac_tensor_map *m, const ac_model_file_opts *opts,
                               ac_net_config *cfg, ac_config_source src[2]);

// Builds the network described by a map and loads it strictly. `path` names the file in
// errors. The map is left as it is.
ac_status ac_model_file_net_from_map(const char *path, const ac_tensor_map *m,
                                     const ac_model_file_opts *opts, ac_net **out);

// Reads a model file and returns the loaded network (opts may be NULL).
ac_status ac_model_file_load_net(const char *path, const ac_model_file_opts *opts, ac_net **out);

#endif
