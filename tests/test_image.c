// test_image.c: the PNG/JPEG reader against Pillow's decoding of every layout (fixtures from
// tools/golden/gen_images.py), broken and missing files, the pixel limit, the PNG writer's
// quantisation and atomicity, and the pixel helpers against PyTorch (resize, reflect pad).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "io/read_all.h"
#include "testlib.h"

#define FIX "tests/golden/image/"

// Reads "W H MAXVAL" and W*H*3 samples; returns floats scaled to [0, 1] (caller frees).
static float *read_expect(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    int maxval;
    if (fscanf(f, "%d %d %d", w, h, &maxval) != 3) {
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)*w * *h * 3;
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        long s;
        if (fscanf(f, "%ld", &s) != 1) {
            free(v);
            fclose(f);
            return NULL;
        }
        v[i] = (float)((double)s / maxval);
    }
    fclose(f);
    return v;
}

static void check_fixture(const char *name, double atol) {
    char path[256], epath[300];
    snprintf(path, sizeof path, FIX "%s", name);
    snprintf(epath, sizeof epath, "%s.txt", path);
    int w, h;
    float *want = read_expect(epath, &w, &h);
    CHECK_MSG(want != NULL, "cannot read %s", epath);
    if (!want) return;
    ac_tensor *img = NULL;
    ac_status st = ac_image_read(path, &img);
    CHECK_MSG(st == AC_OK, "%s: %s", name, ac_error_message());
    if (img) {
        CHECK_MSG(img->ndim == 4 && img->shape[0] == 1 && img->shape[1] == 3 && img->shape[2] == h &&
                      img->shape[3] == w, "%s: shape", name);
        t_close(name, img->data, want, (size_t)w * h * 3, atol, 0);
        ac_image_info info;
        CHECK(ac_image_probe(path, &info) == AC_OK && info.width == w && info.height == h);
    }
    ac_tensor_free(img);
    free(want);
}

