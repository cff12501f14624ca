// tbevents.c: TFRecord framing and the few protobuf fields of Event/Summary we write.
#include "io/tbevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct ac_tb_writer {
    FILE *f;
    char *path;
};

uint32_t ac_crc32c(const void *data, size_t n) {
    static uint32_t table[256];
    static int ready;
    if (!ready) {  // benign race: every thread writes the same values
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *p = data;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

uint32_t ac_crc32c_masked(const void *data, size_t n) {
    uint32_t c = ac_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// A tiny protobuf encoder into a fixed buffer (our messages are small).
typedef struct pb { unsigned char buf[1024]; size_t n; bool overflow; } pb;

static void pb_byte(pb *b, unsigned char c) {
    if (b->n < sizeof b->buf) b->buf[b->n++] = c;
    else b->overflow = true;
}
static void pb_varint(pb *b, uint64_t v) {
    while (v >= 0x80) { pb_byte(b, (unsigned char)(v | 0x80)); v >>= 7; }
    pb_byte(b, (unsigned char)v);
}
static void pb_bytes(pb *b, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) pb_byte(b, ((const unsigned char *)p)[i]);
}
static void pb_le(pb *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) pb_byte(b, (unsigned char)(v >> (8 * i)));
}
static void pb_len_field(pb *b, int field, const void *p, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_bytes(b, p, n);
}

static double now_seconds(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

static ac_status write_record(ac_tb_writer *w, const pb *event) {
    if (event->overflow) return ac_fail(AC_ERR_ARG, "TensorBoard event too large");
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)event->n >> (8 * i));
    uint32_t lc = ac_crc32c_masked(len, 8), dc = ac_crc32c_masked(event->buf, event->n);
    unsigned char lcb[4], dcb[4];
    for (int i = 0; i < 4; i++) {
        lcb[i] = (unsigned char)(lc >> (8 * i));
        dcb[i] = (unsigned char)(dc >> (8 * i));
    }
    if (fwrite(len, 1, 8, w->f) != 8 || fwrite(lcb, 1, 4, w->f) != 4 ||
        fwrite(event->buf, 1, event->n, w->f) != event->n || fwrite(dcb, 1, 4, w->f) != 4 ||
        fflush(w->f) != 0)
        return ac_fail(AC_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    return AC_OK;
}

static void event_header(pb *b, int64_t step) {
    double t = now_seconds();
    uint64_t bits;
    memcpy(&bits, &t, 8);
    pb_varint(b, 1 << 3 | 1);  // wall_time, fixed64
    pb_le(b, bits, 8);
    pb_varint(b, 2 << 3 | 0);  // step, varint
    pb_varint(b, (uint64_t)step);
}

ac_status ac_tb_open(const char *dir, ac_tb_writer **out) {
    *out = NULL;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    size_t n = strlen(dir) + strlen(host) + 64;
    char *path = ac_xmalloc(n);
    snprintf(path, n, "%s/events.out.tfevents.%lld.%s", dir, (long long)now_seconds(), host);
    FILE *f = fopen(path, "wb");
    if (!f) {
        ac_status st = ac_fail(AC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(path);
        return st;
    }
    ac_tb_writer *w = ac_xcalloc(1, sizeof *w);
    w->f = f;
    w->path = path;
    pb b = {0};
    event_header(&b, 0);
    pb_len_field(&b, 3, "brain.Event:2", 13);  // file_version
    ac_status st = write_record(w, &b);
    if (st != AC_OK) {
        ac_tb_close(w);
        return st;
    }
    *out = w;
    return AC_OK;
}

ac_status ac_tb_scalar(ac_tb_writer *w, const char *tag, float value, int64_t step) {
    pb val = {0}, summary = {0}, event = {0};
    pb_len_field(&val, 1, tag, strlen(tag));
    uint32_t bits;
    memcpy(&bits, &value, 4);
    pb_varint(&val, 2 << 3 | 5);  // simple_value, fixed32
    pb_le(&val, bits, 4);
    pb_len_field(&summary, 1, val.buf, val.n);
    event_header(&event, step);
    pb_len_field(&event, 5, summary.buf, summary.n);
    if (val.overflow || summary.overflow) event.overflow = true;
    return write_record(w, &event);
}

void ac_tb_close(ac_tb_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    free(w->path);
    free(w);
}

const char *ac_tb_path(const ac_tb_writer *w) { return w->path; }
