// test_tbevents.c: CRC-32C test vectors and a TFRecord file read back field by field.
#define _GNU_SOURCE
#include <sys/stat.h>
#include <unistd.h>

#include "io/tbevents.h"
#include "testlib.h"

static void test_crc(void) {
    CHECK(ac_crc32c("123456789", 9) == 0xe3069283u);  // the standard check value
    unsigned char zeros[32] = {0};
    CHECK(ac_crc32c(zeros, 32) == 0x8a9136aau);       // RFC 3720 B.4
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void test_records(void) {
    char dir[] = "/tmp/ac_tb_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    ac_tb_writer *w = NULL;
    CHECK(ac_tb_open(dir, &w) == AC_OK);
    if (!w) return;
    CHECK(ac_tb_scalar(w, "loss/train", 0.5f, 7) == AC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s", ac_tb_path(w));
    ac_tb_close(w);
    FILE *f = fopen(path, "rb");
    unsigned char buf[1024];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t pos = 0;
    int records = 0;
    bool found_tag = false, found_value = false;
    while (pos + 12 <= n) {
        uint64_t len = le(buf + pos, 8);
        CHECK((uint32_t)le(buf + pos + 8, 4) == ac_crc32c_masked(buf + pos, 8));
        CHECK(pos + 12 + len + 4 <= n);
        const unsigned char *data = buf + pos + 12;
        CHECK((uint32_t)le(data + len, 4) == ac_crc32c_masked(data, len));
        if (records == 0) CHECK(memmem(data, len, "brain.Event:2", 13) != NULL);
        if (memmem(data, len, "loss/train", 10)) found_tag = true;
        float half = 0.5f;
        unsigned char want[5] = {0x15};
        memcpy(want + 1, &half, 4);
        if (memmem(data, len, want, 5)) found_value = true;
        pos += 12 + len + 4;
        records++;
    }
    CHECK(records == 2 && pos == n && found_tag && found_value);
    unlink(path);
    rmdir(dir);
    CHECK(ac_tb_open("/nonexistent-dir", &w) == AC_ERR_IO);
}

int main(void) {
    RUN(test_crc);
    RUN(test_records);
    return ac_test_finish();
}
