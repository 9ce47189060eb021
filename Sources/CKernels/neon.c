// ARMv8 (aarch64) NEON kernels; this file is empty on every other architecture. Levels (lt_cpu_level):
// 1 plain NEON (every aarch64 CPU), 2 NEON with the dot-product extension (SDOT, FEAT_DotProd). Only the
// integer dot products differ between the two: neon_impl.h (lt_qgemm and lt_qgemm_r16 over packed r16
// weights, dispatched from packed.c) is instantiated once per level below. The
// activation quantizers, dequantization, the float-weight matmul and the float helpers need no dot
// product and exist once (dispatch.c uses them at both levels). Same contracts as the scalar twins in
// scalar.c (see ckernels.h); Tests/CKernelsNEON/neon_test.c checks every one against its twin under
// qemu-aarch64 (tools/neon_check.sh).
#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>
#include <string.h>
#include "kernels_internal.h"

#define LT_NI static inline __attribute__((always_inline))
/// Loops over tile rows / tokens (compile-time bounds after inlining) unroll so accumulators stay in registers.
#define LT_NUNROLL _Pragma("GCC unroll 4")
/// Tokens per register tile: 4 rows x 4 tokens of accumulators, 8 weight and 2 activation registers of 32.
#define LT_NTILE_T 4
#ifndef LT_NPREFETCH_BYTES
/// Software prefetch distance ahead of the current weight byte (rows of a tile are contiguous).
#define LT_NPREFETCH_BYTES 4096
#endif

/// One f16 (little-endian bytes at p) as float; exact, like lt_f16_to_f32 for every non-NaN input.
LT_NI float nf16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/// 32 signed weight values of a block in element order: lo = elements 0..15, hi = 16..31.
typedef struct { int8x16_t lo, hi; } nq32;

/// 16 bytes of nibbles -> elements 0..15 (low nibbles) and 16..31 (high nibbles), 0..15 each.
LT_NI nq32 nunpack4(const uint8_t *p) {
    const uint8x16_t v = vld1q_u8(p);
    nq32 r = { vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), vreinterpretq_s8_u8(vshrq_n_u8(v, 4)) };
    return r;
}

/// Q5_0 / Q5_1 high bits as bytes: 0x10 at element j where bit j of qh is set.
LT_NI nq32 nq5high(uint32_t qh) {
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ULL));
    const uint8x16_t a = vcombine_u8(vdup_n_u8((uint8_t)qh), vdup_n_u8((uint8_t)(qh >> 8)));
    const uint8x16_t b = vcombine_u8(vdup_n_u8((uint8_t)(qh >> 16)), vdup_n_u8((uint8_t)(qh >> 24)));
    const uint8x16_t h = vdupq_n_u8(0x10);
    nq32 r = { vreinterpretq_s8_u8(vandq_u8(vtstq_u8(a, bits), h)), vreinterpretq_s8_u8(vandq_u8(vtstq_u8(b, bits), h)) };
    return r;
}

/// One 32-value block of Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 as signed values: Q8_0 q, Q4_0 q - 8, Q4_1 q,
/// Q5_0 q - 16, Q5_1 q (so value = d * v, plus the min for Q4_1 / Q5_1).
LT_NI nq32 nunpack_block(const int dtype, const uint8_t *blk) {
    nq32 r;
    if (dtype == LT_Q8_0) {
        r.lo = vld1q_s8((const int8_t *)blk + 2);
        r.hi = vld1q_s8((const int8_t *)blk + 18);
    } else if (dtype == LT_Q4_0) {
        r = nunpack4(blk + 2);
        r.lo = vsubq_s8(r.lo, vdupq_n_s8(8));
        r.hi = vsubq_s8(r.hi, vdupq_n_s8(8));
    } else if (dtype == LT_Q5_0 || dtype == LT_Q5_1) {
        const int one = dtype == LT_Q5_1;
        uint32_t qh;
        memcpy(&qh, blk + (one ? 4 : 2), 4);
        r = nunpack4(blk + (one ? 8 : 6));
        const nq32 h = nq5high(qh);
        r.lo = vorrq_s8(r.lo, h.lo);
        r.hi = vorrq_s8(r.hi, h.hi);
        if (!one) { r.lo = vsubq_s8(r.lo, vdupq_n_s8(16)); r.hi = vsubq_s8(r.hi, vdupq_n_s8(16)); }
    } else {   // LT_Q4_1
        r = nunpack4(blk + 4);
    }
    return r;
}

