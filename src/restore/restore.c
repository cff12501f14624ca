// restore.c: whole-photo restoration: reflection padding to the 16-pixel grid, the official
// resize, and overlapping tiles blended with raised-cosine ramps (see restore.h).
#include "restore/restore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

// Activation bytes per pixel and unit of width: measured peaks of an inference forward are
// 25.9 b to 26.2 b bytes per input pixel for b = 8 and 16 at 64x64 to 256x512 (the output
// included); 29 b adds a margin for the allocator's holes. The tile's input copy adds 12
// bytes per pixel.
#define ACT_BYTES_PER_PX_PER_WIDTH 29
#define TILE_INPUT_BYTES_PER_PX 12
#define CONV_SCRATCH_BYTES ((size_t)16 << 20)
// The program itself (libraries, thread stacks), image decoding and allocator slack: peak
// resident sets of `allclear restore` were 70 to 130 MB above weights + images + tile.
#define OVERHEAD_BYTES ((size_t)128 << 20)

static int up16(int v) { return (v + 15) / 16 * 16; }
static int down16(int v) { return v / 16 * 16; }
// The padded side the network sees: a multiple of 16, and at least 32 so that the 1/16 level
// has 2 pixels (its reflection padding of 1 needs them).
static int net_side(int v) { return AC_MAX(32, up16(v)); }

void ac_restore_opts_init(ac_restore_opts *o) {
    memset(o, 0, sizeof *o);
    o->tile = AC_RESTORE_TILE_AUTO;
    o->overlap = AC_RESTORE_DEFAULT_OVERLAP;
    o->max_bytes = (size_t)AC_RESTORE_DEFAULT_MAX_MB << 20;
}

ac_status ac_restore_opts_check(const ac_restore_opts *o) {
    if (o->tile != AC_RESTORE_TILE_AUTO && o->tile != 0 &&
        (o->tile < 32 || o->tile % 16 != 0 || o->tile > 65536))
        return ac_fail(AC_ERR_ARG, "tile size %d is not a multiple of 16 between 32 and 65536 (or 0 for the whole image)",
                       o->tile);
    if (o->overlap < 0 || o->overlap > 32768)
        return ac_fail(AC_ERR_ARG, "tile overlap %d is out of range", o->overlap);
    if (o->tile > 0 && up16(o->overlap) > o->tile / 2)
        return ac_fail(AC_ERR_ARG, "tile overlap %d (rounded up to %d) is more than half the tile size %d",
                       o->overlap, up16(o->overlap), o->tile);
    if (o->tile == AC_RESTORE_TILE_AUTO && o->max_bytes == 0)
        return ac_fail(AC_ERR_ARG, "the memory budget must be positive");
    return AC_OK;
}

void ac_restore_output_size(const ac_restore_opts *o, int h, int w, int *oh, int *ow) {
    if (o->official_resize) {
        *oh = down16(h);
        *ow = down16(w);
    } else {
        *oh = h;
        *ow = w;
    }
}

size_t ac_restore_tile_bytes(const ac_net_config *cfg, int th, int tw) {
    size_t px = (size_t)th * (size_t)tw;
    return px * ((size_t)ACT_BYTES_PER_PX_PER_WIDTH * (size_t)cfg->width + TILE_INPUT_BYTES_PER_PX) +
           CONV_SCRATCH_BYTES;
}

size_t ac_restore_fixed_bytes(ac_net *net, int h, int w) {
    size_t params = ac_params_numel(ac_net_params(net));
    return params * sizeof(float) + (size_t)h * (size_t)w * 3 * sizeof(float) * 2 + OVERHEAD_BYTES;
}

// Tiles of side `tile` along an axis of padded length len (multiples of 16), with overlap ov.
static int tile_count(int len, int tile, int ov) {
    if (tile >= len) return 1;
    int lq = len / 16, tq = tile / 16, oq = ov / 16;
    return (lq - oq + (tq - oq) - 1) / (tq - oq);
}

// The smallest side that covers the axis with n tiles (n = 1: the whole axis).
static int side_for_count(int len, int n, int ov) {
    if (n <= 1) return len;
    int lq = len / 16, oq = ov / 16;
    return 16 * ((lq - oq + n - 1) / n + oq);
}

