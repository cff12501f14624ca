// pickle.c: the restricted pickle machine (see pickle.h). Opcode semantics follow CPython's
// Lib/pickle.py (protocols 0-5); the differences are deliberate: nothing is imported or
// called, containers are plain ordered pair lists (keys may be any value, even placeholders
// or tensors), and stack pops never reach below the current MARK.
#include "io/pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_MAX_OBJECTS ((size_t)1 << 24)
#define DEF_MAX_BYTES ((size_t)1 << 31)
#define DEF_MAX_DEPTH 1000
#define DEF_MAX_STACK ((size_t)1 << 22)
#define MAX_TEXT_LINE 65536   // protocol-0 text lines (numbers, names, reprs)
#define MAX_INT_DIGITS 128    // decimal text ints (protocol 0); keeps parsing linear

typedef struct memo_slot {
    uint64_t key;
    ac_pk_value *v;  // NULL: empty slot
} memo_slot;

struct ac_pickle {
    ac_pickle_limits lim;
    ac_pk_value *allocs;
    size_t n_objects, n_bytes;
    ac_pk_value v_none, v_true, v_false;
    // State of the current run.
    ac_pk_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    memo_slot *memo;
    size_t memo_cap, memo_n;
    const unsigned char *buf;
    size_t len, pos, op_pos;
    unsigned char op;
    ac_pickle_persload_fn persload;
    void *ctx;
    ac_status err;  // status of the failure being reported
};

// ---------------------------------------------------------------------------------------
// Errors, allocation, accounting

static ac_status perr(ac_pickle *vm, ac_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ac_status perr(ac_pickle *vm, ac_status st, const char *fmt, ...) {
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

static ac_status truncated(ac_pickle *vm) { return perr(vm, AC_ERR_FORMAT, "data truncated"); }

static ac_pk_value *new_value(ac_pickle *vm, ac_pk_kind kind) {
    if (vm->n_objects >= vm->lim.max_objects) {
        perr(vm, AC_ERR_NOMEM, "more than %zu objects", vm->lim.max_objects);
        return NULL;
    }
    ac_pk_value *v = calloc(1, sizeof *v);
    if (!v) {
        perr(vm, AC_ERR_NOMEM, "out of memory");
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
    if (bytes > vm->lim.max_bytes || vm->n_bytes > vm->lim.max_bytes - bytes) {
        perr(vm, AC_ERR_NOMEM, "objects hold more than %zu bytes", vm->lim.max_bytes);
        return false;
    }
    vm->n_bytes += bytes;
    return true;
}

static void *vm_alloc(ac_pickle *vm, size_t bytes) {
    if (!charge(vm, bytes)) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) perr(vm, AC_ERR_NOMEM, "out of memory for %zu bytes", bytes);
    return p;
}

// Grows *arr (of *cap elements of `elem` bytes) to hold at least `need` elements.
static bool vm_grow(ac_pickle *vm, void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return perr(vm, AC_ERR_NOMEM, "container too large"), false;
        ncap *= 2;
    }
    size_t bytes, old = *cap * elem;
    if (!ac_mul_size(ncap, elem, &bytes)) return perr(vm, AC_ERR_NOMEM, "container too large"), false;
    if (!charge(vm, bytes - old)) return false;
    void *p = realloc(*arr, bytes);
    if (!p) return perr(vm, AC_ERR_NOMEM, "out of memory"), false;
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

static ac_pk_value *new_str(ac_pickle *vm, ac_pk_kind kind, const void *data, size_t len) {
    if (len == SIZE_MAX) return perr(vm, AC_ERR_NOMEM, "string too large"), NULL;
    char *p = vm_alloc(vm, len + 1);
    if (!p) return NULL;
    ac_pk_value *v = new_value(vm, kind);
    if (!v) return free(p), NULL;
    if (len) memcpy(p, data, len);
    p[len] = '\0';
    v->u.str.data = p;
    v->u.str.len = len;
    return v;
}

static ac_pk_value *new_int(ac_pickle *vm, int64_t i) {
    ac_pk_value *v = new_value(vm, AC_PK_INT);
    if (v) v->u.i = i;
    return v;
}

// An integer from little-endian two's complement bytes (LONG1/LONG4 and big decimal text).
static ac_pk_value *new_long(ac_pickle *vm, const unsigned char *b, size_t n) {
    // Drop redundant sign-extension bytes at the top.
    while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
        n--;
    if (n <= 8) {
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++) u |= (uint64_t)b[i] << (8 * i);
        if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        int64_t s;
        memcpy(&s, &u, sizeof s);
        return new_int(vm, s);
    }
    return new_str(vm, AC_PK_BIGINT, b, n);
}

static bool deepen(ac_pickle *vm, ac_pk_value *parent, const ac_pk_value *child) {
    if (child->depth + 1 > parent->depth) {
        parent->depth = child->depth + 1;
        if (parent->depth > vm->lim.max_depth) {
            perr(vm, AC_ERR_FORMAT, "objects nested deeper than %d levels", vm->lim.max_depth);
            return false;
        }
    }
    return true;
}

static bool seq_push(ac_pickle *vm, ac_pk_value *seq, ac_pk_value *item) {
    if (!vm_grow(vm, (void **)&seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.n + 1, sizeof item))
        return false;
    seq->u.seq.items[seq->u.seq.n++] = item;
    return deepen(vm, seq, item);
}

static bool dict_set(ac_pickle *vm, ac_pk_value *d, ac_pk_value *k, ac_pk_value *v) {
    size_t cap = d->u.dict.cap;
    if (!vm_grow(vm, (void **)&d->u.dict.keys, &cap, d->u.dict.n + 1, sizeof k)) return false;
    if (!vm_grow(vm, (void **)&d->u.dict.vals, &d->u.dict.cap, d->u.dict.n + 1, sizeof v))
        return false;
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n++] = v;
    return deepen(vm, d, k) && deepen(vm, d, v);
}

