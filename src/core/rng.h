// rng.h: the project's own seedable random generator (xoshiro256** seeded by splitmix64).
// Its whole state is the plain struct below, so saving and restoring it is a copy; the
// training checkpoint stores it so that a resumed run draws the same numbers.
#ifndef AC_RNG_H
#define AC_RNG_H

#include "core/tensor.h"

typedef struct ac_rng {
    uint64_t s[4];
} ac_rng;

void ac_rng_seed(ac_rng *r, uint64_t seed);
uint64_t ac_rng_next(ac_rng *r);
// Uniform in [0, 1) with 24 random bits.
float ac_rng_uniform(ac_rng *r);
// Uniform integer in [0, n), n > 0, without modulo bias.
uint64_t ac_rng_below(ac_rng *r, uint64_t n);
// Standard normal (Box-Muller; two uniforms per draw, no cached state).
double ac_rng_normal(ac_rng *r);
// An independent stream derived from this one (for worker threads).
ac_rng ac_rng_split(ac_rng *r);

// Weight initialisation.
void ac_init_uniform(ac_tensor *t, float lo, float hi, ac_rng *r);
void ac_init_normal(ac_tensor *t, float mean, float std, ac_rng *r);
// Kaiming normal, fan_in mode: std = gain / sqrt(fan_in) (gain sqrt(2) for ReLU).
void ac_init_kaiming_normal(ac_tensor *t, int fan_in, float gain, ac_rng *r);
void ac_init_const(ac_tensor *t, float v);

#endif
