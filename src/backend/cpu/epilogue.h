// epilogue.h: the activation and scale of the fused convolution's epilogue (backend.h,
// ac_conv_epilogue), scale * act(v), defined once for the scalar and the vector paths of the
// CPU kernels (direct_conv.c, winograd.c, conv_fused.c, conv_fused_grad.c), which add bias,
// residual and the skip terms around it themselves.
#ifndef AC_EPILOGUE_H
#define AC_EPILOGUE_H

#include "backend/backend.h"
#include "backend/cpu/simd.h"

static inline float ac_ep_activate(const ac_conv_epilogue *ep, float v) {
    if (ep->act == AC_ACT_RELU) v = v > 0.0f ? v : 0.0f;
    else if (ep->act == AC_ACT_PRELU) v = v > 0.0f ? v : ep->slope * v;
    if (ep->scale != 1.0f) v *= ep->scale;
    return v;
}

static inline ac_vf ac_ep_activate_v(const ac_conv_epilogue *ep, ac_vf v) {
    const ac_vf zero = ac_vsplat(0.0f);
    if (ep->act == AC_ACT_RELU) v = ac_vselect(v > zero, v, zero);
    else if (ep->act == AC_ACT_PRELU) v = ac_vselect(v > zero, v, v * ep->slope);
    if (ep->scale != 1.0f) v *= ep->scale;
    return v;
}

// One vector of output: ((residual + scale * act(v + bias)) + add) - sub, stored at dst; the
// skips (each may be NULL) read at their own pointers.
static inline void ac_ep_finish_v(const ac_conv_epilogue *ep, ac_vf v, ac_vf bias, float *dst,
                                  const float *res, const float *add, const float *sub) {
    v = ac_ep_activate_v(ep, v + bias);
    if (res) v += ac_vload(res);
    if (add) v += ac_vload(add);
    if (sub) v -= ac_vload(sub);
    ac_vstore(dst, v);
}

#endif