// A tuple/list/set of the given items.
static ac_pk_value *new_seq(ac_pickle *vm, ac_pk_kind kind, ac_pk_value **items, size_t n) {
    ac_pk_value *v = new_value(vm, kind);
    if (!v) return NULL;
    if (n) {
        size_t bytes;
        if (!ac_mul_size(n, sizeof *items, &bytes)) return perr(vm, AC_ERR_NOMEM, "too many items"), NULL;
        v->u.seq.items = vm_alloc(vm, bytes);
        if (!v->u.seq.items) return NULL;
        memcpy(v->u.seq.items, items, bytes);
        v->u.seq.n = v->u.seq.cap = n;
        for (size_t i = 0; i < n; i++)
            if (!deepen(vm, v, items[i])) return NULL;
    }
    return v;
}

// The inert stand-in for calling/instantiating anything not allow-listed.
static ac_pk_value *new_placeholder(ac_pickle *vm, ac_pk_value *callable, ac_pk_value *args) {
    ac_pk_value *v = new_value(vm, AC_PK_OBJECT);
    if (!v) return NULL;
    v->u.obj.callable = callable;
    v->u.obj.args = args;
    if (!deepen(vm, v, callable) || (args && !deepen(vm, v, args))) return NULL;
    return v;
}

ac_pk_value *ac_pickle_new_storage(ac_pickle *vm, const char *key, ac_pk_dtype dtype,
                                   int64_t numel, int64_t view_offset, bool is_view) {
    char *k = vm_alloc(vm, strlen(key) + 1);
    if (!k) return NULL;
    strcpy(k, key);
    ac_pk_value *v = new_value(vm, AC_PK_STORAGE);
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

static ac_pk_value *new_global(ac_pickle *vm, const char *m, size_t mlen, const char *n, size_t nlen) {
    if (mlen == SIZE_MAX || nlen == SIZE_MAX) return perr(vm, AC_ERR_NOMEM, "name too long"), NULL;
    char *ms = vm_alloc(vm, mlen + 1);
    char *ns = ms ? vm_alloc(vm, nlen + 1) : NULL;
    ac_pk_value *g = ns ? new_value(vm, AC_PK_GLOBAL) : NULL;
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
        return perr(vm, AC_ERR_FORMAT, "tensor rebuild needs (storage, offset, size, stride)"), NULL;
    ac_pk_value *const *a = args->u.seq.items;
    int64_t offset;
    if (a[0]->kind != AC_PK_STORAGE)
        return perr(vm, AC_ERR_FORMAT, "tensor storage is a %s, not a storage", ac_pk_kind_name(a[0]->kind)), NULL;
    if (!get_int(a[1], &offset) || offset < 0)
        return perr(vm, AC_ERR_FORMAT, "tensor storage offset is not a non-negative int"), NULL;
    if (!is_seq(a[2]) || !is_seq(a[3]) || a[2]->u.seq.n != a[3]->u.seq.n)
        return perr(vm, AC_ERR_FORMAT, "tensor size and stride are not tuples of one length"), NULL;
    size_t nd = a[2]->u.seq.n;
    if (nd > AC_PK_MAX_TENSOR_DIMS)
        return perr(vm, AC_ERR_FORMAT, "tensor has %zu dimensions (limit %d)", nd, AC_PK_MAX_TENSOR_DIMS), NULL;
    int64_t *size = vm_alloc(vm, (nd + 1) * sizeof *size);
    int64_t *stride = size ? vm_alloc(vm, (nd + 1) * sizeof *stride) : NULL;
    ac_pk_value *t = stride ? new_value(vm, AC_PK_TENSOR) : NULL;
    if (!t) {
        free(size);
        free(stride);
        return NULL;
    }
    t->u.tensor.size = size;
    t->u.tensor.stride = stride;
    for (size_t i = 0; i < nd; i++) {
        if (!get_int(a[2]->u.seq.items[i], &size[i]) || size[i] < 0)
            return perr(vm, AC_ERR_FORMAT, "tensor size %zu is not a non-negative int", i), NULL;
        if (!get_int(a[3]->u.seq.items[i], &stride[i]) || stride[i] < 0)
            return perr(vm, AC_ERR_FORMAT, "tensor stride %zu is not a non-negative int", i), NULL;
    }
    t->u.tensor.storage = a[0];
    t->u.tensor.offset = offset;
    t->u.tensor.ndim = (int)nd;
    return t;
}

static bool get_pairs(ac_pickle *vm, ac_pk_value *d, const ac_pk_value *src) {
    if (src->kind == AC_PK_DICT) {
        for (size_t i = 0; i < src->u.dict.n; i++)
            if (!dict_set(vm, d, src->u.dict.keys[i], src->u.dict.vals[i])) return false;
        return true;
    }
    if (!is_seq(src)) return perr(vm, AC_ERR_FORMAT, "dict argument is not a list of pairs"), false;
    for (size_t i = 0; i < src->u.seq.n; i++) {
        const ac_pk_value *p = src->u.seq.items[i];
        if (!is_seq(p) || p->u.seq.n != 2)
            return perr(vm, AC_ERR_FORMAT, "dict argument is not a list of pairs"), false;
        if (!dict_set(vm, d, p->u.seq.items[0], p->u.seq.items[1])) return false;
    }
    return true;
}

// REDUCE / NEWOBJ / INST / OBJ: never calls anything. Allow-listed constructors build data;
// everything else yields a placeholder.
static ac_pk_value *apply(ac_pickle *vm, ac_pk_value *callable, ac_pk_value *args, bool newobj,
                          int level) {
    ac_pk_fn fn = callable->kind == AC_PK_GLOBAL ? callable->u.global.fn : AC_PK_FN_NONE;
    bool tuple = args->kind == AC_PK_TUPLE;
    size_t n = tuple ? args->u.seq.n : 0;
    ac_pk_value *const *a = tuple ? args->u.seq.items : NULL;
    switch (fn) {
    case AC_PK_FN_ORDERED_DICT:
    case AC_PK_FN_DICT:
    case AC_PK_FN_DEFAULT_DICT: {
        ac_pk_value *d = new_value(vm, AC_PK_DICT);
        if (d && fn != AC_PK_FN_DEFAULT_DICT && !newobj && n >= 1 && !get_pairs(vm, d, a[0]))
            return NULL;
        return d;
    }
    case AC_PK_FN_SET:
    case AC_PK_FN_FROZENSET: {
        ac_pk_value *s = new_value(vm, AC_PK_SET);
        if (s && !newobj && n >= 1) {
            if (!is_seq(a[0]) && a[0]->kind != AC_PK_SET)
                return perr(vm, AC_ERR_FORMAT, "set argument is not a sequence"), NULL;
            for (size_t i = 0; i < a[0]->u.seq.n; i++)
                if (!seq_push(vm, s, a[0]->u.seq.items[i])) return NULL;
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
            return apply(vm, a[0], a[2], false, level + 1);
        break;
    default: break;
    }
    return new_placeholder(vm, callable, args);
}

// ---------------------------------------------------------------------------------------
// Stack, marks, memo

static bool push(ac_pickle *vm, ac_pk_value *v) {
    if (!v) return false;
    if (vm->sp >= vm->lim.max_stack) return perr(vm, AC_ERR_FORMAT, "stack deeper than %zu", vm->lim.max_stack), false;
    if (vm->sp == vm->stack_cap) {
        size_t ncap = vm->stack_cap ? vm->stack_cap * 2 : 64;
        void *p = realloc(vm->stack, ncap * sizeof *vm->stack);
        if (!p) return perr(vm, AC_ERR_NOMEM, "out of memory"), false;
        vm->stack = p;
        vm->stack_cap = ncap;
    }
    vm->stack[vm->sp++] = v;
    return true;
}

static size_t fence(const ac_pickle *vm) { return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0; }

static ac_pk_value *pop(ac_pickle *vm) {
    if (vm->sp <= fence(vm)) return perr(vm, AC_ERR_FORMAT, "stack underflow"), NULL;
    return vm->stack[--vm->sp];
}

static ac_pk_value *top(ac_pickle *vm) {
    if (vm->sp <= fence(vm)) return perr(vm, AC_ERR_FORMAT, "stack underflow"), NULL;
    return vm->stack[vm->sp - 1];
}

static bool push_mark(ac_pickle *vm) {
    if (vm->n_marks >= vm->lim.max_stack) return perr(vm, AC_ERR_FORMAT, "too many marks"), false;
    if (vm->n_marks == vm->marks_cap) {
        size_t ncap = vm->marks_cap ? vm->marks_cap * 2 : 32;
        void *p = realloc(vm->marks, ncap * sizeof *vm->marks);
        if (!p) return perr(vm, AC_ERR_NOMEM, "out of memory"), false;
        vm->marks = p;
        vm->marks_cap = ncap;
    }
    vm->marks[vm->n_marks++] = vm->sp;
    return true;
}

// Pops the last mark; the items above it are stack[*k .. sp). The caller drops them.
static bool pop_mark(ac_pickle *vm, size_t *k) {
    if (!vm->n_marks) return perr(vm, AC_ERR_FORMAT, "no MARK on the stack"), false;
    *k = vm->marks[--vm->n_marks];
    return true;
}

static size_t memo_find(const ac_pickle *vm, uint64_t key) {
    size_t mask = vm->memo_cap - 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
    while (vm->memo[i].v && vm->memo[i].key != key) i = (i + 1) & mask;
    return i;
}

static ac_pk_value *memo_get(ac_pickle *vm, uint64_t key) {
    ac_pk_value *v = vm->memo_cap ? vm->memo[memo_find(vm, key)].v : NULL;
    if (!v) perr(vm, AC_ERR_FORMAT, "memo key %llu is not defined", (unsigned long long)key);
    return v;
}

static bool memo_put(ac_pickle *vm, uint64_t key, ac_pk_value *v) {
    if (!v) return perr(vm, AC_ERR_FORMAT, "stack underflow"), false;
    if ((vm->memo_n + 1) * 2 > vm->memo_cap) {
        if (vm->memo_n >= vm->lim.max_objects)
            return perr(vm, AC_ERR_NOMEM, "more than %zu memo entries", vm->lim.max_objects), false;
        size_t ncap = vm->memo_cap ? vm->memo_cap * 2 : 256;
        memo_slot *old = vm->memo;
        size_t ocap = vm->memo_cap;
        vm->memo = calloc(ncap, sizeof *vm->memo);
        if (!vm->memo) {
            vm->memo = old;
            return perr(vm, AC_ERR_NOMEM, "out of memory"), false;
        }
        vm->memo_cap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].v) vm->memo[memo_find(vm, old[i].key)] = old[i];
        free(old);
    }
    size_t i = memo_find(vm, key);
    if (!vm->memo[i].v) vm->memo_n++;
    vm->memo[i].key = key;
    vm->memo[i].v = v;
    return true;
}

// ---------------------------------------------------------------------------------------
// Reading

static const unsigned char *take(ac_pickle *vm, size_t n) {
    if (n > vm->len - vm->pos) return truncated(vm), NULL;
    const unsigned char *p = vm->buf + vm->pos;
    vm->pos += n;
    return p;
}

static bool read_uint(ac_pickle *vm, int nbytes, uint64_t *out) {
    const unsigned char *p = take(vm, (size_t)nbytes);
    if (!p) return false;
    uint64_t u = 0;
    for (int i = 0; i < nbytes; i++) u |= (uint64_t)p[i] << (8 * i);
    *out = u;
    return true;
}

// A protocol-0 text line without its '\n'.
static bool read_line(ac_pickle *vm, const char **s, size_t *n) {
    size_t avail = vm->len - vm->pos;
    const unsigned char *p = vm->buf + vm->pos;
    const unsigned char *nl = memchr(p, '\n', AC_MIN(avail, (size_t)MAX_TEXT_LINE));
    if (!nl) return avail >= MAX_TEXT_LINE ? perr(vm, AC_ERR_FORMAT, "text line too long"), false
                                           : (truncated(vm), false);
    *s = (const char *)p;
    *n = (size_t)(nl - p);
    vm->pos += *n + 1;
    return true;
}

// Decimal integer text (INT, LONG, GET, PUT): an int or, when it overflows, a big int.
static ac_pk_value *parse_decimal(ac_pickle *vm, const char *s, size_t n) {
    if (n && s[n - 1] == 'L') n--;  // LONG's Python 2 suffix
    bool neg = false;
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return perr(vm, AC_ERR_FORMAT, "invalid integer text"), NULL;
    if (n - i > MAX_INT_DIGITS) return perr(vm, AC_ERR_FORMAT, "integer text too long"), NULL;
    // Magnitude in little-endian base 256, plus a spare byte for the sign.
    unsigned char mag[MAX_INT_DIGITS / 2 + 8] = {0};
    size_t used = 1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return perr(vm, AC_ERR_FORMAT, "invalid integer text"), NULL;
        unsigned carry = (unsigned)(s[i] - '0');
        for (size_t j = 0; j < used; j++) {
            unsigned x = mag[j] * 10u + carry;
            mag[j] = (unsigned char)x;
            carry = x >> 8;
        }
        if (carry) mag[used++] = (unsigned char)carry;
    }
    used++;  // room for the sign bit
    if (neg) {  // two's complement
        unsigned carry = 1;
        for (size_t j = 0; j < used; j++) {
            unsigned x = (unsigned char)~mag[j] + carry;
            mag[j] = (unsigned char)x;
            carry = x >> 8;
        }
    }
    return new_long(vm, mag, used);
}