static void test_png_layouts(void) {
    const char *names[] = {"rgb8.png", "rgba8.png", "gray8.png", "graya8.png", "gray16.png",
                           "rgb16.png", "rgba16.png", "gray2.png", "gray1.png",
                           "rgb8_interlaced.png", "palette8.png", "palette4.png", "png_named.jpg"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_fixture(names[i], 1e-7);
    ac_image_info info;
    CHECK(ac_image_probe(FIX "rgb16.png", &info) == AC_OK && info.format == AC_IMAGE_PNG &&
          info.bit_depth == 16 && info.channels == 3);
    CHECK(ac_image_probe(FIX "palette4.png", &info) == AC_OK && info.bit_depth == 4);
}

static void test_jpeg_layouts(void) {
    // Same libjpeg-turbo as Pillow: exact for RGB and gray; CMYK goes through our own
    // (1-c)(1-k) conversion, Pillow rounds each step to 8 bits.
    check_fixture("baseline.jpg", 1e-6);
    check_fixture("progressive.jpg", 1e-6);
    check_fixture("gray.jpg", 1e-6);
    check_fixture("cmyk.jpg", 1.5 / 255);
    ac_image_info info;
    CHECK(ac_image_probe(FIX "cmyk.jpg", &info) == AC_OK && info.format == AC_IMAGE_JPEG && info.channels == 4);
}

static void expect_error(const char *path, ac_status want, const char *needle) {
    ac_tensor *img = (ac_tensor *)1;
    ac_status st = ac_image_read(path, &img);
    CHECK_MSG(st == want, "%s: status %s, want %s (%s)", path, ac_status_name(st), ac_status_name(want),
              ac_error_message());
    CHECK(img == NULL);
    CHECK_MSG(strstr(ac_error_message(), path) == ac_error_message(), "message does not start with the file: %s",
              ac_error_message());
    if (needle) CHECK_MSG(strstr(ac_error_message(), needle) != NULL, "'%s' not in: %s", needle, ac_error_message());
}

static void test_broken_files(void) {
    expect_error(FIX "truncated.jpg", AC_ERR_FORMAT, "truncated");
    expect_error(FIX "truncated.png", AC_ERR_FORMAT, "truncated");
    expect_error(FIX "corrupt.png", AC_ERR_FORMAT, "corrupt PNG");
    expect_error(FIX "text.png", AC_ERR_FORMAT, "not a PNG or JPEG");
    expect_error(FIX "empty.png", AC_ERR_FORMAT, "empty");
    expect_error(FIX "no_such_file.png", AC_ERR_IO, "cannot open");
    expect_error(FIX, AC_ERR_IO, "folder");
    // every prefix of a good file fails cleanly (no crash, no leak under ASan)
    unsigned char *buf;
    size_t size;
    CHECK(ac_file_read_all(FIX "progressive.jpg", 0, &buf, &size) == AC_OK);
    int failures = 0;
    for (size_t n = 0; n < size - 2; n += 7) {
        ac_tensor *img = NULL;
        if (ac_image_decode(buf, n, "x.jpg", &img) != AC_OK) failures++;
        ac_tensor_free(img);
    }
    CHECK_MSG(failures == (int)((size - 3) / 7 + 1), "%d truncated JPEG prefixes decoded", failures);
    free(buf);
    CHECK(ac_file_read_all(FIX "rgb8_interlaced.png", 0, &buf, &size) == AC_OK);
    failures = 0;
    for (size_t n = 0; n < size - 12; n += 5) {  // everything before IEND matters
        ac_tensor *img = NULL;
        if (ac_image_decode(buf, n, "x.png", &img) != AC_OK) failures++;
        ac_tensor_free(img);
    }
    CHECK_MSG(failures == (int)((size - 13) / 5 + 1), "%d truncated PNG prefixes decoded", failures);
    free(buf);
}

static void test_pixel_limit(void) {
    CHECK(ac_image_pixel_limit() == AC_IMAGE_DEFAULT_PIXEL_LIMIT);
    ac_image_set_pixel_limit(24 * 20 - 1);
    expect_error(FIX "rgb8.png", AC_ERR_NOMEM, "limit");
    expect_error(FIX "baseline.jpg", AC_ERR_NOMEM, "limit");
    ac_image_set_pixel_limit(24 * 20);
    ac_tensor *img = NULL;
    CHECK(ac_image_read(FIX "rgb8.png", &img) == AC_OK);
    ac_tensor_free(img);
    ac_image_set_pixel_limit(AC_IMAGE_DEFAULT_PIXEL_LIMIT);
}

static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static void test_write_roundtrip(void) {
    char dir[] = "/tmp/ac_test_image_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/out.png", dir);
    ac_tensor *t = ac_tensor_new4(1, 3, 5, 7);
    const float special[] = {-0.5f, 0.0f, 1.0f, 1.7f, NAN, 0.5f / 255, 0.49f / 255, 0.51f / 255, 254.5f / 255, 0.25f};
    ac_rng r;
    ac_rng_seed(&r, 3);
    size_t n = ac_numel(t);
    for (size_t i = 0; i < n; i++) t->data[i] = i < 10 ? special[i] : ac_rng_uniform(&r);
    for (int bits = 8; bits <= 16; bits += 8) {
        CHECK(ac_image_write_png(path, t, bits) == AC_OK);
        ac_tensor *back = NULL;
        CHECK(ac_image_read(path, &back) == AC_OK);
        if (!back) continue;
        float maxv = bits == 8 ? 255.0f : 65535.0f;
        float *want = malloc(n * sizeof *want);
        for (size_t i = 0; i < n; i++) {
            float v = t->data[i];
            v = isnan(v) ? 0.0f : v < 0 ? 0.0f : v > 1 ? 1.0f : v;
            want[i] = floorf(v * maxv + 0.5f) / maxv;
        }
        t_close(bits == 8 ? "png8" : "png16", back->data, want, n, 1e-7, 0);
        if (bits == 8) {
            CHECK(fabsf(back->data[5] - 1.0f / 255) < 1e-7f);  // 0.5/255 rounds up
            CHECK(back->data[6] == 0.0f);
        }
        free(want);
        ac_tensor_free(back);
    }
    // gray (C = 1) writes a gray PNG that reads back replicated
    ac_tensor *g = ac_tensor_new(3, (int[]){1, 4, 6});
    for (int i = 0; i < 24; i++) g->data[i] = (float)i / 23;
    CHECK(ac_image_write_png(path, g, 8) == AC_OK);
    ac_image_info info;
    CHECK(ac_image_probe(path, &info) == AC_OK && info.channels == 1 && info.width == 6 && info.height == 4);
    ac_tensor *back = NULL;
    CHECK(ac_image_read(path, &back) == AC_OK);
    if (back) CHECK(back->data[24 + 23] == 1.0f && back->data[48 + 12] == floorf(12.0f / 23 * 255 + 0.5f) / 255);
    ac_tensor_free(back);
    ac_tensor_free(g);
    // a failed write leaves nothing behind and keeps the old file
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing_dir/out.png", dir);
    CHECK(ac_image_write_png(bad, t, 8) == AC_ERR_IO);
    CHECK(strstr(ac_error_message(), bad) != NULL);
    CHECK(access(bad, F_OK) != 0);
    CHECK(count_temp_files(dir) == 0);
    CHECK(ac_image_probe(path, &info) == AC_OK && info.width == 6);
    ac_tensor_free(t);
    unlink(path);
    rmdir(dir);
}

