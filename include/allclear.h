/* allclear.h: the public C API of liballclear. Load a trained restoration network
 * (MSBDN-RDFF, as trained by two-stage knowledge learning) from a model file and remove rain,
 * haze and snow from images.
 *
 * Small and stable: one opaque type, plain C types, every name prefixed ac_ / AC_; this
 * header needs no other header of the project. Link with liballclear (and its dependencies:
 * OpenMP, OpenBLAS, cJSON, libzip, libpng, libjpeg, libm).
 *
 * Errors: functions return a status (AC_STATUS_OK = 0, otherwise one of the codes below) and
 * ac_last_error() gives the calling thread's last message, one line that names the file and
 * what is wrong. Nothing here prints or exits.
 *
 * Threads: the work of one call is spread over ac_set_num_threads threads (OpenMP). A model
 * may be used by one thread at a time; different models may be used concurrently.
 *
 * Example (error handling shortened):
 *     int st;
 *     ac_model *m = ac_model_load("student.safetensors", NULL, &st);
 *     if (!m) { fprintf(stderr, "%s\n", ac_last_error()); return 1; }
 *     st = ac_model_restore_file(m, "rainy.jpg", "clear.png", 8);
 *     ac_model_free(m);
 */
#ifndef ALLCLEAR_H
#define ALLCLEAR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_LIB_VERSION "0.1.0"
#define AC_API_VERSION_MAJOR 0
#define AC_API_VERSION_MINOR 1

/* Status codes (stable values). */
#define AC_STATUS_OK 0
#define AC_STATUS_IO 1          /* cannot open, read or write a file */
#define AC_STATUS_FORMAT 2      /* a file is malformed, truncated or not what was expected */
#define AC_STATUS_SHAPE 3       /* the weights do not fit the network */
#define AC_STATUS_ARG 4         /* a bad argument */
#define AC_STATUS_NOMEM 5       /* out of memory, or a size limit exceeded */
#define AC_STATUS_NUMERIC 6     /* a non-finite value */
#define AC_STATUS_UNSUPPORTED 7 /* a valid but unsupported file feature */

/* The library's version string (AC_LIB_VERSION of the library that was linked). */
const char *ac_version(void);
/* A short description of a status code. */
const char *ac_strerror(int status);
/* The calling thread's last error message ("" when none). */
const char *ac_last_error(void);

/* Threads used by each call (n <= 0: one per available core). */
void ac_set_num_threads(int n);
int ac_get_num_threads(void);

typedef struct ac_model ac_model;

typedef struct ac_model_options {
    /* Architecture settings; 0 takes them from the file's metadata, or infers them from the
     * tensors (PyTorch files carry no metadata). */
    int width, res_blocks;
    /* PyTorch checkpoints: the top-level entry holding the weights; NULL takes 'state_dict'
     * when the file is a training checkpoint, else the file's state dict itself. */
    const char *entry;
} ac_model_options;

/* Loads a model file: safetensors (native) or a PyTorch checkpoint (.pth, .pt, .tar or no
 * extension, zip or legacy format; a "module." prefix of DataParallel is removed). Loading
 * is strict: every missing, unexpected or mis-shaped tensor is an error. opts and status may
 * be NULL. Returns NULL on failure (status and ac_last_error() say why). */
ac_model *ac_model_load(const char *path, const ac_model_options *opts, int *status);
void ac_model_free(ac_model *model);

/* The network's base width, residual blocks in its bottleneck and parameter count (any
 * pointer may be NULL). */
void ac_model_info(const ac_model *model, int *width, int *res_blocks, size_t *num_params);

/* Restoration settings (defaults: automatic tiles within 1024 MB, overlap 64, output the
 * size of the input).
 * tile: tile side in pixels, a multiple of 16 and at least 32; 0 restores whole images at
 * once; -1 picks tiles automatically so that one restoration stays within max_memory_mb
 * (weights, image buffers and the network's working memory). overlap: pixels shared by
 * neighbouring tiles, blended without seams (at most tile / 2). */
int ac_model_set_tiling(ac_model *model, int tile, int overlap, size_t max_memory_mb);
/* on != 0 reproduces the reference implementation: the image is first resized (bilinear) to
 * (height / 16 * 16, width / 16 * 16), and the output has that size. Off (default): the
 * output has the input's size. */
int ac_model_set_official_resize(ac_model *model, int on);
/* The output size for an input of width x height (0 x 0 when the image is too small). */
void ac_model_output_size(const ac_model *model, int width, int height, int *out_width,
                          int *out_height);

/* Restores an interleaved 8-bit RGB image (row r starts at rgb + r * stride bytes, stride
 * >= 3 * width) into `out` (interleaved RGB, out_stride bytes per row, of the size given by
 * ac_model_output_size). Samples are rounded as torchvision's save_image does:
 * floor(clamp(v, 0, 1) * 255 + 0.5). */
int ac_model_restore_rgb(ac_model *model, const uint8_t *rgb, int width, int height,
                         size_t stride, uint8_t *out, size_t out_stride);

/* Restores a planar float image: 3 planes (R, G, B) of height x width values in [0, 1],
 * contiguous. `out` receives 3 planes of the output size with the network's raw output
 * (not clamped). */
int ac_model_restore_float(ac_model *model, const float *planar_rgb, int width, int height,
                           float *out);

/* Reads a PNG or JPEG file (gray images become RGB, alpha is dropped), restores it and
 * writes a PNG of `bits` 8 or 16 per sample. The output file appears complete or not at all. */
int ac_model_restore_file(ac_model *model, const char *in_path, const char *out_path,
                          int bits);

#ifdef __cplusplus
}
#endif

#endif