static bool parse_index(ac_pickle *vm, const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (!n || n > 19) return perr(vm, AC_ERR_FORMAT, "invalid memo index"), false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return perr(vm, AC_ERR_FORMAT, "invalid memo index"), false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf8_put(unsigned char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xc0 | cp >> 6); o[1] = (unsigned char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

// STRING: a quoted Python 2 str repr.
static ac_pk_value *parse_quoted(ac_pickle *vm, const char *s, size_t n) {
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0])
        return perr(vm, AC_ERR_FORMAT, "STRING argument is not quoted"), NULL;
    unsigned char *o = malloc(n);
    if (!o) return perr(vm, AC_ERR_NOMEM, "out of memory"), NULL;
    size_t m = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\\' || i + 2 >= n) { o[m++] = c; continue; }
        c = (unsigned char)s[++i];
        switch (c) {
        case 'n': o[m++] = '\n'; break;
        case 'r': o[m++] = '\r'; break;
        case 't': o[m++] = '\t'; break;
        case 'a': o[m++] = '\a'; break;
        case 'b': o[m++] = '\b'; break;
        case 'f': o[m++] = '\f'; break;
        case 'v': o[m++] = '\v'; break;
        case '\\': case '\'': case '"': o[m++] = c; break;
        case 'x':
            if (i + 3 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                o[m++] = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                i += 2;
            } else {
                free(o);
                return perr(vm, AC_ERR_FORMAT, "invalid \\x escape in STRING"), NULL;
            }
            break;
        default:
            if (c >= '0' && c <= '7') {
                unsigned v = c - '0';
                for (int k = 0; k < 2 && i + 2 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    v = v * 8 + (unsigned)(s[++i] - '0');
                o[m++] = (unsigned char)v;
            } else {
                o[m++] = '\\';
                o[m++] = c;
            }
        }
    }
    ac_pk_value *v = new_str(vm, AC_PK_STR, o, m);
    free(o);
    return v;
}