// ---- pixel helpers against PyTorch ----

typedef struct block {
    char name[32];
    int shape[4];
    float *v;
} block;

static int read_blocks(const char *path, block *b, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    while (n < max && fscanf(f, "%31s %d %d %d %d", b[n].name, &b[n].shape[0], &b[n].shape[1], &b[n].shape[2],
                             &b[n].shape[3]) == 5) {
        size_t k = (size_t)b[n].shape[0] * b[n].shape[1] * b[n].shape[2] * b[n].shape[3];
        b[n].v = malloc(k * sizeof(float));
        for (size_t i = 0; i < k; i++)
            if (fscanf(f, "%f", &b[n].v[i]) != 1) break;
        n++;
    }
    fclose(f);
    return n;
}

static void test_resize_pad_vs_torch(void) {
    block b[16];
    int n = read_blocks(FIX "resize.txt", b, 16);
    CHECK(n == 7);
    if (n < 1) return;
    ac_tensor *x = ac_tensor_new(4, b[0].shape);
    memcpy(x->data, b[0].v, ac_numel(x) * sizeof(float));
    int resized = 0;
    for (int i = 1; i < n; i++) {
        int oh, ow, pb, pr;
        ac_tensor *y = NULL;
        if (sscanf(b[i].name, "resize_%dx%d", &oh, &ow) == 2) {
            y = ac_image_resize(x, oh, ow);
            resized++;
        } else if (sscanf(b[i].name, "pad_b%d_r%d", &pb, &pr) == 2) {
            y = ac_image_pad_reflect(x, pb, pr);
        }
        CHECK(y != NULL);
        if (!y) continue;
        CHECK(y->shape[2] == b[i].shape[2] && y->shape[3] == b[i].shape[3]);
        t_close(b[i].name, y->data, b[i].v, ac_numel(y), 2e-7, 1e-6);  // summation order differs
        ac_tensor_free(y);
    }
    CHECK(resized == 5);
    for (int i = 0; i < n; i++) free(b[i].v);
    ac_tensor_free(x);
}

static void test_crop_flip_pad_tiny(void) {
    ac_tensor *t = ac_tensor_new4(1, 2, 3, 4);
    for (int i = 0; i < 24; i++) t->data[i] = (float)i;
    ac_tensor *c = ac_image_crop(t, 1, 2, 2, 2);
    CHECK(c->data[0] == 6 && c->data[1] == 7 && c->data[2] == 10 && c->data[4] == 18 && c->data[7] == 23);
    ac_tensor_free(c);
    ac_image_flip_h(t);
    CHECK(t->data[0] == 3 && t->data[3] == 0 && t->data[4] == 7 && t->data[23] == 20);
    ac_image_flip_h(t);
    // padding far beyond the size keeps reflecting: row index pattern 0 1 2 1 0 1 2 ...
    ac_tensor *p = ac_image_pad_reflect(t, 9, 0);
    const int pattern[12] = {0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1};
    bool ok = true;
    for (int i = 0; i < 12; i++) ok &= p->data[i * 4] == (float)(pattern[i] * 4);
    CHECK(ok);
    ac_tensor_free(p);
    ac_tensor *one = ac_tensor_new4(1, 1, 1, 1);
    one->data[0] = 5;
    p = ac_image_pad_reflect(one, 3, 2);
    CHECK(p->shape[2] == 4 && p->shape[3] == 3 && p->data[11] == 5);
    ac_tensor_free(p);
    ac_tensor_free(one);
    ac_tensor_free(t);
}

// ---- limits added while fuzzing (fuzz/fuzz_image.c) ----