void ac_restore_plan(ac_net *net, const ac_restore_opts *o, int h, int w, int *tile_h,
                     int *tile_w) {
    int hp = net_side(h), wp = net_side(w);
    *tile_h = hp;
    *tile_w = wp;
    if (o->tile > 0) {
        *tile_h = AC_MIN(o->tile, hp);
        *tile_w = AC_MIN(o->tile, wp);
        return;
    }
    if (o->tile == 0) return;
    const ac_net_config *cfg = ac_net_config_of(net);
    size_t fixed = ac_restore_fixed_bytes(net, h, w);
    size_t avail = o->max_bytes > fixed ? o->max_bytes - fixed : 0;
    if (ac_restore_tile_bytes(cfg, hp, wp) <= avail) return;  // the whole image fits
    // The tile area the budget allows, then, over every row count, the tile shape that
    // computes the fewest pixels in all (tiles only as large as their count needs: a
    // 4000x3000 photo takes 4 x 5 tiles of 800x864, not 4 x 5 of 1040x1040).
    size_t per_px = (size_t)ACT_BYTES_PER_PX_PER_WIDTH * (size_t)cfg->width + TILE_INPUT_BYTES_PER_PX;
    double area = avail > CONV_SCRATCH_BYTES ? (double)(avail - CONV_SCRATCH_BYTES) / (double)per_px : 0;
    const int min_t = AC_RESTORE_MIN_AUTO_TILE, ov = up16(o->overlap);
    double best = -1;
    int bh = AC_MIN(min_t, hp), bw = AC_MIN(min_t, wp);
    for (int ny = 1; ny <= hp / 16; ny++) {
        int th = side_for_count(hp, ny, ov);
        if (ny > 1 && (th < min_t || th < 2 * ov)) break;  // only smaller tiles from here on
        int tw_max = down16((int)AC_MIN(area / th, 65536.0));
        if (tw_max < AC_MIN(min_t, wp) || tw_max < 2 * ov) continue;
        int nx = tile_count(wp, AC_MIN(tw_max, wp), ov), tw = side_for_count(wp, nx, ov);
        double total = (double)ny * nx * th * tw;
        if (best < 0 || total < best) {
            best = total;
            bh = th;
            bw = tw;
        }
    }
    *tile_h = bh;
    *tile_w = bw;
}

int ac_restore_axis_tiles(int len, int tile, int overlap, int *starts) {
    AC_ASSERT(len > 0 && len % 16 == 0 && tile > 0 && tile % 16 == 0);
    AC_ASSERT(overlap >= 0 && overlap % 16 == 0 && 2 * overlap <= tile);
    if (tile >= len) {
        if (starts) starts[0] = 0;
        return 1;
    }
    // In units of 16 pixels: n tiles whose starts are spread evenly from 0 to len - tile, so
    // that neighbours overlap by at least `overlap`.
    long long lq = len / 16, tq = tile / 16, oq = overlap / 16;
    long long n = (lq - oq + (tq - oq) - 1) / (tq - oq);
    AC_ASSERT(n >= 2);
    for (long long i = 0; starts && i < n; i++)
        starts[i] = (int)(16 * ((2 * i * (lq - tq) + (n - 1)) / (2 * (n - 1))));
    return (int)n;
}

// Weight of position k (0 = the tile's edge) inside a blending zone of width z at an inner
// tile edge: 0 over the outer quarter (where the tile's output suffers most from the missing
// context), then a raised-cosine ramp over the middle half, 1 from there on. Two neighbours
// whose zones coincide get weights that sum to 1 everywhere.
static double edge_weight(int k, int z) {
    int margin = z / 4, r = z - 2 * margin;
    if (k >= z - margin) return 1.0;
    if (k < margin) return 0.0;
    return 0.5 - 0.5 * cos(3.14159265358979323846 * (k - margin + 0.5) / r);
}

// Normalised blending weights along one axis: n tiles of side t at `starts` over padded
// length len; returns n * t values, tile-major, such that the weights of the tiles covering
// any position sum to 1. The zone at an edge shared by two neighbours is their whole overlap
// (at least the requested overlap when there are several tiles), capped at t / 2: then
// neighbours never overlap three deep where the zones meet, and some tile always has
// weight.
static float *axis_weights(int len, int t, int n, const int *starts) {
    float *wt = ac_xmalloc(sizeof(float) * (size_t)n * (size_t)t);
    double *sum = ac_xcalloc((size_t)len, sizeof *sum);
    double *raw = ac_xmalloc(sizeof(double) * (size_t)n * (size_t)t);
    for (int i = 0; i < n; i++) {
        int lead = i > 0 ? AC_MIN(starts[i - 1] + t - starts[i], t / 2) : 0;
        int trail = i < n - 1 ? AC_MIN(starts[i] + t - starts[i + 1], t / 2) : 0;
        for (int k = 0; k < t; k++) {
            double v = 1.0;
            if (k < lead) v *= edge_weight(k, lead);
            if (k >= t - trail) v *= edge_weight(t - 1 - k, trail);
            raw[(size_t)i * t + k] = v;
            sum[starts[i] + k] += v;
        }
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < t; k++) {
            double s = sum[starts[i] + k];
            AC_ASSERT(s > 0);
            wt[(size_t)i * t + k] = (float)(raw[(size_t)i * t + k] / s);
        }
    free(raw);
    free(sum);
    return wt;
}

