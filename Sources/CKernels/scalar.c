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


/// Q5_0 / Q5_1 value j of a block (0..31): nibble from qs (16 bytes), high bit j of qh.
static inline int q5_value(const uint8_t *qs, uint32_t qh, int j) {
    int nib = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
    return nib | (int)((qh >> j) & 1) << 4;
}

static inline uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/// Q5_0 (offset = 0, -16 folded into isum) / Q5_1 (offset = min) block against 32 activation bytes.
static inline int32_t q5_isum(int dtype, const uint8_t *blk, const int8_t *xq, float *scale, float *offset) {
    const int one = dtype == LT_Q5_1;
    const uint32_t qh = load_u32(blk + (one ? 4 : 2));
    const uint8_t *qs = blk + (one ? 8 : 6);
    *scale = lt_f16_to_f32(load_u16(blk));
    *offset = one ? lt_f16_to_f32(load_u16(blk + 2)) : 0;
    int32_t isum = 0;
    for (int j = 0; j < 32; j++) isum += (q5_value(qs, qh, j) - (one ? 0 : 16)) * xq[j];
    return isum;
}

void lt_kquant_decode(int dtype, const uint8_t *b, lt_kblock *o) {
    switch (dtype) {
    case LT_Q2_K:
        o->d = lt_f16_to_f32(load_u16(b + 80)); o->dmin = lt_f16_to_f32(load_u16(b + 82));
        for (int g = 0; g < 16; g++) { o->sc[g] = b[g] & 0x0F; o->mn[g] = b[g] >> 4; }
        for (int e = 0; e < 256; e++) o->q[e] = (int8_t)((b[16 + e / 128 * 32 + e % 32] >> (2 * (e % 128 / 32))) & 3);
        break;
    case LT_Q3_K:
        o->d = lt_f16_to_f32(load_u16(b + 108)); o->dmin = 0;
        for (int g = 0; g < 16; g++) {
            int low = (b[96 + g % 8] >> (g < 8 ? 0 : 4)) & 0x0F;
            int high = (b[96 + 8 + g % 4] >> (2 * (g / 4))) & 3;
            o->sc[g] = (int16_t)((low | high << 4) - 32); o->mn[g] = 0;
        }
        for (int e = 0; e < 256; e++) {
            int h = e / 128, j = e % 128 / 32, l = e % 32;
            int low = (b[32 + h * 32 + l] >> (2 * j)) & 3, hbit = (b[l] >> (h * 4 + j)) & 1;
            o->q[e] = (int8_t)(low - (hbit ? 0 : 4));
        }
        break;
    case LT_Q4_K: case LT_Q5_K: {
        o->d = lt_f16_to_f32(load_u16(b)); o->dmin = lt_f16_to_f32(load_u16(b + 2));
        const uint8_t *p = b + 4;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            if (j < 4) { sc = p[j] & 63; m = p[j + 4] & 63; }
            else { sc = (p[j + 4] & 0x0F) | (p[j - 4] >> 6) << 4; m = (p[j + 4] >> 4) | (p[j] >> 6) << 4; }
            o->sc[2 * j] = o->sc[2 * j + 1] = (int16_t)sc;
            o->mn[2 * j] = o->mn[2 * j + 1] = (int16_t)m;
        }
        const uint8_t *qs = b + (dtype == LT_Q4_K ? 16 : 48);
        for (int e = 0; e < 256; e++) {
            int sub = e / 32, l = e % 32;
            int q = (qs[sub / 2 * 32 + l] >> (4 * (sub % 2))) & 0x0F;
            if (dtype == LT_Q5_K) q |= ((b[16 + l] >> sub) & 1) << 4;
            o->q[e] = (int8_t)q;
        }
        break;
    }
    default: // LT_Q6_K
        o->d = lt_f16_to_f32(load_u16(b + 208)); o->dmin = 0;
        for (int g = 0; g < 16; g++) { o->sc[g] = (int8_t)b[192 + g]; o->mn[g] = 0; }
        for (int e = 0; e < 256; e++) {
            int h = e / 128, j = e % 128 / 32, l = e % 32;
            int low = (b[64 * h + 32 * (j & 1) + l] >> (4 * (j >> 1))) & 0x0F;
            int high = (b[128 + 32 * h + l] >> (2 * j)) & 3;
            o->q[e] = (int8_t)((low | high << 4) - 32);
        }
        break;
    }
}

