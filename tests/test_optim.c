// test_optim.c: Adam and the learning-rate schedule against PyTorch (tests/golden/optim).
#include "io/safetensors.h"
#include "optim/optim.h"
#include "testlib.h"

static ac_tensor_map *fx;

static ac_tensor *get(const char *fmt, int i) {
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    ac_tensor *t = ac_tensor_map_get(fx, name);
    AC_ASSERT_MSG(t != NULL, name);
    return t;
}

static void test_schedule_numbers(void) {
    // The figures listed in training.md for base 4e-4.
    CHECK(fabs(ac_lr_warmup_cosine(1, 4e-4, 3, 250, 1e-6) - 1.3333333e-4) < 1e-10);
    CHECK(fabs(ac_lr_warmup_cosine(2, 4e-4, 3, 250, 1e-6) - 2.6666667e-4) < 1e-10);
    CHECK(fabs(ac_lr_warmup_cosine(3, 4e-4, 3, 250, 1e-6) - 4e-4) < 1e-12);
    CHECK(fabs(ac_lr_warmup_cosine(4, 4e-4, 3, 250, 1e-6) - 4e-4) < 1e-12);
    CHECK(fabs(ac_lr_warmup_cosine(5, 4e-4, 3, 250, 1e-6) - 3.99984e-4) < 1e-9);
    CHECK(fabs(ac_lr_warmup_cosine(250, 4e-4, 3, 250, 1e-6) - 1.016e-6) < 1e-9);
    ac_tensor *sched = ac_tensor_map_get(fx, "schedule");
    CHECK(sched && ac_numel(sched) == 250);
    float got[250];
    for (int e = 1; e <= 250; e++) got[e - 1] = (float)ac_lr_warmup_cosine(e, 4e-4, 3, 250, 1e-6);
    t_close("schedule", got, sched->data, 250, 0, 1e-7);
}

static void test_adam_matches_torch(void) {
    ac_tensor *a = ac_tensor_clone(get("a0", 0)), *b = ac_tensor_clone(get("b0", 0)),
              *c = ac_tensor_clone(get("c0", 0));
    ac_tensor *ps[3] = {a, b, c};
    for (int i = 0; i < 3; i++) ac_tensor_enable_grad(ps[i]);
    ac_adam *opt = ac_adam_new(0.9, 0.999, 1e-8, 0.0);
    ac_adam_add_group(opt, ps, 2, 4e-4);
    ac_adam_add_group(opt, ps + 2, 1, 4e-3);
    const char names[3] = {'a', 'b', 'c'};
    int steps = atoi(ac_tensor_map_meta(fx, "steps"));
    CHECK(steps == 6);
    for (int s = 0; s < steps; s++) {
        opt->group_lr[0] = ac_lr_warmup_cosine(s + 1, 4e-4, 3, 250, 1e-6);
        opt->group_lr[1] = ac_lr_warmup_cosine(s + 1, 4e-3, 3, 250, 1e-6);
        ac_adam_zero_grad(opt);
        for (int i = 0; i < 3; i++) {
            char fmt[16];
            snprintf(fmt, sizeof fmt, "g%c%%d", names[i]);
            ac_tensor *g = get(fmt, s);
            memcpy(ps[i]->grad, g->data, ac_numel(g) * sizeof(float));
        }
        ac_adam_step(opt);
        for (int i = 0; i < 3; i++) {
            char fmt[16], what[32];
            snprintf(fmt, sizeof fmt, "%c%%d", names[i]);
            snprintf(what, sizeof what, "%c after step %d", names[i], s + 1);
            t_close(what, ps[i]->data, get(fmt, s + 1)->data, ac_numel(ps[i]), 1e-7, 1e-6);
        }
    }
    ac_adam_free(opt);
    for (int i = 0; i < 3; i++) ac_tensor_free(ps[i]);
}

int main(void) {
    if (ac_safetensors_read("tests/golden/optim.safetensors", &fx) != AC_OK) {
        fprintf(stderr, "cannot load fixture: %s\n", ac_error_message());
        return 1;
    }
    RUN(test_schedule_numbers);
    RUN(test_adam_matches_torch);
    ac_tensor_map_free(fx);
    return ac_test_finish();
}
