// KV cache element types: storing rows (f32 -> f16 / q8_0) and attention over stored rows.
//
// The scalar twin decodes a row into floats and then runs lt_attend_ext_f32's scalar arithmetic; the AVX2
// level decodes a row with F16C and reuses the float dot / axpy; the 512-bit kernel (attention512.c)
// converts sixteen values at a time inside its loops.
#include "kernels_internal.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

/// Longest head the f16 / q8_0 paths below 512 bits handle (rows are decoded into a stack buffer).
#define KV_MAX_HD 1024

static inline uint16_t kv_load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

uint16_t lt_f32_to_f16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7FFFFFFFu;
    if (a >= 0x7F800000u)                    // infinity, or NaN (quiet, top payload bits kept)
        return (uint16_t)(sign | 0x7C00u | (a > 0x7F800000u ? 0x200u | ((a >> 13) & 0x3FFu) : 0));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);   // rounds past 65504
    if (a < 0x38800000u) {                   // below 2^-14: a subnormal half (units of 2^-24) or zero
        float v; memcpy(&v, &a, 4);
        return (uint16_t)(sign | (uint32_t)nearbyintf(v * 16777216.0f));   // exact scaling, ties to even
    }
    uint32_t h = ((a >> 23) - 112) << 10 | ((a & 0x7FFFFFu) >> 13);
    const uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;    // a carry into the exponent is right
    return (uint16_t)(sign | h);
}

int64_t lt_kv_bytes(int kvtype, int64_t n) {
    switch (kvtype) {
    case LT_KV_F16: return 2 * n;
    case LT_KV_Q8_0: return n / 32 * 34;
    default: return 4 * n;
    }
}

