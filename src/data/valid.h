// valid.h: the validation loader: every pair of every source in order (source 0's pairs
// first), whole images, batch 1, decoded on a background thread ahead of the consumer.
// Sizes that are not multiples of 16 are handled in one of three ways:
//   AC_VALID_RESIZE: the reference: input and target both resized to (H//16*16, W//16*16)
//                    (bilinear, align_corners false, no antialias);
//   AC_VALID_PAD:    the input is reflection-padded at the bottom/right to a multiple of 16;
//                    the target keeps the original size; crop the prediction to
//                    (orig_h, orig_w) before comparing;
//   AC_VALID_NONE:   images as they are.
#ifndef AC_VALID_H
#define AC_VALID_H

#include "core/tensor.h"
#include "data/meta.h"

typedef enum ac_valid_mode {
    AC_VALID_RESIZE,
    AC_VALID_PAD,
    AC_VALID_NONE,
} ac_valid_mode;

typedef struct ac_valid_item {
    ac_tensor *input, *target;  // (1, 3, H, W)
    int type;                   // source (weather type) index
    const char *type_name;      // its meta file's stem
    size_t index;               // item number in the whole set
    size_t pair;                // pair number within its source
    const char *gt_path, *input_path;
    int orig_h, orig_w;         // size of the files
} ac_valid_item;
void ac_valid_item_free(ac_valid_item *it);

typedef struct ac_valid_loader ac_valid_loader;

// Keeps a pointer to `data`, which must outlive the loader. threads: 0 = decode on the
// caller's thread, otherwise that many background threads.
ac_status ac_valid_open(const ac_meta_set *data, ac_valid_mode mode, int threads, ac_valid_loader **out);
void ac_valid_close(ac_valid_loader *l);
size_t ac_valid_count(const ac_valid_loader *l);
// The next item (the caller frees it) or *out = NULL after the last one.
ac_status ac_valid_next(ac_valid_loader *l, ac_valid_item **out);
// Starts again from the first item.
void ac_valid_rewind(ac_valid_loader *l);
// Loads item i directly (no background thread).
ac_status ac_valid_load(const ac_valid_loader *l, size_t i, ac_valid_item **out);

#endif
