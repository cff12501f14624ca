// pickle.c: the opcode machine of the restricted pickle reader (see pickle.h; values live in
// pickle_objects.c). Opcode semantics follow CPython's Lib/pickle.py (protocols 0-5); the
// differences are deliberate: nothing is imported or called, containers are plain ordered
// pair lists (keys may be any value, even placeholders or tensors), and stack pops never
// reach below the current MARK.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/pickle_internal.h"

#define MAX_TEXT_LINE 65536   // protocol-0 text lines (numbers, names, reprs)
#define MAX_INT_DIGITS 128    // decimal text ints (protocol 0); keeps parsing linear
// Bytes the values of one run may hold per byte of pickle, plus a fixed allowance: a real
// pickle needs a few bytes per input byte (strings, 8 or 16 per container item); only copying
// the same container again and again (dict(pairs) or set(list) by REDUCE) goes beyond.
#define BYTES_PER_INPUT_BYTE 64
#define BYTES_ALLOWANCE ((size_t)64 << 20)

static ac_status truncated(ac_pickle *vm) { return ac_pk_err(vm, AC_ERR_FORMAT, "data truncated"); }

// ---------------------------------------------------------------------------------------
// Stack, marks, memo

static bool push(ac_pickle *vm, ac_pk_value *v) {
    if (!v) return false;
    if (vm->sp >= vm->lim.max_stack) return ac_pk_err(vm, AC_ERR_FORMAT, "stack deeper than %zu", vm->lim.max_stack), false;
    if (vm->sp == vm->stack_cap) {
        size_t ncap = vm->stack_cap ? vm->stack_cap * 2 : 64;
        void *p = realloc(vm->stack, ncap * sizeof *vm->stack);
        if (!p) return ac_pk_err(vm, AC_ERR_NOMEM, "out of memory"), false;
        vm->stack = p;
        vm->stack_cap = ncap;
    }
    vm->stack[vm->sp++] = v;
    return true;
}

// The stack entries from index k on (NULL, never NULL + 0, when nothing was ever pushed).
static ac_pk_value **stack_from(ac_pickle *vm, size_t k) { return vm->stack ? vm->stack + k : NULL; }

static size_t fence(const ac_pickle *vm) { return vm->n_marks ? vm->marks[vm->n_marks - 1] : 0; }

static ac_pk_value *pop(ac_pickle *vm) {
    if (vm->sp <= fence(vm)) return ac_pk_err(vm, AC_ERR_FORMAT, "stack underflow"), NULL;
    return vm->stack[--vm->sp];
}

static ac_pk_value *top(ac_pickle *vm) {
    if (vm->sp <= fence(vm)) return ac_pk_err(vm, AC_ERR_FORMAT, "stack underflow"), NULL;
    return vm->stack[vm->sp - 1];
}

static bool push_mark(ac_pickle *vm) {
    if (vm->n_marks >= vm->lim.max_stack) return ac_pk_err(vm, AC_ERR_FORMAT, "too many marks"), false;
    if (vm->n_marks == vm->marks_cap) {
        size_t ncap = vm->marks_cap ? vm->marks_cap * 2 : 32;
        void *p = realloc(vm->marks, ncap * sizeof *vm->marks);
        if (!p) return ac_pk_err(vm, AC_ERR_NOMEM, "out of memory"), false;
        vm->marks = p;
        vm->marks_cap = ncap;
    }
    vm->marks[vm->n_marks++] = vm->sp;
    return true;
}

// Pops the last mark; the items above it are stack[*k .. sp). The caller drops them.
static bool pop_mark(ac_pickle *vm, size_t *k) {
    if (!vm->n_marks) return ac_pk_err(vm, AC_ERR_FORMAT, "no MARK on the stack"), false;
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
    if (!v) ac_pk_err(vm, AC_ERR_FORMAT, "memo key %llu is not defined", (unsigned long long)key);
    return v;
}

