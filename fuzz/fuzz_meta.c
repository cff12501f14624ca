// fuzz_meta.c: libFuzzer harness for the dataset meta-file reader (src/data/meta.c): the input
// is the text of a meta file, parsed with ac_meta_parse_mem as if it lived in "fuzzdir/"
// (listed paths are only stat()ed, never opened).
#include <stdlib.h>

#include "data/meta.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ac_meta *m = NULL;
    if (ac_meta_parse_mem(data, size, "fuzzdir/meta.json", &m) == AC_OK) {
        for (size_t i = 0; i < m->count; i++) ac_fuzz_sink = (float)(strlen(m->pairs[i].gt) + strlen(m->pairs[i].input));
        ac_meta_free(m);
    }
    return 0;
}
