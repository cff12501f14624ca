// tbevents.h: TensorBoard event files (scalar summaries), written without TensorFlow: a
// sequence of TFRecords (length, masked CRC-32C, protobuf Event, masked CRC-32C), as in the
// shared spec formats.md. Users open the folder with `tensorboard --logdir`.
#ifndef AC_TBEVENTS_H
#define AC_TBEVENTS_H

#include "core/common.h"

typedef struct ac_tb_writer ac_tb_writer;

// Creates DIR/events.out.tfevents.<unix seconds>.<hostname> and writes the version record.
ac_status ac_tb_open(const char *dir, ac_tb_writer **out);
// Appends one scalar and flushes, so a running TensorBoard sees it at once.
ac_status ac_tb_scalar(ac_tb_writer *w, const char *tag, float value, int64_t step);
void ac_tb_close(ac_tb_writer *w);
const char *ac_tb_path(const ac_tb_writer *w);

// CRC-32C (Castagnoli) and TFRecord's masking, exposed for tests.
uint32_t ac_crc32c(const void *data, size_t n);
uint32_t ac_crc32c_masked(const void *data, size_t n);

#endif