static bool memo_put(ac_pickle *vm, uint64_t key, ac_pk_value *v) {
    if (!v) return ac_pk_err(vm, AC_ERR_FORMAT, "stack underflow"), false;
    if ((vm->memo_n + 1) * 2 > vm->memo_cap) {
        if (vm->memo_n >= vm->lim.max_objects)
            return ac_pk_err(vm, AC_ERR_NOMEM, "more than %zu memo entries", vm->lim.max_objects), false;
        size_t ncap = vm->memo_cap ? vm->memo_cap * 2 : 256;
        ac_pk_memo_slot *old = vm->memo;
        size_t ocap = vm->memo_cap;
        vm->memo = calloc(ncap, sizeof *vm->memo);
        if (!vm->memo) {
            vm->memo = old;
            return ac_pk_err(vm, AC_ERR_NOMEM, "out of memory"), false;
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
    if (!nl) return avail >= MAX_TEXT_LINE ? ac_pk_err(vm, AC_ERR_FORMAT, "text line too long"), false
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
    if (i == n) return ac_pk_err(vm, AC_ERR_FORMAT, "invalid integer text"), NULL;
    if (n - i > MAX_INT_DIGITS) return ac_pk_err(vm, AC_ERR_FORMAT, "integer text too long"), NULL;
    // Magnitude in little-endian base 256, plus a spare byte for the sign.
    unsigned char mag[MAX_INT_DIGITS / 2 + 8] = {0};
    size_t used = 1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return ac_pk_err(vm, AC_ERR_FORMAT, "invalid integer text"), NULL;
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
    return ac_pk_new_long(vm, mag, used);
}

static bool parse_index(ac_pickle *vm, const char *s, size_t n, uint64_t *out) {
    uint64_t v = 0;
    if (!n || n > 19) return ac_pk_err(vm, AC_ERR_FORMAT, "invalid memo index"), false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return ac_pk_err(vm, AC_ERR_FORMAT, "invalid memo index"), false;
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
        return ac_pk_err(vm, AC_ERR_FORMAT, "STRING argument is not quoted"), NULL;
    unsigned char *o = malloc(n);
    if (!o) return ac_pk_err(vm, AC_ERR_NOMEM, "out of memory"), NULL;
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
                return ac_pk_err(vm, AC_ERR_FORMAT, "invalid \\x escape in STRING"), NULL;
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
    ac_pk_value *v = ac_pk_new_str(vm, AC_PK_STR, o, m);
    free(o);
    return v;
}

// UNICODE: raw-unicode-escape text (\uXXXX, \UXXXXXXXX; other bytes are Latin-1).
static ac_pk_value *parse_raw_unicode(ac_pickle *vm, const char *s, size_t n) {
    if (n > SIZE_MAX / 4) return ac_pk_err(vm, AC_ERR_NOMEM, "string too large"), NULL;
    unsigned char *o = malloc(n * 4 + 1);
    if (!o) return ac_pk_err(vm, AC_ERR_NOMEM, "out of memory"), NULL;
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
    ac_pk_value *v = ac_pk_new_str(vm, AC_PK_STR, o, m);
    free(o);
    return v;
bad:
    free(o);
    return ac_pk_err(vm, AC_ERR_FORMAT, "invalid escape in UNICODE"), NULL;
}

static ac_pk_value *parse_float_text(ac_pickle *vm, const char *s, size_t n) {
    char tmp[64];
    if (n == 0 || n >= sizeof tmp) return ac_pk_err(vm, AC_ERR_FORMAT, "invalid float text"), NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end) return ac_pk_err(vm, AC_ERR_FORMAT, "invalid float text"), NULL;
    ac_pk_value *v = ac_pk_new_value(vm, AC_PK_FLOAT);
    if (v) v->u.f = d;
    return v;
}

// Reads a length-prefixed string of `lenbytes` (1, 4 or 8) bytes.
static ac_pk_value *read_counted(ac_pickle *vm, int lenbytes, ac_pk_kind kind, bool is_signed) {
    uint64_t n;
    if (!read_uint(vm, lenbytes, &n)) return NULL;
    if (is_signed && lenbytes == 4 && (n & 0x80000000u))
        return ac_pk_err(vm, AC_ERR_FORMAT, "negative string length"), NULL;
    if (n > vm->len - vm->pos) return truncated(vm), NULL;
    const unsigned char *p = take(vm, (size_t)n);
    return p ? ac_pk_new_str(vm, kind, p, (size_t)n) : NULL;
}

// ---------------------------------------------------------------------------------------
// Opcodes

// The item just below the mark that was popped at k (the target of APPENDS/SETITEMS/ADDITEMS).
static ac_pk_value *below_mark(ac_pickle *vm, size_t k) {
    if (k <= fence(vm)) return ac_pk_err(vm, AC_ERR_FORMAT, "stack underflow"), NULL;
    return vm->stack[k - 1];
}

static bool append_to(ac_pickle *vm, ac_pk_value *target, ac_pk_value *v) {
    if (target->kind == AC_PK_LIST) return ac_pk_seq_push(vm, target, v);
    if (target->kind == AC_PK_OBJECT) return true;  // inert: would call target.append
    return ac_pk_err(vm, AC_ERR_FORMAT, "APPEND to a %s", ac_pk_kind_name(target->kind)), false;
}

static bool setitem(ac_pickle *vm, ac_pk_value *target, ac_pk_value *k, ac_pk_value *v) {
    if (target->kind == AC_PK_DICT) return ac_pk_dict_set(vm, target, k, v);
    if (target->kind == AC_PK_OBJECT) return true;  // inert: would call target.__setitem__
    return ac_pk_err(vm, AC_ERR_FORMAT, "SETITEM on a %s", ac_pk_kind_name(target->kind)), false;
}

static bool persistent(ac_pickle *vm, ac_pk_value *pid) {
    if (!pid) return false;
    if (!vm->persload) return ac_pk_err(vm, AC_ERR_FORMAT, "unexpected persistent id"), false;
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
        return ac_pk_err(vm, AC_ERR_FORMAT, "REDUCE arguments are not a tuple"), false;
    return push(vm, ac_pk_apply(vm, fn, args, newobj, 0));
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
    ac_pk_value *v = ac_pk_new_seq(vm, kind, stack_from(vm, k), vm->sp - k);
    vm->sp = k;
    return push(vm, v);
}

static bool op_tuple_n(ac_pickle *vm, size_t n) {
    if (vm->sp - fence(vm) < n) return ac_pk_err(vm, AC_ERR_FORMAT, "stack underflow"), false;
    ac_pk_value *v = ac_pk_new_seq(vm, AC_PK_TUPLE, stack_from(vm, vm->sp - n), n);
    vm->sp -= n;
    return push(vm, v);
}

static bool op_dict(ac_pickle *vm) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    if ((vm->sp - k) % 2) return ac_pk_err(vm, AC_ERR_FORMAT, "odd number of items for a dict"), false;
    ac_pk_value *d = ac_pk_new_value(vm, AC_PK_DICT);
    for (size_t i = k; d && i < vm->sp; i += 2)
        if (!ac_pk_dict_set(vm, d, vm->stack[i], vm->stack[i + 1])) return false;
    vm->sp = k;
    return push(vm, d);
}

