// pickle_objects.c: the values of the restricted pickle machine (see pickle.h): allocation
// under the machine's limits, constructors, the allow-list that turns a few globals into data
// constructors (containers, torch tensor rebuilders, storage classes) and placeholders for
// everything else, and the inspection helpers.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle_internal.h"

#define DEF_MAX_OBJECTS ((size_t)1 << 24)
#define DEF_MAX_BYTES ((size_t)1 << 31)
#define DEF_MAX_DEPTH 1000
#define DEF_MAX_STACK ((size_t)1 << 22)
// ---------------------------------------------------------------------------------------
// Errors, allocation, accounting

ac_status ac_pk_err(ac_pickle *vm, ac_status st, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vm->err = st;
    unsigned char c = vm->op;
    if (c >= 0x21 && c < 0x7f)
        return ac_fail(st, "pickle: %s at byte %zu (opcode '%c')", msg, vm->op_pos, c);
    return ac_fail(st, "pickle: %s at byte %zu (opcode 0x%02x)", msg, vm->op_pos, c);
}

ac_pk_value *ac_pk_new_value(ac_pickle *vm, ac_pk_kind kind) {
    if (vm->n_objects >= vm->lim.max_objects) {
        ac_pk_err(vm, AC_ERR_NOMEM, "more than %zu objects", vm->lim.max_objects);
        return NULL;
    }
    ac_pk_value *v = calloc(1, sizeof *v);
    if (!v) {
        ac_pk_err(vm, AC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->kind = kind;
    v->next_alloc = vm->allocs;
    vm->allocs = v;
    vm->n_objects++;
    return v;
}

// Accounts `bytes` more against max_bytes.
static bool charge(ac_pickle *vm, size_t bytes) {
    size_t max = AC_MIN(vm->lim.max_bytes, vm->max_bytes_now);
    if (bytes > max || vm->n_bytes > max - bytes) {
        ac_pk_err(vm, AC_ERR_NOMEM, "objects hold more than %zu bytes", max);
        return false;
    }
    vm->n_bytes += bytes;
    return true;
}

static void *vm_alloc(ac_pickle *vm, size_t bytes) {
    if (!charge(vm, bytes)) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) ac_pk_err(vm, AC_ERR_NOMEM, "out of memory for %zu bytes", bytes);
    return p;
}

// Grows *arr (of *cap elements of `elem` bytes) to hold at least `need` elements.
static bool vm_grow(ac_pickle *vm, void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return ac_pk_err(vm, AC_ERR_NOMEM, "container too large"), false;
        ncap *= 2;
    }
    size_t bytes, old = *cap * elem;
    if (!ac_mul_size(ncap, elem, &bytes)) return ac_pk_err(vm, AC_ERR_NOMEM, "container too large"), false;
    if (!charge(vm, bytes - old)) return false;
    void *p = realloc(*arr, bytes);
    if (!p) return ac_pk_err(vm, AC_ERR_NOMEM, "out of memory"), false;
    *arr = p;
    *cap = ncap;
    return true;
}

static void free_value(ac_pk_value *v) {
    switch (v->kind) {
    case AC_PK_BIGINT: case AC_PK_STR: case AC_PK_BYTES: free(v->u.str.data); break;
    case AC_PK_TUPLE: case AC_PK_LIST: case AC_PK_SET: free(v->u.seq.items); break;
    case AC_PK_DICT: free(v->u.dict.keys); free(v->u.dict.vals); break;
    case AC_PK_GLOBAL: free(v->u.global.module); free(v->u.global.name); break;
    case AC_PK_STORAGE: free(v->u.storage.key); break;
    case AC_PK_TENSOR: free(v->u.tensor.size); free(v->u.tensor.stride); break;
    default: break;
    }
    free(v);
}

ac_pickle *ac_pickle_new(void) {
    ac_pickle *vm = ac_xcalloc(1, sizeof *vm);
    vm->lim = (ac_pickle_limits){DEF_MAX_OBJECTS, DEF_MAX_BYTES, DEF_MAX_DEPTH, DEF_MAX_STACK};
    vm->max_bytes_now = SIZE_MAX;
    vm->v_none.kind = AC_PK_NONE;
    vm->v_true.kind = vm->v_false.kind = AC_PK_BOOL;
    vm->v_true.u.b = true;
    return vm;
}

