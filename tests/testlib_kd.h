// testlib_kd.h: the tiny knowledge-distillation models the training tests share (test_train,
// test_dist): a student and two teachers of width W with one residual block, CKT projectors
// for two teachers, optionally a VGG19 with random weights; the student and the projectors
// trainable, and their tensors gathered in one list (student first).
#ifndef AC_TESTLIB_KD_H
#define AC_TESTLIB_KD_H

#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"
#include "model/ckt.h"
#include "model/net.h"
#include "model/vgg19.h"
#include "train/vgg_load.h"

static inline ac_net *t_tiny_net(int width, uint64_t seed) {
    ac_rng r;
    ac_rng_seed(&r, seed);
    ac_net_config cfg = {width, 1};
    return ac_net_new(&cfg, &r);
}

typedef struct t_kd_models {
    ac_net *student, *teachers[2];
    ac_ckt *ckt;
    ac_vgg19 *vgg;     // NULL unless asked for
    ac_tensor **list;  // the trainable tensors: the student's, then the projectors'
    int n;
} t_kd_models;

static inline void t_kd_models_init(t_kd_models *m, int width, bool with_vgg) {
    memset(m, 0, sizeof *m);
    m->student = t_tiny_net(width, 10);
    m->teachers[0] = t_tiny_net(width, 11);
    m->teachers[1] = t_tiny_net(width, 12);
    ac_rng r;
    ac_rng_seed(&r, 13);
    m->ckt = ac_ckt_new(width, 2, &r);
    if (with_vgg) m->vgg = ac_vgg_random(14);
    ac_params *ps[2] = {ac_net_params(m->student), m->ckt->params};
    for (int i = 0; i < 2; i++) {
        ac_params_set_trainable(ps[i], true);
        m->n += ps[i]->count;
    }
    m->list = ac_xmalloc(sizeof *m->list * (size_t)m->n);
    int k = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < ps[i]->count; j++) m->list[k++] = ps[i]->items[j].tensor;
}

static inline void t_kd_models_free(t_kd_models *m) {
    free(m->list);
    ac_vgg19_free(m->vgg);
    ac_ckt_free(m->ckt);
    for (int t = 0; t < 2; t++) ac_net_free(m->teachers[t]);
    ac_net_free(m->student);
}

#endif
