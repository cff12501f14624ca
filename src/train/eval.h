// eval.h: evaluation of a restoration network on validation data: PSNR and SSIM (reference
// definitions, src/metrics) of every image, averaged per weather type (meta file) and over
// all images. The same code serves validation during training and `allclear eval`.
#ifndef AC_TRAIN_EVAL_H
#define AC_TRAIN_EVAL_H

#include "data/valid.h"
#include "model/net.h"

// The smallest side the network takes: its bottleneck (1/16 of the size) must be at least 2
// pixels for its reflection padding.
#define AC_NET_MIN_SIDE 32

typedef struct ac_eval_result {
    int n_types;
    const char **type_names;  // borrowed from the meta set
    size_t *count;            // images per type
    double *psnr, *ssim;      // means per type
    size_t total;
    double mean_psnr, mean_ssim;  // means over all images
} ac_eval_result;
void ac_eval_result_free(ac_eval_result *r);

typedef struct ac_eval_opts {
    ac_valid_mode mode;     // AC_VALID_RESIZE (reference) or AC_VALID_PAD (keep the size)
    bool y_channel;         // metrics on the luma channel
    int threads;            // background image decoding threads (0: on the caller's thread)
    const char *save_dir;   // when set, restored images are written as
                            // save_dir/<type>/<input stem>.png (8-bit)
    // progress (may be NULL): called after each image
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
} ac_eval_opts;

// Restores every validation image with `net` (inference graph, batch 1) and measures it
// against its ground truth. In AC_VALID_PAD mode the prediction is cropped back to the size
// of the files. A non-finite PSNR of a restored image (identical to its target) counts as is.
ac_status ac_evaluate(ac_net *net, const ac_meta_set *data, const ac_eval_opts *opts,
                      ac_eval_result *out);

// Measures already restored images instead of running a network: the prediction of pair i
// is pred_dir/<type>/<input stem>.png or pred_dir/<input stem>.png (the first that exists).
// A prediction the size of the files is compared with the original ground truth; one of the
// reference's resized size (H//16*16, W//16*16) with the resized ground truth.
ac_status ac_evaluate_dir(const char *pred_dir, const ac_meta_set *data, bool y_channel,
                          ac_eval_result *out);

#endif