/// One q8_0 block of 32 values (shared by every level: stores are not on the hot path).
static void kv_store_q8_block(const float *x, uint8_t *dst) {
    float amax = 0;
    for (int i = 0; i < 32; i++) { const float a = fabsf(x[i]); amax = a > amax ? a : amax; }
    const float d = amax / 127.0f;
    const uint16_t dh = lt_f32_to_f16(d);
    memcpy(dst, &dh, 2);
    for (int i = 0; i < 32; i++) {
        float q = d > 0 ? nearbyintf(x[i] / d) : 0.0f;
        q = q > 127 ? 127 : q < -127 ? -127 : q;
        dst[2 + i] = (uint8_t)(int8_t)q;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c")))
static void kv_store_f16_f16c(const float *src, int64_t n, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = lt_f32_to_f16(src[i]);
}
#endif

#if defined(__aarch64__)
/// f32 -> f16 four at a time (FCVTN rounds to nearest even, as lt_f32_to_f16 does).
static void kv_store_f16_neon(const float *src, int64_t n, uint8_t *dst) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint16_t h[4];
        vst1_u16(h, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
        memcpy(dst + 2 * i, h, 8);
    }
    for (; i < n; i++) { const uint16_t h = lt_f32_to_f16(src[i]); memcpy(dst + 2 * i, &h, 2); }
}
#endif

void lt_kv_store_level(int level, int kvtype, const float *src, int64_t n, void *dst) {
    uint8_t *out = (uint8_t *)dst;
    switch (kvtype) {
    case LT_KV_F16:
#if defined(__x86_64__)
        if (level >= 1) { kv_store_f16_f16c(src, n, (uint16_t *)dst); return; }
#endif
#if defined(__aarch64__)
        if (level >= 1) { kv_store_f16_neon(src, n, out); return; }
#endif
        for (int64_t i = 0; i < n; i++) { const uint16_t h = lt_f32_to_f16(src[i]); memcpy(out + 2 * i, &h, 2); }
        return;
    case LT_KV_Q8_0:
        for (int64_t b = 0; b < n / 32; b++) kv_store_q8_block(src + 32 * b, out + 34 * b);
        return;
    default:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
}

/// Row of hd values decoded into floats (the scalar definition every level agrees with).
static void kv_decode_scalar(int kvtype, const uint8_t *row, int64_t hd, float *dst) {
    if (kvtype == LT_KV_F16) {
        for (int64_t i = 0; i < hd; i++) dst[i] = lt_f16_to_f32(kv_load_u16(row + 2 * i));
    } else if (kvtype == LT_KV_Q8_0) {
        for (int64_t b = 0; b < hd / 32; b++) {
            const float d = lt_f16_to_f32(kv_load_u16(row + 34 * b));
            for (int i = 0; i < 32; i++) dst[32 * b + i] = d * (float)(int8_t)row[34 * b + 2 + i];
        }
    } else {
        memcpy(dst, row, (size_t)hd * sizeof(float));
    }
}

static inline int64_t kv_row(const int32_t *table, int64_t block, int64_t j) {
    return table ? (int64_t)table[j / block] * block + j % block : j;
}

/// Attention over decoded rows with the given decode, dot, softmax and axpy: the scalar twin's steps, which
/// the AVX2 and NEON levels take in the same order with their own four functions.
static inline __attribute__((always_inline)) void attend_kv_decoded(
        void (*decode)(int, const uint8_t *, int64_t, float *), float (*dot)(const float *, const float *, int64_t),
        float (*softmax)(float *, int64_t), void (*axpy)(float, const float *, float *, int64_t),
        int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table, int64_t block,
        int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope, const float *bias,
        float *scores, float *out, float *lse) {
    float buffer[KV_MAX_HD];
    const int f32 = kvtype == LT_KV_F32;
    for (int64_t j = first; j < n; j++) {
        const uint8_t *kr = k + kv_row(table, block, j) * stride;
        const float *row = f32 ? (const float *)kr : buffer;
        if (!f32) decode(kvtype, kr, hd, buffer);
        float sc = dot(q, row, hd) * scale + slope * (float)j;
        scores[j - first] = bias ? sc + bias[j] : sc;
    }
    const float l = softmax(scores, n - first);
    if (lse) *lse = l;
    for (int64_t d = 0; d < hd; d++) out[d] = 0;
    for (int64_t j = first; j < n; j++) {
        const uint8_t *vr = v + kv_row(table, block, j) * stride;
        const float *row = f32 ? (const float *)vr : buffer;
        if (!f32) decode(kvtype, vr, hd, buffer);
        axpy(scores[j - first], row, out, hd);
    }
}

/// out[d] += p * row[d], one product and one sum per value (the scalar twin's accumulation).
static void axpy_scalar(float p, const float *row, float *out, int64_t hd) {
    for (int64_t d = 0; d < hd; d++) out[d] += p * row[d];
}

/// Scalar twin: the arithmetic of lt_attend_ext_f32's scalar level on decoded rows.
static void attend_kv_scalar(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                             int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                             float slope, const float *bias, float *scores, float *out, float *lse) {
    attend_kv_decoded(kv_decode_scalar, lt_dot_f32_scalar, lt_softmax_scalar_lse, axpy_scalar, kvtype, q, k, v, table,
                      block, stride, first, n, hd, scale, slope, bias, scores, out, lse);
}

#if defined(__x86_64__)
/// Row decoded with F16C (same values as the scalar decode: the conversions are exact).
__attribute__((target("avx2,fma,f16c")))
static void kv_decode_avx2(int kvtype, const uint8_t *row, int64_t hd, float *dst) {
    if (kvtype == LT_KV_F16) {
        int64_t i = 0;
        for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * i))));
        for (; i < hd; i++) dst[i] = lt_f16_to_f32(kv_load_u16(row + 2 * i));
    } else {
        kv_decode_scalar(kvtype, row, hd, dst);
    }
}

