// model_load.c: restoration networks and VGG19 weights from files (model_load.h).
#include "train/model_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "io/torch_load.h"

bool ac_is_safetensors_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char b[9];
    bool yes = fread(b, 1, 9, f) == 9 && b[8] == '{';
    fclose(f);
    return yes;
}

ac_status ac_model_map_read(const char *path, ac_tensor_map **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ac_fail(AC_ERR_IO, "%s: cannot open", path);
    fclose(f);
    if (ac_is_safetensors_file(path)) {
        ac_status st = ac_safetensors_read(path, out);
        if (st && !strstr(ac_error_message(), path)) ac_error_prefix("%s", path);
        return st;
    }
    ac_status st = ac_torch_load(path, NULL, out);
    if (st && !strstr(ac_error_message(), path)) ac_error_prefix("%s", path);
    return st;
}

ac_status ac_load_net_file(const char *path, int width, int res_blocks, ac_net **out) {
    *out = NULL;
    ac_tensor_map *m;
    ac_status st = ac_model_map_read(path, &m);
    if (st) return st;
    const char *fmt = ac_tensor_map_meta(m, "format");
    const bool state = fmt && !strcmp(fmt, AC_TRAIN_STATE_FORMAT);
    ac_net_config cfg = {width, res_blocks};
    if (width <= 0 || res_blocks <= 0) {
        ac_net_config found;
        if (state) {
            // the training state names its network tensors "student.*"; its metadata says the size
            const char *w = ac_tensor_map_meta(m, "width"), *r = ac_tensor_map_meta(m, "res_blocks");
            found.width = w ? atoi(w) : 0;
            found.res_blocks = r ? atoi(r) : 0;
            st = ac_net_config_check(&found);
        } else {
            st = ac_net_config_from_map(m, &found);
        }
        if (st) {
            ac_tensor_map_free(m);
            ac_error_prefix("%s", path);
            return st;
        }
        if (width <= 0) cfg.width = found.width;
        if (res_blocks <= 0) cfg.res_blocks = found.res_blocks;
    }
    st = ac_net_config_check(&cfg);
    if (st) {
        ac_tensor_map_free(m);
        ac_error_prefix("%s", path);
        return st;
    }
    ac_net *net = ac_net_new(&cfg, NULL);
    ac_load_opts opts = {state ? "student." : NULL, NULL};
    st = ac_params_load(ac_net_params(net), m, &opts);
    ac_tensor_map_free(m);
    if (st) {
        ac_net_free(net);
        ac_error_prefix("%s", path);
        return st;
    }
    *out = net;
    return AC_OK;
}

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
    ac_status st = ac_model_map_read(path, &m);
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
