// rng.c: xoshiro256** and weight initialisers (see rng.h).
#include "core/rng.h"

#include <math.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ac_rng_seed(ac_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ac_rng_next(ac_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float ac_rng_uniform(ac_rng *r) { return (float)(ac_rng_next(r) >> 40) * 0x1.0p-24f; }

uint64_t ac_rng_below(ac_rng *r, uint64_t n) {
    AC_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = ac_rng_next(r);
    while (x >= limit);
    return x % n;
}

double ac_rng_normal(ac_rng *r) {
    double u1 = ((double)(ac_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    double u2 = (double)(ac_rng_next(r) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

ac_rng ac_rng_split(ac_rng *r) {
    ac_rng child;
    ac_rng_seed(&child, ac_rng_next(r));
    return child;
}

void ac_init_uniform(ac_tensor *t, float lo, float hi, ac_rng *r) {
    size_t n = ac_numel(t);
    for (size_t i = 0; i < n; i++) t->data[i] = lo + (hi - lo) * ac_rng_uniform(r);
}

void ac_init_normal(ac_tensor *t, float mean, float std, ac_rng *r) {
    size_t n = ac_numel(t);
    for (size_t i = 0; i < n; i++) t->data[i] = mean + std * (float)ac_rng_normal(r);
}

void ac_init_kaiming_normal(ac_tensor *t, int fan_in, float gain, ac_rng *r) {
    AC_ASSERT(fan_in > 0);
    ac_init_normal(t, 0.0f, gain / sqrtf((float)fan_in), r);
}

void ac_init_const(ac_tensor *t, float v) {
    size_t n = ac_numel(t);
    for (size_t i = 0; i < n; i++) t->data[i] = v;
}
