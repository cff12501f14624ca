// synth_util.h: image filters used by the weather generators (internal to src/synth).
#ifndef AC_SYNTH_UTIL_H
#define AC_SYNTH_UTIL_H

#include "core/rng.h"

// Box blur of radius r (window 2r + 1) along rows then columns, edges clamped, in place.
void ac_synth_box_blur(float *p, int h, int w, int r);
// Approximate Gaussian blur of standard deviation sigma (three box passes), in place.
void ac_synth_gauss_blur(float *p, int h, int w, float sigma);
// Linear motion blur: dst = mean of src along a segment of `length` pixels centred on each
// pixel, direction (dx, dy) a unit vector; bilinear samples, zero outside the image.
void ac_synth_motion_blur(const float *src, float *dst, int h, int w, float dx, float dy, float length);
// Adds a bilinear splat of value v at (x, y).
void ac_synth_splat(float *p, int h, int w, float x, float y, float v);
// Uniform in [lo, hi).
float ac_synth_uniform(ac_rng *r, float lo, float hi);
// Min-max normalises n values to [0, 1] (all 0 when constant).
void ac_synth_normalise(float *p, size_t n);

#endif
