// fuzz_torch_load.c: libFuzzer harness for the PyTorch checkpoint reader (src/io/torch_load.c
// with the pickle machine): the input is a whole checkpoint file (zip or legacy format) that
// is loaded with ac_torch_load_mem and summarised with ac_torch_describe_mem.
#include <stdlib.h>

#include "fuzz_util.h"
#include "io/torch_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ac_tensor_map *m = NULL;
    if (ac_torch_load_mem(data, size, "fuzz.pth", NULL, &m) == AC_OK) {
        ac_fuzz_touch_map(m);
        ac_tensor_map_free(m);
    }
    char *text = NULL;
    if (ac_torch_describe_mem(data, size, "fuzz.pth", &text) == AC_OK) {
        ac_fuzz_sink = (float)strlen(text);
        free(text);
    }
    return 0;
}
