// test_fuzz_regressions.c: replays the committed fuzzing seeds (fuzz/corpus/<harness>/) through
// the libFuzzer harnesses themselves (fuzz/fuzz_*.c, compiled in here with gcc under renamed
// entry points), so that every CTest run, and the sanitizer build's, exercises each reader on
// those inputs without needing clang. The inputs that crashed during fuzzing are byte arrays
// in the module tests (test_pickle.c, test_safetensors.c, test_image.c, test_torch_load.c).
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"

#define LLVMFuzzerTestOneInput fuzz_torch_load_one
#include "../fuzz/fuzz_torch_load.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_torch_zip_one
#include "../fuzz/fuzz_torch_zip.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_pickle_one
#include "../fuzz/fuzz_pickle.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_meta_one
#include "../fuzz/fuzz_meta.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_one
#define LLVMFuzzerInitialize fuzz_image_init
#include "../fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#undef LLVMFuzzerInitialize

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Runs every file of fuzz/corpus/<name>/ through `fn` (also every prefix of the first few
// bytes, the cheapest mutations); returns the number of files.
static int replay(const char *name, harness_fn fn) {
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/corpus/%s", name);
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d) return 0;
    char *names[1024];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        CHECK_MSG(f != NULL, "cannot open %s", path);
        if (f) {
            fseek(f, 0, SEEK_END);
            long len = ftell(f);
            fseek(f, 0, SEEK_SET);
            uint8_t *buf = malloc((size_t)len + 1);
            CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
            fclose(f);
            fn(buf, (size_t)len);
            for (size_t k = 0; k < (size_t)len && k < 64; k += 7) fn(buf, k);
            free(buf);
        }
        free(names[i]);
    }
    return n;
}

static void test_replay_seeds(void) {
    static const struct { const char *name; harness_fn fn; int min_files; } h[] = {
        {"torch_load", fuzz_torch_load_one, 10}, {"torch_zip", fuzz_torch_zip_one, 5},
        {"pickle", fuzz_pickle_one, 20},         {"safetensors", fuzz_safetensors_one, 5},
        {"meta", fuzz_meta_one, 3},              {"image", fuzz_image_one, 10},
    };
    fuzz_image_init(NULL, NULL);
    for (size_t i = 0; i < sizeof h / sizeof *h; i++) {
        int n = replay(h[i].name, h[i].fn);
        CHECK_MSG(n >= h[i].min_files, "fuzz/corpus/%s holds %d seeds (at least %d expected)", h[i].name, n,
                  h[i].min_files);
        printf("  %-12s %d seeds replayed\n", h[i].name, n);
    }
    ac_image_set_pixel_limit(AC_IMAGE_DEFAULT_PIXEL_LIMIT);
}

int main(void) {
    RUN(test_replay_seeds);
    return ac_test_finish();
}