void ac_pickle_free(ac_pickle *vm) {
    if (!vm) return;
    for (ac_pk_value *v = vm->allocs, *next; v; v = next) {
        next = v->next_alloc;
        free_value(v);
    }
    free(vm->stack);
    free(vm->marks);
    free(vm->memo);
    free(vm);
}

void ac_pickle_get_limits(const ac_pickle *vm, ac_pickle_limits *lim) { *lim = vm->lim; }
void ac_pickle_set_limits(ac_pickle *vm, const ac_pickle_limits *lim) { vm->lim = *lim; }

// ---------------------------------------------------------------------------------------
// Value constructors

ac_pk_value *ac_pk_new_str(ac_pickle *vm, ac_pk_kind kind, const void *data, size_t len) {
    if (len == SIZE_MAX) return ac_pk_err(vm, AC_ERR_NOMEM, "string too large"), NULL;
    char *p = vm_alloc(vm, len + 1);
    if (!p) return NULL;
    ac_pk_value *v = ac_pk_new_value(vm, kind);
    if (!v) return free(p), NULL;
    if (len) memcpy(p, data, len);
    p[len] = '\0';
    v->u.str.data = p;
    v->u.str.len = len;
    return v;
}

ac_pk_value *ac_pk_new_int(ac_pickle *vm, int64_t i) {
    ac_pk_value *v = ac_pk_new_value(vm, AC_PK_INT);
    if (v) v->u.i = i;
    return v;
}

// An integer from little-endian two's complement bytes (LONG1/LONG4 and big decimal text).
ac_pk_value *ac_pk_new_long(ac_pickle *vm, const unsigned char *b, size_t n) {
    // Drop redundant sign-extension bytes at the top.
    while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
        n--;
    if (n <= 8) {
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++) u |= (uint64_t)b[i] << (8 * i);
        if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        int64_t s;
        memcpy(&s, &u, sizeof s);
        return ac_pk_new_int(vm, s);
    }
    return ac_pk_new_str(vm, AC_PK_BIGINT, b, n);
}

bool ac_pk_deepen(ac_pickle *vm, ac_pk_value *parent, const ac_pk_value *child) {
    if (child->depth + 1 > parent->depth) {
        parent->depth = child->depth + 1;
        if (parent->depth > vm->lim.max_depth) {
            ac_pk_err(vm, AC_ERR_FORMAT, "objects nested deeper than %d levels", vm->lim.max_depth);
            return false;
        }
    }
    return true;
}

bool ac_pk_seq_push(ac_pickle *vm, ac_pk_value *seq, ac_pk_value *item) {
    if (!vm_grow(vm, (void **)&seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.n + 1, sizeof item))
        return false;
    seq->u.seq.items[seq->u.seq.n++] = item;
    return ac_pk_deepen(vm, seq, item);
}

bool ac_pk_dict_set(ac_pickle *vm, ac_pk_value *d, ac_pk_value *k, ac_pk_value *v) {
    size_t cap = d->u.dict.cap;
    if (!vm_grow(vm, (void **)&d->u.dict.keys, &cap, d->u.dict.n + 1, sizeof k)) return false;
    if (!vm_grow(vm, (void **)&d->u.dict.vals, &d->u.dict.cap, d->u.dict.n + 1, sizeof v))
        return false;
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n++] = v;
    return ac_pk_deepen(vm, d, k) && ac_pk_deepen(vm, d, v);
}

// A tuple/list/set of the given items.
ac_pk_value *ac_pk_new_seq(ac_pickle *vm, ac_pk_kind kind, ac_pk_value **items, size_t n) {
    ac_pk_value *v = ac_pk_new_value(vm, kind);
    if (!v) return NULL;
    if (n) {
        size_t bytes;
        if (!ac_mul_size(n, sizeof *items, &bytes)) return ac_pk_err(vm, AC_ERR_NOMEM, "too many items"), NULL;
        v->u.seq.items = vm_alloc(vm, bytes);
        if (!v->u.seq.items) return NULL;
        memcpy(v->u.seq.items, items, bytes);
        v->u.seq.n = v->u.seq.cap = n;
        for (size_t i = 0; i < n; i++)
            if (!ac_pk_deepen(vm, v, items[i])) return NULL;
    }
    return v;
}