/// Integer scales and mins of one K-quant super-block per 16 values (Q4_K / Q5_K: each 32-value code
/// twice; Q3_K / Q6_K: mins 0), d and dmin: value e = d * sc[e / 16] * q[e] - dmin * mn[e / 16], as
/// lt_kquant_decode in scalar.c.
LT_NI void nkscales(const int dtype, const uint8_t *b, int32_t sc[16], int32_t mn[16], float *dd, float *dmin) {
    if (dtype == LT_Q2_K) {
        *dd = nf16(b + 80); *dmin = nf16(b + 82);
        for (int g = 0; g < 16; g++) { sc[g] = b[g] & 0x0F; mn[g] = b[g] >> 4; }
    } else if (dtype == LT_Q3_K) {
        *dd = nf16(b + 108); *dmin = 0;
        for (int g = 0; g < 16; g++) {
            const int low = (b[96 + g % 8] >> (g < 8 ? 0 : 4)) & 0x0F;
            const int high = (b[104 + g % 4] >> (2 * (g / 4))) & 3;
            sc[g] = (low | high << 4) - 32; mn[g] = 0;
        }
    } else if (dtype == LT_Q6_K) {
        *dd = nf16(b + 208); *dmin = 0;
        for (int g = 0; g < 16; g++) { sc[g] = (int8_t)b[192 + g]; mn[g] = 0; }
    } else {   // Q4_K / Q5_K: 6-bit codes packed in 12 bytes
        *dd = nf16(b); *dmin = nf16(b + 2);
        const uint8_t *p = b + 4;
        for (int j = 0; j < 8; j++) {
            int s6, m6;
            if (j < 4) { s6 = p[j] & 63; m6 = p[j + 4] & 63; }
            else { s6 = (p[j + 4] & 0x0F) | (p[j - 4] >> 6) << 4; m6 = (p[j + 4] >> 4) | (p[j] >> 6) << 4; }
            sc[2 * j] = sc[2 * j + 1] = s6;
            mn[2 * j] = mn[2 * j + 1] = m6;
        }
    }
}

/// Right shift of every byte by a run-time count (0..7).
LT_NI uint8x16_t nshr(uint8x16_t v, int count) { return vshlq_u8(v, vdupq_n_s8((int8_t)-count)); }

