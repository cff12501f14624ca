// test_safetensors.c: round trip, dtype conversion and rejection of malformed headers.
#include <time.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "testlib.h"

static void test_round_trip(void) {
    ac_tensor_map *m = ac_tensor_map_new();
    ac_tensor *a = ac_tensor_new4(2, 3, 4, 5);
    for (size_t i = 0; i < ac_numel(a); i++) a->data[i] = (float)i * 0.5f - 3.0f;
    ac_tensor_map_put(m, "b.weight", a);
    ac_tensor_map_put(m, "a.slope", ac_tensor_new1(1));
    ac_tensor_map_get(m, "a.slope")->data[0] = 0.25f;
    ac_tensor_map_set_meta(m, "width", "16");
    char path[] = "/tmp/ac_st_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(ac_safetensors_write(path, m) == AC_OK);
    ac_tensor_map *r = NULL;
    CHECK(ac_safetensors_read(path, &r) == AC_OK);
    if (r) {
        CHECK(r->count == 2 && !strcmp(r->items[0].name, "b.weight"));  // order kept
        ac_tensor *b = ac_tensor_map_get(r, "b.weight");
        CHECK(b && ac_same_shape(a, b));
        if (b) t_close("round trip", b->data, a->data, ac_numel(a), 0, 0);
        CHECK(ac_tensor_map_get(r, "a.slope")->data[0] == 0.25f);
        const char *w = ac_tensor_map_meta(r, "width");
        CHECK(w && !strcmp(w, "16"));
    }
    ac_tensor_map_free(r);
    ac_tensor_map_free(m);
    unlink(path);
}

// Builds a file image: 8-byte length, header text, data bytes.
static size_t make_file(unsigned char *buf, const char *header, const void *data, size_t dlen) {
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    memcpy(buf + 8 + h, data, dlen);
    return 8 + h + dlen;
}

static void test_dtypes(void) {
    unsigned char buf[512];
    uint16_t half[3] = {0x3c00, 0xc000, 0x3555};    // 1, -2, ~0.3333
    uint16_t bf[2] = {0x3f80, 0xc040};               // 1, -3
    double dbl[1] = {0.125};
    unsigned char data[6 + 4 + 8];
    memcpy(data, half, 6);
    memcpy(data + 6, bf, 4);
    memcpy(data + 10, dbl, 8);
    size_t n = make_file(buf,
                         "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]},"
                         "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[10,18]}}",
                         data, sizeof data);
    ac_tensor_map *m = NULL;
    CHECK(ac_safetensors_read_mem(buf, n, &m) == AC_OK);
    if (!m) return;
    float want_h[3] = {1.0f, -2.0f, 0.33325195f}, want_b[2] = {1.0f, -3.0f}, want_d = 0.125f;
    t_close("f16", ac_tensor_map_get(m, "h")->data, want_h, 3, 1e-7, 0);
    t_close("bf16", ac_tensor_map_get(m, "b")->data, want_b, 2, 0, 0);
    t_close("f64", ac_tensor_map_get(m, "d")->data, &want_d, 1, 0, 0);
    ac_tensor_map_free(m);
}