// The inert stand-in for calling/instantiating anything not allow-listed.
static ac_pk_value *new_placeholder(ac_pickle *vm, ac_pk_value *callable, ac_pk_value *args) {
    ac_pk_value *v = ac_pk_new_value(vm, AC_PK_OBJECT);
    if (!v) return NULL;
    v->u.obj.callable = callable;
    v->u.obj.args = args;
    if (!ac_pk_deepen(vm, v, callable) || (args && !ac_pk_deepen(vm, v, args))) return NULL;
    return v;
}

ac_pk_value *ac_pickle_new_storage(ac_pickle *vm, const char *key, ac_pk_dtype dtype,
                                   int64_t numel, int64_t view_offset, bool is_view) {
    char *k = vm_alloc(vm, strlen(key) + 1);
    if (!k) return NULL;
    strcpy(k, key);
    ac_pk_value *v = ac_pk_new_value(vm, AC_PK_STORAGE);
    if (!v) return free(k), NULL;
    v->u.storage.key = k;
    v->u.storage.dtype = dtype;
    v->u.storage.numel = numel;
    v->u.storage.view_offset = view_offset;
    v->u.storage.is_view = is_view;
    return v;
}

// ---------------------------------------------------------------------------------------
// Globals: names only, with the allow-list of data constructors.

static const struct { const char *name; ac_pk_dtype dtype; } storage_types[] = {
    {"FloatStorage", AC_PK_F32},      {"DoubleStorage", AC_PK_F64},
    {"HalfStorage", AC_PK_F16},       {"BFloat16Storage", AC_PK_BF16},
    {"LongStorage", AC_PK_I64},       {"IntStorage", AC_PK_I32},
    {"ShortStorage", AC_PK_I16},      {"CharStorage", AC_PK_I8},
    {"ByteStorage", AC_PK_U8},        {"BoolStorage", AC_PK_BOOL_T},
    {"UntypedStorage", AC_PK_U8},     {"ComplexFloatStorage", AC_PK_C64},
    {"ComplexDoubleStorage", AC_PK_C128}, {"QInt8Storage", AC_PK_QI8},
    {"QUInt8Storage", AC_PK_QU8},     {"QInt32Storage", AC_PK_QI32},
    {"QUInt4x2Storage", AC_PK_QU4X2}, {"QUInt2x4Storage", AC_PK_QU2X4},
};

static void resolve_global(ac_pk_value *g) {
    const char *m = g->u.global.module, *n = g->u.global.name;
    if (!strcmp(m, "__builtin__")) m = "builtins";
    ac_pk_fn fn = AC_PK_FN_NONE;
    if (!strcmp(m, "collections")) {
        if (!strcmp(n, "OrderedDict")) fn = AC_PK_FN_ORDERED_DICT;
        else if (!strcmp(n, "defaultdict")) fn = AC_PK_FN_DEFAULT_DICT;
    } else if (!strcmp(m, "builtins")) {
        if (!strcmp(n, "dict")) fn = AC_PK_FN_DICT;
        else if (!strcmp(n, "set")) fn = AC_PK_FN_SET;
        else if (!strcmp(n, "frozenset")) fn = AC_PK_FN_FROZENSET;
    } else if (!strcmp(m, "torch._utils")) {
        if (!strcmp(n, "_rebuild_tensor")) fn = AC_PK_FN_REBUILD_TENSOR;
        else if (!strcmp(n, "_rebuild_tensor_v2")) fn = AC_PK_FN_REBUILD_TENSOR_V2;
        else if (!strcmp(n, "_rebuild_parameter") || !strcmp(n, "_rebuild_parameter_with_state"))
            fn = AC_PK_FN_REBUILD_PARAMETER;
    } else if (!strcmp(m, "torch._tensor")) {
        if (!strcmp(n, "_rebuild_from_type_v2")) fn = AC_PK_FN_REBUILD_FROM_TYPE;
    } else if (!strcmp(m, "torch") || !strcmp(m, "torch.cuda")) {
        for (size_t i = 0; i < sizeof storage_types / sizeof *storage_types; i++)
            if (!strcmp(n, storage_types[i].name)) {
                fn = AC_PK_FN_STORAGE_TYPE;
                g->u.global.dtype = storage_types[i].dtype;
            }
    }
    g->u.global.fn = fn;
}