static uint32_t crc32_bytes(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

// A PNG header may claim up to the pixel limit, but the pixels must fit in what deflate can
// expand the file's bytes to (1032:1): a 70-byte file claiming 10000 x 10000 is refused
// before 100 MB of rows are allocated. A legitimately tiny 1000 x 1000 file still decodes.
static void test_png_size_bound(void) {
    ac_tensor *one = ac_tensor_new4(1, 1, 1, 1);
    unsigned char *png;
    size_t size;
    CHECK(ac_image_encode_png(one, 8, &png, &size) == AC_OK);
    CHECK(size < 100 && !memcmp(png + 12, "IHDR", 4));
    put_be32(png + 16, 10000);
    put_be32(png + 20, 10000);
    put_be32(png + 29, crc32_bytes(png + 12, 17));
    ac_tensor *img = NULL;
    ac_status st = ac_image_decode(png, size, "bomb.png", &img);
    CHECK_MSG(st == AC_ERR_FORMAT && img == NULL && strstr(ac_error_message(), "bomb.png: corrupt PNG") &&
                  strstr(ac_error_message(), "10000x10000 pixels cannot come from"), "%s", ac_error_message());
    ac_image_info info;  // the header alone is still readable
    CHECK(ac_image_probe(FIX "gray8.png", &info) == AC_OK);
    free(png);
    ac_tensor_free(one);
    ac_tensor *flat = ac_tensor_new4(1, 1, 1000, 1000);
    CHECK(ac_image_encode_png(flat, 8, &png, &size) == AC_OK);
    CHECK_MSG(ac_image_decode(png, size, "flat.png", &img) == AC_OK && img && img->shape[3] == 1000, "%zu bytes: %s",
              size, ac_error_message());
    ac_tensor_free(img);
    ac_tensor_free(flat);
    free(png);
}

// A progressive JPEG whose first scan is repeated 600 times: libjpeg tolerates the repeats (a
// warning) and would redo the image for each; more than 500 scans is an error.
static void test_jpeg_scan_limit(void) {
    unsigned char *buf;
    size_t size;
    CHECK(ac_file_read_all(FIX "progressive.jpg", 0, &buf, &size) == AC_OK);
    // Find the first SOS segment and the end of its entropy-coded data.
    size_t pos = 2, sos = 0, end = 0;
    while (pos + 4 <= size && buf[pos] == 0xff) {
        unsigned marker = buf[pos + 1], len = (unsigned)buf[pos + 2] << 8 | buf[pos + 3];
        if (marker == 0xda) {
            sos = pos;
            end = pos + 2 + len;
            while (end + 1 < size && !(buf[end] == 0xff && buf[end + 1] != 0 && (buf[end + 1] < 0xd0 || buf[end + 1] > 0xd7)))
                end++;
            break;
        }
        pos += 2 + len;
    }
    CHECK(sos > 0 && end > sos && end < size);
    if (!(sos > 0 && end > sos && end < size)) {
        free(buf);
        return;
    }
    size_t scan = end - sos, copies = 600;
    unsigned char *bomb = malloc(size + scan * copies);
    memcpy(bomb, buf, end);
    for (size_t i = 0; i < copies; i++) memcpy(bomb + end + i * scan, buf + sos, scan);
    memcpy(bomb + end + copies * scan, buf + end, size - end);
    ac_tensor *img = NULL;
    ac_status st = ac_image_decode(bomb, size + scan * copies, "scans.jpg", &img);
    CHECK_MSG(st == AC_ERR_FORMAT && img == NULL && strstr(ac_error_message(), "more than 500 scans"), "%d %s", st,
              ac_error_message());
    // 100 repeats are tolerated.
    memcpy(bomb + end + 100 * scan, buf + end, size - end);
    st = ac_image_decode(bomb, size + scan * 100, "scans.jpg", &img);
    CHECK_MSG(st == AC_OK && img, "%s", ac_error_message());
    ac_tensor_free(img);
    free(bomb);
    free(buf);
}

int main(void) {
    RUN(test_png_layouts);
    RUN(test_jpeg_layouts);
    RUN(test_broken_files);
    RUN(test_pixel_limit);
    RUN(test_png_size_bound);
    RUN(test_jpeg_scan_limit);
    RUN(test_write_roundtrip);
    RUN(test_resize_pad_vs_torch);
    RUN(test_crop_flip_pad_tiny);
    return ac_test_finish();
}
