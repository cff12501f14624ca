// model_file.c: any model file -> tensor map -> loaded network (see model_file.h).
#include "io/model_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "io/torch_load.h"

const char *ac_model_file_kind_name(ac_model_file_kind k) {
    switch (k) {
    case AC_MODEL_FILE_SAFETENSORS: return "safetensors";
    case AC_MODEL_FILE_TORCH_ZIP: return "PyTorch checkpoint (zip format)";
    case AC_MODEL_FILE_TORCH_LEGACY: return "PyTorch checkpoint (legacy format)";
    default: return "unknown";
    }
}

const char *ac_config_source_name(ac_config_source s) {
    switch (s) {
    case AC_CONFIG_FROM_FLAG: return "given";
    case AC_CONFIG_FROM_METADATA: return "from metadata";
    case AC_CONFIG_INFERRED: return "inferred from the tensors";
    default: return "?";
    }
}

ac_status ac_model_file_sniff(const char *path, ac_model_file_kind *kind) {
    *kind = AC_MODEL_FILE_UNKNOWN;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return ac_fail(AC_ERR_IO, "%s: is a folder, not a model file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return ac_fail(AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[9];
    size_t got = fread(head, 1, sizeof head, f);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    bool read_err = ferror(f) != 0;
    fclose(f);
    if (read_err || size < 0) return ac_fail(AC_ERR_IO, "%s: cannot read (not a regular file?)", path);
    if (got == 0) return ac_fail(AC_ERR_FORMAT, "%s: file is empty", path);
    if (got >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] < 9 && head[3] < 9) {
        *kind = AC_MODEL_FILE_TORCH_ZIP;
    } else {
        // Safetensors: a header length, then a JSON object. A length past the end still means
        // safetensors (a truncated file then says so) unless the bytes also read as the start
        // of a pickle (PROTO 0x80, version 1-5); so does the name when the content is no pickle.
        size_t len = strlen(path);
        bool named = len >= 12 && !strcasecmp(path + len - 12, ".safetensors");
        bool pickle_like = got >= 2 && head[0] == 0x80 && head[1] >= 1 && head[1] <= 5;
        uint64_t n = 0;
        for (int i = got == 9 ? 7 : -1; i >= 0; i--) n = n << 8 | head[i];
        bool fits = n >= 2 && n <= (uint64_t)size - 8 && size >= 8;
        if ((got == 9 && head[8] == '{' && (fits || !pickle_like || named)) || (named && !pickle_like))
            *kind = AC_MODEL_FILE_SAFETENSORS;
    }
    return AC_OK;
}

// Removes "module." from every key when all keys carry it (a model saved from DataParallel).
static void strip_data_parallel(ac_tensor_map *m) {
    static const char pre[] = "module.";
    const size_t n = sizeof pre - 1;
    if (m->count == 0) return;
    for (int i = 0; i < m->count; i++)
        if (strncmp(m->items[i].name, pre, n) != 0) return;
    for (int i = 0; i < m->count; i++) {
        char *s = m->items[i].name;
        memmove(s, s + n, strlen(s + n) + 1);
    }
}

// A training state (metadata format AC_TRAIN_STATE_FORMAT) keeps the student's tensors under
// "student." beside the CKT modules': keep the student's, named as in a plain network file.
static void take_student_of_training_state(ac_tensor_map *m) {
    const char *fmt = ac_tensor_map_meta(m, "format");
    if (!fmt || strcmp(fmt, AC_TRAIN_STATE_FORMAT) != 0) return;
    static const char pre[] = "student.";
    const size_t n = sizeof pre - 1;
    int kept = 0;
    for (int i = 0; i < m->count; i++) {
        ac_named_tensor it = m->items[i];
        if (strncmp(it.name, pre, n) != 0) {
            free(it.name);
            ac_tensor_free(it.tensor);
            continue;
        }
        memmove(it.name, it.name + n, strlen(it.name + n) + 1);
        m->items[kept++] = it;
    }
    m->count = kept;
}

ac_status ac_model_file_read(const char *path, const char *entry, ac_tensor_map **out,
                             ac_model_file_kind *kind) {
    *out = NULL;
    ac_model_file_kind k;
    ac_status st = ac_model_file_sniff(path, &k);
    if (st) return st;
    ac_tensor_map *m = NULL;
    if (k == AC_MODEL_FILE_SAFETENSORS) {
        if (entry && strcmp(entry, "state_dict") != 0)
            return ac_fail(AC_ERR_ARG, "%s: a safetensors file has no entry '%s' (entries are for PyTorch checkpoints)",
                           path, entry);
        st = ac_safetensors_read(path, &m);
    } else {
        st = ac_torch_load(path, entry, &m);
        if (st == AC_OK && k == AC_MODEL_FILE_UNKNOWN) k = AC_MODEL_FILE_TORCH_LEGACY;
    }
    if (st) return st;
    if (m->count == 0) {
        ac_tensor_map_free(m);
        return ac_fail(AC_ERR_FORMAT, "%s: holds no tensors", path);
    }
    strip_data_parallel(m);
    take_student_of_training_state(m);
    if (m->count == 0) {
        ac_tensor_map_free(m);
        return ac_fail(AC_ERR_FORMAT, "%s: a training state without a student network", path);
    }
    if (kind) *kind = k;
    *out = m;
    return AC_OK;
}

ac_status ac_model_file_config(const ac_tensor_map *m, const ac_model_file_opts *opts,
                               ac_net_config *cfg, ac_config_source src[2]) {
    ac_net_config c = {0, 0};
    ac_config_source s[2] = {AC_CONFIG_FROM_FLAG, AC_CONFIG_FROM_FLAG};
    int fw = opts ? opts->width : 0, fr = opts ? opts->res_blocks : 0;
    if (fw <= 0 || fr <= 0) {
        ac_status st = ac_net_config_from_map(m, &c);
        if (st) return st;
        if (fw <= 0) s[0] = ac_tensor_map_meta(m, "width") ? AC_CONFIG_FROM_METADATA : AC_CONFIG_INFERRED;
        if (fr <= 0) s[1] = ac_tensor_map_meta(m, "res_blocks") ? AC_CONFIG_FROM_METADATA : AC_CONFIG_INFERRED;
    }
    if (fw > 0) c.width = fw;
    if (fr > 0) c.res_blocks = fr;
    ac_status st = ac_net_config_check(&c);
    if (st) return st;
    *cfg = c;
    if (src) src[0] = s[0], src[1] = s[1];
    return AC_OK;
}

ac_status ac_model_file_net_from_map(const char *path, const ac_tensor_map *m,
                                     const ac_model_file_opts *opts, ac_net **out) {
    *out = NULL;
    ac_net_config cfg;
    ac_status st = ac_model_file_config(m, opts, &cfg, NULL);
    if (st) {
        ac_error_prefix("%s", path);
        return st;
    }
    ac_net *net = ac_net_new(&cfg, NULL);
    st = ac_net_load(net, m);
    if (st) {
        ac_error_prefix("%s", path);
        ac_net_free(net);
        return st;
    }
    *out = net;
    return AC_OK;
}

ac_status ac_model_file_load_net(const char *path, const ac_model_file_opts *opts, ac_net **out) {
    *out = NULL;
    ac_tensor_map *m;
    ac_status st = ac_model_file_read(path, opts ? opts->entry : NULL, &m, NULL);
    if (st) return st;
    st = ac_model_file_net_from_map(path, m, opts, out);
    ac_tensor_map_free(m);
    return st;
}