ac_pk_value *ac_pk_new_global(ac_pickle *vm, const char *m, size_t mlen, const char *n, size_t nlen) {
    if (mlen == SIZE_MAX || nlen == SIZE_MAX) return ac_pk_err(vm, AC_ERR_NOMEM, "name too long"), NULL;
    char *ms = vm_alloc(vm, mlen + 1);
    char *ns = ms ? vm_alloc(vm, nlen + 1) : NULL;
    ac_pk_value *g = ns ? ac_pk_new_value(vm, AC_PK_GLOBAL) : NULL;
    if (!g) {
        free(ms);
        free(ns);
        return NULL;
    }
    memcpy(ms, m, mlen);
    ms[mlen] = '\0';
    memcpy(ns, n, nlen);
    ns[nlen] = '\0';
    g->u.global.module = ms;
    g->u.global.name = ns;
    resolve_global(g);
    return g;
}

// ---------------------------------------------------------------------------------------
// Tensor rebuilders: only descriptors are built; data is resolved by the caller.

static bool get_int(const ac_pk_value *v, int64_t *out) {
    if (v->kind == AC_PK_INT) *out = v->u.i;
    else if (v->kind == AC_PK_BOOL) *out = v->u.b;
    else return false;
    return true;
}

static bool is_seq(const ac_pk_value *v) { return v->kind == AC_PK_TUPLE || v->kind == AC_PK_LIST; }

static ac_pk_value *rebuild_tensor(ac_pickle *vm, const ac_pk_value *args) {
    if (args->kind != AC_PK_TUPLE || args->u.seq.n < 4)
        return ac_pk_err(vm, AC_ERR_FORMAT, "tensor rebuild needs (storage, offset, size, stride)"), NULL;
    ac_pk_value *const *a = args->u.seq.items;
    int64_t offset;
    if (a[0]->kind != AC_PK_STORAGE)
        return ac_pk_err(vm, AC_ERR_FORMAT, "tensor storage is a %s, not a storage", ac_pk_kind_name(a[0]->kind)), NULL;
    if (!get_int(a[1], &offset) || offset < 0)
        return ac_pk_err(vm, AC_ERR_FORMAT, "tensor storage offset is not a non-negative int"), NULL;
    if (!is_seq(a[2]) || !is_seq(a[3]) || a[2]->u.seq.n != a[3]->u.seq.n)
        return ac_pk_err(vm, AC_ERR_FORMAT, "tensor size and stride are not tuples of one length"), NULL;
    size_t nd = a[2]->u.seq.n;
    if (nd > AC_PK_MAX_TENSOR_DIMS)
        return ac_pk_err(vm, AC_ERR_FORMAT, "tensor has %zu dimensions (limit %d)", nd, AC_PK_MAX_TENSOR_DIMS), NULL;
    int64_t *size = vm_alloc(vm, (nd + 1) * sizeof *size);
    int64_t *stride = size ? vm_alloc(vm, (nd + 1) * sizeof *stride) : NULL;
    ac_pk_value *t = stride ? ac_pk_new_value(vm, AC_PK_TENSOR) : NULL;
    if (!t) {
        free(size);
        free(stride);
        return NULL;
    }
    t->u.tensor.size = size;
    t->u.tensor.stride = stride;
    for (size_t i = 0; i < nd; i++) {
        if (!get_int(a[2]->u.seq.items[i], &size[i]) || size[i] < 0)
            return ac_pk_err(vm, AC_ERR_FORMAT, "tensor size %zu is not a non-negative int", i), NULL;
        if (!get_int(a[3]->u.seq.items[i], &stride[i]) || stride[i] < 0)
            return ac_pk_err(vm, AC_ERR_FORMAT, "tensor stride %zu is not a non-negative int", i), NULL;
    }
    t->u.tensor.storage = a[0];
    t->u.tensor.offset = offset;
    t->u.tensor.ndim = (int)nd;
    return t;
}

