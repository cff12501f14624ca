// restore.h: restoring whole photos with a trained network, at any size, within a memory
// bound (cli.md "restore", training.md "Validation and inference").
//
// Default: the output has the input's size. The image is seen as padded by reflection at the
// bottom and right to a multiple of 16 (what the network needs), restored, and cropped back.
// official_resize reproduces the reference instead: bilinear resize (align_corners false, no
// antialias) to (H//16*16, W//16*16), so the output is that smaller size.
//
// Large images are restored in overlapping tiles. Tiles lie on the 16-pixel grid of the
// padded image, so every tile sees the same down-sampling phases as the whole image would,
// and tiles at the bottom/right edge take their padding from the same reflection. Where tiles
// overlap, their outputs are blended with a raised-cosine ramp (weight near 0 at a tile's
// inner edge, 1 from `overlap` pixels inwards), normalised so the weights sum to 1: no seams.
// A tile grid of one tile is exactly the whole-image restoration.
#ifndef AC_RESTORE_H
#define AC_RESTORE_H

#include "model/net.h"

#define AC_RESTORE_TILE_AUTO (-1)
#define AC_RESTORE_DEFAULT_OVERLAP 64
#define AC_RESTORE_DEFAULT_MAX_MB 1024
#define AC_RESTORE_MIN_AUTO_TILE 128  // smallest tile the automatic choice makes

typedef void (*ac_restore_progress_fn)(void *ctx, int done, int total);

typedef struct ac_restore_opts {
    // Tile side in pixels: a multiple of 16, at least 32; 0 restores the whole image at once;
    // AC_RESTORE_TILE_AUTO restores whole when that fits max_bytes, else picks the tile shape
    // that fits and computes the fewest pixels in all.
    int tile;
    // Overlap of neighbouring tiles in pixels (rounded up to a multiple of 16), at most tile/2.
    int overlap;
    // Memory budget of one restoration for AC_RESTORE_TILE_AUTO: weights, the input and output
    // images (float) and the network's working memory for one tile.
    size_t max_bytes;
    bool official_resize;
    ac_restore_progress_fn progress;  // called after every tile (may be NULL)
    void *progress_ctx;
} ac_restore_opts;

void ac_restore_opts_init(ac_restore_opts *o);  // automatic tiles, default overlap and budget
ac_status ac_restore_opts_check(const ac_restore_opts *o);

// Output size for an input of h x w: the same, or the official resize (0 when the image is
// too small for it).
void ac_restore_output_size(const ac_restore_opts *o, int h, int w, int *oh, int *ow);

// Estimated peak working memory (bytes) of the network restoring one th x tw tile (multiples
// of 16): activations, the tile's input copy and the convolution scratch.
size_t ac_restore_tile_bytes(const ac_net_config *cfg, int th, int tw);
// Bytes held for the whole restoration besides the tile: weights, input and output images.
size_t ac_restore_fixed_bytes(ac_net *net, int h, int w);

// The tile sides ac_restore_image uses for an h x w network input (after any resize), as
// multiples of 16; equal to the padded image size when it is restored whole.
void ac_restore_plan(ac_net *net, const ac_restore_opts *o, int h, int w, int *tile_h,
                     int *tile_w);
// Tiles along one axis of padded length len (a multiple of 16) for tile side `tile` and
// overlap `overlap` (multiples of 16, overlap <= tile / 2); writes the start offsets
// (multiples of 16) into `starts` when it is not NULL. Returns the number of tiles.
int ac_restore_axis_tiles(int len, int tile, int overlap, int *starts);

// Restores img (1, 3, H, W), values in [0, 1], into a new tensor (1, 3, H', W') with the
// network's raw output (not clamped). Fails only for images too small for official_resize.
ac_status ac_restore_image(ac_net *net, const ac_tensor *img, const ac_restore_opts *o,
                           ac_tensor **out);

#endif