/// Sub-block bl (0..7, values 32 bl .. 32 bl + 31) of a K-quant super-block as signed codes q (as
/// lt_kquant_decode): Q2_K 0..3, Q3_K -4..3, Q4_K 0..15, Q5_K 0..31, Q6_K -32..31.
LT_NI nq32 nkunpack(const int dtype, const uint8_t *b, const int bl) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(3);
    uint8x16_t v0, v1;
    if (dtype == LT_Q2_K || dtype == LT_Q3_K) {
        const int h = bl / 4, j = bl % 4;
        const uint8_t *src = b + (dtype == LT_Q2_K ? 16 : 32) + 32 * h;
        v0 = vandq_u8(nshr(vld1q_u8(src), 2 * j), m2);
        v1 = vandq_u8(nshr(vld1q_u8(src + 16), 2 * j), m2);
        if (dtype == LT_Q3_K) {   // q - 4 where the hmask bit is clear: (q | 4 * bit) - 4
            const uint8x16_t bit = vdupq_n_u8((uint8_t)(1 << (4 * h + j))), four = vdupq_n_u8(4);
            v0 = vsubq_u8(vorrq_u8(v0, vandq_u8(vtstq_u8(vld1q_u8(b), bit), four)), four);
            v1 = vsubq_u8(vorrq_u8(v1, vandq_u8(vtstq_u8(vld1q_u8(b + 16), bit), four)), four);
        }
    } else if (dtype == LT_Q6_K) {
        const int h = bl / 4, k = bl % 4;
        const uint8_t *lo = b + 64 * h + 32 * (k & 1), *hi = b + 128 + 32 * h;
        v0 = k >> 1 ? vshrq_n_u8(vld1q_u8(lo), 4) : vandq_u8(vld1q_u8(lo), m4);
        v1 = k >> 1 ? vshrq_n_u8(vld1q_u8(lo + 16), 4) : vandq_u8(vld1q_u8(lo + 16), m4);
        v0 = vorrq_u8(v0, vshlq_n_u8(vandq_u8(nshr(vld1q_u8(hi), 2 * k), m2), 4));
        v1 = vorrq_u8(v1, vshlq_n_u8(vandq_u8(nshr(vld1q_u8(hi + 16), 2 * k), m2), 4));
        v0 = vsubq_u8(v0, vdupq_n_u8(32));
        v1 = vsubq_u8(v1, vdupq_n_u8(32));
    } else {   // Q4_K / Q5_K
        const uint8_t *q = b + (dtype == LT_Q4_K ? 16 : 48) + bl / 2 * 32;
        v0 = bl & 1 ? vshrq_n_u8(vld1q_u8(q), 4) : vandq_u8(vld1q_u8(q), m4);
        v1 = bl & 1 ? vshrq_n_u8(vld1q_u8(q + 16), 4) : vandq_u8(vld1q_u8(q + 16), m4);
        if (dtype == LT_Q5_K) {
            const uint8x16_t bit = vdupq_n_u8((uint8_t)(1 << bl)), h = vdupq_n_u8(0x10);
            v0 = vorrq_u8(v0, vandq_u8(vtstq_u8(vld1q_u8(b + 16), bit), h));
            v1 = vorrq_u8(v1, vandq_u8(vtstq_u8(vld1q_u8(b + 32), bit), h));
        }
    }
    nq32 r = { vreinterpretq_s8_u8(v0), vreinterpretq_s8_u8(v1) };
    return r;
}

// ---- Activation quantization (bit-identical to the scalar twins) ----