// UNICODE: raw-unicode-escape text (\uXXXX, \UXXXXXXXX; other bytes are Latin-1).
static ac_pk_value *parse_raw_unicode(ac_pickle *vm, const char *s, size_t n) {
    if (n > SIZE_MAX / 4) return perr(vm, AC_ERR_NOMEM, "string too large"), NULL;
    unsigned char *o = malloc(n * 4 + 1);
    if (!o) return perr(vm, AC_ERR_NOMEM, "out of memory"), NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int digits = 0;
        if (c == '\\' && i + 1 < n) digits = s[i + 1] == 'u' ? 4 : s[i + 1] == 'U' ? 8 : 0;
        if (digits) {
            uint32_t cp = 0;
            if (i + 1 + (size_t)digits >= n) goto bad;
            for (int k = 0; k < digits; k++) {
                int h = hexval(s[i + 2 + k]);
                if (h < 0) goto bad;
                cp = cp * 16 + (uint32_t)h;
            }
            if (cp > 0x10ffff) goto bad;
            m += utf8_put(o + m, cp);
            i += 1 + (size_t)digits;
        } else {
            m += utf8_put(o + m, c);
        }
    }
    ac_pk_value *v = new_str(vm, AC_PK_STR, o, m);
    free(o);
    return v;
bad:
    free(o);
    return perr(vm, AC_ERR_FORMAT, "invalid escape in UNICODE"), NULL;
}

