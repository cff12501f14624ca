// schedule.c: the reference's warm-up + cosine learning-rate schedule, per 1-based epoch.
#include <math.h>

#include "optim/optim.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

double ac_lr_warmup_cosine(int epoch, double base, int warmup, int total, double lr_min) {
    AC_ASSERT(epoch >= 1 && total > warmup && warmup >= 0);
    if (epoch <= warmup) return base * epoch / warmup;
    double progress = (double)(epoch - warmup - 1) / (double)(total - warmup);
    return lr_min + (base - lr_min) * (1.0 + cos(M_PI * progress)) / 2.0;
}
