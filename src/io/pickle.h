// pickle.h: a restricted Python pickle machine (protocols 0-5 except out-of-band buffers)
// that builds plain data and NEVER imports, calls or executes anything. A GLOBAL is only a
// name; a short allow-list (OrderedDict, defaultdict, dict, set, frozenset, the torch tensor
// and parameter rebuilders, torch storage classes) is understood as data constructors, every
// other global (os.system, builtins.eval, torch.optim.Adam, user classes, ...) stays an
// inert name, and REDUCE/NEWOBJ/INST/OBJ/BUILD on it produce an inert placeholder object.
// Tensors are descriptors (storage reference, offset, sizes, strides); the caller
// (torch_load.c) resolves storages through the persistent-load hook and copies data.
// Every read is bounds-checked, sizes and nesting are limited, every failure is one
// ac_fail line naming the byte offset; all values belong to the machine and are freed with it.
#ifndef AC_PICKLE_H
#define AC_PICKLE_H

#include "core/common.h"

typedef enum ac_pk_kind {
    AC_PK_NONE,
    AC_PK_BOOL,
    AC_PK_INT,      // fits in int64
    AC_PK_BIGINT,   // larger integer: little-endian two's complement bytes in u.str
    AC_PK_FLOAT,
    AC_PK_STR,      // text, NUL-terminated (may hold inner NULs: use u.str.len)
    AC_PK_BYTES,
    AC_PK_TUPLE,
    AC_PK_LIST,
    AC_PK_SET,      // set or frozenset
    AC_PK_DICT,     // dict, OrderedDict, defaultdict: pairs in insertion order
    AC_PK_GLOBAL,   // a class or function name (never imported)
    AC_PK_OBJECT,   // inert placeholder for anything built from a global not allow-listed
    AC_PK_STORAGE,  // a torch storage reference (made by the persistent-load hook)
    AC_PK_TENSOR,   // a torch tensor descriptor
} ac_pk_kind;

// Element types of torch storages. The complex and quantised ones are known only so that
// legacy files can be walked past; their tensors cannot be converted to float32.
typedef enum ac_pk_dtype {
    AC_PK_DT_NONE = 0,
    AC_PK_F32, AC_PK_F64, AC_PK_F16, AC_PK_BF16,
    AC_PK_I64, AC_PK_I32, AC_PK_I16, AC_PK_I8, AC_PK_U8, AC_PK_BOOL_T,
    AC_PK_C64, AC_PK_C128, AC_PK_QI8, AC_PK_QU8, AC_PK_QI32, AC_PK_QU4X2, AC_PK_QU2X4,
} ac_pk_dtype;

// Allow-listed globals (anything else is AC_PK_FN_NONE: a mere name).
typedef enum ac_pk_fn {
    AC_PK_FN_NONE = 0,
    AC_PK_FN_ORDERED_DICT,
    AC_PK_FN_DEFAULT_DICT,
    AC_PK_FN_DICT,
    AC_PK_FN_SET,
    AC_PK_FN_FROZENSET,
    AC_PK_FN_REBUILD_TENSOR,      // torch._utils._rebuild_tensor (old)
    AC_PK_FN_REBUILD_TENSOR_V2,   // torch._utils._rebuild_tensor_v2
    AC_PK_FN_REBUILD_PARAMETER,   // torch._utils._rebuild_parameter(_with_state)
    AC_PK_FN_REBUILD_FROM_TYPE,   // torch._tensor._rebuild_from_type_v2
    AC_PK_FN_STORAGE_TYPE,        // torch.FloatStorage, torch.cuda.HalfStorage, ...
} ac_pk_fn;

#define AC_PK_MAX_TENSOR_DIMS 32

typedef struct ac_pk_value ac_pk_value;
struct ac_pk_value {
    ac_pk_kind kind;
    int depth;                 // container nesting below this value (0 for scalars)
    ac_pk_value *next_alloc;   // the machine's list of everything it allocated
    union {
        bool b;
        int64_t i;
        double f;
        struct { char *data; size_t len; } str;                    // STR, BYTES, BIGINT
        struct { ac_pk_value **items; size_t n, cap; } seq;        // TUPLE, LIST, SET
        struct { ac_pk_value **keys, **vals; size_t n, cap; } dict;
        struct { char *module, *name; ac_pk_fn fn; ac_pk_dtype dtype; } global;
        struct { ac_pk_value *callable, *args, *state; } obj;      // OBJECT
        struct {
            char *key;            // storage key (zip entry data/<key>, legacy root key)
            ac_pk_dtype dtype;
            int64_t numel;        // elements visible through this reference
            int64_t view_offset;  // legacy storage views: first element in the root storage
            bool is_view;
        } storage;
        struct {
            ac_pk_value *storage;  // an AC_PK_STORAGE
            int64_t offset;        // storage offset, in elements
            int ndim;
            int64_t *size, *stride;
            bool parameter;
        } tensor;
    } u;
};

typedef struct ac_pickle_limits {
    size_t max_objects;  // values created and memo entries over the machine's life
    size_t max_bytes;    // bytes held by strings and container arrays (a run also stops when
                         // it would add more than 64 bytes per pickle byte plus 64 MiB)
    int max_depth;       // container nesting
    size_t max_stack;    // value stack and mark stack entries
} ac_pickle_limits;

typedef struct ac_pickle ac_pickle;

// Resolves a persistent id (BINPERSID/PERSID) into a value; returns non-OK with ac_fail set.
typedef ac_status (*ac_pickle_persload_fn)(void *ctx, ac_pickle *vm, const ac_pk_value *pid,
                                           ac_pk_value **out);

ac_pickle *ac_pickle_new(void);
void ac_pickle_free(ac_pickle *vm);  // frees every value the machine created
void ac_pickle_get_limits(const ac_pickle *vm, ac_pickle_limits *lim);
void ac_pickle_set_limits(ac_pickle *vm, const ac_pickle_limits *lim);

// Runs one pickle from buf[0..len) up to its STOP; *used receives the bytes consumed (so that
// several pickles can follow each other). Values stay valid until ac_pickle_free. `persload`
// may be NULL (then persistent ids are an error).
ac_status ac_pickle_run(ac_pickle *vm, const unsigned char *buf, size_t len, size_t *used,
                        ac_pickle_persload_fn persload, void *ctx, ac_pk_value **out);

// For persistent-load hooks: a new storage reference owned by the machine (NULL + ac_fail
// when a limit is reached).
ac_pk_value *ac_pickle_new_storage(ac_pickle *vm, const char *key, ac_pk_dtype dtype,
                                   int64_t numel, int64_t view_offset, bool is_view);

// The value stored under the text key `key` in a dict (the last one, as Python keeps), or NULL.
const ac_pk_value *ac_pk_dict_get(const ac_pk_value *dict, const char *key);
// Bytes per element (0 for AC_PK_DT_NONE) and a short name ("float16").
size_t ac_pk_dtype_size(ac_pk_dtype dt);
const char *ac_pk_dtype_name(ac_pk_dtype dt);
const char *ac_pk_kind_name(ac_pk_kind kind);
// A short one-line description, e.g. "dict (4 items)", "object __main__.Warmup",
// "tensor float32 [4,3,3,3]", "int 7". Returns buf.
char *ac_pk_describe(const ac_pk_value *v, char *buf, size_t size);

#endif
