// vgg_load.c: VGG19 weights from a file or seeded at random (vgg_load.h).
#include "train/vgg_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file.h"

char *ac_vgg_default_path(void) {
    const char *file = "hub/checkpoints/vgg19-dcbb9e9d.pth";
    const char *th = getenv("TORCH_HOME"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char buf[4096];
    if (th && *th) snprintf(buf, sizeof buf, "%s/%s", th, file);
    else if (xdg && *xdg) snprintf(buf, sizeof buf, "%s/torch/%s", xdg, file);
    else snprintf(buf, sizeof buf, "%s/.cache/torch/%s", home && *home ? home : ".", file);
    return ac_xstrdup(buf);
}

ac_status ac_load_vgg_file(const char *path, ac_vgg19 **out) {
    *out = NULL;
    ac_tensor_map *m;
    ac_status st = ac_model_file_read(path, NULL, &m, NULL);
    if (st) return st;
    ac_vgg19 *v = ac_vgg19_new();
    st = ac_vgg19_load(v, m);
    ac_tensor_map_free(m);
    if (st) {
        ac_vgg19_free(v);
        ac_error_prefix("%s", path);
        return st;
    }
    *out = v;
    return AC_OK;
}

ac_vgg19 *ac_vgg_random(uint64_t seed) {
    ac_vgg19 *v = ac_vgg19_new();
    ac_rng r;
    ac_rng_seed(&r, seed ^ 0x5647473139ull);  // "VGG19": a stream of its own
    ac_params_init(v->params, &r);
    return v;
}
