// Instantiates the x86 kernel bodies once per instruction-set level. Only the functions themselves
// carry the target attributes, so the package builds without unsafeFlags and runs on any x86-64;
// dispatch.c picks a level at run time.
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>
#include <math.h>
#include "kernels_internal.h"

#define LT_ISA avx2
#define LT_TARGET __attribute__((target("avx2,fma,f16c")))
#define LT_VNNI 0
#define LT_AVX512 0
#define LT_TILE_T 2
#include "x86_impl.h"
#undef LT_ISA
#undef LT_TARGET
#undef LT_VNNI
#undef LT_AVX512
#undef LT_TILE_T

#define LT_ISA avx512
#define LT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define LT_VNNI 0
#define LT_AVX512 1
#define LT_TILE_T 4
#include "x86_impl.h"
#undef LT_ISA
#undef LT_TARGET
#undef LT_VNNI
#undef LT_AVX512
#undef LT_TILE_T

#define LT_ISA vnni
#define LT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define LT_VNNI 1
#define LT_AVX512 1
#define LT_TILE_T 4
#include "x86_impl.h"
#endif
