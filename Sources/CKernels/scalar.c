// Portable scalar kernels: the fallback on every CPU and the integer twin the SIMD paths are tested
// against (the integer block dot products must agree exactly; only float summation order differs).
#include "ckernels.h"
#include "kernels_internal.h"
#include <math.h>
#include <string.h>

float lt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) { bits = sign; }
        else { float v = (float)mant * (1.0f / 16777216.0f); return sign ? -v : v; }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
}

static inline float bf16_to_f32(uint16_t h) { uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }
static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/// One block of 32 values -> int8 in q (round half to even, like cvtps2dq); returns the scale
/// max|x| / 127 and the sum of q in *sum.
static inline float quantize_block(const float *xb, int8_t *q, int *sum) {
    float amax = 0;
    for (int j = 0; j < 32; j++) { float a = fabsf(xb[j]); amax = a > amax ? a : amax; }
    float db = amax / 127.0f;
    float id = db != 0.0f ? 1.0f / db : 0.0f;
    int total = 0;
    for (int j = 0; j < 32; j++) {
        int v = (int)nearbyintf(xb[j] * id);
        q[j] = (int8_t)v;
        total += v;
    }
    *sum = total;
    return db;
}

void lt_quantize_q8_scalar(const float *x, int64_t n, int8_t *qs, float *d, float *s) {
    for (int64_t b = 0; b < n / 32; b++) {
        int sum;
        float db = quantize_block(x + b * 32, qs + b * 32, &sum);
        d[b] = db;
        s[b] = db * (float)sum;
    }
}

void lt_quantize_q8x2_scalar(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s) {
    for (int64_t b = 0; b < n / 32; b++) {
        float r[32];
        int sum1, sum2;
        float db = quantize_block(x + b * 32, qs + b * 32, &sum1);
        // fmaf: one rounding, as the SIMD twins' fnmadd (and no dependence on -ffp-contract).
        for (int j = 0; j < 32; j++) r[j] = fmaf(-db, (float)qs[b * 32 + j], x[b * 32 + j]);
        float db2 = quantize_block(r, qs2 + b * 32, &sum2);
        d[b] = db;
        d2[b] = db2;
        float s1 = db * (float)sum1;
        float s2 = db2 * (float)sum2;
        s[b] = s1 + s2;
    }
}

/// Integer dot of one weight block with 32 activation bytes, plus the block's float factors:
/// dot(block, x) = scale * isum + offset * s_x, where for Q4_1 offset is the min and for the others 0
/// (Q4_0's -8 is folded into isum).
static inline int32_t block_isum(int dtype, const uint8_t *blk, const int8_t *xq, float *scale, float *offset) {
    int32_t isum = 0;
    switch (dtype) {
    case LT_Q8_0:
        *scale = lt_f16_to_f32(load_u16(blk)); *offset = 0;
        for (int j = 0; j < 32; j++) isum += (int32_t)(int8_t)blk[2 + j] * xq[j];
        break;
    case LT_Q4_0:
        *scale = lt_f16_to_f32(load_u16(blk)); *offset = 0;
        for (int j = 0; j < 16; j++) {
            isum += ((blk[2 + j] & 0x0F) - 8) * xq[j];
            isum += ((blk[2 + j] >> 4) - 8) * xq[j + 16];
        }
        break;
    default: // LT_Q4_1
        *scale = lt_f16_to_f32(load_u16(blk)); *offset = lt_f16_to_f32(load_u16(blk + 2));
        for (int j = 0; j < 16; j++) {
            isum += (blk[4 + j] & 0x0F) * xq[j];
            isum += (blk[4 + j] >> 4) * xq[j + 16];
        }
        break;
    }
    return isum;
}

static int block_bytes(int dtype) { return dtype == LT_Q8_0 ? 34 : dtype == LT_Q4_0 ? 18 : 20; }

void lt_qgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32;
    const int bb = block_bytes(dtype);
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + r * ldw;
        for (int64_t t = 0; t < ntokens; t++) {
            float acc = 0;
            for (int64_t b = 0; b < nb; b++) {
                float scale, offset;
                int32_t isum = block_isum(dtype, row + b * bb, qs + t * n + b * 32, &scale, &offset);
                float term = scale * d[t * nb + b] * (float)isum;
                if (qs2) {
                    int32_t isum2 = block_isum(dtype, row + b * bb, qs2 + t * n + b * 32, &scale, &offset);
                    term += scale * d2[t * nb + b] * (float)isum2;
                }
                acc += term + offset * s[t * nb + b];
            }
            y[t * ldy + r] = acc;
        }
    }
}

static inline float load_weight(int dtype, const void *w, int64_t k) {
    switch (dtype) {
    case LT_F16: return lt_f16_to_f32(((const uint16_t *)w)[k]);
    case LT_BF16: return bf16_to_f32(((const uint16_t *)w)[k]);
    default: return ((const float *)w)[k];
    }
}

void lt_fgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const float *x, int64_t ntokens, float *y, int64_t ldy) {
    for (int64_t r = 0; r < nrows; r++) {
        const void *row = (const uint8_t *)w + r * ldw;
        for (int64_t t = 0; t < ntokens; t++) {
            const float *xt = x + t * n;
            float acc = 0;
            for (int64_t k = 0; k < n; k++) acc += load_weight(dtype, row, k) * xt[k];
            y[t * ldy + r] = acc;
        }
    }
}

void lt_dequantize_scalar(int dtype, const void *src, int64_t n, float *dst) {
    const uint8_t *p = (const uint8_t *)src;
    switch (dtype) {
    case LT_F32: memcpy(dst, src, (size_t)n * 4); break;
    case LT_F16: case LT_BF16: for (int64_t k = 0; k < n; k++) dst[k] = load_weight(dtype, src, k); break;
    case LT_Q8_0:
        for (int64_t b = 0; b < n / 32; b++, p += 34) {
            float db = lt_f16_to_f32(load_u16(p));
            for (int j = 0; j < 32; j++) dst[b * 32 + j] = db * (float)(int8_t)p[2 + j];
        }
        break;
    case LT_Q4_0:
        for (int64_t b = 0; b < n / 32; b++, p += 18) {
            float db = lt_f16_to_f32(load_u16(p));
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = db * (float)((p[2 + j] & 0x0F) - 8);
                dst[b * 32 + j + 16] = db * (float)((p[2 + j] >> 4) - 8);
            }
        }
        break;
    default: // LT_Q4_1
        for (int64_t b = 0; b < n / 32; b++, p += 20) {
            float db = lt_f16_to_f32(load_u16(p)), m = lt_f16_to_f32(load_u16(p + 2));
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = db * (float)(p[4 + j] & 0x0F) + m;
                dst[b * 32 + j + 16] = db * (float)(p[4 + j] >> 4) + m;
            }
        }
        break;
    }
}

float lt_dot_f32_scalar(const float *a, const float *b, int64_t n) {
    float acc = 0;
    for (int64_t i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}