/// One block of 32 floats in v[0..7] -> 32 int8 at q; returns d = max|x| / 127, the sum of q in *sum and
/// the rounded values as int32 in iv. FCVTNS rounds to nearest even, as nearbyintf in the scalar twin.
LT_NI float nquantize_block(const float32x4_t v[8], int8_t *q, int32_t *sum, int32x4_t iv[8]) {
    float32x4_t m = vabsq_f32(v[0]);
    for (int k = 1; k < 8; k++) m = vmaxq_f32(m, vabsq_f32(v[k]));
    const float amax = vmaxvq_f32(m);
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    int32x4_t tot = vdupq_n_s32(0);
    for (int k = 0; k < 8; k++) { iv[k] = vcvtnq_s32_f32(vmulq_n_f32(v[k], id)); tot = vaddq_s32(tot, iv[k]); }
    *sum = vaddvq_s32(tot);
    for (int h = 0; h < 2; h++) {
        const int16x8_t a = vcombine_s16(vqmovn_s32(iv[4 * h]), vqmovn_s32(iv[4 * h + 1]));
        const int16x8_t c = vcombine_s16(vqmovn_s32(iv[4 * h + 2]), vqmovn_s32(iv[4 * h + 3]));
        vst1q_s8(q + 16 * h, vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
    }
    return db;
}

LT_NI void nload_block(const float *xb, float32x4_t v[8]) {
    for (int k = 0; k < 8; k++) v[k] = vld1q_f32(xb + 4 * k);
}

void lt_quantize_q8_neon(const float *x, int64_t n, int8_t *qs, float *d, float *s) {
    for (int64_t b = 0; b < n / 32; b++) {
        float32x4_t v[8];
        int32x4_t iv[8];
        int32_t sum;
        nload_block(x + b * 32, v);
        const float db = nquantize_block(v, qs + b * 32, &sum, iv);
        d[b] = db;
        s[b] = db * (float)sum;
    }
}

void lt_quantize_q8x2_neon(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s) {
    for (int64_t b = 0; b < n / 32; b++) {
        float32x4_t v[8], r[8];
        int32x4_t iv[8];
        int32_t sum1, sum2;
        nload_block(x + b * 32, v);
        const float db = nquantize_block(v, qs + b * 32, &sum1, iv);
        // r = x - d * q1 with one rounding (FMLS; fmaf in the scalar twin).
        for (int k = 0; k < 8; k++) r[k] = vfmsq_n_f32(v[k], vcvtq_f32_s32(iv[k]), db);
        const float db2 = nquantize_block(r, qs2 + b * 32, &sum2, iv);
        d[b] = db;
        d2[b] = db2;
        // Separate statements: both products are rounded before the sum, as in the scalar twin.
        const float s1 = db * (float)sum1;
        const float s2 = db2 * (float)sum2;
        s[b] = s1 + s2;
    }
}

// ---- Dequantization (bit-identical to the scalar twin: every product d * q is exact in float) ----

/// dst[0..16] = d * q (+ m when add): int8 -> float, one multiply (exact) and one add.
LT_NI void nstore16(float *dst, int8x16_t q, float32x4_t vd, float32x4_t vm, const int add) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
    const float32x4_t f[4] = { vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), vcvtq_f32_s32(vmovl_high_s16(lo)),
                               vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), vcvtq_f32_s32(vmovl_high_s16(hi)) };
    for (int k = 0; k < 4; k++) {
        const float32x4_t p = vmulq_f32(vd, f[k]);
        vst1q_f32(dst + 4 * k, add ? vaddq_f32(p, vm) : p);
    }
}

/// dst[0..16] = (d * sc) * q - dmin * m, the K-quant form (products exact, one rounding for the difference).
LT_NI void nstore16_k(float *dst, int8x16_t q, float scale, float offset) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
    const float32x4_t f[4] = { vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), vcvtq_f32_s32(vmovl_high_s16(lo)),
                               vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), vcvtq_f32_s32(vmovl_high_s16(hi)) };
    const float32x4_t vs = vdupq_n_f32(scale), vo = vdupq_n_f32(offset);
    for (int k = 0; k < 4; k++) vst1q_f32(dst + 4 * k, vsubq_f32(vmulq_f32(vs, f[k]), vo));
}

