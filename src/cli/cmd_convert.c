// cmd_convert.c: `allclear convert IN OUT.safetensors`: any loadable model file (PyTorch zip
// or legacy checkpoint, or safetensors) to the native safetensors format with metadata.
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "io/model_file.h"
#include "io/safetensors.h"

// Thousands separators: 28712861 -> "28,712,861".
void ac_cli_format_count(size_t v, char *buf, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v), k = 0;
    char tmp[48];
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) tmp[k++] = ',';
        tmp[k++] = digits[i];
    }
    tmp[k] = '\0';
    snprintf(buf, size, "%s", tmp);
}

// True when the map holds the tensors of the restoration network (possibly mismatched),
// which is then loaded strictly; anything else is copied as it is.
bool ac_cli_looks_like_net(const ac_tensor_map *m) {
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->items[i].name, "conv_input.conv2d.weight") || !strncmp(m->items[i].name, "dehaze.res", 10))
            return true;
    return false;
}

int ac_cmd_convert(int argc, char **argv) {
    const char *entry = NULL;
    int width = 0, res_blocks = 0;
    const ac_opt opts[] = {
        {"entry", 0, AC_OPT_STRING, &entry, "NAME", "checkpoint entry to convert, e.g. ckt_module (default state_dict)", 0, 0},
        {"width", 0, AC_OPT_INT, &width, "N", "network base width (default: from the file)", 4, 4096},
        {"res-blocks", 0, AC_OPT_INT, &res_blocks, "N", "residual blocks in the bottleneck (default: from the file)", 1, 1000},
    };
    const ac_cmd_spec spec = {
        "convert", "[--entry NAME] IN OUT.safetensors",
        "Converts a model file (a PyTorch checkpoint in the zip or legacy format, a training\n"
        "checkpoint, or safetensors) to safetensors. A restoration network is loaded strictly\n"
        "and written with its architecture in the metadata (arch, width, res_blocks), so that\n"
        "it loads without flags; any other state dict (e.g. --entry ckt_module) is copied as\n"
        "it is. The output appears complete or not at all.",
        opts, (int)(sizeof opts / sizeof opts[0]), 2, 2};
    ac_str_list pos;
    int rc = ac_parse_args(&spec, argc, argv, &pos);
    if (rc) return rc < 0 ? 0 : rc;
    const char *in = pos.items[0], *out = pos.items[1];
    ac_str_list_free(&pos);
    size_t n = strlen(out);
    if (n < 12 || strcasecmp(out + n - 12, ".safetensors") != 0) {
        ac_cli_error("convert: %s: the output must be a .safetensors file", out);
        return 2;
    }
    if (ac_cli_check_out_file("convert", out)) return 2;
    ac_tensor_map *m = NULL;
    ac_model_file_kind kind;
    if (ac_model_file_read(in, entry, &m, &kind) != AC_OK) {
        ac_cli_error("%s", ac_error_message());
        return 2;
    }
    ac_tensor_map *outm = m;
    ac_net *net = NULL;
    char desc[160];
    if (width || res_blocks || ac_cli_looks_like_net(m)) {
        ac_model_file_opts mo = {entry, width, res_blocks};
        if (ac_model_file_net_from_map(in, m, &mo, &net) != AC_OK) {
            ac_cli_error("%s", ac_error_message());
            ac_tensor_map_free(m);
            return 2;
        }
        outm = ac_net_export(net);
        char count[48];
        ac_cli_format_count(ac_params_numel(ac_net_params(net)), count, sizeof count);
        snprintf(desc, sizeof desc, "MSBDN-RDFF, width %d, res_blocks %d, %s parameters",
                 ac_net_config_of(net)->width, ac_net_config_of(net)->res_blocks, count);
    } else {
        snprintf(desc, sizeof desc, "%d tensors copied as they are: not a restoration network", m->count);
    }
    ac_tensor_map_set_meta(outm, "source", ac_cli_base_name(in));
    if (entry) ac_tensor_map_set_meta(outm, "entry", entry);
    rc = 0;
    if (ac_safetensors_write(out, outm) != AC_OK) {
        ac_cli_error("%s", ac_error_message());
        rc = 1;
    } else {
        printf("convert: %s (%s) -> %s (%s)\n", in, ac_model_file_kind_name(kind), out, desc);
    }
    if (outm != m) ac_tensor_map_free(outm);
    ac_tensor_map_free(m);
    ac_net_free(net);
    return rc;
}
