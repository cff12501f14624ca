// cmd_eval.c: `allclear eval`: PSNR and SSIM of a model (or of already restored images) on
// validation pairs, per weather type and overall, as a table.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "train/eval.h"
#include "io/model_file.h"

static void eval_progress(void *ctx, size_t done, size_t total) {
    ac_progress *p = ctx;
    p->total = (int64_t)total;
    if (p->tty) ac_progress_update(p, (int64_t)done, NULL);
}

// What `eval -o DIR` writes: DIR/<type>/<input stem>.png per pair (src/train/eval.c), and
// which of those files and type folders are new, so that a failed run removes exactly what it
// added (files that were there before are left).
typedef struct out_plan {
    char **paths;
    bool *existed;
    size_t n;
    char **made;     // per type: the outermost folder the run will make (NULL: exists)
    int n_types;
} out_plan;

static void plan_outputs(const char *dir, const ac_meta_set *data, out_plan *p) {
    size_t total = 0;
    for (int t = 0; t < data->count; t++) total += data->sources[t]->count;
    p->paths = ac_xcalloc(total ? total : 1, sizeof *p->paths);
    p->existed = ac_xcalloc(total ? total : 1, sizeof *p->existed);
    p->made = ac_xcalloc((size_t)data->count, sizeof *p->made);
    p->n_types = data->count;
    p->n = 0;
    for (int t = 0; t < data->count; t++) {
        const ac_meta *m = data->sources[t];
        char *sub = ac_path_join(dir, m->name);
        p->made[t] = ac_cli_missing_top(sub);
        for (size_t i = 0; i < m->count; i++) {
            char *stem = ac_path_stem(m->pairs[i].input);
            size_t len = strlen(sub) + strlen(stem) + 8;
            char *path = ac_xmalloc(len);
            snprintf(path, len, "%s/%s.png", sub, stem);
            free(stem);
            p->existed[p->n] = ac_path_exists(path);
            p->paths[p->n++] = path;
        }
        free(sub);
    }
}

// undo: remove the new files and folders (after a failure); otherwise only free the plan
static void finish_outputs(const char *dir, const ac_meta_set *data, out_plan *p, bool undo) {
    for (size_t i = 0; i < p->n; i++) {
        if (undo && !p->existed[i]) unlink(p->paths[i]);
        free(p->paths[i]);
    }
    for (int t = 0; t < p->n_types; t++) {
        if (undo && p->made[t]) {
            char *sub = ac_path_join(dir, data->sources[t]->name);
            ac_cli_remove_made(sub, p->made[t]);
            free(sub);
        } else {
            free(p->made[t]);
        }
    }
    free(p->paths);
    free(p->existed);
    free(p->made);
}

static void print_value(double v, int decimals) {
    if (isinf(v)) printf("  %*s", 8 + decimals - 4, "inf");
    else printf("  %*.*f", 8 + decimals - 4, decimals, v);
}