/// 4 weights as float32 from an F32, F16 or BF16 row (conversions are exact).
LT_NI float32x4_t nload4(const int dtype, const void *w, int64_t k) {
    if (dtype == LT_F32) return vld1q_f32((const float *)w + k);
    const uint16x4_t h = vld1_u16((const uint16_t *)w + k);
    if (dtype == LT_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

LT_NI float nload1(const int dtype, const void *w, int64_t k) {
    if (dtype == LT_F32) return ((const float *)w)[k];
    const uint16_t h = ((const uint16_t *)w)[k];
    if (dtype == LT_F16) return nf16((const uint8_t *)&h);
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void lt_dequantize_neon(int dtype, const void *src, int64_t n, float *dst) {
    const uint8_t *p = (const uint8_t *)src;
    switch (dtype) {
    case LT_F32: memcpy(dst, src, (size_t)n * 4); break;
    case LT_F16: case LT_BF16: {
        int64_t k = 0;
        if (dtype == LT_F16) for (; k + 4 <= n; k += 4) vst1q_f32(dst + k, nload4(LT_F16, src, k));
        else for (; k + 4 <= n; k += 4) vst1q_f32(dst + k, nload4(LT_BF16, src, k));
        for (; k < n; k++) dst[k] = nload1(dtype, src, k);
        break;
    }
    case LT_Q8_0: case LT_Q4_0: case LT_Q4_1: case LT_Q5_0: case LT_Q5_1: {
        const int bb = lt_block_bytes(dtype);
        // The scalar twin adds the min for Q4_1 / Q5_1 and (a zero) for Q5_0; not for Q8_0 / Q4_0. The
        // add is kept where the twin has it so that -0 + 0 = +0 matches too.
        const int add = dtype == LT_Q4_1 || dtype == LT_Q5_1 || dtype == LT_Q5_0;
        for (int64_t b = 0; b < n / 32; b++, p += bb) {
            const float32x4_t vd = vdupq_n_f32(nf16(p));
            const float32x4_t vm = vdupq_n_f32(dtype == LT_Q4_1 || dtype == LT_Q5_1 ? nf16(p + 2) : 0.0f);
            nq32 q;
            switch (dtype) {
            case LT_Q8_0: q = nunpack_block(LT_Q8_0, p); break;
            case LT_Q4_0: q = nunpack_block(LT_Q4_0, p); break;
            case LT_Q4_1: q = nunpack_block(LT_Q4_1, p); break;
            case LT_Q5_0: q = nunpack_block(LT_Q5_0, p); break;
            default:      q = nunpack_block(LT_Q5_1, p); break;
            }
            nstore16(dst + b * 32, q.lo, vd, vm, add);
            nstore16(dst + b * 32 + 16, q.hi, vd, vm, add);
        }
        break;
    }
    default: {   // K-quants
        const int bb = lt_block_bytes(dtype);
        for (int64_t sb = 0; sb < n / 256; sb++, p += bb) {
            int32_t sc[16], mn[16];
            float dd, dmin;
            nkscales(dtype, p, sc, mn, &dd, &dmin);
            for (int bl = 0; bl < 8; bl++) {
                nq32 q;
                switch (dtype) {
                case LT_Q2_K: q = nkunpack(LT_Q2_K, p, bl); break;
                case LT_Q3_K: q = nkunpack(LT_Q3_K, p, bl); break;
                case LT_Q4_K: q = nkunpack(LT_Q4_K, p, bl); break;
                case LT_Q5_K: q = nkunpack(LT_Q5_K, p, bl); break;
                default:      q = nkunpack(LT_Q6_K, p, bl); break;
                }
                float *out = dst + sb * 256 + bl * 32;
                nstore16_k(out, q.lo, dd * (float)sc[2 * bl], dmin * (float)mn[2 * bl]);
                nstore16_k(out + 16, q.hi, dd * (float)sc[2 * bl + 1], dmin * (float)mn[2 * bl + 1]);
            }
        }
        break;
    }
    }
}

// ---- Float-weight matmul ----

/// R float weight rows x T tokens; each 4-wide weight load feeds T FMAs. Tails (n % 4) run scalar.
LT_NI void nftile(const int dtype, const int R, const int T, int64_t n, const uint8_t *w, int64_t ldw,
                  const float *x, float *y, int64_t ldy) {
    const int esize = dtype == LT_F32 ? 4 : 2;
    float32x4_t acc[4][LT_NTILE_T];
    LT_NUNROLL for (int i = 0; i < R; i++)
        LT_NUNROLL for (int j = 0; j < T; j++) acc[i][j] = vdupq_n_f32(0);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        float32x4_t wv[4];
        LT_NUNROLL for (int i = 0; i < R; i++) {
            if ((k * esize) % 64 == 0) __builtin_prefetch(w + i * ldw + LT_NPREFETCH_BYTES + k * esize);
            wv[i] = nload4(dtype, w + i * ldw, k);
        }
        LT_NUNROLL for (int j = 0; j < T; j++) {
            const float32x4_t xv = vld1q_f32(x + j * n + k);
            LT_NUNROLL for (int i = 0; i < R; i++) acc[i][j] = vfmaq_f32(acc[i][j], wv[i], xv);
        }
    }
    LT_NUNROLL for (int i = 0; i < R; i++)
        LT_NUNROLL for (int j = 0; j < T; j++) {
            float sum = vaddvq_f32(acc[i][j]);
            for (int64_t kk = k; kk < n; kk++) sum += nload1(dtype, w + i * ldw, kk) * x[j * n + kk];
            y[j * ldy + i] = sum;
        }
}

LT_NI void nfgemm_typed(const int dtype, int64_t n, const uint8_t *w, int64_t ldw, int64_t nrows,
                        const float *x, int64_t ntokens, float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + 4 <= nrows; r += 4) {
        int64_t t = 0;
        for (; t + LT_NTILE_T <= ntokens; t += LT_NTILE_T) nftile(dtype, 4, LT_NTILE_T, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
        for (; t < ntokens; t++) nftile(dtype, 4, 1, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
    }
    for (; r < nrows; r++) {
        int64_t t = 0;
        for (; t + LT_NTILE_T <= ntokens; t += LT_NTILE_T) nftile(dtype, 1, LT_NTILE_T, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
        for (; t < ntokens; t++) nftile(dtype, 1, 1, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
    }
}

void lt_fgemm_neon(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                   const float *x, int64_t ntokens, float *y, int64_t ldy) {
    switch (dtype) {
    case LT_F16:  nfgemm_typed(LT_F16, n, (const uint8_t *)w, ldw, nrows, x, ntokens, y, ldy); break;
    case LT_BF16: nfgemm_typed(LT_BF16, n, (const uint8_t *)w, ldw, nrows, x, ntokens, y, ldy); break;
    default:      nfgemm_typed(LT_F32, n, (const uint8_t *)w, ldw, nrows, x, ntokens, y, ldy); break;
    }
}

// ---- Float helpers ----

float lt_dot_f32_neon(const float *a, const float *b, int64_t n) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + k), vld1q_f32(b + k));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + k + 4), vld1q_f32(b + k + 4));
    }
    for (; k + 4 <= n; k += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + k), vld1q_f32(b + k));
    float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; k < n; k++) sum += a[k] * b[k];
    return sum;
}