static bool get_pairs(ac_pickle *vm, ac_pk_value *d, const ac_pk_value *src) {
    if (src->kind == AC_PK_DICT) {
        for (size_t i = 0; i < src->u.dict.n; i++)
            if (!ac_pk_dict_set(vm, d, src->u.dict.keys[i], src->u.dict.vals[i])) return false;
        return true;
    }
    if (!is_seq(src)) return ac_pk_err(vm, AC_ERR_FORMAT, "dict argument is not a list of pairs"), false;
    for (size_t i = 0; i < src->u.seq.n; i++) {
        const ac_pk_value *p = src->u.seq.items[i];
        if (!is_seq(p) || p->u.seq.n != 2)
            return ac_pk_err(vm, AC_ERR_FORMAT, "dict argument is not a list of pairs"), false;
        if (!ac_pk_dict_set(vm, d, p->u.seq.items[0], p->u.seq.items[1])) return false;
    }
    return true;
}

// REDUCE / NEWOBJ / INST / OBJ: never calls anything. Allow-listed constructors build data;
// everything else yields a placeholder.
ac_pk_value *ac_pk_apply(ac_pickle *vm, ac_pk_value *callable, ac_pk_value *args, bool newobj,
                          int level) {
    ac_pk_fn fn = callable->kind == AC_PK_GLOBAL ? callable->u.global.fn : AC_PK_FN_NONE;
    bool tuple = args->kind == AC_PK_TUPLE;
    size_t n = tuple ? args->u.seq.n : 0;
    ac_pk_value *const *a = tuple ? args->u.seq.items : NULL;
    switch (fn) {
    case AC_PK_FN_ORDERED_DICT:
    case AC_PK_FN_DICT:
    case AC_PK_FN_DEFAULT_DICT: {
        ac_pk_value *d = ac_pk_new_value(vm, AC_PK_DICT);
        if (d && fn != AC_PK_FN_DEFAULT_DICT && !newobj && n >= 1 && !get_pairs(vm, d, a[0]))
            return NULL;
        return d;
    }
    case AC_PK_FN_SET:
    case AC_PK_FN_FROZENSET: {
        ac_pk_value *s = ac_pk_new_value(vm, AC_PK_SET);
        if (s && !newobj && n >= 1) {
            if (!is_seq(a[0]) && a[0]->kind != AC_PK_SET)
                return ac_pk_err(vm, AC_ERR_FORMAT, "set argument is not a sequence"), NULL;
            for (size_t i = 0; i < a[0]->u.seq.n; i++)
                if (!ac_pk_seq_push(vm, s, a[0]->u.seq.items[i])) return NULL;
        }
        return s;
    }
    case AC_PK_FN_REBUILD_TENSOR:
    case AC_PK_FN_REBUILD_TENSOR_V2:
        if (newobj) break;
        return rebuild_tensor(vm, args);
    case AC_PK_FN_REBUILD_PARAMETER:
        if (newobj || n < 1 || a[0]->kind != AC_PK_TENSOR) break;
        a[0]->u.tensor.parameter = true;
        return a[0];
    case AC_PK_FN_REBUILD_FROM_TYPE:
        // (func, new_type, args, state): rebuild with func(*args) when func is allowed.
        if (newobj || level > 0 || n < 3 || a[0]->kind != AC_PK_GLOBAL || a[2]->kind != AC_PK_TUPLE)
            break;
        if (a[0]->u.global.fn == AC_PK_FN_REBUILD_TENSOR || a[0]->u.global.fn == AC_PK_FN_REBUILD_TENSOR_V2 ||
            a[0]->u.global.fn == AC_PK_FN_REBUILD_PARAMETER)
            return ac_pk_apply(vm, a[0], a[2], false, level + 1);
        break;
    default: break;
    }
    return new_placeholder(vm, callable, args);
}
// ---------------------------------------------------------------------------------------
// Inspection helpers

const ac_pk_value *ac_pk_dict_get(const ac_pk_value *dict, const char *key) {
    if (!dict || dict->kind != AC_PK_DICT) return NULL;
    size_t n = strlen(key);
    for (size_t i = dict->u.dict.n; i-- > 0;) {
        const ac_pk_value *k = dict->u.dict.keys[i];
        if (k->kind == AC_PK_STR && k->u.str.len == n && !memcmp(k->u.str.data, key, n))
            return dict->u.dict.vals[i];
    }
    return NULL;
}