// Copies the th x tw window at (y0, x0) of the image x (1, 3, h, w), extended beyond its
// bottom and right edges by reflection, into tin (1, 3, th, tw).
static void extract_tile(const ac_tensor *x, int y0, int x0, ac_tensor *tin) {
    int h = x->shape[2], w = x->shape[3], th = tin->shape[2], tw = tin->shape[3];
    int inside = AC_MAX(0, AC_MIN(tw, w - x0));  // columns that need no reflection
    for (int c = 0; c < 3; c++) {
        for (int r = 0; r < th; r++) {
            const float *src = x->data + ((size_t)c * h + ac_image_reflect_index(y0 + r, h)) * (size_t)w;
            float *dst = tin->data + ((size_t)c * th + r) * (size_t)tw;
            memcpy(dst, src + x0, sizeof(float) * (size_t)inside);
            for (int k = inside; k < tw; k++) dst[k] = src[ac_image_reflect_index(x0 + k, w)];
        }
    }
}

// y (1, 3, h, w) += wy[r] * wx[k] * t[r, k] over the part of the tile inside the image.
static void accumulate(ac_tensor *y, const ac_tensor *t, int y0, int x0, const float *wy,
                       const float *wx) {
    int h = y->shape[2], w = y->shape[3], th = t->shape[2], tw = t->shape[3];
    int rows = AC_MIN(th, h - y0), cols = AC_MIN(tw, w - x0);
    for (int c = 0; c < 3; c++) {
        for (int r = 0; r < rows; r++) {
            const float *src = t->data + ((size_t)c * th + r) * (size_t)tw;
            float *dst = y->data + ((size_t)c * h + y0 + r) * (size_t)w + x0;
            float a = wy[r];
            for (int k = 0; k < cols; k++) dst[k] += a * wx[k] * src[k];
        }
    }
}

ac_status ac_restore_image(ac_net *net, const ac_tensor *img, const ac_restore_opts *o,
                           ac_tensor **out) {
    *out = NULL;
    AC_ASSERT(img->ndim == 4 && img->shape[0] == 1 && img->shape[1] == 3);
    ac_status st = ac_restore_opts_check(o);
    if (st) return st;
    int h = img->shape[2], w = img->shape[3];
    ac_tensor *resized = NULL;
    const ac_tensor *x = img;
    if (o->official_resize) {
        if (h < 16 || w < 16)
            return ac_fail(AC_ERR_ARG, "the image is %dx%d; the official resize needs at least 16x16", w, h);
        if (h % 16 || w % 16) {
            resized = ac_image_resize(img, down16(h), down16(w));
            x = resized;
            h = down16(h);
            w = down16(w);
        }
    }
    int hp = net_side(h), wp = net_side(w), th, tw;
    ac_restore_plan(net, o, h, w, &th, &tw);
    int ovh = AC_MIN(up16(o->overlap), down16(th / 2)), ovw = AC_MIN(up16(o->overlap), down16(tw / 2));
    int ny = ac_restore_axis_tiles(hp, th, ovh, NULL), nx = ac_restore_axis_tiles(wp, tw, ovw, NULL);
    int *sy = ac_xmalloc(sizeof(int) * (size_t)ny), *sx = ac_xmalloc(sizeof(int) * (size_t)nx);
    ac_restore_axis_tiles(hp, th, ovh, sy);
    ac_restore_axis_tiles(wp, tw, ovw, sx);
    float *wy = axis_weights(hp, th, ny, sy), *wx = axis_weights(wp, tw, nx, sx);

    int yshape[4] = {1, 3, h, w}, tshape[4] = {1, 3, th, tw};
    ac_tensor *y = ac_tensor_try_new(4, yshape);
    ac_tensor *tin = y ? ac_tensor_try_new(4, tshape) : NULL;
    if (!tin) {
        ac_error_prefix("restoring a %dx%d image", w, h);
        st = AC_ERR_NOMEM;
    } else {
        ac_graph *g = ac_graph_new(false);
        for (int iy = 0; iy < ny; iy++) {
            for (int ix = 0; ix < nx; ix++) {
                extract_tile(x, sy[iy], sx[ix], tin);
                ac_tensor *t = ac_net_forward(net, g, tin, NULL);
                accumulate(y, t, sy[iy], sx[ix], wy + (size_t)iy * th, wx + (size_t)ix * tw);
                ac_graph_reset(g);
                if (o->progress) o->progress(o->progress_ctx, iy * nx + ix + 1, ny * nx);
            }
        }
        ac_graph_free(g);
    }
    ac_tensor_free(tin);
    if (st) {
        ac_tensor_free(y);
        y = NULL;
    }
    ac_tensor_free(resized);
    free(sy);
    free(sx);
    free(wy);
    free(wx);
    *out = y;
    return st;
}
