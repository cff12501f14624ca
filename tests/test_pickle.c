// test_pickle.c: the restricted pickle machine on its own: protocol 0 text and protocol 2-5
// binary opcodes, error messages with byte offsets, nesting/object/byte limits, and random
// opcode programs (which must end in a status, never a crash or leak; also run under ASan).
#include "io/pickle.h"
#include "testlib.h"

static ac_status run_pickle(const void *buf, size_t len, ac_pk_value **out, ac_pickle *vm) {
    size_t used;
    return ac_pickle_run(vm, buf, len, &used, NULL, NULL, out);
}

static void test_pickle_machine(void) {
    // Protocol 0 text, as pickle.dumps(..., protocol=0) writes it (plus a Python 2 STRING).
    static const char p0[] =
        "(dp0\nVa\np1\n(lp2\nI1\naF2.5\naVx\xe9\np3\naNaI01\naI00\nasVb\np4\n(I1\ntp5\nsVc\np6\n"
        "L12345678901234567890L\nsVd\np7\nI-5\nsVe\np8\nc_codecs\nencode\np9\n(Vq\np10\nVlatin1\n"
        "p11\ntp12\nRp13\nsVs\np14\nS'it\\'s\\x41'\np15\nsVg\ng2\ns.";
    ac_pickle *vm = ac_pickle_new();
    ac_pk_value *v = NULL;
    CHECK_MSG(run_pickle(p0, sizeof p0 - 1, &v, vm) == AC_OK, "%s", ac_error_message());
    if (v) {
        CHECK(v->kind == AC_PK_DICT && v->u.dict.n == 7);
        const ac_pk_value *a = ac_pk_dict_get(v, "a");
        CHECK(a && a->kind == AC_PK_LIST && a->u.seq.n == 6);
        if (a && a->u.seq.n == 6) {
            CHECK(a->u.seq.items[0]->kind == AC_PK_INT && a->u.seq.items[0]->u.i == 1);
            CHECK(a->u.seq.items[1]->kind == AC_PK_FLOAT && a->u.seq.items[1]->u.f == 2.5);
            CHECK(a->u.seq.items[2]->kind == AC_PK_STR && !strcmp(a->u.seq.items[2]->u.str.data, "x\xc3\xa9"));
            CHECK(a->u.seq.items[3]->kind == AC_PK_NONE);
            CHECK(a->u.seq.items[4]->kind == AC_PK_BOOL && a->u.seq.items[4]->u.b);
            CHECK(a->u.seq.items[5]->kind == AC_PK_BOOL && !a->u.seq.items[5]->u.b);
        }
        const ac_pk_value *c = ac_pk_dict_get(v, "c"), *d = ac_pk_dict_get(v, "d");
        CHECK(c && c->kind == AC_PK_BIGINT && c->u.str.len == 9);  // 2^63 < c < 2^64 + sign byte
        CHECK(d && d->kind == AC_PK_INT && d->u.i == -5);
        const ac_pk_value *e = ac_pk_dict_get(v, "e");
        CHECK(e && e->kind == AC_PK_OBJECT);  // _codecs.encode(...) stays a placeholder
        const ac_pk_value *s = ac_pk_dict_get(v, "s");
        CHECK(s && s->kind == AC_PK_STR && !strcmp(s->u.str.data, "it'sA"));
        CHECK(ac_pk_dict_get(v, "g") == a);  // memo GET returns the same object
    }
    // Protocol 2 binary ints and LONG1 sign handling; TUPLE1-3, EMPTY_SET/ADDITEMS, FROZENSET,
    // SHORT_BINUNICODE, MEMOIZE, FRAME, BINFLOAT.
    static const unsigned char p4[] = {
        0x80, 4, 0x95, 40, 0, 0, 0, 0, 0, 0, 0,
        '(', 'J', 0xff, 0xff, 0xff, 0xff,           // -1
        0x8a, 3, 0x00, 0x80, 0x00,                  // LONG1 32768
        0x8a, 1, 0x80,                              // LONG1 -128
        0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0,      // 2^63: big int
        'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,          // 1.5
        0x8c, 2, 'h', 'i', 0x94,                    // 'hi', memoised as 0
        0x8f, '(', 'K', 7, 0x90,                    // {7}
        '(', 'K', 8, 0x91,                          // frozenset({8})
        'h', 0, 0x85,                               // ('hi',)
        'l', '.'};
    v = NULL;
    CHECK_MSG(run_pickle(p4, sizeof p4, &v, vm) == AC_OK, "%s", ac_error_message());
    if (v && v->kind == AC_PK_LIST && v->u.seq.n == 9) {
        ac_pk_value **it = v->u.seq.items;
        CHECK(it[0]->kind == AC_PK_INT && it[0]->u.i == -1);
        CHECK(it[1]->kind == AC_PK_INT && it[1]->u.i == 32768);
        CHECK(it[2]->kind == AC_PK_INT && it[2]->u.i == -128);
        CHECK(it[3]->kind == AC_PK_BIGINT);
        CHECK(it[4]->kind == AC_PK_FLOAT && it[4]->u.f == 1.5);
        CHECK(it[5]->kind == AC_PK_STR && !strcmp(it[5]->u.str.data, "hi"));
        CHECK(it[6]->kind == AC_PK_SET && it[6]->u.seq.n == 1);
        CHECK(it[7]->kind == AC_PK_SET && it[7]->u.seq.n == 1);
        CHECK(it[8]->kind == AC_PK_TUPLE && it[8]->u.seq.items[0] == it[5]);
    } else {
        CHECK_MSG(false, "protocol 4 list not parsed");
    }
    // Errors, each with a message naming the byte offset.
#define B(s) s, sizeof(s) - 1
    struct { const char *what; const char *bytes; size_t n; const char *needle; } bad[] = {
        {"bad opcode", B("\x80\x02\xff"), "unknown opcode at byte 2"},
        {"empty", B(""), "ends before STOP"},
        {"underflow", B("\x80\x02R."), "stack underflow"},
        {"pop below mark", B("\x80\x02K\x01(K\x02R."), "stack underflow"},
        {"POP takes the mark", B("\x80\x02K\x01(0t."), "no MARK"},
        {"undefined memo", B("\x80\x02h\x05."), "memo key 5 is not defined"},
        {"no mark", B("\x80\x02K\x01t."), "no MARK"},
        {"odd dict", B("\x80\x02(K\x01" "d."), "odd number"},
        {"setitem on list", B("\x80\x02]K\x01K\x02s."), "SETITEM on a list"},
        {"append to int", B("\x80\x02K\x01K\x02" "a."), "APPEND to a int"},
        {"protocol 9", B("\x80\x09N."), "protocol 9"},
        {"truncated BINUNICODE", B("\x80\x02X\x10\x00\x00\x00" "ab"), "truncated"},
        {"huge BINUNICODE8", B("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f"), "truncated"},
        {"negative LONG4", B("\x80\x02\x8b\xff\xff\xff\xff"), "negative"},
        {"bad INT text", B("I12x\n."), "invalid integer"},
        {"long int text", B("I1111111111111111111111111111111111111111111111111111111111111111111111111111111111"
                            "1111111111111111111111111111111111111111111111111111111111111111111111111111\n."), "too long"},
        {"unquoted STRING", B("Sabc\n."), "not quoted"},
        {"persistent id", B("\x80\x02K\x01Q."), "persistent id"},
        {"out-of-band buffer", B("\x80\x05\x97."), "out-of-band"},
        {"STACK_GLOBAL of ints", B("\x80\x04K\x01K\x02\x93."), "not strings"},
        {"tensor of a non-storage", B("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(NK\x00))tR."), "not a storage"},
    };
#undef B
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = NULL;
        ac_status st = run_pickle(bad[i].bytes, bad[i].n, &v, vm);
        const char *msg = ac_error_message();
        CHECK_MSG(st != AC_OK && strstr(msg, bad[i].needle), "%s: status %d, message '%s'", bad[i].what, st, msg);
    }
    ac_pickle_free(vm);
}