static ac_pk_value *parse_float_text(ac_pickle *vm, const char *s, size_t n) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return perr(vm, AC_ERR_FORMAT, "invalid float text"), NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end) return perr(vm, AC_ERR_FORMAT, "invalid float text"), NULL;
    ac_pk_value *v = new_value(vm, AC_PK_FLOAT);
    if (v) v->u.f = d;
    return v;
}

// Reads a length-prefixed string of `lenbytes` (1, 4 or 8) bytes.
static ac_pk_value *read_counted(ac_pickle *vm, int lenbytes, ac_pk_kind kind, bool is_signed) {
    uint64_t n;
    if (!read_uint(vm, lenbytes, &n)) return NULL;
    if (is_signed && lenbytes == 4 && (n & 0x80000000u))
        return perr(vm, AC_ERR_FORMAT, "negative string length"), NULL;
    if (n > vm->len - vm->pos) return truncated(vm), NULL;
    const unsigned char *p = take(vm, (size_t)n);
    return p ? new_str(vm, kind, p, (size_t)n) : NULL;
}

// ---------------------------------------------------------------------------------------
// Opcodes

// The item just below the mark that was popped at k (the target of APPENDS/SETITEMS/ADDITEMS).
static ac_pk_value *below_mark(ac_pickle *vm, size_t k) {
    if (k <= fence(vm)) return perr(vm, AC_ERR_FORMAT, "stack underflow"), NULL;
    return vm->stack[k - 1];
}

static bool append_to(ac_pickle *vm, ac_pk_value *target, ac_pk_value *v) {
    if (target->kind == AC_PK_LIST) return seq_push(vm, target, v);
    if (target->kind == AC_PK_OBJECT) return true;  // inert: would call target.append
    return perr(vm, AC_ERR_FORMAT, "APPEND to a %s", ac_pk_kind_name(target->kind)), false;
}

