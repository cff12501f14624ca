// fuzz_safetensors.c: libFuzzer harness for the safetensors reader (src/io/safetensors.c):
// the input is a whole .safetensors file read with ac_safetensors_read_mem.
#include "fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ac_tensor_map *m = NULL;
    if (ac_safetensors_read_mem(data, size, &m) == AC_OK) {
        ac_fuzz_touch_map(m);
        ac_tensor_map_free(m);
    }
    return 0;
}