static void test_limits(void) {
    // 100000 nested lists: refused by the depth limit, not by a crash.
    size_t n = 100000;
    unsigned char *b = malloc(2 * n + 8);
    size_t k = 0;
    b[k++] = 0x80, b[k++] = 2;
    for (size_t i = 0; i < n; i++) b[k++] = ']';
    for (size_t i = 1; i < n; i++) b[k++] = 'a';
    b[k++] = '.';
    ac_pickle *vm = ac_pickle_new();
    ac_pk_value *v;
    CHECK(run_pickle(b, k, &v, vm) != AC_OK && strstr(ac_error_message(), "nested deeper"));
    // A list appended to itself many times (a cycle) is bounded the same way.
    k = 0;
    b[k++] = 0x80, b[k++] = 2, b[k++] = ']', b[k++] = 'q', b[k++] = 0;
    for (size_t i = 0; i < 5000; i++) b[k++] = 'h', b[k++] = 0, b[k++] = 'a';
    b[k++] = '.';
    CHECK(run_pickle(b, k, &v, vm) != AC_OK && strstr(ac_error_message(), "nested deeper"));
    // 100000 marks and nothing else: runs out of data cleanly.
    k = 0;
    for (size_t i = 0; i < n; i++) b[k++] = '(';
    CHECK(run_pickle(b, k, &v, vm) != AC_OK && strstr(ac_error_message(), "ends before STOP"));
    ac_pickle_free(vm);
    // Object and byte limits.
    vm = ac_pickle_new();
    ac_pickle_limits lim;
    ac_pickle_get_limits(vm, &lim);
    lim.max_objects = 1000;
    ac_pickle_set_limits(vm, &lim);
    k = 0;
    b[k++] = '(';
    for (size_t i = 0; i < 2000; i++) b[k++] = 'K', b[k++] = 1;
    b[k++] = 'l';
    b[k++] = '.';
    CHECK(run_pickle(b, k, &v, vm) != AC_OK && strstr(ac_error_message(), "more than 1000 objects"));
    ac_pickle_free(vm);
    vm = ac_pickle_new();
    ac_pickle_get_limits(vm, &lim);
    lim.max_bytes = 1000;
    ac_pickle_set_limits(vm, &lim);
    k = 0;
    b[k++] = 'B';
    b[k++] = 0xd0, b[k++] = 0x07, b[k++] = 0, b[k++] = 0;  // 2000 bytes
    memset(b + k, 'z', 2000);
    k += 2000;
    b[k++] = '.';
    CHECK(run_pickle(b, k, &v, vm) != AC_OK && strstr(ac_error_message(), "more than 1000 bytes"));
    ac_pickle_free(vm);
    free(b);
}