static bool op_setitems(ac_pickle *vm) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    ac_pk_value *target = below_mark(vm, k);
    if (!target) return false;
    if ((vm->sp - k) % 2) return ac_pk_err(vm, AC_ERR_FORMAT, "odd number of items for SETITEMS"), false;
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
        return ac_pk_err(vm, AC_ERR_FORMAT, "ADDITEMS to a %s", ac_pk_kind_name(target->kind)), false;
    for (size_t i = k; i < vm->sp; i++) {
        bool ok = to_set ? (target->kind == AC_PK_OBJECT || ac_pk_seq_push(vm, target, vm->stack[i]))
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
    ac_pk_value *g = ac_pk_new_global(vm, m, ml, n, nl);
    if (!g) return false;
    if (!inst) return push(vm, g);
    size_t k;  // INST: the arguments follow the mark
    if (!pop_mark(vm, &k)) return false;
    ac_pk_value *args = ac_pk_new_seq(vm, AC_PK_TUPLE, stack_from(vm, k), vm->sp - k);
    vm->sp = k;
    return args && push(vm, ac_pk_apply(vm, g, args, false, 0));
}

static bool op_obj(ac_pickle *vm) {
    size_t k;
    if (!pop_mark(vm, &k)) return false;
    if (vm->sp == k) return ac_pk_err(vm, AC_ERR_FORMAT, "OBJ without a class"), false;
    ac_pk_value *cls = vm->stack[k];
    ac_pk_value *args = ac_pk_new_seq(vm, AC_PK_TUPLE, stack_from(vm, k + 1), vm->sp - k - 1);
    vm->sp = k;
    return args && push(vm, ac_pk_apply(vm, cls, args, false, 0));
}

static bool op_stack_global(ac_pickle *vm) {
    ac_pk_value *name = pop(vm);
    ac_pk_value *mod = name ? pop(vm) : NULL;
    if (!mod) return false;
    if (name->kind != AC_PK_STR || mod->kind != AC_PK_STR)
        return ac_pk_err(vm, AC_ERR_FORMAT, "STACK_GLOBAL names are not strings"), false;
    return push(vm, ac_pk_new_global(vm, mod->u.str.data, mod->u.str.len, name->u.str.data, name->u.str.len));
}

static bool op_ext(ac_pickle *vm, int nbytes) {
    uint64_t code;
    if (!read_uint(vm, nbytes, &code)) return false;
    char name[32];
    int n = snprintf(name, sizeof name, "%llu", (unsigned long long)code);
    return push(vm, ac_pk_new_global(vm, "copyreg.extension", 17, name, (size_t)n));
}