int ac_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *valid = NULL, *out_dir = NULL, *pred_dir = NULL;
    bool y = false, pad = false, official = false;
    int width = 0, res_blocks = 0, threads = 0;
    const ac_opt opts[] = {
        {"model", 'm', AC_OPT_STRING, &model, "MODEL", "model file (.safetensors, or a PyTorch checkpoint)", 0, 0},
        {"valid", 0, AC_OPT_STRING, &valid, "PATH", "validation pairs: a meta file or a folder of them", 0, 0},
        {"y", 0, AC_OPT_FLAG, &y, NULL, "metrics on the luma channel Y (MATLAB rgb2ycbcr)", 0, 0},
        {"pad", 0, AC_OPT_FLAG, &pad, NULL, "restore at the original size: reflection pad to a multiple of 16 (default)", 0, 0},
        {"official-resize", 0, AC_OPT_FLAG, &official, NULL,
         "the reference's evaluation: resize input and ground truth to multiples of 16", 0, 0},
        {"out", 'o', AC_OPT_STRING, &out_dir, "DIR", "also write the restored images as DIR/<type>/<name>.png", 0, 0},
        {"pred-dir", 0, AC_OPT_STRING, &pred_dir, "DIR",
         "measure restored images DIR/[<type>/]<input name>.png instead of running a model", 0, 0},
        {"width", 0, AC_OPT_INT, &width, "B", "network width for PyTorch files (default: inferred)", 4, 4096},
        {"res-blocks", 0, AC_OPT_INT, &res_blocks, "N", "residual blocks for PyTorch files (default: inferred)", 1, 1000},
        {"threads", 0, AC_OPT_INT, &threads, "N", "compute threads (default: all cores)", 1, 4096},
    };
    const ac_cmd_spec spec = {
        "eval", "-m MODEL --valid DIR|META.json [--y] [--pad|--official-resize] [-o DIR]",
        "Restores every validation input with MODEL and prints PSNR and SSIM (the reference's\n"
        "definitions, as `allclear metrics`) per weather type (meta file) and over all images.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0, 0,
    };
    ac_str_list pos;
    int rc = ac_parse_args(&spec, argc, argv, &pos);
    if (rc) return rc < 0 ? 0 : rc;
    ac_str_list_free(&pos);
    if (!valid || (!model == !pred_dir)) {
        ac_cli_error("eval: --valid and one of -m MODEL or --pred-dir DIR are required (see 'allclear eval --help')");
        return 2;
    }
    if (pad && official) {
        ac_cli_error("eval: --pad and --official-resize exclude each other");
        return 2;
    }
    if (pred_dir && (out_dir || official || pad)) {
        ac_cli_error("eval: --pred-dir measures existing images; -o, --pad and --official-resize need a model");
        return 2;
    }
    if (out_dir && ac_cli_check_out_dir("eval", out_dir)) return 2;
    if (threads > 0) ac_set_threads(threads);
    ac_meta_set *data;
    if (ac_meta_set_open(valid, &data) != AC_OK) {
        ac_cli_error("%s", ac_error_message());
        return 2;
    }
    ac_eval_result r;
    ac_status st;
    if (pred_dir) {
        st = ac_evaluate_dir(pred_dir, data, y, &r);
    } else {
        ac_net *net;
        if (ac_model_file_load_net(model, &(ac_model_file_opts){NULL, width, res_blocks}, &net) != AC_OK) {
            ac_cli_error("%s", ac_error_message());
            ac_meta_set_free(data);
            return 2;
        }
        ac_progress bar;
        ac_progress_start(&bar, "eval", 0, 1 << 30);
        ac_eval_opts eo = {official ? AC_VALID_RESIZE : AC_VALID_PAD, y, 1, out_dir, eval_progress, &bar};
        out_plan plan = {0};
        if (out_dir) plan_outputs(out_dir, data, &plan);
        st = ac_evaluate(net, data, &eo, &r);
        if (out_dir) finish_outputs(out_dir, data, &plan, st != AC_OK);  // no partial output
        if (bar.tty) fprintf(stderr, "\r\033[K");
        ac_net_free(net);
    }
    if (st) {
        ac_cli_error("%s", ac_error_message());
        ac_meta_set_free(data);
        // unreadable, invalid or mismatched inputs are the user's to fix (2); the rest failed while working
        return st == AC_ERR_IO || st == AC_ERR_SHAPE || st == AC_ERR_FORMAT || st == AC_ERR_ARG ? 2 : 1;
    }
    int wname = 8;
    for (int t = 0; t < r.n_types; t++) wname = (int)AC_MAX((size_t)wname, strlen(r.type_names[t]));
    printf("%-*s  %6s  %8s%s  %8s\n", wname, "type", "images", y ? "PSNR(Y)" : "PSNR", "", y ? "SSIM(Y)" : "SSIM");
    for (int t = 0; t < r.n_types; t++) {
        printf("%-*s  %6zu", wname, r.type_names[t], r.count[t]);
        print_value(r.psnr[t], 4);
        print_value(r.ssim[t], 6);
        printf("\n");
    }
    printf("%-*s  %6zu", wname, "all", r.total);
    print_value(r.mean_psnr, 4);
    print_value(r.mean_ssim, 6);
    printf("\n");
    ac_eval_result_free(&r);
    ac_meta_set_free(data);
    return 0;
}
