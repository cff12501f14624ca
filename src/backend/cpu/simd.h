// simd.h: a portable float vector for the hand-blocked CPU kernels (GCC/Clang vector
// extensions). AC_VL floats per vector: 16 when the compiler targets AVX-512, 8 with AVX, else
// 4 (SSE, or whatever the target has; the compiler lowers the operations). Loads and stores go through
// memcpy, so pointers need no alignment; ac_vfma uses a fused multiply-add instruction when the
// target has one (ISO C mode does not contract a * b + c by itself).
#ifndef AC_SIMD_H
#define AC_SIMD_H

#include <math.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define AC_VL 16
#elif defined(__AVX__)
#define AC_VL 8
#else
#define AC_VL 4
#endif

typedef float ac_vf __attribute__((vector_size(AC_VL * sizeof(float))));
typedef int ac_vi __attribute__((vector_size(AC_VL * sizeof(int))));

static inline ac_vf ac_vload(const float *p) {
    ac_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void ac_vstore(float *p, ac_vf v) { memcpy(p, &v, sizeof v); }
static inline ac_vf ac_vsplat(float s) {
#if defined(__AVX512F__)
    return (ac_vf)_mm512_set1_ps(s);
#elif defined(__AVX__)
    return (ac_vf)_mm256_set1_ps(s);
#else
    ac_vf v;
    for (int i = 0; i < AC_VL; i++) v[i] = s;
    return v;
#endif
}

// Keeps v in a register from here on: the compiler may not fold a later use into an
// instruction's memory operand. GCC tuned for AMD cores turns each use of a loaded vector
// into a load of its own (an FMA with a memory operand); in a product kernel that reuses a
// vector CB times, that makes it bound by loads instead of multiplies.
#if defined(__GNUC__) && defined(__x86_64__) && defined(__AVX512F__)
#define ac_vpin(v) __asm__("" : "+v"(v))
#elif defined(__GNUC__) && defined(__x86_64__)
#define ac_vpin(v) __asm__("" : "+x"(v))
#else
#define ac_vpin(v) ((void)0)
#endif

// Unroll the next (short, constant-count) loop before GCC decides where its vectors live. A
// register block of accumulators indexed in rolled loops can stay a stack array, moved
// through memory before and after the kernel's main loop.
#if defined(__GNUC__) && !defined(__clang__)
#define AC_UNROLL _Pragma("GCC unroll 16")
#else
#define AC_UNROLL
#endif

// a * b + c
static inline ac_vf ac_vfma(ac_vf a, ac_vf b, ac_vf c) {
#if defined(__AVX512F__)
    return (ac_vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__) && defined(__AVX__)
    return (ac_vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

// Lane-wise select: m ? a : b, m from a vector comparison (all bits set or clear per lane).
static inline ac_vf ac_vselect(ac_vi m, ac_vf a, ac_vf b) {
    return (ac_vf)((m & (ac_vi)a) | (~m & (ac_vi)b));
}

// 0, 1, ..., AC_VL - 1
static inline ac_vi ac_viota(void) {
    ac_vi v;
    for (int i = 0; i < AC_VL; i++) v[i] = i;
    return v;
}

// Lane l = row[x + l] where 0 <= x + l < n, else 0, reading nothing outside row[0 .. n): the
// edges of a row without a scalar copy (whose narrow stores a vector load cannot forward from).
static inline ac_vf ac_vload_range(const float *row, int x, int n) {
    const int lo = x > 0 ? x : 0, hi = x + AC_VL < n ? x + AC_VL : n;
    if (hi <= lo) return ac_vsplat(0.0f);
    const int s = lo - x, len = hi - lo;  // lanes s .. s + len come from row[lo .. hi)
#if defined(__AVX512F__)
    const __mmask16 m = (__mmask16)((1u << len) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(m, row + lo);
    if (!s) return (ac_vf)v;
    const __m512i idx = _mm512_sub_epi32((__m512i)ac_viota(), _mm512_set1_epi32(s));
    return (ac_vf)_mm512_maskz_permutexvar_ps((__mmask16)(m << s), idx, v);
#elif defined(__AVX2__)
    const ac_vi iota = ac_viota();
    const ac_vi in = iota < len;  // all bits set where a lane is loaded
    const __m256 v = _mm256_maskload_ps(row + lo, (__m256i)in);
    if (!s) return (ac_vf)v;
    const __m256 sh = _mm256_permutevar8x32_ps(v, (__m256i)(iota - s));
    return ac_vselect((iota >= s) & (iota < s + len), (ac_vf)sh, ac_vsplat(0.0f));
#else
    ac_vf v = ac_vsplat(0.0f);
    for (int l = 0; l < len; l++) v[s + l] = row[lo + l];
    return v;
#endif
}

// Shuffles of two vectors a, b (lanes 0 .. 2 AC_VL - 1 of their concatenation): the even and
// odd lanes; the first and second halves of their interleaving a0 b0 a1 b1 ...
#if AC_VL == 16
#define AC_MASK_EVEN {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}
#define AC_MASK_ODD {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}
#define AC_MASK_LO {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
#define AC_MASK_HI {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
#elif AC_VL == 8
#define AC_MASK_EVEN {0, 2, 4, 6, 8, 10, 12, 14}
#define AC_MASK_ODD {1, 3, 5, 7, 9, 11, 13, 15}
#define AC_MASK_LO {0, 8, 1, 9, 2, 10, 3, 11}
#define AC_MASK_HI {4, 12, 5, 13, 6, 14, 7, 15}
#else
#define AC_MASK_EVEN {0, 2, 4, 6}
#define AC_MASK_ODD {1, 3, 5, 7}
#define AC_MASK_LO {0, 4, 1, 5}
#define AC_MASK_HI {2, 6, 3, 7}
#endif

static inline ac_vf ac_veven(ac_vf a, ac_vf b) { return __builtin_shuffle(a, b, (ac_vi)AC_MASK_EVEN); }
static inline ac_vf ac_vodd(ac_vf a, ac_vf b) { return __builtin_shuffle(a, b, (ac_vi)AC_MASK_ODD); }
static inline ac_vf ac_vzip_lo(ac_vf a, ac_vf b) { return __builtin_shuffle(a, b, (ac_vi)AC_MASK_LO); }
static inline ac_vf ac_vzip_hi(ac_vf a, ac_vf b) { return __builtin_shuffle(a, b, (ac_vi)AC_MASK_HI); }

// Stores lanes [0, n) of v at p[0 .. n), n <= AC_VL, writing nothing past them.
static inline void ac_vstore_n(float *p, ac_vf v, int n) {
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif defined(__AVX2__)
    _mm256_maskstore_ps(p, (__m256i)(ac_viota() < n), (__m256)v);
#else
    for (int l = 0; l < n; l++) p[l] = v[l];
#endif
}

// In-place transpose of the AC_VL x AC_VL matrix whose rows are r[0 .. AC_VL): r[i][p] becomes
// r[p][i]. log2(AC_VL) stages; the stage of block size b swaps, in each pair of rows (i, i + b)
// with bit b of i clear, the lanes with bit b set in row i and clear in row i + b.
#define AC_TLO(b, p) (((p) & (b)) ? AC_VL + (p) - (b) : (p))
#define AC_THI(b, p) (((p) & (b)) ? AC_VL + (p) : (p) + (b))
#if AC_VL == 16
#define AC_LANES(F, b)                                                                        \
    {F(b, 0), F(b, 1), F(b, 2),  F(b, 3),  F(b, 4),  F(b, 5),  F(b, 6),  F(b, 7),               \
     F(b, 8), F(b, 9), F(b, 10), F(b, 11), F(b, 12), F(b, 13), F(b, 14), F(b, 15)}
#elif AC_VL == 8
#define AC_LANES(F, b) {F(b, 0), F(b, 1), F(b, 2), F(b, 3), F(b, 4), F(b, 5), F(b, 6), F(b, 7)}
#else
#define AC_LANES(F, b) {F(b, 0), F(b, 1), F(b, 2), F(b, 3)}
#endif
#define AC_TRANSPOSE_STAGE(r, b)                                                              \
    for (int i_ = 0; i_ < AC_VL; i_++)                                                        \
        if (!(i_ & (b))) {                                                                    \
            const ac_vf lo_ = r[i_], hi_ = r[i_ + (b)];                                       \
            r[i_] = __builtin_shuffle(lo_, hi_, (ac_vi)AC_LANES(AC_TLO, b));                  \
            r[i_ + (b)] = __builtin_shuffle(lo_, hi_, (ac_vi)AC_LANES(AC_THI, b));            \
        }
static inline void ac_vtranspose(ac_vf r[AC_VL]) {
#if AC_VL == 16
    AC_TRANSPOSE_STAGE(r, 8)
#endif
#if AC_VL >= 8
    AC_TRANSPOSE_STAGE(r, 4)
#endif
    AC_TRANSPOSE_STAGE(r, 2)
    AC_TRANSPOSE_STAGE(r, 1)
}

// Sums in double, in a fixed order whatever the thread count or target: two running sums of
// 8 lanes over blocks of 16 floats (lane k of sum a gets x[16 b + k], of sum b x[16 b + 8 + k]),
// added lane by lane and then in lane order, then the tail in index order. For the
// reductions of the gradient kernels, which must not depend on how the work is split.
typedef float ac_vf8 __attribute__((vector_size(8 * sizeof(float))));
typedef double ac_vd8 __attribute__((vector_size(8 * sizeof(double))));
typedef long long ac_vl8 __attribute__((vector_size(8 * sizeof(long long))));
typedef unsigned ac_vu8 __attribute__((vector_size(8 * sizeof(unsigned))));

// (Vectors of 8 doubles go through pointers: passed by value they change the calling
// convention on targets without AVX-512, which GCC warns about.)
static inline double ac_vd8_total(const ac_vd8 *a, const ac_vd8 *b) {
    const ac_vd8 t = *a + *b;
    double s = 0;
    for (int k = 0; k < 8; k++) s += t[k];
    return s;
}

// sum of x[0 .. n)
static inline double ac_sum_f64(const float *x, size_t n) {
    ac_vd8 a = {0}, b = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ac_vf8 u, v;
        memcpy(&u, x + i, sizeof u);
        memcpy(&v, x + i + 8, sizeof v);
        a += __builtin_convertvector(u, ac_vd8);
        b += __builtin_convertvector(v, ac_vd8);
    }
    double s = ac_vd8_total(&a, &b);
    for (; i < n; i++) s += x[i];
    return s;
}

// sum of |a[i] - b[i]| over i < n: each |a - b| in float (as the scalar fabsf(a[i] - b[i])),
// summed in double in the order of ac_sum_f64
static inline double ac_sum_absdiff_f64(const float *a, const float *b, size_t n) {
    ac_vd8 s0 = {0}, s1 = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ac_vf8 a0, a1, b0, b1;
        memcpy(&a0, a + i, sizeof a0);
        memcpy(&a1, a + i + 8, sizeof a1);
        memcpy(&b0, b + i, sizeof b0);
        memcpy(&b1, b + i + 8, sizeof b1);
        // |d| as fabsf takes it: the sign bit cleared
        const ac_vf8 m0 = (ac_vf8)((ac_vu8)(a0 - b0) & 0x7fffffffu);
        const ac_vf8 m1 = (ac_vf8)((ac_vu8)(a1 - b1) & 0x7fffffffu);
        s0 += __builtin_convertvector(m0, ac_vd8);
        s1 += __builtin_convertvector(m1, ac_vd8);
    }
    double s = ac_vd8_total(&s0, &s1);
    for (; i < n; i++) s += fabsf(a[i] - b[i]);
    return s;
}

// sum of x[i] y[i] over the i < n where !(x[i] > 0) (x <= 0 or NaN), products in double
static inline double ac_dot_nonpos_f64(const float *x, const float *y, size_t n) {
    ac_vd8 acc[2] = {{0}, {0}};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int h = 0; h < 2; h++) {
            ac_vf8 xf, yf;
            memcpy(&xf, x + i + 8 * h, sizeof xf);
            memcpy(&yf, y + i + 8 * h, sizeof yf);
            const ac_vd8 xd = __builtin_convertvector(xf, ac_vd8);
            const ac_vd8 yd = __builtin_convertvector(yf, ac_vd8);
            const ac_vl8 keep = ~(xd > 0.0);
            acc[h] += (ac_vd8)(keep & (ac_vl8)(xd * yd));
        }
    double s = ac_vd8_total(&acc[0], &acc[1]);
    for (; i < n; i++)
        if (!(x[i] > 0.0f)) s += (double)x[i] * (double)y[i];
    return s;
}

#endif