// Random byte corruption of real files: any status is fine, a crash or leak is not (ASan).

static ac_status soup_persload(void *ctx, ac_pickle *vm, const ac_pk_value *pid, ac_pk_value **out) {
    (void)ctx;
    if (pid->kind != AC_PK_TUPLE) return ac_fail(AC_ERR_FORMAT, "persistent id is not a tuple");
    *out = ac_pickle_new_storage(vm, "k", AC_PK_F32, 4, 0, false);
    return *out ? AC_OK : AC_ERR_NOMEM;
}

// Random programs stitched from opcode snippets (allow-listed and forbidden globals included):
// every run must end in a status, never a crash or a leak.
static void test_opcode_soup(void) {
#define S(x) {x, sizeof(x) - 1}
    static const struct { const char *b; size_t n; } snip[] = {
        S("("), S("0"), S("1"), S("2"), S("N"), S("\x88"), S("\x89"), S("K\x05"),
        S("J\xff\xff\xff\xff"), S("M\x01\x02"), S("\x8a\x01\x80"), S("\x8a\x09\1\2\3\4\5\6\7\x08\x09"),
        S("G\x3f\xf0\0\0\0\0\0\0"), S("X\x01\0\0\0" "a"), S("\x8c\x01" "b"), S("B\x01\0\0\0" "z"),
        S("}"), S("]"), S(")"), S("\x8f"), S("t"), S("l"), S("d"), S("\x85"), S("\x86"), S("\x87"),
        S("a"), S("e"), S("s"), S("u"), S("\x90"), S("\x91"), S("b"), S("R"), S("\x81"), S("\x92"),
        S("Q"), S("q\0"), S("q\1"), S("h\0"), S("h\1"), S("r\2\0\0\0"), S("j\2\0\0\0"), S("\x94"),
        S("ccollections\nOrderedDict\n"), S("ccollections\ndefaultdict\n"),
        S("ctorch._utils\n_rebuild_tensor_v2\n"), S("ctorch._utils\n_rebuild_parameter\n"),
        S("ctorch._tensor\n_rebuild_from_type_v2\n"), S("ctorch\nFloatStorage\n"),
        S("c__builtin__\nset\n"), S("cbuiltins\nfrozenset\n"), S("cos\nsystem\n"), S("\x93"),
        S("I7\n"), S("I01\n"), S("L-9L\n"), S("F1.5\n"), S("Vx\\u00e9\n"), S("S'y'\n"), S("p3\n"), S("g3\n"),
        S("\x95\x02\0\0\0\0\0\0\0"), S("\x98"), S("\x82\x01"), S("icollections\nOrderedDict\n"), S("o"),
        S("Pk\n"), S("\x80\x02"), S("."),
    };
#undef S
    const size_t nsnip = sizeof snip / sizeof *snip;
    uint64_t rng = 12345;
    unsigned char prog[4096];
    int ok = 0, refused = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int len = 1 + (int)((rng >> 33) % 80);
        for (int k = 0; k < len; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t j = (size_t)(rng >> 33) % nsnip;
            memcpy(prog + n, snip[j].b, snip[j].n);
            n += snip[j].n;
        }
        prog[n++] = '.';
        ac_pickle *vm = ac_pickle_new();
        ac_pk_value *v = NULL;
        size_t used;
        if (ac_pickle_run(vm, prog, n, &used, soup_persload, NULL, &v) == AC_OK) {
            char d[256];
            ac_pk_describe(v, d, sizeof d);
            ok++;
        } else {
            refused++;
        }
        ac_pickle_free(vm);
    }
    printf("  opcode soup: %d ran to STOP, %d refused\n", ok, refused);
    CHECK(ok > 100 && refused > 100);
}

