// cmd_restore.c: `allclear restore -m MODEL [-o OUTDIR] INPUT...`: restores photos (files,
// or folders of them) with a trained network and writes PNGs named like the inputs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "data/meta.h"
#include "image/image.h"
#include "io/model_file.h"
#include "restore/restore.h"

typedef struct restore_args {
    const char *model, *outdir, *entry;
    int width, res_blocks, tile, overlap, max_mb, threads;
    bool official, bits16, quiet;
} restore_args;

// An image to restore and the file it goes to.
typedef struct job {
    char *in, *out;
} job;

typedef struct job_list {
    job *items;
    size_t n, cap;
} job_list;

static void add_job(job_list *l, char *in) {
    if (l->n == l->cap) l->items = ac_xrealloc(l->items, (l->cap = l->cap ? 2 * l->cap : 16) * sizeof *l->items);
    l->items[l->n].in = in;
    l->items[l->n].out = NULL;
    l->n++;
}

static void free_jobs(job_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].in);
        free(l->items[i].out);
    }
    free(l->items);
}

// True when the file's first bytes are those of a PNG or JPEG image.
static bool looks_like_image(const char *path) {
    unsigned char head[16];
    FILE *f = fopen(path, "rb");
    if (!f) return true;  // let the reader report why it cannot be opened
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    return ac_image_sniff(head, got) != AC_IMAGE_UNKNOWN;
}

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static bool already_listed(const job_list *jobs, const char *path) {
    for (size_t j = 0; j < jobs->n; j++)
        if (!strcmp(jobs->items[j].in, path) || same_file(jobs->items[j].in, path)) return true;
    return false;
}

// Expands folders (their PNG/JPEG files by content, sorted; other files are skipped with a
// note), drops repeats of the same file, names the outputs and refuses collisions. Returns 0
// or an exit status.
static int gather(const ac_str_list *inputs, const char *outdir, bool quiet, job_list *jobs) {
    static const char *const any[] = {"", NULL};
    for (int i = 0; i < inputs->count; i++) {
        const char *p = inputs->items[i];
        if (!ac_path_is_dir(p)) {
            if (!already_listed(jobs, p)) add_job(jobs, ac_xstrdup(p));
            continue;
        }
        char **files;
        size_t n, skipped = 0, images = 0;
        if (ac_list_dir(p, any, &files, &n) != AC_OK) {
            ac_cli_error("%s", ac_error_message());
            return 2;
        }
        for (size_t k = 0; k < n; k++) {
            if (!looks_like_image(files[k])) {
                skipped++;
                free(files[k]);
            } else if (images++, already_listed(jobs, files[k])) {
                free(files[k]);
            } else {
                add_job(jobs, files[k]);
            }
        }
        free(files);
        if (quiet) continue;
        if (skipped)
            fprintf(stderr, "allclear: note: skipping %zu file%s in %s that %s not PNG or JPEG images\n",
                    skipped, skipped == 1 ? "" : "s", p, skipped == 1 ? "is" : "are");
        if (!images) fprintf(stderr, "allclear: note: no PNG or JPEG images in %s\n", p);
    }
    if (jobs->n == 0) {
        ac_cli_error("restore: no images to restore");
        return 2;
    }
    for (size_t i = 0; i < jobs->n; i++) {
        char *stem = ac_path_stem(jobs->items[i].in);
        size_t len = strlen(stem) + 5;
        char *name = ac_xmalloc(len);
        snprintf(name, len, "%s.png", stem);
        free(stem);
        jobs->items[i].out = ac_path_join(outdir, name);
        free(name);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(jobs->items[i].out, jobs->items[j].out)) {
                ac_cli_error("%s: same name as %s; both would be written to %s", jobs->items[i].in,
                             jobs->items[j].in, jobs->items[i].out);
                return 2;
            }
        }
        for (size_t j = 0; j < jobs->n; j++) {
            if (same_file(jobs->items[i].out, jobs->items[j].in)) {
                ac_cli_error("%s: the output %s would overwrite this input; choose another -o folder",
                             jobs->items[j].in, jobs->items[i].out);
                return 2;
            }
        }
    }
    return 0;
}

