// pending.c: placeholders for kernels not written yet; each aborts if reached. Delete a
// placeholder when its op file lands.
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu/cpu_kernels.h"

#define PENDING(name) do { fprintf(stderr, "allclear: %s is not implemented\n", name); abort(); } while (0)