// Inputs found by fuzzing (fuzz/fuzz_pickle.c) and the limits added for them.
static void test_fuzz_regressions(void) {
    // MARK then LIST / INST / TUPLE with nothing ever pushed: the empty stack has no array yet
    // (pointer arithmetic on NULL was undefined behaviour, caught by clang's UBSan).
    static const struct { const char *b; size_t n; ac_pk_kind kind; } empty[] = {
        {"(l.", 3, AC_PK_LIST}, {"(t.", 3, AC_PK_TUPLE}, {"(\x91.", 3, AC_PK_SET},
        {"(ios\nsystem\n.", 13, AC_PK_OBJECT}, {"(lp0\n(lp1\nag1\nag1\na.", 20, AC_PK_LIST},
    };
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        ac_pickle *vm = ac_pickle_new();
        ac_pk_value *v = NULL;
        CHECK_MSG(run_pickle(empty[i].b, empty[i].n, &v, vm) == AC_OK && v && v->kind == empty[i].kind,
                  "empty-stack case %zu: %s", i, ac_error_message());
        ac_pickle_free(vm);
    }
    // OrderedDict(pairs) by REDUCE copies the pairs each time: 40 KB of pickle that copies a
    // 4000-pair list 3000 times would hold 200 MB. One run may hold 64 bytes per input byte
    // plus 64 MiB; the same pickle with 20 copies is fine.
    for (int copies = 20; copies <= 3000; copies += 2980) {
        size_t cap = 64 + 4000 * 5 + 3000 * 6, k = 0;
        unsigned char *b = malloc(cap);
        b[k++] = 0x80, b[k++] = 2;
        memcpy(b + k, "ccollections\nOrderedDict\nq\0000", 28);
        k += 28;
        b[k++] = ']', b[k++] = '(';
        for (int i = 0; i < 4000; i++) b[k++] = 'M', b[k++] = (unsigned char)i, b[k++] = (unsigned char)(i >> 8), b[k++] = 'N', b[k++] = 0x86;
        b[k++] = 'e', b[k++] = 0x85, b[k++] = 'q', b[k++] = 1, b[k++] = '0';
        for (int i = 0; i < copies; i++) b[k++] = 'h', b[k++] = 0, b[k++] = 'h', b[k++] = 1, b[k++] = 'R', b[k++] = '0';
        b[k++] = 'h', b[k++] = 0, b[k++] = 'h', b[k++] = 1, b[k++] = 'R', b[k++] = '.';
        AC_ASSERT(k <= cap);
        ac_pickle *vm = ac_pickle_new();
        ac_pk_value *v = NULL;
        ac_status st = run_pickle(b, k, &v, vm);
        if (copies == 20)
            CHECK_MSG(st == AC_OK && v && v->kind == AC_PK_DICT && v->u.dict.n == 4000, "%s", ac_error_message());
        else
            CHECK_MSG(st == AC_ERR_NOMEM && strstr(ac_error_message(), "objects hold more than"), "%d: %s", st,
                      ac_error_message());
        ac_pickle_free(vm);
        free(b);
    }
}

int main(void) {
    RUN(test_pickle_machine);
    RUN(test_limits);
    RUN(test_opcode_soup);
    RUN(test_fuzz_regressions);
    return ac_test_finish();
}
