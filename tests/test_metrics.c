// test_metrics.c: PSNR/SSIM/Y-channel metrics against PyTorch (the reference's SSIM
// re-written in torch) and scikit-image on real photo pairs (tools/golden/gen_metrics.py),
// plus analytic cases (identical images, constant offset) and the shape check.
#include "image/image.h"
#include "metrics/metrics.h"
#include "testlib.h"

static double expected(const char *cas, const char *key) {
    FILE *f = fopen("tests/golden/metrics_expected.txt", "r");
    if (!f) return NAN;
    char c[64], k[64];
    double v, found = NAN;
    while (fscanf(f, "%63s %63s %lf", c, k, &v) == 3)
        if (!strcmp(c, cas) && !strcmp(k, key)) found = v;
    fclose(f);
    return found;
}

#define CLOSE(got, want, tol) \
    CHECK_MSG(fabs((got) - (want)) <= (tol), "%s = %.10f, want %.10f (tol %.1g)", #got, (double)(got), (double)(want), (double)(tol))

static void check_case(const char *cas, const char *pair, bool unclamped) {
    char gp[128], pp[128];
    snprintf(gp, sizeof gp, "tests/golden/metrics_%s_gt.png", pair);
    snprintf(pp, sizeof pp, "tests/golden/metrics_%s_pred.png", pair);
    ac_tensor *gt = NULL, *pred = NULL;
    CHECK(ac_image_read(gp, &gt) == AC_OK);
    CHECK(ac_image_read(pp, &pred) == AC_OK);
    if (!gt || !pred) return;
    if (unclamped)
        for (size_t i = 0; i < ac_numel(pred); i++) pred->data[i] = pred->data[i] * 1.3f - 0.15f;
    ac_metrics m, my;
    CHECK(ac_metrics_compute(pred, gt, false, &m) == AC_OK);
    CHECK(ac_metrics_compute(pred, gt, true, &my) == AC_OK);
    double psnr = expected(cas, "psnr"), psnr_sk = expected(cas, "psnr_skimage");
    CHECK(!isnan(psnr) && !isnan(psnr_sk));
    CLOSE(m.psnr, psnr, 2e-5);     // torch sums in float32
    CLOSE(m.psnr, psnr_sk, 1e-6);  // scikit-image in float64
    CLOSE(m.ssim, expected(cas, "ssim_f64"), 5e-8);
    CLOSE(m.ssim, expected(cas, "ssim_f32"), 5e-5);
    CLOSE(my.psnr, expected(cas, "psnr_y"), 1e-5);  // Y rounded to float32 here
    CLOSE(my.ssim, expected(cas, "ssim_y_f64"), 1e-6);
    CLOSE(my.ssim, expected(cas, "ssim_y_f32"), 5e-5);
    ac_tensor_free(gt);
    ac_tensor_free(pred);
}

static void test_golden_pairs(void) {
    check_case("a", "a", false);
    check_case("b", "b", false);
    check_case("unclamped", "a", true);
}

static void test_analytic(void) {
    ac_rng r;
    ac_rng_seed(&r, 9);
    ac_tensor *a = ac_tensor_new4(1, 3, 20, 17), *b = ac_tensor_new4(1, 3, 20, 17);
    size_t n = ac_numel(a);
    t_fill_uniform(&r, a->data, n, 0.2f, 0.8f);
    memcpy(b->data, a->data, n * sizeof(float));
    ac_metrics m;
    CHECK(ac_metrics_compute(a, b, false, &m) == AC_OK);
    CHECK(isinf(m.psnr) && m.psnr > 0);
    CLOSE(m.ssim, 1.0, 1e-12);
    for (size_t i = 0; i < n; i++) b->data[i] = a->data[i] + 0.1f;
    CHECK(ac_metrics_compute(a, b, false, &m) == AC_OK);
    CLOSE(m.psnr, 20.0, 1e-5);
    CHECK(m.ssim < 1.0 && m.ssim > 0.5);
    // PSNR clamps: values beyond [0, 1] in both images count as equal
    for (size_t i = 0; i < n; i++) {
        a->data[i] = 1.5f;
        b->data[i] = 1.2f;
    }
    CHECK(ac_metrics_compute(a, b, false, &m) == AC_OK && isinf(m.psnr));
    // SSIM is symmetric and does not clamp
    t_fill_uniform(&r, a->data, n, -0.5f, 1.5f);
    t_fill_uniform(&r, b->data, n, 0.0f, 1.0f);
    double s1 = ac_ssim(a->data, b->data, 3, 20, 17), s2 = ac_ssim(b->data, a->data, 3, 20, 17);
    CLOSE(s1, s2, 1e-12);
    float *ca = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) ca[i] = a->data[i] < 0 ? 0 : a->data[i] > 1 ? 1 : a->data[i];
    CHECK(fabs(ac_ssim(ca, b->data, 3, 20, 17) - s1) > 1e-4);
    free(ca);
    // tiny images (smaller than the window) work
    CHECK(ac_ssim(a->data, a->data, 1, 3, 2) > 0.999999);
    // Y channel: white -> 235/255, black -> 16/255
    float rgb[6] = {1, 0, 1, 0, 1, 0}, y[2];
    ac_rgb_to_y(rgb, 1, 2, y);
    CLOSE(y[0], 235.0 / 255, 1e-6);
    CLOSE(y[1], 16.0 / 255, 1e-6);
    ac_tensor_free(a);
    ac_tensor_free(b);
}

static void test_shape_mismatch(void) {
    ac_tensor *a = ac_tensor_new4(1, 3, 8, 8), *b = ac_tensor_new4(1, 3, 8, 9);
    ac_metrics m;
    CHECK(ac_metrics_compute(a, b, false, &m) == AC_ERR_SHAPE);
    CHECK(strstr(ac_error_message(), "[1,3,8,8]") && strstr(ac_error_message(), "[1,3,8,9]"));
    ac_tensor_free(a);
    ac_tensor_free(b);
}

int main(void) {
    RUN(test_golden_pairs);
    RUN(test_analytic);
    RUN(test_shape_mismatch);
    return ac_test_finish();
}