static bool setitem(ac_pickle *vm, ac_pk_value *target, ac_pk_value *k, ac_pk_value *v) {
    if (target->kind == AC_PK_DICT) return dict_set(vm, target, k, v);
    if (target->kind == AC_PK_OBJECT) return true;  // inert: would call target.__setitem__
    return perr(vm, AC_ERR_FORMAT, "SETITEM on a %s", ac_pk_kind_name(target->kind)), false;
}

static bool persistent(ac_pickle *vm, ac_pk_value *pid) {
    if (!pid) return false;
    if (!vm->persload) return perr(vm, AC_ERR_FORMAT, "unexpected persistent id"), false;
    ac_pk_value *out = NULL;
    ac_status st = vm->persload(vm->ctx, vm, pid, &out);
    if (st != AC_OK || !out) {
        vm->err = st != AC_OK ? st : AC_ERR_FORMAT;
        ac_error_prefix("pickle byte %zu", vm->op_pos);
        return false;
    }
    return push(vm, out);
}

static bool op_reduce(ac_pickle *vm, bool newobj_ex) {
    ac_pk_value *kwargs = newobj_ex ? pop(vm) : NULL;
    if (newobj_ex && !kwargs) return false;
    ac_pk_value *args = pop(vm);
    ac_pk_value *fn = args ? pop(vm) : NULL;
    if (!fn) return false;
    bool newobj = vm->op != 'R';
    if (!newobj && args->kind != AC_PK_TUPLE && fn->kind == AC_PK_GLOBAL && fn->u.global.fn != AC_PK_FN_NONE)
        return perr(vm, AC_ERR_FORMAT, "REDUCE arguments are not a tuple"), false;
    return push(vm, apply(vm, fn, args, newobj, 0));
}

static bool op_get(ac_pickle *vm, uint64_t key) { return push(vm, memo_get(vm, key)); }

static bool op_put(ac_pickle *vm, uint64_t key) {
    ac_pk_value *t = top(vm);
    return t && memo_put(vm, key, t);
}

// Pops the mark and wraps the items above it into a new tuple/list/set.
static bool op_collect(ac_pickle *vm, ac_pk_kind kind) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    ac_pk_value *v = new_seq(vm, kind, vm->stack + k, vm->sp - k);
    vm->sp = k;
    return push(vm, v);
}

static bool op_tuple_n(ac_pickle *vm, size_t n) {
    if (vm->sp - fence(vm) < n) return perr(vm, AC_ERR_FORMAT, "stack underflow"), false;
    ac_pk_value *v = new_seq(vm, AC_PK_TUPLE, vm->stack + vm->sp - n, n);
    vm->sp -= n;
    return push(vm, v);
}

static bool op_dict(ac_pickle *vm) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    if ((vm->sp - k) % 2) return perr(vm, AC_ERR_FORMAT, "odd number of items for a dict"), false;
    ac_pk_value *d = new_value(vm, AC_PK_DICT);
    for (size_t i = k; d && i < vm->sp; i += 2)
        if (!dict_set(vm, d, vm->stack[i], vm->stack[i + 1])) return false;
    vm->sp = k;
    return push(vm, d);
}

static bool op_setitems(ac_pickle *vm) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    ac_pk_value *target = below_mark(vm, k);
    if (!target) return false;
    if ((vm->sp - k) % 2) return perr(vm, AC_ERR_FORMAT, "odd number of items for SETITEMS"), false;
    for (size_t i = k; i < vm->sp; i += 2)
        if (!setitem(vm, target, vm->stack[i], vm->stack[i + 1])) return false;
    vm->sp = k;
    return true;
}

static bool op_appends(ac_pickle *vm, bool to_set) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    ac_pk_value *target = below_mark(vm, k);
    if (!target) return false;
    if (to_set && target->kind != AC_PK_SET && target->kind != AC_PK_OBJECT)
        return perr(vm, AC_ERR_FORMAT, "ADDITEMS to a %s", ac_pk_kind_name(target->kind)), false;
    for (size_t i = k; i < vm->sp; i++) {
        bool ok = to_set ? (target->kind == AC_PK_OBJECT || seq_push(vm, target, vm->stack[i]))
                         : append_to(vm, target, vm->stack[i]);
        if (!ok) return false;
    }
    vm->sp = k;
    return true;
}

static bool op_global_text(ac_pickle *vm, bool inst) {
    const char *m, *n;
    size_t ml, nl;
    if (!read_line(vm, &m, &ml) || !read_line(vm, &n, &nl)) return false;
    ac_pk_value *g = new_global(vm, m, ml, n, nl);
    if (!g) return false;
    if (!inst) return push(vm, g);
    size_t k;  // INST: the arguments follow the mark
    if (!pop_mark(vm, &k)) return false;
    ac_pk_value *args = new_seq(vm, AC_PK_TUPLE, vm->stack + k, vm->sp - k);
    vm->sp = k;
    return args && push(vm, apply(vm, g, args, false, 0));
}