/// K-quant rows: each super-block is decoded once per row and meets every token. Per 32-value activation
/// block b: d * dx * sum(sc * q * x) (exact integers) per level; minus dmin * m * s[b] (Q4_K / Q5_K: one min
/// per 32 values) or dmin * dx * sum(m * x) per level (Q2_K: mins per 16 values).
static void qgemm_kquant_scalar(int dtype, int64_t n, const uint8_t *w, int64_t ldw, int64_t nrows,
                                const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                                const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32, nsb = n / 256;
    const int bb = lt_block_bytes(dtype);
    lt_kblock k;
    for (int64_t r = 0; r < nrows; r++) {
        for (int64_t t = 0; t < ntokens; t++) y[t * ldy + r] = 0;
        for (int64_t sb = 0; sb < nsb; sb++) {
            lt_kquant_decode(dtype, w + r * ldw + sb * bb, &k);
            for (int64_t t = 0; t < ntokens; t++) {
                float acc = 0;
                for (int bl = 0; bl < 8; bl++) {
                    const int64_t b = sb * 8 + bl;
                    for (int lv = 0; lv < (qs2 ? 2 : 1); lv++) {
                        const int8_t *xq = (lv ? qs2 : qs) + t * n + b * 32;
                        const float dx = (lv ? d2 : d)[t * nb + b];
                        int32_t isum = 0, msum = 0;
                        for (int g = 0; g < 2; g++) {
                            int32_t qx = 0, xs = 0;
                            for (int j = 0; j < 16; j++) { qx += k.q[bl * 32 + g * 16 + j] * xq[g * 16 + j]; xs += xq[g * 16 + j]; }
                            isum += k.sc[bl * 2 + g] * qx;
                            msum += k.mn[bl * 2 + g] * xs;
                        }
                        const float term = k.d * dx * (float)isum;
                        acc += term;
                        if (dtype == LT_Q2_K) { const float mt = k.dmin * dx * (float)msum; acc -= mt; }
                    }
                    if (dtype == LT_Q4_K || dtype == LT_Q5_K) { const float mt = k.dmin * (float)k.mn[bl * 2] * s[t * nb + b]; acc -= mt; }
                }
                y[t * ldy + r] += acc;
            }
        }
    }
}

void lt_qgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy) {
    if (dtype >= LT_Q2_K) { qgemm_kquant_scalar(dtype, n, (const uint8_t *)w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return; }
    const int64_t nb = n / 32;
    const int bb = lt_block_bytes(dtype);
    int32_t (*isum_fn)(int, const uint8_t *, const int8_t *, float *, float *) =
        dtype == LT_Q5_0 || dtype == LT_Q5_1 ? q5_isum : block_isum;
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *row = (const uint8_t *)w + r * ldw;
        for (int64_t t = 0; t < ntokens; t++) {
            float acc = 0;
            for (int64_t b = 0; b < nb; b++) {
                float scale, offset;
                int32_t isum = isum_fn(dtype, row + b * bb, qs + t * n + b * 32, &scale, &offset);
                float term = scale * d[t * nb + b] * (float)isum;
                if (qs2) {
                    int32_t isum2 = isum_fn(dtype, row + b * bb, qs2 + t * n + b * 32, &scale, &offset);
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
    case LT_Q5_0: case LT_Q5_1: {
        const int one = dtype == LT_Q5_1, bb = one ? 24 : 22;
        for (int64_t b = 0; b < n / 32; b++, p += bb) {
            const float db = lt_f16_to_f32(load_u16(p)), m = one ? lt_f16_to_f32(load_u16(p + 2)) : 0;
            const uint32_t qh = load_u32(p + (one ? 4 : 2));
            for (int j = 0; j < 32; j++) {
                const int q = q5_value(p + (one ? 8 : 6), qh, j);
                // Separate statements: d * q is exact, then one rounding for the min (no fused form needed).
                const float v = db * (float)(one ? q : q - 16);
                dst[b * 32 + j] = v + m;
            }
        }
        break;
    }
    case LT_Q2_K: case LT_Q3_K: case LT_Q4_K: case LT_Q5_K: case LT_Q6_K: {
        const int bb = lt_block_bytes(dtype);
        lt_kblock k;
        for (int64_t sb = 0; sb < n / 256; sb++, p += bb) {
            lt_kquant_decode(dtype, p, &k);
            for (int e = 0; e < 256; e++) {
                // As ggml: d * sc and dmin * m in float (exact), the product with q (exact), one subtraction.
                const float scale = k.d * (float)k.sc[e / 16], offset = k.dmin * (float)k.mn[e / 16];
                const float v = scale * (float)k.q[e];
                dst[sb * 256 + e] = v - offset;
            }
        }
        break;
    }
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