/// AVX2 level for f16 / q8_0 rows: decode, then the float dot and axpy of that level.
__attribute__((target("avx2,fma,f16c")))
static void attend_kv_avx2(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                           int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                           float slope, const float *bias, float *scores, float *out, float *lse) {
    attend_kv_decoded(kv_decode_avx2, lt_dot_f32_avx2, lt_softmax_f32_avx2, lt_axpy_f32_avx2, kvtype, q, k, v, table,
                      block, stride, first, n, hd, scale, slope, bias, scores, out, lse);
}
#endif

#if defined(__aarch64__)
/// Row decoded with NEON (the same values as the scalar decode: f16 -> f32 is exact, and q8_0 takes the
/// same single product d * q per value).
static void kv_decode_neon(int kvtype, const uint8_t *row, int64_t hd, float *dst) {
    if (kvtype == LT_KV_F16) {
        int64_t i = 0;
        for (; i + 4 <= hd; i += 4) {
            uint16_t h[4]; memcpy(h, row + 2 * i, 8);
            vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h))));
        }
        for (; i < hd; i++) dst[i] = lt_f16_to_f32(kv_load_u16(row + 2 * i));
    } else if (kvtype == LT_KV_Q8_0) {
        for (int64_t b = 0; b < hd / 32; b++) {
            const uint8_t *blk = row + 34 * b;
            const float32x4_t d = vdupq_n_f32(lt_f16_to_f32(kv_load_u16(blk)));
            for (int c = 0; c < 32; c += 8) {
                const int16x8_t w = vmovl_s8(vld1_s8((const int8_t *)(blk + 2 + c)));
                vst1q_f32(dst + 32 * b + c, vmulq_f32(d, vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)))));
                vst1q_f32(dst + 32 * b + c + 4, vmulq_f32(d, vcvtq_f32_s32(vmovl_s16(vget_high_s16(w)))));
            }
        }
    } else {
        kv_decode_scalar(kvtype, row, hd, dst);
    }
}

/// NEON level: each key row decoded (f16 / q8_0) or read as is (f32), then the NEON dot, softmax and
/// axpy; the scalar twin's steps in the same order, with vector sums inside the dot.
static void attend_kv_neon(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                           int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                           float slope, const float *bias, float *scores, float *out, float *lse) {
    attend_kv_decoded(kv_decode_neon, lt_dot_f32_neon, lt_softmax_f32_neon, lt_axpy_f32_neon, kvtype, q, k, v, table,
                      block, stride, first, n, hd, scale, slope, bias, scores, out, lse);
}
#endif

void lt_attend_kv_below512(int level, int kvtype, const float *q, const void *k, const void *v,
                                  const int32_t *table, int64_t block, int64_t stride, int64_t first, int64_t n,
                                  int64_t hd, float scale, float slope, const float *bias, float *scores, float *out,
                                  float *lse) {
    const uint8_t *kb = (const uint8_t *)k, *vb = (const uint8_t *)v;
#if defined(__x86_64__)
    if (level >= 1) {
        if (lt_attend_kv_256(kvtype, q, kb, vb, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse))
            return;
        if (kvtype == LT_KV_F32)
            lt_attend_ext_f32_avx2(q, (const float *)k, (const float *)v, table, block, stride / 4, first, n, hd,
                                   scale, slope, bias, scores, out, lse);
        else
            attend_kv_avx2(kvtype, q, kb, vb, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse);
        return;
    }
#endif
#if defined(__aarch64__)
    if (level >= 1 && hd <= KV_MAX_HD) {
        attend_kv_neon(kvtype, q, kb, vb, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse);
        return;
    }
#endif
    (void)level;
    attend_kv_scalar(kvtype, q, kb, vb, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse);
}

float lt_softmax_scalar_lse(float *x, int64_t n) {
    if (n <= 0) return -INFINITY;
    float m = -INFINITY, sum = 0;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - m); sum += x[i]; }
    for (int64_t i = 0; i < n; i++) x[i] *= 1.0f / sum;
    return m + logf(sum);
}