size_t ac_pk_dtype_size(ac_pk_dtype dt) {
    switch (dt) {
    case AC_PK_F64: case AC_PK_I64: case AC_PK_C64: return 8;
    case AC_PK_F32: case AC_PK_I32: case AC_PK_QI32: return 4;
    case AC_PK_F16: case AC_PK_BF16: case AC_PK_I16: return 2;
    case AC_PK_I8: case AC_PK_U8: case AC_PK_BOOL_T: case AC_PK_QI8: case AC_PK_QU8:
    case AC_PK_QU4X2: case AC_PK_QU2X4: return 1;
    case AC_PK_C128: return 16;
    case AC_PK_DT_NONE: return 0;
    }
    return 0;
}

const char *ac_pk_dtype_name(ac_pk_dtype dt) {
    static const char *names[] = {"none", "float32", "float64", "float16", "bfloat16",
                                  "int64", "int32", "int16", "int8", "uint8", "bool",
                                  "complex64", "complex128", "qint8", "quint8", "qint32",
                                  "quint4x2", "quint2x4"};
    return (size_t)dt < sizeof names / sizeof *names ? names[dt] : "?";
}

const char *ac_pk_kind_name(ac_pk_kind kind) {
    static const char *names[] = {"None", "bool", "int", "int", "float", "str", "bytes",
                                  "tuple", "list", "set", "dict", "global", "object",
                                  "storage", "tensor"};
    return (size_t)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

char *ac_pk_describe(const ac_pk_value *v, char *buf, size_t size) {
    switch (v->kind) {
    case AC_PK_NONE: snprintf(buf, size, "None"); break;
    case AC_PK_BOOL: snprintf(buf, size, "%s", v->u.b ? "True" : "False"); break;
    case AC_PK_INT: snprintf(buf, size, "int %lld", (long long)v->u.i); break;
    case AC_PK_BIGINT: snprintf(buf, size, "int (%zu bytes)", v->u.str.len); break;
    case AC_PK_FLOAT: snprintf(buf, size, "float %g", v->u.f); break;
    case AC_PK_STR: snprintf(buf, size, "str '%.40s'", v->u.str.data); break;
    case AC_PK_BYTES: snprintf(buf, size, "bytes (%zu)", v->u.str.len); break;
    case AC_PK_TUPLE: case AC_PK_LIST: case AC_PK_SET:
        snprintf(buf, size, "%s (%zu items)", ac_pk_kind_name(v->kind), v->u.seq.n);
        break;
    case AC_PK_DICT: {
        size_t nt = 0;
        for (size_t i = 0; i < v->u.dict.n; i++) nt += v->u.dict.vals[i]->kind == AC_PK_TENSOR;
        snprintf(buf, size, "dict (%zu items, %zu tensors)", v->u.dict.n, nt);
        break;
    }
    case AC_PK_GLOBAL: snprintf(buf, size, "global %.100s.%.100s", v->u.global.module, v->u.global.name); break;
    case AC_PK_OBJECT: {
        const ac_pk_value *c = v->u.obj.callable;
        if (c->kind == AC_PK_GLOBAL)
            snprintf(buf, size, "object %.100s.%.100s", c->u.global.module, c->u.global.name);
        else
            snprintf(buf, size, "object");
        break;
    }
    case AC_PK_STORAGE:
        snprintf(buf, size, "storage %s '%.40s'", ac_pk_dtype_name(v->u.storage.dtype), v->u.storage.key);
        break;
    case AC_PK_TENSOR: {
        int m = snprintf(buf, size, "tensor %s [", ac_pk_dtype_name(v->u.tensor.storage->u.storage.dtype));
        for (int i = 0; i < v->u.tensor.ndim && m > 0 && (size_t)m < size; i++)
            m += snprintf(buf + m, size - (size_t)m, "%s%lld", i ? "," : "", (long long)v->u.tensor.size[i]);
        if (m > 0 && (size_t)m < size) snprintf(buf + m, size - (size_t)m, "]");
        break;
    }
    }
    return buf;
}
