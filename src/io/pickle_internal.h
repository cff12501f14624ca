// pickle_internal.h: what pickle.c (the opcode machine) and pickle_objects.c (values,
// allocation limits, the allow-list of globals, tensor rebuilders) share. Not public.
#ifndef AC_PICKLE_INTERNAL_H
#define AC_PICKLE_INTERNAL_H

#include "io/pickle.h"

typedef struct ac_pk_memo_slot {
    uint64_t key;
    ac_pk_value *v;  // NULL: empty slot
} ac_pk_memo_slot;

struct ac_pickle {
    ac_pickle_limits lim;
    ac_pk_value *allocs;
    size_t n_objects, n_bytes;
    size_t max_bytes_now;  // the byte limit of the current run (see ac_pickle_run)
    ac_pk_value v_none, v_true, v_false;
    // State of the current run.
    ac_pk_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    ac_pk_memo_slot *memo;
    size_t memo_cap, memo_n;
    const unsigned char *buf;
    size_t len, pos, op_pos;
    unsigned char op;
    ac_pickle_persload_fn persload;
    void *ctx;
    ac_status err;  // status of the failure being reported
};

// Records "pickle: <message> at byte N (opcode X)" with ac_fail; returns st.
ac_status ac_pk_err(ac_pickle *vm, ac_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

// Constructors: NULL (with the error recorded) when a limit is reached or memory is short.
ac_pk_value *ac_pk_new_value(ac_pickle *vm, ac_pk_kind kind);
ac_pk_value *ac_pk_new_str(ac_pickle *vm, ac_pk_kind kind, const void *data, size_t len);
ac_pk_value *ac_pk_new_int(ac_pickle *vm, int64_t i);
// An integer from little-endian two's complement bytes (an int when it fits in 64 bits).
ac_pk_value *ac_pk_new_long(ac_pickle *vm, const unsigned char *b, size_t n);
ac_pk_value *ac_pk_new_seq(ac_pickle *vm, ac_pk_kind kind, ac_pk_value **items, size_t n);
ac_pk_value *ac_pk_new_global(ac_pickle *vm, const char *m, size_t mlen, const char *n, size_t nlen);

// Container updates (false with the error recorded on a limit).
bool ac_pk_deepen(ac_pickle *vm, ac_pk_value *parent, const ac_pk_value *child);
bool ac_pk_seq_push(ac_pickle *vm, ac_pk_value *seq, ac_pk_value *item);
bool ac_pk_dict_set(ac_pickle *vm, ac_pk_value *d, ac_pk_value *k, ac_pk_value *v);

// REDUCE / NEWOBJ / INST / OBJ without calling anything: allow-listed constructors build
// data, anything else an inert placeholder. level: nesting of _rebuild_from_type_v2 (0).
ac_pk_value *ac_pk_apply(ac_pickle *vm, ac_pk_value *callable, ac_pk_value *args, bool newobj, int level);

#endif