void lt_axpy_f32_neon(float a, const float *x, float *y, int64_t n) {
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) vst1q_f32(y + k, vfmaq_n_f32(vld1q_f32(y + k), vld1q_f32(x + k), a));
    for (; k < n; k++) y[k] += a * x[k];
}

float lt_sumsq_f32_neon(const float *x, int64_t n) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const float32x4_t v0 = vld1q_f32(x + k), v1 = vld1q_f32(x + k + 4);
        acc0 = vfmaq_f32(acc0, v0, v0);
        acc1 = vfmaq_f32(acc1, v1, v1);
    }
    for (; k + 4 <= n; k += 4) { const float32x4_t v = vld1q_f32(x + k); acc0 = vfmaq_f32(acc0, v, v); }
    float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; k < n; k++) sum += x[k] * x[k];
    return sum;
}

/// As the x86 path: the largest value first (vmaxnmq keeps the number when one side is NaN), then the first
/// index holding it; 0 when nothing is above -inf.
int64_t lt_argmax_f32_neon(const float *x, int64_t n) {
    float32x4_t m0 = vdupq_n_f32(-INFINITY), m1 = m0;
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        m0 = vmaxnmq_f32(m0, vld1q_f32(x + k));
        m1 = vmaxnmq_f32(m1, vld1q_f32(x + k + 4));
    }
    float top = vmaxnmvq_f32(vmaxnmq_f32(m0, m1));
    for (; k < n; k++) top = x[k] > top ? x[k] : top;
    if (!(top > -INFINITY)) return 0;
    const float32x4_t t = vdupq_n_f32(top);
    for (k = 0; k + 4 <= n; k += 4) {
        const uint32x4_t eq = vceqq_f32(vld1q_f32(x + k), t);
        if (vmaxvq_u32(eq)) {
            for (int i = 0; i < 4; i++) if (x[k + i] == top) return k + i;
        }
    }
    for (; k < n; k++) if (x[k] == top) return k;
    return 0;   // not reached: top is one of the values
}

