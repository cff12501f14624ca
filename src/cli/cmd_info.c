// cmd_info.c: `allclear info MODEL`: what a model file holds: its format, a PyTorch
// checkpoint's top-level entries, metadata, the network's architecture settings and where
// they come from, whether the weights fit the network, the parameter count and every tensor.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "io/model_file.h"
#include "io/torch_load.h"

int ac_cmd_info(int argc, char **argv) {
    const char *entry = NULL;
    int width = 0, res_blocks = 0;
    bool no_tensors = false;
    const ac_opt opts[] = {
        {"entry", 0, AC_OPT_STRING, &entry, "NAME", "checkpoint entry to show, e.g. ckt_module (default state_dict)", 0, 0},
        {"width", 0, AC_OPT_INT, &width, "N", "check against this base width instead of the file's", 4, 4096},
        {"res-blocks", 0, AC_OPT_INT, &res_blocks, "N", "check against this many bottleneck blocks", 1, 1000},
        {"no-tensors", 0, AC_OPT_FLAG, &no_tensors, NULL, "omit the tensor list", 0, 0},
    };
    const ac_cmd_spec spec = {
        "info", "[--entry NAME] MODEL",
        "Prints what a model file (safetensors, or a PyTorch checkpoint in the zip or legacy\n"
        "format) holds: the format, a checkpoint's top-level entries, the metadata, the\n"
        "network's architecture settings and where they come from, whether the weights load\n"
        "into that network (strictly), the parameter count and the tensors with their shapes.\n"
        "Exit status 0 when the file could be read, even if the weights do not fit; 2 when not.",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, 1};
    ac_str_list pos;
    int rc = ac_parse_args(&spec, argc, argv, &pos);
    if (rc) return rc < 0 ? 0 : rc;
    const char *path = pos.items[0];
    ac_str_list_free(&pos);

    ac_tensor_map *m = NULL;
    ac_model_file_kind kind;
    if (ac_model_file_read(path, entry, &m, &kind) != AC_OK) {
        ac_cli_error("%s", ac_error_message());
        return 2;
    }
    printf("file:        %s\n", path);
    printf("format:      %s\n", ac_model_file_kind_name(kind));
    if (kind != AC_MODEL_FILE_SAFETENSORS) {
        char *desc = NULL;
        if (ac_torch_describe(path, &desc) == AC_OK) {
            // First line: the top object; then one indented line per top-level entry, shown
            // unless the top object is itself the state dict (its tensors are listed below).
            char *nl = strchr(desc, '\n');
            if (nl) *nl = '\0';
            printf("contents:    %s\n", desc);
            const char *entries = nl ? nl + 1 : "";
            bool has_sd = !strncmp(entries, "  state_dict:", 13) || strstr(entries, "\n  state_dict:");
            if (entry || has_sd) printf("%s", entries);
            printf("entry:       %s\n", entry ? entry : has_sd ? "state_dict" : "(the whole file)");
        }
        free(desc);
    }
    for (int i = 0; i < m->n_meta; i++)
        printf("%-12s %s = %s\n", i ? "" : "metadata:", m->meta[i].key, m->meta[i].value);

    if (width || res_blocks || ac_cli_looks_like_net(m)) {
        ac_model_file_opts mo = {entry, width, res_blocks};
        ac_net_config cfg;
        ac_config_source src[2];
        if (ac_model_file_config(m, &mo, &cfg, src) != AC_OK) {
            printf("network:     MSBDN-RDFF, settings unknown: %s\n", ac_error_message());
        } else {
            printf("network:     MSBDN-RDFF, width %d (%s), res_blocks %d (%s)\n", cfg.width,
                   ac_config_source_name(src[0]), cfg.res_blocks, ac_config_source_name(src[1]));
            ac_net *net = NULL;
            if (ac_model_file_net_from_map(path, m, &mo, &net) == AC_OK) {
                printf("check:       OK, the weights load into this network\n");
            } else {
                const char *msg = ac_error_message();
                size_t n = strlen(path);
                if (!strncmp(msg, path, n) && msg[n] == ':') msg += n + 2;
                printf("check:       FAILED: %s\n", msg);
            }
            ac_net_free(net);
        }
    } else {
        printf("network:     not a restoration network (no 'conv_input' or 'dehaze' tensors)\n");
    }
    size_t total = 0;
    for (int i = 0; i < m->count; i++) total += ac_numel(m->items[i].tensor);
    char count[48];
    ac_cli_format_count(total, count, sizeof count);
    printf("parameters:  %s in %d tensors\n", count, m->count);
    if (!no_tensors) {
        printf("tensors:\n");
        int wname = 0;
        for (int i = 0; i < m->count; i++) wname = AC_MAX(wname, (int)strlen(m->items[i].name));
        for (int i = 0; i < m->count; i++) {
            char shape[64];
            printf("  %-*s %s\n", wname, m->items[i].name, ac_shape_str(m->items[i].tensor, shape, sizeof shape));
        }
    }
    ac_tensor_map_free(m);
    return 0;
}
