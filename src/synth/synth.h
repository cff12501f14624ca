// synth.h: physically motivated synthesis of bad weather on clean photos, for making
// training pairs (docs/synth.md lists every parameter and its range).
//   haze: atmospheric scattering I = J t + A (1 - t), t = exp(-beta d), with a depth proxy
//         (vertical gradient + blurred luminance) or a supplied depth map;
//   rain: layers of streaks (sparse drops motion-blurred along one fall angle), screen
//         blended, optionally with the fog that heavy rain brings;
//   snow: layers of flakes of several sizes (sparse noise zoomed, thresholded, motion-
//         blurred), alpha blended, plus a veiling haze.
// Everything is drawn from an ac_rng seeded with the given seed: same seed, same output.
#ifndef AC_SYNTH_H
#define AC_SYNTH_H

#include "core/tensor.h"

typedef enum ac_weather {
    AC_WEATHER_HAZE,
    AC_WEATHER_RAIN,
    AC_WEATHER_SNOW,
    AC_WEATHER_COUNT,
} ac_weather;

const char *ac_weather_name(ac_weather w);
// Parses "haze", "rain" or "snow"; false otherwise.
bool ac_weather_parse(const char *s, ac_weather *out);

// Degrades `clean` (1, 3, H, W) in [0, 1] into a new tensor of the same shape (values in
// [0, 1]). `depth` (optional, haze only): (1, C, H, W), larger = farther, any scale (it is
// normalised to [0, 1]); AC_ERR_SHAPE if its size differs. `desc` (optional) receives a
// one-line description of the drawn parameters.
ac_status ac_synth_apply(ac_weather w, const ac_tensor *clean, const ac_tensor *depth, uint64_t seed,
                         ac_tensor **out, char *desc, size_t desc_size);

// A seed for one output, derived from the run's seed, the weather, a name (e.g. the input
// file's stem) and the variant index, so that outputs do not depend on processing order.
uint64_t ac_synth_seed(uint64_t seed, ac_weather w, const char *name, int variant);

#endif