static bool op_obj(ac_pickle *vm) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    if (vm->sp == k) return perr(vm, AC_ERR_FORMAT, "OBJ without a class"), false;
    ac_pk_value *cls = vm->stack[k];
    ac_pk_value *args = new_seq(vm, AC_PK_TUPLE, vm->stack + k + 1, vm->sp - k - 1);
    vm->sp = k;
    return args && push(vm, apply(vm, cls, args, false, 0));
}

static bool op_stack_global(ac_pickle *vm) {
    ac_pk_value *name = pop(vm);
    ac_pk_value *mod = name ? pop(vm) : NULL;
    if (!mod) return false;
    if (name->kind != AC_PK_STR || mod->kind != AC_PK_STR)
        return perr(vm, AC_ERR_FORMAT, "STACK_GLOBAL names are not strings"), false;
    return push(vm, new_global(vm, mod->u.str.data, mod->u.str.len, name->u.str.data, name->u.str.len));
}

static bool op_ext(ac_pickle *vm, int nbytes) {
    uint64_t code;
    if (!read_uint(vm, nbytes, &code)) return false;
    char name[32];
    int n = snprintf(name, sizeof name, "%llu", (unsigned long long)code);
    return push(vm, new_global(vm, "copyreg.extension", 17, name, (size_t)n));
}

static bool op_build(ac_pickle *vm) {
    ac_pk_value *state = pop(vm);
    ac_pk_value *t = state ? top(vm) : NULL;
    if (!t) return false;
    if (t->kind == AC_PK_OBJECT) {  // keep the state (inert) so that callers may inspect it
        t->u.obj.state = state;
        return deepen(vm, t, state);
    }
    return true;  // state of dicts (OrderedDict's _metadata), tensors, ...: ignored
}