typedef struct progress_ctx {
    ac_progress *bar;  // NULL when no progress is shown
    int64_t done;
    const char *name;
} progress_ctx;

static void on_tile(void *ctx, int done, int total) {
    progress_ctx *pc = ctx;
    if (!pc->bar || total <= 1) return;
    char status[160];
    snprintf(status, sizeof status, "%.100s tile %d/%d", pc->name, done, total);
    ac_progress_update(pc->bar, pc->done, status);
}

// An error line that does not run into a progress bar drawn on the terminal.
static void job_error(const ac_progress *bar, const char *msg) {
    if (bar && bar->tty) fputs("\r\033[K", stderr);
    ac_cli_error("%s", msg);
}

int ac_cmd_restore(int argc, char **argv) {
    restore_args a = {.outdir = "restored", .tile = AC_RESTORE_TILE_AUTO, .overlap = AC_RESTORE_DEFAULT_OVERLAP,
                      .max_mb = AC_RESTORE_DEFAULT_MAX_MB};
    const ac_opt opts[] = {
        {"model", 'm', AC_OPT_STRING, &a.model, "MODEL", "model file: .safetensors, or a PyTorch checkpoint (required)", 0, 0},
        {"out", 'o', AC_OPT_STRING, &a.outdir, "DIR", "output folder, created if needed (default restored)", 0, 0},
        {"16bit", 0, AC_OPT_FLAG, &a.bits16, NULL, "write 16-bit PNGs (default 8-bit, as torchvision's save_image)", 0, 0},
        {"official-resize", 0, AC_OPT_FLAG, &a.official, NULL, "resize to (H//16*16, W//16*16) first, as the reference does", 0, 0},
        {"tile", 0, AC_OPT_INT, &a.tile, "N", "tile side (multiple of 16, >= 32); 0 = whole image (default: automatic)", 0, 65536},
        {"overlap", 0, AC_OPT_INT, &a.overlap, "N", "pixels shared by neighbouring tiles, blended (default 64)", 0, 32768},
        {"max-memory", 0, AC_OPT_INT, &a.max_mb, "MB", "memory budget for automatic tiles (default 1024)", 64, 1048576},
        {"threads", 0, AC_OPT_INT, &a.threads, "N", "worker threads (default: all cores)", 1, 1024},
        {"width", 0, AC_OPT_INT, &a.width, "N", "network base width (default: from the file)", 4, 4096},
        {"res-blocks", 0, AC_OPT_INT, &a.res_blocks, "N", "residual blocks in the bottleneck (default: from the file)", 1, 1000},
        {"entry", 0, AC_OPT_STRING, &a.entry, "NAME", "checkpoint entry holding the weights (default state_dict)", 0, 0},
        {"quiet", 'q', AC_OPT_FLAG, &a.quiet, NULL, "no progress, notes or summary", 0, 0},
    };
    const ac_cmd_spec spec = {
        "restore", "-m MODEL [-o OUTDIR] INPUT...",
        "Restores photos (PNG or JPEG files, or folders of them, not recursive; files in a\n"
        "folder that are not PNG or JPEG images are skipped with a note) and writes\n"
        "OUTDIR/<name>.png for each input <name>.<ext>. The output has the input's size: the\n"
        "image is padded by reflection to a multiple of 16, restored and cropped back (gray\n"
        "images become RGB). Large images are restored in overlapping tiles blended without\n"
        "seams, sized to stay within --max-memory. Outputs appear complete or not at all.\n"
        "An input that cannot be read is reported and skipped; the others are restored and\n"
        "the exit status is then 2. Exit 1 when writing fails (the run stops there).",
        opts, (int)(sizeof opts / sizeof opts[0]), 1, -1};
    ac_str_list inputs;
    int rc = ac_parse_args(&spec, argc, argv, &inputs);
    if (rc) return rc < 0 ? 0 : rc;
    if (!a.model) {
        ac_cli_error("restore: a model is required (-m MODEL)");
        ac_str_list_free(&inputs);
        return 2;
    }
    ac_restore_opts ro;
    ac_restore_opts_init(&ro);
    ro.tile = a.tile;
    ro.overlap = a.overlap;
    ro.max_bytes = (size_t)a.max_mb << 20;
    ro.official_resize = a.official;
    if (ac_restore_opts_check(&ro) != AC_OK) {
        ac_cli_error("restore: %s", ac_error_message());
        ac_str_list_free(&inputs);
        return 2;
    }
    if (a.threads) ac_set_threads(a.threads);
#ifdef __GLIBC__
    // The network's activations for a large tile are tens to hundreds of MB each. glibc serves
    // such blocks with mmap and unmaps them at every free, so each reuse faults in fresh zeroed
    // pages: a quarter of the run time went to the kernel for a 4000x3000 photo. Keep freed
    // memory in the heap for reuse instead (peak memory is the same within a few percent).
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif

    job_list jobs = {0};
    rc = gather(&inputs, a.outdir, a.quiet, &jobs);
    ac_str_list_free(&inputs);
    if (!rc) rc = ac_cli_check_out_dir("restore", a.outdir);
    ac_net *net = NULL;
    if (!rc) {
        ac_model_file_opts mo = {a.entry, a.width, a.res_blocks};
        if (ac_model_file_load_net(a.model, &mo, &net) != AC_OK) {
            ac_cli_error("%s", ac_error_message());
            rc = 2;
        }
    }
    char *made = rc ? NULL : ac_cli_missing_top(a.outdir);  // removed again if nothing is written
    if (!rc && ac_mkdir_p(a.outdir) != AC_OK) {
        ac_cli_error("%s", ac_error_message());
        rc = 1;
    }
    if (rc) {
        ac_cli_remove_made(a.outdir, made);
        ac_net_free(net);
        free_jobs(&jobs);
        return rc;
    }

    ac_progress bar;
    bool show = !a.quiet && (isatty(fileno(stderr)) || jobs.n > 1);
    if (show) ac_progress_start(&bar, "restore", (int64_t)jobs.n, jobs.n >= 20 ? (int64_t)jobs.n / 10 : 1);
    progress_ctx pc = {show ? &bar : NULL, 0, NULL};
    ro.progress = on_tile;
    ro.progress_ctx = &pc;
    size_t written = 0, bad = 0;
    for (size_t i = 0; i < jobs.n && rc != 1; i++) {
        const job *j = &jobs.items[i];
        pc.name = ac_cli_base_name(j->in);
        pc.done = (int64_t)i;
        if (show) ac_progress_update(&bar, (int64_t)i, pc.name);
        ac_tensor *x = NULL, *y = NULL;
        if (ac_image_read(j->in, &x) != AC_OK) {
            job_error(pc.bar, ac_error_message());
            bad++;
            continue;
        }
        ac_status st = ac_restore_image(net, x, &ro, &y);
        ac_tensor_free(x);
        if (st) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s: %s", j->in, ac_error_message());
            job_error(pc.bar, msg);
            if (st == AC_ERR_ARG) bad++;  // e.g. too small for the official resize
            else rc = 1;
            continue;
        }
        st = ac_image_write_png(j->out, y, a.bits16 ? 16 : 8);
        ac_tensor_free(y);
        if (st) {
            job_error(pc.bar, ac_error_message());
            rc = 1;
            break;
        }
        written++;
    }
    if (show) {
        bar.done = (int64_t)(written + bad);
        ac_progress_finish(&bar, NULL);
    }
    // Nothing written is a failure (an error line already said why): no summary, no folder.
    if (!a.quiet && written) printf("restore: wrote %zu image%s to %s\n", written, written == 1 ? "" : "s", a.outdir);
    if (written) free(made);
    else ac_cli_remove_made(a.outdir, made);
    if (bad && jobs.n > 1) ac_cli_error("restore: %zu of %zu inputs could not be restored", bad, jobs.n);
    if (bad && !rc) rc = 2;
    ac_net_free(net);
    free_jobs(&jobs);
    return rc;
}
