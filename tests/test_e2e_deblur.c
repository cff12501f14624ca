// test_e2e_deblur.c: the whole engine end to end. A small conv net (conv, ReLU, PReLU,
// no skip connection) trained with Adam learns to undo a fixed blur on random images; the L1 loss
// must fall at least tenfold within a few hundred steps.
#include "ops/ops.h"
#include "optim/optim.h"
#include "testlib.h"

enum { B = 4, S = 16, C = 12, STEPS = 800 };

typedef struct {
    ac_tensor *w[3], *b[3], *slope;
} deblur_net;

static void random_images(ac_rng *r, ac_tensor *x) {
    // Piecewise-smooth pictures: a few coloured Gaussian blobs on a flat background.
    for (int n = 0; n < B; n++)
        for (int c = 0; c < 3; c++) {
            float *p = x->data + ((size_t)n * 3 + c) * S * S;
            float base = ac_rng_uniform(r);
            for (int i = 0; i < S * S; i++) p[i] = base * 0.5f;
        }
    for (int n = 0; n < B; n++)
        for (int k = 0; k < 4; k++) {
            float cy = ac_rng_uniform(r) * S, cx = ac_rng_uniform(r) * S;
            float rad = 1.0f + 3.0f * ac_rng_uniform(r);
            for (int c = 0; c < 3; c++) {
                float amp = 0.5f * ac_rng_uniform(r);
                float *p = x->data + ((size_t)n * 3 + c) * S * S;
                for (int y = 0; y < S; y++)
                    for (int xx = 0; xx < S; xx++) {
                        float d2 = ((y - cy) * (y - cy) + (xx - cx) * (xx - cx)) / (rad * rad);
                        p[y * S + xx] += amp * expf(-d2);
                    }
            }
        }
}

static ac_tensor *forward(ac_graph *g, deblur_net *net, ac_tensor *x) {
    ac_tensor *h = ac_relu(g, ac_conv2d(g, x, net->w[0], net->b[0], 1, 1));
    h = ac_prelu(g, ac_conv2d(g, h, net->w[1], net->b[1], 1, 1), net->slope);
    return ac_conv2d(g, h, net->w[2], net->b[2], 1, 1);
}

static void test_deblur_loss_falls(void) {
    ac_rng r;
    ac_rng_seed(&r, 99);
    deblur_net net;
    const int cin[3] = {3, C, C}, cout[3] = {C, C, 3};
    ac_tensor *params[7];
    for (int i = 0; i < 3; i++) {
        net.w[i] = ac_tensor_new4(cout[i], cin[i], 3, 3);
        net.b[i] = ac_tensor_new1(cout[i]);
        float bound = 1.0f / sqrtf((float)(cin[i] * 9));
        ac_init_uniform(net.w[i], -bound, bound, &r);
        ac_init_uniform(net.b[i], -bound, bound, &r);
        params[2 * i] = net.w[i];
        params[2 * i + 1] = net.b[i];
    }
    net.slope = ac_tensor_new1(1);
    net.slope->data[0] = 0.25f;
    params[6] = net.slope;
    for (int i = 0; i < 7; i++) ac_tensor_enable_grad(params[i]);
    ac_adam *opt = ac_adam_new(0.9, 0.999, 1e-8, 0.0);
    ac_adam_add_group(opt, params, 7, 3e-3);

    ac_tensor *blur = ac_tensor_new4(3, 3, 3, 3);  // depthwise 3x3 box blur as a full conv
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 9; k++) blur->data[(c * 3 + c) * 9 + k] = 1.0f / 9.0f;
    ac_tensor *sharp = ac_tensor_new4(B, 3, S, S);
    ac_graph *g = ac_graph_new(true);
    float first = 0, last = 0, best = INFINITY;
    for (int step = 0; step < STEPS; step++) {
        random_images(&r, sharp);
        ac_adam_set_lr(opt, ac_lr_warmup_cosine(step + 1, 3e-3, 10, STEPS + 1, 1e-4));
        ac_graph_reset(g);
        ac_tensor *blurred = ac_conv2d(g, sharp, blur, NULL, 1, 1);
        ac_tensor *loss = ac_l1_mean(g, forward(g, &net, blurred), sharp);
        ac_adam_zero_grad(opt);
        ac_backward(g, loss);
        ac_adam_step(opt);
        if (step == 0) first = loss->data[0];
        if (step >= STEPS - 20) last += loss->data[0] / 20;
        if (loss->data[0] < best) best = loss->data[0];
    }
    printf("  deblur: first loss %.5f, mean of last 20 %.5f (best %.5f)\n", first, last, best);
    CHECK_MSG(last * 10 <= first, "loss fell from %.5f to %.5f only", first, last);
    ac_graph_free(g);
    ac_adam_free(opt);
    for (int i = 0; i < 7; i++) ac_tensor_free(params[i]);
    ac_tensor_free(blur);
    ac_tensor_free(sharp);
}

int main(void) {
    RUN(test_deblur_loss_falls);
    return ac_test_finish();
}