static bool step(ac_pickle *vm, bool *stop) {
    uint64_t u;
    const char *s;
    size_t n;
    switch (vm->op) {
    case '(': return push_mark(vm);
    case '.': *stop = true; return true;
    case '0':
        if (vm->sp > fence(vm)) vm->sp--;
        else if (vm->n_marks) vm->n_marks--;
        else return perr(vm, AC_ERR_FORMAT, "stack underflow"), false;
        return true;
    case '1': return pop_mark(vm, &n) && ((vm->sp = n), true);
    case '2': return push(vm, top(vm));
    case 'F': return read_line(vm, &s, &n) && push(vm, parse_float_text(vm, s, n));
    case 'I':
        if (!read_line(vm, &s, &n)) return false;
        if (n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1'))
            return push(vm, s[1] == '1' ? &vm->v_true : &vm->v_false);
        return push(vm, parse_decimal(vm, s, n));
    case 'L': return read_line(vm, &s, &n) && push(vm, parse_decimal(vm, s, n));
    case 'J': return read_uint(vm, 4, &u) && push(vm, new_int(vm, (int32_t)(uint32_t)u));
    case 'K': return read_uint(vm, 1, &u) && push(vm, new_int(vm, (int64_t)u));
    case 'M': return read_uint(vm, 2, &u) && push(vm, new_int(vm, (int64_t)u));
    case 0x8a:  // LONG1
    case 0x8b: {  // LONG4
        if (!read_uint(vm, vm->op == 0x8a ? 1 : 4, &u)) return false;
        if (vm->op == 0x8b && (u & 0x80000000u)) return perr(vm, AC_ERR_FORMAT, "negative LONG4 length"), false;
        const unsigned char *p = take(vm, (size_t)u);
        return p && push(vm, new_long(vm, p, (size_t)u));
    }
    case 'N': return push(vm, &vm->v_none);
    case 0x88: return push(vm, &vm->v_true);
    case 0x89: return push(vm, &vm->v_false);
    case 'P': return read_line(vm, &s, &n) && persistent(vm, new_str(vm, AC_PK_STR, s, n));
    case 'Q': return persistent(vm, pop(vm));
    case 'R': return op_reduce(vm, false);
    case 0x81: return op_reduce(vm, false);  // NEWOBJ
    case 0x92: return op_reduce(vm, true);   // NEWOBJ_EX
    case 'S': return read_line(vm, &s, &n) && push(vm, parse_quoted(vm, s, n));
    case 'T': return push(vm, read_counted(vm, 4, AC_PK_STR, true));
    case 'U': return push(vm, read_counted(vm, 1, AC_PK_STR, false));
    case 'V': return read_line(vm, &s, &n) && push(vm, parse_raw_unicode(vm, s, n));
    case 'X': return push(vm, read_counted(vm, 4, AC_PK_STR, false));
    case 0x8c: return push(vm, read_counted(vm, 1, AC_PK_STR, false));
    case 0x8d: return push(vm, read_counted(vm, 8, AC_PK_STR, false));
    case 'B': return push(vm, read_counted(vm, 4, AC_PK_BYTES, false));
    case 'C': return push(vm, read_counted(vm, 1, AC_PK_BYTES, false));
    case 0x8e: return push(vm, read_counted(vm, 8, AC_PK_BYTES, false));
    case 0x96: return push(vm, read_counted(vm, 8, AC_PK_BYTES, false));  // BYTEARRAY8
    case 'a': {
        ac_pk_value *v = pop(vm);
        ac_pk_value *t = v ? top(vm) : NULL;
        return t && append_to(vm, t, v);
    }
    case 'e': return op_appends(vm, false);
    case 0x90: return op_appends(vm, true);  // ADDITEMS
    case 'b': return op_build(vm);
    case 'c': return op_global_text(vm, false);
    case 'i': return op_global_text(vm, true);  // INST
    case 0x93: return op_stack_global(vm);
    case 'o': return op_obj(vm);
    case 'd': return op_dict(vm);
    case '}': return push(vm, new_value(vm, AC_PK_DICT));
    case 'g': return read_line(vm, &s, &n) && parse_index(vm, s, n, &u) && op_get(vm, u);
    case 'h': return read_uint(vm, 1, &u) && op_get(vm, u);
    case 'j': return read_uint(vm, 4, &u) && op_get(vm, u);
    case 'p': return read_line(vm, &s, &n) && parse_index(vm, s, n, &u) && op_put(vm, u);
    case 'q': return read_uint(vm, 1, &u) && op_put(vm, u);
    case 'r': return read_uint(vm, 4, &u) && op_put(vm, u);
    case 0x94: return op_put(vm, vm->memo_n);  // MEMOIZE
    case 'l': return op_collect(vm, AC_PK_LIST);
    case ']': return push(vm, new_value(vm, AC_PK_LIST));
    case 't': return op_collect(vm, AC_PK_TUPLE);
    case ')': return push(vm, new_value(vm, AC_PK_TUPLE));
    case 0x85: return op_tuple_n(vm, 1);
    case 0x86: return op_tuple_n(vm, 2);
    case 0x87: return op_tuple_n(vm, 3);
    case 0x8f: return push(vm, new_value(vm, AC_PK_SET));  // EMPTY_SET
    case 0x91: return op_collect(vm, AC_PK_SET);           // FROZENSET
    case 's': {
        ac_pk_value *v = pop(vm);
        ac_pk_value *k = v ? pop(vm) : NULL;
        ac_pk_value *t = k ? top(vm) : NULL;
        return t && setitem(vm, t, k, v);
    }
    case 'u': return op_setitems(vm);
    case 'G': {
        const unsigned char *p = take(vm, 8);
        if (!p) return false;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | p[i];
        ac_pk_value *v = new_value(vm, AC_PK_FLOAT);
        if (v) memcpy(&v->u.f, &bits, sizeof bits);
        return push(vm, v);
    }
    case 0x80:
        if (!read_uint(vm, 1, &u)) return false;
        if (u > 5) return perr(vm, AC_ERR_UNSUPPORTED, "pickle protocol %llu (at most 5 supported)", (unsigned long long)u), false;
        return true;
    case 0x82: return op_ext(vm, 1);
    case 0x83: return op_ext(vm, 2);
    case 0x84: return op_ext(vm, 4);
    case 0x95:  // FRAME: a length hint
        if (!read_uint(vm, 8, &u)) return false;
        if (u > vm->len - vm->pos) return truncated(vm), false;
        return true;
    case 0x97: return perr(vm, AC_ERR_UNSUPPORTED, "out-of-band buffers are not supported"), false;
    case 0x98: return top(vm) != NULL;  // READONLY_BUFFER
    default: return perr(vm, AC_ERR_FORMAT, "unknown opcode"), false;
    }
}

ac_status ac_pickle_run(ac_pickle *vm, const unsigned char *buf, size_t len, size_t *used,
                        ac_pickle_persload_fn persload, void *ctx, ac_pk_value **out) {
    *out = NULL;
    if (used) *used = 0;
    vm->sp = vm->n_marks = 0;
    free(vm->memo);
    vm->memo = NULL;
    vm->memo_cap = vm->memo_n = 0;
    vm->buf = buf;
    vm->len = len;
    vm->pos = 0;
    vm->persload = persload;
    vm->ctx = ctx;
    vm->err = AC_OK;
    for (;;) {
        vm->op_pos = vm->pos;
        if (vm->pos >= vm->len) {
            vm->op = 0;
            return perr(vm, AC_ERR_FORMAT, "data ends before STOP");
        }
        vm->op = buf[vm->pos++];
        bool stop = false;
        if (!step(vm, &stop)) return vm->err != AC_OK ? vm->err : AC_ERR_FORMAT;
        if (stop) {
            ac_pk_value *v = pop(vm);
            if (!v) return vm->err;
            *out = v;
            if (used) *used = vm->pos;
            return AC_OK;
        }
    }
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
