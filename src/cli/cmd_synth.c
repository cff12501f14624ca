// cmd_synth.c: `allclear synth`: degraded/clean training pairs from clean photos with the
// physical weather models of src/synth, plus the meta file listing them.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/meta.h"
#include "image/image.h"
#include "synth/synth.h"

static void synth_usage(FILE *f) {
    fprintf(f,
            "usage: allclear synth --weather haze|rain|snow [--seed N] [--count K] -o OUTDIR CLEAN...\n\n"
            "Makes degraded/clean pairs from clean photos (PNG or JPEG files, or folders of\n"
            "them) with a physical model of the weather (see docs/synth.md). Writes the\n"
            "degraded images as OUTDIR/<weather>/<name>_<k>.png and the meta file\n"
            "OUTDIR/<weather>.json listing [clean, degraded] pairs (paths as given and as\n"
            "written), ready for training: run once per weather into the same OUTDIR.\n"
            "The output is the same for the same seed and inputs.\n\n"
            "options:\n"
            "  --weather W      haze, rain or snow (required)\n"
            "  -o, --out DIR    output folder (required; created if needed)\n"
            "  --seed N         random seed (default 1)\n"
            "  --count K        degraded versions of each photo (default 1)\n"
            "  --depth-dir DIR  haze only: depth maps (larger = farther) named like the\n"
            "                   photos (DIR/<name>.png) replace the built-in depth proxy\n"
            "  -v, --verbose    print the drawn parameters of every image\n"
            "  -h, --help       show this help\n");
}

static const char *const image_exts[] = {".png", ".jpg", ".jpeg", NULL};

static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return false;
    *out = v;
    return true;
}

typedef struct synth_run {
    char **written;
    size_t nwritten;
} synth_run;

static void remove_written(synth_run *r) {
    for (size_t i = 0; i < r->nwritten; i++) unlink(r->written[i]);
}

