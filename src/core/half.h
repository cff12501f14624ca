// half.h: IEEE half (f16) and bfloat16 to float32 conversion, used by the weight readers.
#ifndef AC_HALF_H
#define AC_HALF_H

#include <stdint.h>
#include <string.h>

static inline float ac_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float ac_bf16_to_f32(uint16_t h) { return ac_f32_from_bits((uint32_t)h << 16); }

static inline float ac_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0) return ac_f32_from_bits(sign);
        // subnormal: value = man * 2^-24
        float v = (float)man * 0x1.0p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return ac_f32_from_bits(sign | 0x7f800000u | (man << 13));
    return ac_f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

#endif
