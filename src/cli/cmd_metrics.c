// cmd_metrics.c: `allclear metrics [--y] PRED GT`: PSNR and SSIM of two images with the
// reference definitions (src/metrics/metrics.h).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "image/image.h"
#include "metrics/metrics.h"

static void metrics_usage(FILE *f) {
    fprintf(f,
            "usage: allclear metrics [--y] PRED GT\n\n"
            "Prints the PSNR and SSIM of the image PRED against the ground truth GT (PNG or\n"
            "JPEG, same size), with the reference definitions: PSNR on images clamped to [0,1];\n"
            "SSIM with an 11x11 Gaussian window (sigma 1.5), per channel, on PRED as it is.\n\n"
            "options:\n"
            "  --y         both metrics on the luma channel Y (MATLAB rgb2ycbcr), as papers\n"
            "              report for rain removal\n"
            "  -h, --help  show this help\n");
}

int ac_cmd_metrics(int argc, char **argv) {
    const char *files[2];
    int nfiles = 0;
    bool y = false, opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            metrics_usage(stdout);
            return 0;
        } else if (!opts_done && !strcmp(a, "--y")) {
            y = true;
        } else if (!opts_done && !strcmp(a, "--")) {
            opts_done = true;
        } else if (!opts_done && a[0] == '-' && a[1]) {
            fprintf(stderr, "allclear: metrics: unknown option '%s' (see 'allclear metrics --help')\n", a);
            return 2;
        } else if (nfiles < 2) {
            files[nfiles++] = a;
        } else {
            fprintf(stderr, "allclear: metrics: expected two images, got more ('%s')\n", a);
            return 2;
        }
    }
    if (nfiles != 2) {
        fprintf(stderr, "allclear: metrics: expected two images, PRED and GT (see 'allclear metrics --help')\n");
        return 2;
    }
    ac_tensor *img[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        if (ac_image_read(files[k], &img[k]) != AC_OK) {
            fprintf(stderr, "allclear: %s\n", ac_error_message());
            ac_tensor_free(img[0]);
            return 2;
        }
    }
    ac_metrics m;
    ac_status st = ac_metrics_compute(img[0], img[1], y, &m);
    ac_tensor_free(img[0]);
    ac_tensor_free(img[1]);
    if (st) {
        fprintf(stderr, "allclear: %s, %s: %s\n", files[0], files[1], ac_error_message());
        return 2;
    }
    if (isinf(m.psnr)) printf("PSNR inf\n");
    else printf("PSNR %.4f\n", m.psnr);
    printf("SSIM %.6f\n", m.ssim);
    return 0;
}
