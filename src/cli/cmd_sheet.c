// cmd_sheet.c: `allclear sheet`: a contact sheet (grid) of images in one PNG, e.g. the
// demo's degraded | restored | clean rows. Each image is scaled to fit a square tile,
// keeping its aspect ratio, centred on white.
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/rng.h"
#include "image/image.h"

int ac_cmd_sheet(int argc, char **argv) {
    const char *out = NULL;
    int cols = 3, tile = 192;
    const ac_opt opts[] = {
        {"out", 'o', AC_OPT_STRING, &out, "OUT.png", "the contact sheet to write (required)", 0, 0},
        {"cols", 0, AC_OPT_INT, &cols, "N", "images per row (default 3)", 1, 64},
        {"tile", 0, AC_OPT_INT, &tile, "PX", "tile side in pixels (default 192)", 16, 4096},
    };
    const ac_cmd_spec spec = {"sheet", "-o OUT.png [--cols N] [--tile PX] IMAGE...",
                              "Arranges the images row by row in a grid of square tiles and writes "
                              "one PNG.",
                              opts, sizeof opts / sizeof opts[0], 1, -1};
    ac_str_list pos;
    int rc = ac_parse_args(&spec, argc, argv, &pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!out) {
        ac_cli_error("sheet: -o OUT.png is required");
        ac_str_list_free(&pos);
        return 2;
    }
    if (ac_cli_check_out_file("sheet", out)) {
        ac_str_list_free(&pos);
        return 2;
    }
    const int gap = 4, n = pos.count, rows = (n + cols - 1) / cols;
    const int sw = cols * tile + (cols + 1) * gap, sh = rows * tile + (rows + 1) * gap;
    ac_tensor *sheet = ac_tensor_new4(1, 3, sh, sw);
    ac_init_const(sheet, 1.0f);
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        ac_tensor *img = NULL;
        if (ac_image_read(pos.items[i], &img) != AC_OK) {
            ac_cli_error("%s", ac_error_message());
            rc = 2;
            break;
        }
        int h = img->shape[2], w = img->shape[3];
        int th = h >= w ? tile : (int)((double)tile * h / w + 0.5);
        int tw = w >= h ? tile : (int)((double)tile * w / h + 0.5);
        th = th < 1 ? 1 : th;
        tw = tw < 1 ? 1 : tw;
        ac_tensor *small = ac_image_resize(img, th, tw);
        int y0 = gap + (i / cols) * (tile + gap) + (tile - th) / 2;
        int x0 = gap + (i % cols) * (tile + gap) + (tile - tw) / 2;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < th; y++)
                memcpy(sheet->data + ((size_t)c * sh + y0 + y) * sw + x0,
                       small->data + ((size_t)c * th + y) * tw, (size_t)tw * sizeof(float));
        ac_tensor_free(small);
        ac_tensor_free(img);
    }
    if (rc == 0 && ac_image_write_png(out, sheet, 8) != AC_OK) {
        ac_cli_error("%s", ac_error_message());
        rc = 1;
    }
    ac_tensor_free(sheet);
    ac_str_list_free(&pos);
    return rc;
}
