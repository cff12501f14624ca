// test_simd.c: the vector helpers of backend/cpu/simd.h against their scalar definitions, at
// the vector width this build targets (16, 8 or 4 lanes): the transpose, the lane index and
// the bounded row load (every start from well before a row to past its end, rows shorter and
// longer than a vector, reading from a buffer that ends where the row ends) and store, and the
// vectorised sum of absolute differences in double.
#include "backend/cpu/simd.h"
#include "testlib.h"

static void transpose(void) {
    ac_vf r[AC_VL];
    for (int i = 0; i < AC_VL; i++)
        for (int p = 0; p < AC_VL; p++) r[i][p] = (float)(100 * i + p);
    ac_vtranspose(r);
    int bad = 0;
    for (int i = 0; i < AC_VL; i++)
        for (int p = 0; p < AC_VL; p++) bad += r[i][p] != (float)(100 * p + i);
    CHECK_MSG(bad == 0, "transpose: %d of %d lanes wrong", bad, AC_VL * AC_VL);
}

static void iota(void) {
    const ac_vi v = ac_viota();
    int bad = 0;
    for (int l = 0; l < AC_VL; l++) bad += v[l] != l;
    CHECK(bad == 0);
}

static void load_range(void) {
    for (int n = 1; n <= 2 * AC_VL + 3; n++) {
        // the row is the end of its allocation: a read past it is an error under ASan
        float *row = malloc((size_t)n * sizeof *row);
        for (int i = 0; i < n; i++) row[i] = (float)(i + 1);
        for (int x = -AC_VL - 2; x <= n + 2; x++) {
            const ac_vf v = ac_vload_range(row, x, n);
            int bad = 0;
            for (int l = 0; l < AC_VL; l++) {
                const float want = x + l >= 0 && x + l < n ? row[x + l] : 0.0f;
                bad += v[l] != want;
            }
            CHECK_MSG(bad == 0, "load_range n %d x %d: %d lanes wrong", n, x, bad);
        }
        free(row);
    }
}

static void store_n(void) {
    ac_vf v;
    for (int l = 0; l < AC_VL; l++) v[l] = (float)(l + 1);
    for (int n = 0; n <= AC_VL; n++) {
        float buf[AC_VL + 2];
        for (int i = 0; i < AC_VL + 2; i++) buf[i] = -1.0f;
        ac_vstore_n(buf + 1, v, n);
        int bad = buf[0] != -1.0f;
        for (int i = 0; i < AC_VL + 1; i++) bad += buf[1 + i] != (i < n ? (float)(i + 1) : -1.0f);
        CHECK_MSG(bad == 0, "store_n n %d: %d floats wrong", n, bad);
    }
}

// ac_sum_absdiff_f64 against its definition: |a - b| in float, lane k of the two running
// sums taking elements 16 j + k and 16 j + 8 + k, those added lane by lane and then in lane
// order, then the tail in index order; exactly, for every length up to past two blocks.
static void sum_absdiff(void) {
    enum { N = 45 };
    float a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)((i * 37) % 11) * 0.37f - 1.5f;
        b[i] = i % 5 == 0 ? a[i] : (float)((i * 13) % 7) * 0.61f - 2.0f;  // some zero differences
    }
    a[3] = -0.0f, b[3] = 0.0f;
    for (int n = 0; n <= N; n++) {
        double s0[8] = {0}, s1[8] = {0};
        int i = 0;
        for (; i + 16 <= n; i += 16)
            for (int k = 0; k < 8; k++) {
                s0[k] += fabsf(a[i + k] - b[i + k]);
                s1[k] += fabsf(a[i + 8 + k] - b[i + 8 + k]);
            }
        double want = 0;
        for (int k = 0; k < 8; k++) want += s0[k] + s1[k];
        for (; i < n; i++) want += fabsf(a[i] - b[i]);
        const double got = ac_sum_absdiff_f64(a, b, (size_t)n);
        CHECK_MSG(got == want, "sum_absdiff n %d: %.17g, want %.17g", n, got, want);
    }
    float c[16] = {0};
    c[5] = NAN;
    CHECK(isnan(ac_sum_absdiff_f64(c, a, 16)));
}

int main(void) {
    RUN(transpose);
    RUN(iota);
    RUN(load_range);
    RUN(store_n);
    RUN(sum_absdiff);
    return ac_test_finish();
}
