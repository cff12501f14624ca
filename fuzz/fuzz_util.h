// fuzz_util.h: small helpers shared by the libFuzzer harnesses (fuzz/fuzz_*.c): reading every
// decoded value so that the sanitizers see each byte a reader produced.
#ifndef AC_FUZZ_UTIL_H
#define AC_FUZZ_UTIL_H

#include <stdint.h>
#include <string.h>

#include "io/tensor_map.h"

static volatile float ac_fuzz_sink;

static inline void ac_fuzz_touch_tensor(const ac_tensor *t) {
    float acc = 0.0f;
    size_t n = ac_numel(t);
    for (size_t i = 0; i < n; i++) acc += t->data[i];
    ac_fuzz_sink = acc;
}

static inline void ac_fuzz_touch_map(const ac_tensor_map *m) {
    for (int i = 0; i < m->count; i++) {
        ac_fuzz_sink = (float)strlen(m->items[i].name);
        ac_fuzz_touch_tensor(m->items[i].tensor);
    }
    for (int i = 0; i < m->n_meta; i++) ac_fuzz_sink = (float)(strlen(m->meta[i].key) + strlen(m->meta[i].value));
}

#endif
