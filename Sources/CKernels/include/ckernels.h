#ifndef LANTERN_CKERNELS_H
#define LANTERN_CKERNELS_H
#include <stdint.h>
#include <stddef.h>

/// Highest instruction-set level usable on this CPU: 0 scalar, 1 AVX2+FMA, 2 AVX-512F/BW, 3 AVX-512 VNNI.
int lt_cpu_level(void);

#endif