static void expect_reject(const char *what, const char *header, size_t dlen, const char *needle) {
    unsigned char buf[1024], data[64] = {0};
    size_t n = make_file(buf, header, data, dlen);
    ac_tensor_map *m = NULL;
    ac_status st = ac_safetensors_read_mem(buf, n, &m);
    CHECK_MSG(st != AC_OK && m == NULL, "%s: accepted", what);
    CHECK_MSG(strstr(ac_error_message(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
              ac_error_message(), needle);
}

static void test_rejects(void) {
    unsigned char tiny[4] = {0};
    ac_tensor_map *m = NULL;
    CHECK(ac_safetensors_read_mem(tiny, 4, &m) != AC_OK);
    unsigned char big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0};
    CHECK(ac_safetensors_read_mem(big, 16, &m) != AC_OK && strstr(ac_error_message(), "exceeds"));
    expect_reject("bad json", "{\"a\":", 0, "JSON");
    expect_reject("overlap",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps");
    expect_reject("gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap");
    expect_reject("size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                  "shape needs");
    expect_reject("past end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                  "covers");
    expect_reject("dup",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate");
    expect_reject("dtype", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                  "dtype");
    expect_reject("neg shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                  "shape");
    expect_reject("meta", "{\"__metadata__\":{\"k\":3}}", 0, "not a string");
    CHECK(ac_safetensors_read("/nonexistent/x.safetensors", &m) == AC_ERR_IO);
    CHECK(strstr(ac_error_message(), "/nonexistent/x.safetensors") != NULL);
}

static void test_write_failure_leaves_nothing(void) {
    ac_tensor_map *m = ac_tensor_map_new();
    ac_tensor_map_put(m, "x", ac_tensor_new1(4));
    CHECK(ac_safetensors_write("/nonexistent-dir/out.safetensors", m) == AC_ERR_IO);
    ac_tensor_map_free(m);
}

// Header limits and number checks added while fuzzing (fuzz/fuzz_safetensors.c).
static void test_header_limits(void) {
    expect_reject("fractional offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4.5]}}", 4,
                  "invalid data_offsets");
    expect_reject("offset string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4,
                  "invalid data_offsets");
    expect_reject("offset 2^60", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1152921504606846976]}}", 4,
                  "invalid data_offsets");
    expect_reject("fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "invalid shape");
    expect_reject("dim 2^31", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483648],\"data_offsets\":[0,4]}}", 4, "invalid shape");
    expect_reject("5 dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "5 dimensions");
    expect_reject("numel overflow",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,2147483647],\"data_offsets\":[0,4]}}",
                  4, "too large");
    // Only whitespace may follow the header object (cJSON alone ignores trailing text).
    expect_reject("trailing text", "{}  x", 0, "not a valid JSON object");
    expect_reject("two objects", "{} {}", 0, "not a valid JSON object");
    unsigned char buf[256];
    ac_tensor_map *m = NULL;
    size_t n = make_file(buf, "{} \t\r\n  ", "", 0);
    CHECK_MSG(ac_safetensors_read_mem(buf, n, &m) == AC_OK && m && m->count == 0, "%s", ac_error_message());
    ac_tensor_map_free(m);
    // A zero-sized tensor may have any other dimension; it needs no data.
    n = make_file(buf, "{\"z\":{\"dtype\":\"F16\",\"shape\":[0,2147483647],\"data_offsets\":[0,0]}}", "", 0);
    m = NULL;
    CHECK_MSG(ac_safetensors_read_mem(buf, n, &m) == AC_OK && m && m->count == 1, "%s", ac_error_message());
    ac_tensor_map_free(m);

    // 100000 tensors load in linear-logarithmic time (the duplicate-name check and the map
    // inserts were quadratic: minutes); a duplicate among them is still found.
    const int many = 100000;
    size_t cap = (size_t)many * 64 + 64;
    char *h = malloc(cap);
    for (int dup = 0; dup < 2; dup++) {
        size_t k = (size_t)sprintf(h, "{");
        for (int i = 0; i < many; i++)
            k += (size_t)sprintf(h + k, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "",
                                 dup && i == many - 1 ? 17 : i);
        k += (size_t)sprintf(h + k, "}");
        unsigned char *file = malloc(k + 8);
        size_t fn = make_file(file, h, "", 0);
        clock_t t0 = clock();
        m = NULL;
        ac_status st = ac_safetensors_read_mem(file, fn, &m);
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        if (dup) CHECK_MSG(st == AC_ERR_FORMAT && strstr(ac_error_message(), "duplicate tensor name 't17'"), "%s", ac_error_message());
        else CHECK_MSG(st == AC_OK && m && m->count == many && !strcmp(m->items[many - 1].name, "t99999"), "%s", ac_error_message());
        CHECK_MSG(secs < 10, "%d tensors took %.1f s", many, secs);
        ac_tensor_map_free(m);
        free(file);
    }
    // __metadata__ holds at most 4096 entries.
    size_t k = (size_t)sprintf(h, "{\"__metadata__\":{");
    for (int i = 0; i < 5000; i++) k += (size_t)sprintf(h + k, "%s\"k%d\":\"v\"", i ? "," : "", i);
    sprintf(h + k, "}}");
    unsigned char *file = malloc(strlen(h) + 8);
    n = make_file(file, h, "", 0);
    CHECK(ac_safetensors_read_mem(file, n, &m) == AC_ERR_FORMAT && strstr(ac_error_message(), "more than 4096"));
    free(file);
    free(h);
}

int main(void) {
    RUN(test_round_trip);
    RUN(test_dtypes);
    RUN(test_rejects);
    RUN(test_header_limits);
    RUN(test_write_failure_leaves_nothing);
    return ac_test_finish();
}
