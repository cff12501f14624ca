// pending.c: placeholders for kernels not written yet; each aborts if reached. Delete a
// placeholder when its op file lands.
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"

#define PENDING(name) do { fprintf(stderr, "allclear: %s is not implemented\n", name); abort(); } while (0)

void ac_cpu_conv2d_forward(const ac_conv_geom *g, const float *x, const float *w, const float *b, float *y) { (void)g; (void)x; (void)w; (void)b; (void)y; PENDING("conv2d"); }
void ac_cpu_conv2d_backward(const ac_conv_geom *g, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db) { (void)g; (void)x; (void)w; (void)dy; (void)dx; (void)dw; (void)db; PENDING("conv2d"); }
void ac_cpu_conv_transpose2d_forward(const ac_conv_geom *g, const float *x, const float *w, const float *b, float *y) { (void)g; (void)x; (void)w; (void)b; (void)y; PENDING("conv_transpose2d"); }
void ac_cpu_conv_transpose2d_backward(const ac_conv_geom *g, const float *x, const float *w, const float *dy, float *dx, float *dw, float *db) { (void)g; (void)x; (void)w; (void)dy; (void)dx; (void)dw; (void)db; PENDING("conv_transpose2d"); }