static bool op_build(ac_pickle *vm) {
    ac_pk_value *state = pop(vm);
    ac_pk_value *t = state ? top(vm) : NULL;
    if (!t) return false;
    if (t->kind == AC_PK_OBJECT) {  // keep the state (inert) so that callers may inspect it
        t->u.obj.state = state;
        return ac_pk_deepen(vm, t, state);
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
        else return ac_pk_err(vm, AC_ERR_FORMAT, "stack underflow"), false;
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
    case 'J': return read_uint(vm, 4, &u) && push(vm, ac_pk_new_int(vm, (int32_t)(uint32_t)u));
    case 'K': return read_uint(vm, 1, &u) && push(vm, ac_pk_new_int(vm, (int64_t)u));
    case 'M': return read_uint(vm, 2, &u) && push(vm, ac_pk_new_int(vm, (int64_t)u));
    case 0x8a:  // LONG1
    case 0x8b: {  // LONG4
        if (!read_uint(vm, vm->op == 0x8a ? 1 : 4, &u)) return false;
        if (vm->op == 0x8b && (u & 0x80000000u)) return ac_pk_err(vm, AC_ERR_FORMAT, "negative LONG4 length"), false;
        const unsigned char *p = take(vm, (size_t)u);
        return p && push(vm, ac_pk_new_long(vm, p, (size_t)u));
    }
    case 'N': return push(vm, &vm->v_none);
    case 0x88: return push(vm, &vm->v_true);
    case 0x89: return push(vm, &vm->v_false);
    case 'P': return read_line(vm, &s, &n) && persistent(vm, ac_pk_new_str(vm, AC_PK_STR, s, n));
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
    case '}': return push(vm, ac_pk_new_value(vm, AC_PK_DICT));
    case 'g': return read_line(vm, &s, &n) && parse_index(vm, s, n, &u) && op_get(vm, u);
    case 'h': return read_uint(vm, 1, &u) && op_get(vm, u);
    case 'j': return read_uint(vm, 4, &u) && op_get(vm, u);
    case 'p': return read_line(vm, &s, &n) && parse_index(vm, s, n, &u) && op_put(vm, u);
    case 'q': return read_uint(vm, 1, &u) && op_put(vm, u);
    case 'r': return read_uint(vm, 4, &u) && op_put(vm, u);
    case 0x94: return op_put(vm, vm->memo_n);  // MEMOIZE
    case 'l': return op_collect(vm, AC_PK_LIST);
    case ']': return push(vm, ac_pk_new_value(vm, AC_PK_LIST));
    case 't': return op_collect(vm, AC_PK_TUPLE);
    case ')': return push(vm, ac_pk_new_value(vm, AC_PK_TUPLE));
    case 0x85: return op_tuple_n(vm, 1);
    case 0x86: return op_tuple_n(vm, 2);
    case 0x87: return op_tuple_n(vm, 3);
    case 0x8f: return push(vm, ac_pk_new_value(vm, AC_PK_SET));  // EMPTY_SET
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
        ac_pk_value *v = ac_pk_new_value(vm, AC_PK_FLOAT);
        if (v) memcpy(&v->u.f, &bits, sizeof bits);
        return push(vm, v);
    }
    case 0x80:
        if (!read_uint(vm, 1, &u)) return false;
        if (u > 5) return ac_pk_err(vm, AC_ERR_UNSUPPORTED, "pickle protocol %llu (at most 5 supported)", (unsigned long long)u), false;
        return true;
    case 0x82: return op_ext(vm, 1);
    case 0x83: return op_ext(vm, 2);
    case 0x84: return op_ext(vm, 4);
    case 0x95:  // FRAME: a length hint
        if (!read_uint(vm, 8, &u)) return false;
        if (u > vm->len - vm->pos) return truncated(vm), false;
        return true;
    case 0x97: return ac_pk_err(vm, AC_ERR_UNSUPPORTED, "out-of-band buffers are not supported"), false;
    case 0x98: return top(vm) != NULL;  // READONLY_BUFFER
    default: return ac_pk_err(vm, AC_ERR_FORMAT, "unknown opcode"), false;
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
    size_t budget;
    if (len > (SIZE_MAX - BYTES_ALLOWANCE) / BYTES_PER_INPUT_BYTE ||
        !ac_add_size(vm->n_bytes, len * BYTES_PER_INPUT_BYTE + BYTES_ALLOWANCE, &budget))
        budget = SIZE_MAX;
    vm->max_bytes_now = budget;
    for (;;) {
        vm->op_pos = vm->pos;
        if (vm->pos >= vm->len) {
            vm->op = 0;
            return ac_pk_err(vm, AC_ERR_FORMAT, "data ends before STOP");
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
