// fuzz_pickle.c: libFuzzer harness for the restricted pickle machine (src/io/pickle.c,
// pickle_objects.c) on its own: the input is run as a sequence of pickles (as a legacy torch
// file holds five), with a persistent-load hook that makes storage references the way
// torch_load.c does; every result is then inspected (a bounded walk that describes values
// and looks keys up, as the checkpoint reader does).
#include "fuzz_util.h"
#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ac_status persload(void *ctx, ac_pickle *vm, const ac_pk_value *pid, ac_pk_value **out) {
    (void)ctx;
    if (pid->kind != AC_PK_TUPLE || pid->u.seq.n < 3 || pid->u.seq.items[2]->kind != AC_PK_STR)
        return ac_fail(AC_ERR_FORMAT, "persistent id is not a storage tuple");
    const ac_pk_value *type = pid->u.seq.items[1];
    ac_pk_dtype dt = type->kind == AC_PK_GLOBAL && type->u.global.fn == AC_PK_FN_STORAGE_TYPE ? type->u.global.dtype
                                                                                            : AC_PK_F32;
    int64_t numel = pid->u.seq.n >= 5 && pid->u.seq.items[4]->kind == AC_PK_INT ? pid->u.seq.items[4]->u.i : 0;
    *out = ac_pickle_new_storage(vm, pid->u.seq.items[2]->u.str.data, dt, numel, 0, false);
    return *out ? AC_OK : AC_ERR_NOMEM;
}

// Describes v and what it holds, at most `depth` levels down and `*budget` values in all
// (values may form cycles: a list can be appended to itself).
static void walk(const ac_pk_value *v, int depth, int *budget) {
    char buf[256];
    if (--*budget < 0) return;
    ac_pk_describe(v, buf, sizeof buf);
    ac_fuzz_sink = (float)strlen(buf);
    if (depth == 0) return;
    switch (v->kind) {
    case AC_PK_TUPLE: case AC_PK_LIST: case AC_PK_SET:
        for (size_t i = 0; i < v->u.seq.n; i++) walk(v->u.seq.items[i], depth - 1, budget);
        break;
    case AC_PK_DICT:
        (void)ac_pk_dict_get(v, "state_dict");
        for (size_t i = 0; i < v->u.dict.n; i++) {
            walk(v->u.dict.keys[i], depth - 1, budget);
            walk(v->u.dict.vals[i], depth - 1, budget);
        }
        break;
    case AC_PK_OBJECT:
        walk(v->u.obj.callable, depth - 1, budget);
        if (v->u.obj.args) walk(v->u.obj.args, depth - 1, budget);
        if (v->u.obj.state) walk(v->u.obj.state, depth - 1, budget);
        break;
    case AC_PK_TENSOR: {
        int64_t span = 0;  // as torch_load.c reads them
        for (int d = 0; d < v->u.tensor.ndim; d++) span += v->u.tensor.size[d] + v->u.tensor.stride[d];
        ac_fuzz_sink = (float)span;
        walk(v->u.tensor.storage, depth - 1, budget);
        break;
    }
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ac_pickle *vm = ac_pickle_new();
    size_t pos = 0;
    for (int k = 0; k < 6 && pos < size; k++) {
        size_t used = 0;
        ac_pk_value *v = NULL;
        if (ac_pickle_run(vm, data + pos, size - pos, &used, persload, NULL, &v) != AC_OK) break;
        int budget = 4096;
        walk(v, 4, &budget);
        pos += used;
    }
    ac_pickle_free(vm);
    return 0;
}