/// exp(x) to about 2 ulp for x in [-87.3, 88.0]; 0 below that range (exp(-inf) = 0 for masked scores),
/// clamped to exp(88.0) above it. The same method as the x86 paths: x = k ln2 + r with ln2 split in two
/// (Cody-Waite), |r| <= ln2 / 2, a degree-7 Taylor polynomial in r and 2^k built in the exponent field.
LT_NI float32x4_t nexp(float32x4_t x) {
    const float32x4_t lo = vdupq_n_f32(-87.33654f), hi = vdupq_n_f32(88.0f);
    const float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
    const float32x4_t k = vrndnq_f32(vmulq_n_f32(xc, 1.44269504088896341f));
    float32x4_t r = vfmsq_n_f32(xc, k, 0.693359375f);
    r = vfmsq_n_f32(r, k, -2.12194440e-4f);
    float32x4_t p = vdupq_n_f32(1.0f / 5040);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
    const float32x4_t result = vmulq_f32(p, vreinterpretq_f32_s32(e));
    const uint32x4_t below = vcltq_f32(x, lo);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(result), below));
}

void lt_swiglu_f32_neon(float *gate, const float *up, int64_t n) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const float32x4_t g = vld1q_f32(gate + k);
        const float32x4_t sig = vdivq_f32(g, vaddq_f32(one, nexp(vnegq_f32(g))));
        vst1q_f32(gate + k, vmulq_f32(sig, vld1q_f32(up + k)));
    }
    for (; k < n; k++) gate[k] = gate[k] / (1.0f + expf(-gate[k])) * up[k];
}

/// gelu_tanh as x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) (see ckernels.h), times up if given.
void lt_gelu_tanh_f32_neon(float *x, const float *up, int64_t n) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const float32x4_t v = vld1q_f32(x + k);
        const float32x4_t inner = vfmaq_f32(v, vmulq_n_f32(v, 0.044715f), vmulq_f32(v, v));   // x + 0.044715 x^3
        float32x4_t g = vdivq_f32(v, vaddq_f32(one, nexp(vmulq_n_f32(inner, -2.0f * 0.79788456080286536f))));
        if (up) g = vmulq_f32(g, vld1q_f32(up + k));
        vst1q_f32(x + k, g);
    }
    for (; k < n; k++) {
        const float v = x[k];
        const float g = v / (1.0f + expf(-2.0f * 0.79788456080286536f * (v + 0.044715f * v * v * v)));
        x[k] = up ? g * up[k] : g;
    }
}

/// Exact GELU through erfc(z) ~ t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2), t = 1 / (1 + p z),
/// z = |x| / sqrt 2 (Abramowitz & Stegun 7.1.26): 1 + erf is 2 - erfc(z) for x >= 0, erfc(z) for x < 0.
void lt_gelu_f32_neon(float *x, int64_t n) {
    const float32x4_t one = vdupq_n_f32(1.0f), two = vdupq_n_f32(2.0f);
    const float32x4_t a1 = vdupq_n_f32(0.254829592f), a2 = vdupq_n_f32(-0.284496736f), a3 = vdupq_n_f32(1.421413741f);
    const float32x4_t a4 = vdupq_n_f32(-1.453152027f), a5 = vdupq_n_f32(1.061405429f);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const float32x4_t v = vld1q_f32(x + k);
        const float32x4_t z = vmulq_n_f32(vabsq_f32(v), 0.70710678118654752f);
        const float32x4_t t = vdivq_f32(one, vfmaq_n_f32(one, z, 0.3275911f));
        float32x4_t poly = vfmaq_f32(a4, a5, t);
        poly = vfmaq_f32(a3, poly, t);
        poly = vfmaq_f32(a2, poly, t);
        poly = vfmaq_f32(a1, poly, t);
        poly = vmulq_f32(poly, t);
        const float32x4_t erfc = vmulq_f32(poly, nexp(vnegq_f32(vmulq_f32(z, z))));
        const float32x4_t onePlusErf = vbslq_f32(vcltzq_f32(v), erfc, vsubq_f32(two, erfc));
        vst1q_f32(x + k, vmulq_f32(vmulq_n_f32(v, 0.5f), onePlusErf));
    }
    for (; k < n; k++) x[k] = 0.5f * x[k] * (1.0f + erff(x[k] * 0.70710678118654752f));
}