int ac_cmd_synth(int argc, char **argv) {
    const char *weather_s = NULL, *outdir = NULL, *depth_dir = NULL;
    uint64_t seed = 1, count = 1;
    bool verbose = false;
    char **inputs = ac_xmalloc(sizeof(char *) * (size_t)(argc + 1));
    int ninputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "--weather") || !strcmp(a, "-o") || !strcmp(a, "--out") || !strcmp(a, "--seed") ||
                     !strcmp(a, "--count") || !strcmp(a, "--depth-dir");
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            synth_usage(stdout);
            free(inputs);
            return 0;
        } else if (takes && !val) {
            fprintf(stderr, "allclear: synth: option %s needs a value\n", a);
            free(inputs);
            return 2;
        } else if (takes) {
            i++;
            if (!strcmp(a, "--weather")) weather_s = val;
            else if (!strcmp(a, "-o") || !strcmp(a, "--out")) outdir = val;
            else if (!strcmp(a, "--depth-dir")) depth_dir = val;
            else if (!strcmp(a, "--seed") ? !parse_u64(val, &seed) : (!parse_u64(val, &count) || count < 1 || count > 10000)) {
                fprintf(stderr, "allclear: synth: %s expects a whole number %s, got '%s'\n", a,
                        !strcmp(a, "--seed") ? "of 0 or more" : "from 1 to 10000", val);
                free(inputs);
                return 2;
            }
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "allclear: synth: unknown option '%s' (see 'allclear synth --help')\n", a);
            free(inputs);
            return 2;
        } else {
            inputs[ninputs++] = (char *)a;
        }
    }
    ac_weather weather;
    if (!weather_s || !ac_weather_parse(weather_s, &weather)) {
        fprintf(stderr, "allclear: synth: --weather must be haze, rain or snow%s%s%s\n", weather_s ? " (got '" : "",
                weather_s ? weather_s : "", weather_s ? "')" : "");
        free(inputs);
        return 2;
    }
    if (!outdir || ninputs == 0) {
        fprintf(stderr, "allclear: synth: %s (see 'allclear synth --help')\n",
                !outdir ? "an output folder (-o OUTDIR) is required" : "no clean photos given");
        free(inputs);
        return 2;
    }
    if (depth_dir && weather != AC_WEATHER_HAZE) {
        fprintf(stderr, "allclear: synth: --depth-dir applies to haze only\n");
        free(inputs);
        return 2;
    }
    if (ac_cli_check_out_dir("synth", outdir)) {
        free(inputs);
        return 2;
    }

    // Gather the photos and check them all (header) before writing anything.
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    int rc = 0;
    for (int i = 0; i < ninputs && !rc; i++) {
        char **list;
        size_t n;
        if (ac_path_is_dir(inputs[i])) {
            if (ac_list_dir(inputs[i], image_exts, &list, &n) != AC_OK) {
                fprintf(stderr, "allclear: %s\n", ac_error_message());
                rc = 2;
                break;
            }
        } else {
            list = ac_xmalloc(sizeof *list);
            list[0] = ac_xstrdup(inputs[i]);
            n = 1;
        }
        for (size_t k = 0; k < n; k++) {
            if (nfiles == cap) files = ac_xrealloc(files, (cap = cap ? 2 * cap : 16) * sizeof *files);
            files[nfiles++] = list[k];
        }
        free(list);
    }
    free(inputs);
    char **stems = ac_xcalloc(nfiles ? nfiles : 1, sizeof *stems);
    for (size_t i = 0; i < nfiles && !rc; i++) {
        ac_image_info info;
        if (ac_image_probe(files[i], &info) != AC_OK) {
            fprintf(stderr, "allclear: %s\n", ac_error_message());
            rc = 2;
            break;
        }
        stems[i] = ac_path_stem(files[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(stems[i], stems[j])) {
                fprintf(stderr, "allclear: %s: same name as %s; the outputs would collide\n", files[i], files[j]);
                rc = 2;
                break;
            }
    }
    if (!rc && nfiles == 0) {
        fprintf(stderr, "allclear: synth: no PNG or JPEG photos found in the given folders\n");
        rc = 2;
    }
    char *wdir = ac_path_join(outdir, ac_weather_name(weather));
    char *made = rc ? NULL : ac_cli_missing_top(wdir);  // removed again on failure
    if (!rc && ac_mkdir_p(wdir) != AC_OK) {
        fprintf(stderr, "allclear: %s\n", ac_error_message());
        rc = 1;
    }

    size_t npairs = nfiles * (size_t)count;
    ac_pair *pairs = ac_xcalloc(npairs ? npairs : 1, sizeof *pairs);
    synth_run run = {ac_xcalloc(npairs ? npairs : 1, sizeof(char *)), 0};
    size_t done = 0;
    for (size_t i = 0; i < nfiles && !rc; i++) {
        ac_tensor *clean = NULL, *depth = NULL;
        if (ac_image_read(files[i], &clean) != AC_OK) {
            fprintf(stderr, "allclear: %s\n", ac_error_message());
            rc = 2;
            break;
        }
        if (depth_dir) {
            char *name = ac_xmalloc(strlen(stems[i]) + 8);
            sprintf(name, "%s.png", stems[i]);
            char *dpath = ac_path_join(depth_dir, name);
            free(name);
            if (ac_image_read(dpath, &depth) != AC_OK) {
                fprintf(stderr, "allclear: %s\n", ac_error_message());
                rc = 2;
            }
            free(dpath);
        }
        for (uint64_t k = 0; k < count && !rc; k++) {
            ac_tensor *out = NULL;
            char desc[512];
            uint64_t s = ac_synth_seed(seed, weather, stems[i], (int)k);
            if (ac_synth_apply(weather, clean, depth, s, &out, desc, sizeof desc) != AC_OK) {
                fprintf(stderr, "allclear: %s: %s\n", files[i], ac_error_message());
                rc = 2;
                break;
            }
            char name[600];
            snprintf(name, sizeof name, "%.500s_%llu.png", stems[i], (unsigned long long)k);
            char *opath = ac_path_join(wdir, name);
            ac_status st = ac_image_write_png(opath, out, 8);
            ac_tensor_free(out);
            if (st) {
                fprintf(stderr, "allclear: %s\n", ac_error_message());
                free(opath);
                rc = 1;
                break;
            }
            run.written[run.nwritten++] = opath;
            pairs[done].gt = files[i];
            pairs[done].input = opath;
            done++;
            if (verbose) printf("%s: %s\n", opath, desc);
        }
        ac_tensor_free(clean);
        ac_tensor_free(depth);
    }
    char *meta = NULL;
    if (!rc) {
        char mname[32];
        snprintf(mname, sizeof mname, "%s.json", ac_weather_name(weather));
        meta = ac_path_join(outdir, mname);
        if (ac_meta_write(meta, pairs, done) != AC_OK) {
            fprintf(stderr, "allclear: %s\n", ac_error_message());
            rc = 1;
        } else {
            printf("synth: wrote %zu %s image%s to %s and the meta file %s\n", done, ac_weather_name(weather),
                   done == 1 ? "" : "s", wdir, meta);
        }
    }
    if (rc) {  // no partial output
        remove_written(&run);
        ac_cli_remove_made(wdir, made);
    } else {
        free(made);
    }
    free(meta);
    ac_free_list(run.written, run.nwritten);
    free(pairs);
    free(wdir);
    for (size_t i = 0; i < nfiles; i++) free(stems[i]);
    free(stems);
    ac_free_list(files, nfiles);
    return rc;
}
