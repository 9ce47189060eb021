#include "ckernels.h"
#if defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)   // asm/hwcap.h: the dot-product instructions (SDOT / UDOT)
#endif
#endif

int lt_cpu_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl")) {
        if (__builtin_cpu_supports("avx512vnni")) return 3;
        return 2;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return 1;
#elif defined(__aarch64__)
    // NEON (ASIMD) is part of every aarch64 CPU; the dot-product extension is optional before ARMv8.4.
#if defined(__APPLE__)
    int dotprod = 0;
    size_t size = sizeof dotprod;
    if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &dotprod, &size, NULL, 0) == 0 && dotprod) return 2;
#elif defined(__linux__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) return 2;
#elif defined(__ARM_FEATURE_DOTPROD)
    return 2;   // no run-time query here: trust the compile-time target
#endif
    return 1;
#endif
    return 0;
}