float lt_softmax_f32_neon(float *x, int64_t n) {
    if (n <= 0) return -INFINITY;
    float32x4_t vm = vdupq_n_f32(-INFINITY);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) vm = vmaxq_f32(vm, vld1q_f32(x + k));
    float m = vmaxvq_f32(vm);
    for (; k < n; k++) m = x[k] > m ? x[k] : m;
    const float32x4_t vmax = vdupq_n_f32(m);
    float32x4_t vs = vdupq_n_f32(0);
    for (k = 0; k + 4 <= n; k += 4) {
        const float32x4_t e = nexp(vsubq_f32(vld1q_f32(x + k), vmax));
        vst1q_f32(x + k, e);
        vs = vaddq_f32(vs, e);
    }
    float sum = vaddvq_f32(vs);
    for (; k < n; k++) { x[k] = expf(x[k] - m); sum += x[k]; }
    const float inv = 1.0f / sum;
    for (k = 0; k + 4 <= n; k += 4) vst1q_f32(x + k, vmulq_n_f32(vld1q_f32(x + k), inv));
    for (; k < n; k++) x[k] *= inv;
    return m + logf(sum);
}

// ---- Row-interleaved ("r16") packed blocks (layout in ckernels.h; the scalar twin is in packed.c) ----

/// Bytes of one packed block of 16 rows x 32 values: kind 0 = 4-bit (Q4_0, Q4_1), 1 = 5-bit (Q5_0, Q5_1),
/// 2 = 8-bit (Q8_0), as r16_block_bytes in packed.c.
LT_NI int64_t nr16_block_bytes(const int kind) { return kind == 0 ? 320 : kind == 1 ? 384 : 576; }

/// 32 bytes from four mask bytes at p: byte 8i + j is 0x10 where bit j of p[i] is set (the 5-bit kind's
/// high bits for 8 rows: half h of mask 2k + nibble covers bytes 32h .. 32h + 31 of packed vector k).
LT_NI void nr16_high(const uint8_t *p, uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t index[32] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                       2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 };
    uint32_t m;
    memcpy(&m, p, 4);
    const uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(m));
    const uint8x16_t bits = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ULL)), h = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(index)), bits), h);
    *hi = vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(index + 16)), bits), h);
}

/// Four activation bytes at p broadcast to every 32-bit lane.
LT_NI int8x16_t nr16_bcast(const int8_t *p) {
    int32_t x;
    memcpy(&x, p, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(x));
}

/// Sum of the 32 activation bytes of a block (exact in int32).
LT_NI int32_t nr16_sum32(const int8_t *p) { return vaddlvq_s8(vld1q_s8(p)) + vaddlvq_s8(vld1q_s8(p + 16)); }

/// Eight f16 at p as two float32x4 (exact, like lt_f16_to_f32 for every non-NaN input).
LT_NI void nr16_f16x8(const uint8_t *p, float32x4_t *lo, float32x4_t *hi) {
    const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
    *lo = vcvt_f32_f16(vget_low_f16(h));
    *hi = vcvt_high_f32_f16(h);
}

// ---- Integer dot products: plain NEON, then with SDOT ----

#define LT_NISA neon
#define LT_NTARGET
#define LT_DOTPROD 0
#include "neon_impl.h"
#undef LT_NISA
#undef LT_NTARGET
#undef LT_DOTPROD

#define LT_NISA neondot
#if defined(__ARM_FEATURE_DOTPROD)
#define LT_NTARGET   // the whole file is built for a CPU with the dot product
#elif defined(__clang__)
#define LT_NTARGET __attribute__((target("dotprod")))
#else   // GCC: arm_neon.h declares vdotq_s32 for arch=armv8.2-a+dotprod, so the attribute must include it
#define LT_NTARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define LT_DOTPROD 1
#include "neon_impl.h"
#undef LT_NISA
#undef LT_NTARGET
#undef LT_DOTPROD
#endif
