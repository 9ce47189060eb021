// Row-interleaved ("r16") quantized weights: the layout, the repacking, the scalar twin, and the
// AVX-512 VNNI kernel. See ckernels.h for the contract.
#include "kernels_internal.h"
#include <math.h>
#include <string.h>

/// Kind of packed block: 0 = 4-bit (Q4_0, Q4_1), 1 = 5-bit (Q5_0, Q5_1: 4-bit plus high-bit masks),
/// 2 = 8-bit (Q8_0); -1 when the type has no packed form.
static inline int r16_kind(int dtype) {
    switch (dtype) {
    case LT_Q4_0: case LT_Q4_1: return 0;
    case LT_Q5_0: case LT_Q5_1: return 1;
    case LT_Q8_0: return 2;
    default: return -1;
    }
}

/// Bytes of one packed block (16 rows x 32 values): 16 f16 scales, 16 f16 offsets, the quant vectors,
/// and for the 5-bit kind eight 64-bit masks of high bits.
static inline int64_t r16_block_bytes(int kind) { return kind == 0 ? 320 : kind == 1 ? 384 : 576; }

static inline uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/// f32 -> f16 when the value is exactly representable (normal or subnormal, or zero); 0 otherwise.
static int f16_exact(float f, uint16_t *out) {
    uint32_t bits; memcpy(&bits, &f, 4);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    const float a = fabsf(f);
    if (a == 0.0f) { *out = sign; return 1; }
    if (!(a <= 65504.0f)) return 0;   // overflow or NaN
    int e;
    const float m = frexpf(a, &e);    // a = m * 2^e, m in [0.5, 1)
    uint16_t h;
    if (e >= -13) {                   // normal: a = 1.f * 2^(e-1), exponent field e - 1 + 15
        const float frac = ldexpf(m * 2.0f - 1.0f, 10);   // 10 mantissa bits
        if (frac != floorf(frac)) return 0;
        h = (uint16_t)((uint16_t)((e - 1 + 15) << 10) | (uint16_t)frac);
    } else {                          // subnormal: a = k * 2^-24
        const float k = ldexpf(a, 24);
        if (k != floorf(k) || k >= 1024.0f) return 0;
        h = (uint16_t)k;
    }
    *out = (uint16_t)(sign | h);
    return lt_f16_to_f32(*out) == f;
}

int64_t lt_pack_r16_bytes(int dtype, int64_t n, int64_t nrows) {
    const int kind = r16_kind(dtype);
    if (kind < 0 || n <= 0 || nrows <= 0 || n % 32 != 0 || nrows % 16 != 0) return 0;
    return nrows / 16 * (n / 32) * r16_block_bytes(kind);
}

int lt_pack_r16(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows, void *dst) {
    const int kind = r16_kind(dtype);
    if (lt_pack_r16_bytes(dtype, n, nrows) == 0) return 0;
    const int64_t nb = n / 32, bbp = r16_block_bytes(kind);
    const int bb = lt_block_bytes(dtype);
    // Offset the unsigned quant codes carry: value = d * u + m with m = -offset * d (Q4_1 / Q5_1 store m).
    const float offset = dtype == LT_Q4_0 ? 8.0f : dtype == LT_Q5_0 ? 16.0f : dtype == LT_Q8_0 ? 128.0f : 0.0f;
    const int hasMin = dtype == LT_Q4_1 || dtype == LT_Q5_1;
    for (int64_t g = 0; g < nrows / 16; g++) {
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *out = (uint8_t *)dst + (g * nb + b) * bbp;
            uint64_t masks[8] = {0};
            for (int r = 0; r < 16; r++) {
                const uint8_t *src = (const uint8_t *)w + (g * 16 + r) * ldw + b * bb;
                const uint16_t dh = load_u16(src);
                uint16_t mh;
                if (hasMin) mh = load_u16(src + 2);
                else if (!f16_exact(-offset * lt_f16_to_f32(dh), &mh)) return 0;
                memcpy(out + 2 * r, &dh, 2);
                memcpy(out + 32 + 2 * r, &mh, 2);
                if (kind == 2) {
                    for (int k = 0; k < 8; k++)
                        for (int j = 0; j < 4; j++) out[64 + 64 * k + 4 * r + j] = (uint8_t)(src[2 + 4 * k + j] ^ 0x80);
                } else {
                    const uint8_t *q = src + (dtype == LT_Q4_0 ? 2 : dtype == LT_Q4_1 ? 4 : dtype == LT_Q5_0 ? 6 : 8);
                    for (int k = 0; k < 4; k++) memcpy(out + 64 + 64 * k + 4 * r, q + 4 * k, 4);
                    if (kind == 1) {
                        uint32_t qh;
                        memcpy(&qh, q - 4, 4);
                        for (int k = 0; k < 4; k++)
                            for (int h = 0; h < 2; h++)
                                masks[2 * k + h] |= (uint64_t)((qh >> (16 * h + 4 * k)) & 0xF) << (4 * r);
                    }
                }
            }
            if (kind == 1) memcpy(out + 320, masks, 64);
        }
    }
    return 1;
}

/// Unsigned code of value e (0..31) of row r (0..15) in packed block blk.
static inline int r16_code(int kind, const uint8_t *blk, int r, int e) {
    if (kind == 2) return blk[64 + 64 * (e / 4) + 4 * r + e % 4];
    const int k = (e % 16) / 4, j = e % 4, h = e / 16;
    const uint8_t byte = blk[64 + 64 * k + 4 * r + j];
    int u = h ? byte >> 4 : byte & 0x0F;
    if (kind == 1) {
        uint64_t m; memcpy(&m, blk + 320 + 8 * (2 * k + h), 8);
        u |= (int)((m >> (4 * r + j)) & 1) << 4;
    }
    return u;
}

void lt_dequantize_r16(int dtype, int64_t n, const void *packed, int64_t row, float *dst) {
    const int kind = r16_kind(dtype);
    const int64_t nb = n / 32, bbp = r16_block_bytes(kind);
    const int r = (int)(row % 16);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)packed + (row / 16 * nb + b) * bbp;
        const float dw = lt_f16_to_f32(load_u16(blk + 2 * r)), mw = lt_f16_to_f32(load_u16(blk + 32 + 2 * r));
        for (int e = 0; e < 32; e++) dst[b * 32 + e] = fmaf(dw, (float)r16_code(kind, blk, r, e), mw);
    }
}

/// The reference: per row, token and block the exact integer dot, then the float steps in the order
/// the SIMD kernel takes them (each an explicit fmaf or product), so the two agree bit for bit.
void lt_qgemm_r16_scalar(int dtype, int64_t n, const void *packed, int64_t nrows,
                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                         int64_t ntokens, float *y, int64_t ldy) {
    const int kind = r16_kind(dtype);
    const int64_t nb = n / 32, bbp = r16_block_bytes(kind);
    for (int64_t g = 0; g < nrows / 16; g++)
        for (int r = 0; r < 16; r++)
            for (int64_t t = 0; t < ntokens; t++) {
                float acc = 0;
                for (int64_t b = 0; b < nb; b++) {
                    const uint8_t *blk = (const uint8_t *)packed + (g * nb + b) * bbp;
                    const float dw = lt_f16_to_f32(load_u16(blk + 2 * r)), mw = lt_f16_to_f32(load_u16(blk + 32 + 2 * r));
                    const int8_t *x1 = qs + t * n + b * 32;
                    int32_t i1 = 0, i2 = 0;
                    for (int e = 0; e < 32; e++) {
                        const int u = r16_code(kind, blk, r, e);
                        i1 += u * x1[e];
                        if (qs2) i2 += u * qs2[t * n + b * 32 + e];
                    }
                    const float dx = d[t * nb + b];
                    if (qs2) {
                        const float p1 = (float)i1 * dx;
                        const float f = fmaf((float)i2, d2[t * nb + b], p1);
                        acc = fmaf(f, dw, acc);
                    } else {
                        const float f = dw * dx;
                        acc = fmaf((float)i1, f, acc);
                    }
                    acc = fmaf(mw, s[t * nb + b], acc);
                }
                y[t * ldy + g * 16 + r] = acc;
            }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define R16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define R16_INLINE static inline __attribute__((always_inline)) R16_TARGET
#define R16_UNROLL _Pragma("clang loop unroll(full)")
#define R16_MAX_T 8

/// The integer dots of one weight block (blk) with T tokens' activation blocks (row t at qs + t * n, and
/// qs2 + t * n for the second level when LI == 2): i1[t] (i2[t]) holds the 16 rows' int32 sums.
R16_INLINE void r16_ints(const int kind, const int LI, const int T, const uint8_t *blk, int64_t n,
                         const int8_t *qs, const int8_t *qs2, __m512i *i1, __m512i *i2) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), c10 = _mm512_set1_epi8(0x10);
    R16_UNROLL for (int t = 0; t < T; t++) { i1[t] = _mm512_setzero_si512(); if (LI == 2) i2[t] = _mm512_setzero_si512(); }
    if (kind == 2) {
        R16_UNROLL for (int k = 0; k < 8; k++) {
            const __m512i wv = _mm512_loadu_si512((const void *)(blk + 64 + 64 * k));
            R16_UNROLL for (int t = 0; t < T; t++) {
                int32_t x; memcpy(&x, qs + t * n + 4 * k, 4);
                i1[t] = _mm512_dpbusd_epi32(i1[t], wv, _mm512_set1_epi32(x));
                if (LI == 2) {
                    int32_t x2; memcpy(&x2, qs2 + t * n + 4 * k, 4);
                    i2[t] = _mm512_dpbusd_epi32(i2[t], wv, _mm512_set1_epi32(x2));
                }
            }
        }
    } else {
        R16_UNROLL for (int k = 0; k < 4; k++) {
            const __m512i raw = _mm512_loadu_si512((const void *)(blk + 64 + 64 * k));
            __m512i lo = _mm512_and_si512(raw, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            if (kind == 1) {
                uint64_t ml, mh;
                memcpy(&ml, blk + 320 + 16 * k, 8); memcpy(&mh, blk + 328 + 16 * k, 8);
                lo = _mm512_mask_add_epi8(lo, (__mmask64)ml, lo, c10);
                hi = _mm512_mask_add_epi8(hi, (__mmask64)mh, hi, c10);
            }
            R16_UNROLL for (int t = 0; t < T; t++) {
                int32_t xl, xh; memcpy(&xl, qs + t * n + 4 * k, 4); memcpy(&xh, qs + t * n + 16 + 4 * k, 4);
                i1[t] = _mm512_dpbusd_epi32(i1[t], lo, _mm512_set1_epi32(xl));
                i1[t] = _mm512_dpbusd_epi32(i1[t], hi, _mm512_set1_epi32(xh));
                if (LI == 2) {
                    memcpy(&xl, qs2 + t * n + 4 * k, 4); memcpy(&xh, qs2 + t * n + 16 + 4 * k, 4);
                    i2[t] = _mm512_dpbusd_epi32(i2[t], lo, _mm512_set1_epi32(xl));
                    i2[t] = _mm512_dpbusd_epi32(i2[t], hi, _mm512_set1_epi32(xh));
                }
            }
        }
    }
}

/// 16 rows x T tokens over all nb blocks of one packed row group. Each 512-bit weight vector holds four
/// consecutive codes of all 16 rows (one int32 lane per row), so vpdpbusd against four activation bytes
/// broadcast to every lane adds 16 rows' partial dots at once: no horizontal sums, and each block's
/// dot is a 16-row int32 vector that takes its scale in one FMA.
R16_INLINE void r16_tile(const int kind, const int L, const int T, int64_t nb, int64_t n, const uint8_t *grp,
                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                         float *y, int64_t ldy) {
    const int64_t bbp = r16_block_bytes(kind);
    __m512 acc[R16_MAX_T];
    R16_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = grp + b * bbp;
        _mm_prefetch((const char *)(blk + 4 * bbp), _MM_HINT_T0);
        _mm_prefetch((const char *)(blk + 4 * bbp + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(blk + 4 * bbp + 128), _MM_HINT_T0);
        _mm_prefetch((const char *)(blk + 4 * bbp + 192), _MM_HINT_T0);
        _mm_prefetch((const char *)(blk + 4 * bbp + 256), _MM_HINT_T0);
        if (kind != 0) {
            _mm_prefetch((const char *)(blk + 4 * bbp + 320), _MM_HINT_T0);
            if (kind == 2) {
                _mm_prefetch((const char *)(blk + 4 * bbp + 384), _MM_HINT_T0);
                _mm_prefetch((const char *)(blk + 4 * bbp + 448), _MM_HINT_T0);
                _mm_prefetch((const char *)(blk + 4 * bbp + 512), _MM_HINT_T0);
            }
        }
        // A block whose second level is zero for every token of the tile (`.mixed` activations keep it only
        // in outlier blocks) needs the first level's dots alone; the float steps stay the two-level ones
        // with d2 * i2 = 0, so the result is bit for bit the full walk's.
        const int two = L == 2 && lt_tile_has_level2(d2 + b, nb, T);
        __m512i i1[R16_MAX_T], i2[R16_MAX_T];
        if (two) r16_ints(kind, 2, T, blk, n, qs + b * 32, qs2 + b * 32, i1, i2);
        else r16_ints(kind, 1, T, blk, n, qs + b * 32, qs2, i1, i2);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 32)));
        R16_UNROLL for (int t = 0; t < T; t++) {
            const __m512 dx = _mm512_set1_ps(d[t * nb + b]);
            if (L == 2) {
                const __m512 p1 = _mm512_mul_ps(_mm512_cvtepi32_ps(i1[t]), dx);
                const __m512 f = two ? _mm512_fmadd_ps(_mm512_cvtepi32_ps(i2[t]), _mm512_set1_ps(d2[t * nb + b]), p1) : p1;
                acc[t] = _mm512_fmadd_ps(f, dw, acc[t]);
            } else {
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1[t]), _mm512_mul_ps(dw, dx), acc[t]);
            }
            acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(s[t * nb + b]), acc[t]);
        }
    }
    R16_UNROLL for (int t = 0; t < T; t++) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

R16_INLINE void r16_gemm(const int kind, const int L, int64_t n, const uint8_t *packed, int64_t nrows,
                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                         int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32, gbytes = nb * r16_block_bytes(kind);
#define R16_ARGS(t) nb, n, grp, qs + (t) * n, d + (t) * nb, L == 2 ? qs2 + (t) * n : qs2, L == 2 ? d2 + (t) * nb : d2, \
    s + (t) * nb, y + (t) * ldy + g * 16, ldy
    // Tiles of 8 tokens for both levels: with two levels the 8 x 3 accumulators crowd the 32 registers,
    // but each weight block is then unpacked once per 8 tokens, which measures ~10% faster than two tiles
    // of 4 for 8-row decode batches and no slower for prefill (benchmarks/qgemm_bench.sh).
    for (int64_t g = 0; g < nrows / 16; g++) {
        const uint8_t *grp = packed + g * gbytes;
        int64_t t = 0;
        for (; t + R16_MAX_T <= ntokens; t += R16_MAX_T) r16_tile(kind, L, R16_MAX_T, R16_ARGS(t));
        switch (ntokens - t) {
        case 7: r16_tile(kind, L, 7, R16_ARGS(t)); break;
        case 6: r16_tile(kind, L, 6, R16_ARGS(t)); break;
        case 5: r16_tile(kind, L, 5, R16_ARGS(t)); break;
        case 4: r16_tile(kind, L, 4, R16_ARGS(t)); break;
        case 3: r16_tile(kind, L, 3, R16_ARGS(t)); break;
        case 2: r16_tile(kind, L, 2, R16_ARGS(t)); break;
        case 1: r16_tile(kind, L, 1, R16_ARGS(t)); break;
        default: break;
        }
    }
#undef R16_ARGS
}

R16_TARGET static void lt_qgemm_r16_vnni(int dtype, int64_t n, const void *packed, int64_t nrows,
                                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                                         const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const uint8_t *p = (const uint8_t *)packed;
    switch (r16_kind(dtype) * 2 + (qs2 ? 1 : 0)) {
    case 0: r16_gemm(0, 1, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 1: r16_gemm(0, 2, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 2: r16_gemm(1, 1, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 3: r16_gemm(1, 2, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 4: r16_gemm(2, 1, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    default: r16_gemm(2, 2, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    }
}
#endif

#if defined(__x86_64__)
#define R16A_TARGET __attribute__((target("avx2,fma,f16c")))
#define R16A_INLINE static inline __attribute__((always_inline)) R16A_TARGET

/// Byte j of the result is 0x10 where bit j of m is set (the 5-bit kind's high bits for 8 rows).
R16A_INLINE __m256i r16a_bits(uint32_t m) {
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)m), shuf);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bits), bits), _mm256_set1_epi8(0x10));
}

R16A_INLINE __m256i r16a_bcast(const int8_t *p) { int32_t x; memcpy(&x, p, 4); return _mm256_set1_epi32(x); }

/// The 4- and 5-bit kinds' codes of packed vector k, half h (8 rows x 4 consecutive codes per 256-bit lane
/// group): lo holds values 4k..4k+3 of the block, hi values 16+4k..16+4k+3; the 5-bit kind adds its high bits.
R16A_INLINE void r16a_codes(const int kind, const uint8_t *blk, int k, int h, __m256i m4, __m256i *lo, __m256i *hi) {
    const __m256i raw = _mm256_loadu_si256((const __m256i *)(blk + 64 + 64 * k + 32 * h));
    *lo = _mm256_and_si256(raw, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    if (kind == 1) {
        uint64_t ml, mh;
        memcpy(&ml, blk + 320 + 16 * k, 8); memcpy(&mh, blk + 328 + 16 * k, 8);
        *lo = _mm256_or_si256(*lo, r16a_bits((uint32_t)(ml >> (32 * h))));
        *hi = _mm256_or_si256(*hi, r16a_bits((uint32_t)(mh >> (32 * h))));
    }
}

/// One block's float steps for 8 rows of one token, in the scalar twin's order: the level dots i1 (and i2)
/// times the activation scales d (d2) and the weight scales dw, plus the weight offsets mw times the
/// activation block sum s.
R16A_INLINE __m256 r16a_scale(const int L, __m256 acc, __m256i i1, __m256i i2, float d, float d2, float s,
                              __m256 dw, __m256 mw) {
    const __m256 dx = _mm256_set1_ps(d);
    if (L == 2) {
        const __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(i1), dx);
        const __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i2), _mm256_set1_ps(d2), p);
        acc = _mm256_fmadd_ps(f, dw, acc);
    } else {
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_mul_ps(dw, dx), acc);
    }
    return _mm256_fmadd_ps(mw, _mm256_set1_ps(s), acc);
}

/// The 8-bit kind's int32 dot of one packed vector half (signed codes w, |w| in aw) with four activation
/// bytes x broadcast: |w| times x with w's sign, as vpmaddubsw needs an unsigned side.
R16A_INLINE __m256i r16a_dot8(__m256i aw, __m256i w, __m256i x, __m256i ones) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w)), ones);
}

/// The integer dots of one weight block (blk, half h) with T tokens' activation blocks (row t at qs + t * n,
/// qs2 + t * n for the second level when LI == 2; the 8-bit kind's start values at corr[t * nb], corr2[t * nb]).
R16A_INLINE void r16a_ints(const int kind, const int LI, const int T, const uint8_t *blk, const int h, int64_t n,
                           int64_t nb, const int8_t *qs, const int8_t *qs2, const int32_t *corr, const int32_t *corr2,
                           __m256i *i1, __m256i *i2) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), sign = _mm256_set1_epi8((char)0x80);
    if (kind == 2) {
        R16_UNROLL for (int t = 0; t < T; t++) {
            i1[t] = _mm256_set1_epi32(corr[t * nb]);
            if (LI == 2) i2[t] = _mm256_set1_epi32(corr2[t * nb]);
        }
        R16_UNROLL for (int k = 0; k < 8; k++) {
            const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 64 + 64 * k + 32 * h)), sign);
            const __m256i aw = _mm256_abs_epi8(w);
            R16_UNROLL for (int t = 0; t < T; t++) {
                const __m256i x = r16a_bcast(qs + t * n + 4 * k);
                i1[t] = _mm256_add_epi32(i1[t], r16a_dot8(aw, w, x, ones));
                if (LI == 2) i2[t] = _mm256_add_epi32(i2[t], r16a_dot8(aw, w, r16a_bcast(qs2 + t * n + 4 * k), ones));
            }
        }
    } else {
        __m256i p1[4], p2[4];
        R16_UNROLL for (int t = 0; t < T; t++) {
            p1[t] = _mm256_setzero_si256(); i1[t] = _mm256_setzero_si256();
            if (LI == 2) { p2[t] = _mm256_setzero_si256(); i2[t] = _mm256_setzero_si256(); }
        }
        // Two halves of the block; the 5-bit kind widens after each, the 4-bit kind once at the end.
        R16_UNROLL for (int part = 0; part < 2; part++) {
        R16_UNROLL for (int kk = 0; kk < 2; kk++) {
            const int k = 2 * part + kk;
            __m256i lo, hi;
            r16a_codes(kind, blk, k, h, m4, &lo, &hi);
            R16_UNROLL for (int t = 0; t < T; t++) {
                const int8_t *x = qs + t * n + 4 * k;
                p1[t] = _mm256_add_epi16(p1[t], _mm256_maddubs_epi16(lo, r16a_bcast(x)));
                p1[t] = _mm256_add_epi16(p1[t], _mm256_maddubs_epi16(hi, r16a_bcast(x + 16)));
                if (LI == 2) {
                    const int8_t *x2 = qs2 + t * n + 4 * k;
                    p2[t] = _mm256_add_epi16(p2[t], _mm256_maddubs_epi16(lo, r16a_bcast(x2)));
                    p2[t] = _mm256_add_epi16(p2[t], _mm256_maddubs_epi16(hi, r16a_bcast(x2 + 16)));
                }
            }
        }
        if (kind == 1 || part == 1) {
            R16_UNROLL for (int t = 0; t < T; t++) {
                i1[t] = _mm256_add_epi32(i1[t], _mm256_madd_epi16(p1[t], ones));
                p1[t] = _mm256_setzero_si256();
                if (LI == 2) {
                    i2[t] = _mm256_add_epi32(i2[t], _mm256_madd_epi16(p2[t], ones));
                    p2[t] = _mm256_setzero_si256();
                }
            }
        }
        }
    }
}

/// AVX2 (no VNNI): 8 rows (half h of a 16-row group) x T tokens over all nb blocks. A 256-bit load of a
/// packed vector's half holds four consecutive codes of 8 rows (one int32 lane per row), so vpmaddubsw
/// against four broadcast activation bytes gives each row's pairwise sums in its lane: no horizontal sums.
/// The 4-bit kind's pair sums (at most 2 * 15 * 127) add up in int16 over the whole block (8 of them:
/// 30480 < 32767) before one vpmaddwd widens them; the 5-bit kind's (2 * 31 * 127) over half a block.
/// The 8-bit kind's codes u = q + 128 would saturate vpmaddubsw, so it dots the signed q (|q| with the
/// activation's sign moved over) and starts from 128 * sum(x) (corr), which gives the same exact
/// integer sum over u. The float steps are the scalar twin's, so the two agree bit for bit.
R16A_INLINE void r16a_tile(const int kind, const int L, const int T, int64_t nb, int64_t n, const uint8_t *grp,
                           const int h, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                           const float *s, const int32_t *corr, const int32_t *corr2, float *y, int64_t ldy) {
    const int64_t bbp = r16_block_bytes(kind);
    __m256 acc[4];
    R16_UNROLL for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = grp + b * bbp;
        if (h == 0) {
            R16_UNROLL for (int c = 0; c < 9; c++)
                if (64 * c < bbp) _mm_prefetch((const char *)(blk + 4 * bbp + 64 * c), _MM_HINT_T0);
        }
        // As in r16_tile: a block whose second level is zero for the whole tile takes the first level's
        // dots alone and i2 = 0, bit for bit the full walk.
        const int two = L == 2 && lt_tile_has_level2(d2 + b, nb, T);
        __m256i i1[4], i2[4];
        const int32_t *cb = corr ? corr + b : NULL, *cb2 = corr2 ? corr2 + b : NULL;
        if (two) r16a_ints(kind, 2, T, blk, h, n, nb, qs + b * 32, qs2 + b * 32, cb, cb2, i1, i2);
        else {
            r16a_ints(kind, 1, T, blk, h, n, nb, qs + b * 32, qs2, cb, NULL, i1, i2);
            R16_UNROLL for (int t = 0; t < T; t++) i2[t] = _mm256_setzero_si256();
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * h)));
        const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 32 + 16 * h)));
        R16_UNROLL for (int t = 0; t < T; t++)
            acc[t] = r16a_scale(L, acc[t], i1[t], L == 2 ? i2[t] : i1[t], d[t * nb + b], L == 2 ? d2[t * nb + b] : 0,
                                s[t * nb + b], dw, mw);
    }
    R16_UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

/// AVX2, one token x all 16 rows of a group (decode): both halves in one walk, so each activation broadcast
/// feeds two vpmaddubsw, and the two halves' chains run side by side. The integer sums are the half tile's
/// (added in another order, exactly) and the float steps the scalar twin's, so the results are bit for bit
/// r16a_tile's with T = 1.
R16A_INLINE void r16a_row(const int kind, const int L, int64_t nb, const uint8_t *grp, const int8_t *qs,
                          const float *d, const int8_t *qs2, const float *d2, const float *s,
                          const int32_t *corr, const int32_t *corr2, float *y) {
    const int64_t bbp = r16_block_bytes(kind);
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), sign = _mm256_set1_epi8((char)0x80);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = grp + b * bbp;
        R16_UNROLL for (int c = 0; c < 9; c++)
            if (64 * c < bbp) _mm_prefetch((const char *)(blk + 4 * bbp + 64 * c), _MM_HINT_T0);
        const int8_t *x = qs + b * 32, *x2 = L == 2 ? qs2 + b * 32 : NULL;
        __m256i i1[2], i2[2];
        if (kind == 2) {
            __m256i a1[2][2], a2[2][2];
            R16_UNROLL for (int h = 0; h < 2; h++) {
                a1[h][0] = _mm256_set1_epi32(corr[b]); a1[h][1] = _mm256_setzero_si256();
                if (L == 2) { a2[h][0] = _mm256_set1_epi32(corr2[b]); a2[h][1] = _mm256_setzero_si256(); }
            }
            R16_UNROLL for (int k = 0; k < 8; k++) {
                const __m256i xb = r16a_bcast(x + 4 * k);
                __m256i xb2 = xb;
                if (L == 2) xb2 = r16a_bcast(x2 + 4 * k);
                R16_UNROLL for (int h = 0; h < 2; h++) {
                    const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 64 + 64 * k + 32 * h)), sign);
                    const __m256i aw = _mm256_abs_epi8(w);
                    a1[h][k & 1] = _mm256_add_epi32(a1[h][k & 1], r16a_dot8(aw, w, xb, ones));
                    if (L == 2) a2[h][k & 1] = _mm256_add_epi32(a2[h][k & 1], r16a_dot8(aw, w, xb2, ones));
                }
            }
            R16_UNROLL for (int h = 0; h < 2; h++) {
                i1[h] = _mm256_add_epi32(a1[h][0], a1[h][1]);
                if (L == 2) i2[h] = _mm256_add_epi32(a2[h][0], a2[h][1]);
            }
        } else {
            __m256i p1[2], p2[2];
            R16_UNROLL for (int h = 0; h < 2; h++) {
                p1[h] = _mm256_setzero_si256(); i1[h] = _mm256_setzero_si256();
                if (L == 2) { p2[h] = _mm256_setzero_si256(); i2[h] = _mm256_setzero_si256(); }
            }
            R16_UNROLL for (int part = 0; part < 2; part++) {
            R16_UNROLL for (int kk = 0; kk < 2; kk++) {
                const int k = 2 * part + kk;
                const __m256i xl = r16a_bcast(x + 4 * k), xh = r16a_bcast(x + 16 + 4 * k);
                __m256i xl2 = xl, xh2 = xh;
                if (L == 2) { xl2 = r16a_bcast(x2 + 4 * k); xh2 = r16a_bcast(x2 + 16 + 4 * k); }
                R16_UNROLL for (int h = 0; h < 2; h++) {
                    __m256i lo, hi;
                    r16a_codes(kind, blk, k, h, m4, &lo, &hi);
                    p1[h] = _mm256_add_epi16(p1[h], _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh)));
                    if (L == 2)
                        p2[h] = _mm256_add_epi16(p2[h], _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl2), _mm256_maddubs_epi16(hi, xh2)));
                }
            }
            if (kind == 1 || part == 1) {
                R16_UNROLL for (int h = 0; h < 2; h++) {
                    i1[h] = _mm256_add_epi32(i1[h], _mm256_madd_epi16(p1[h], ones));
                    p1[h] = _mm256_setzero_si256();
                    if (L == 2) {
                        i2[h] = _mm256_add_epi32(i2[h], _mm256_madd_epi16(p2[h], ones));
                        p2[h] = _mm256_setzero_si256();
                    }
                }
            }
            }
        }
        R16_UNROLL for (int h = 0; h < 2; h++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * h)));
            const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 32 + 16 * h)));
            acc[h] = r16a_scale(L, acc[h], i1[h], L == 2 ? i2[h] : i1[h], d[b], L == 2 ? d2[b] : 0, s[b], dw, mw);
        }
    }
    _mm256_storeu_ps(y, acc[0]);
    _mm256_storeu_ps(y + 8, acc[1]);
}

/// 128 * the sum of each 32-value activation block (the 8-bit kind's start values).
static void r16a_block_sums(const int8_t *qs, int64_t ntokens, int64_t n, int32_t *out) {
    for (int64_t i = 0; i < ntokens * (n / 32); i++) {
        int32_t sum = 0;
        for (int e = 0; e < 32; e++) sum += qs[i * 32 + e];
        out[i] = 128 * sum;
    }
}

R16A_INLINE void r16a_gemm(const int kind, const int L, int64_t n, const uint8_t *packed, int64_t nrows,
                           const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                           const int32_t *corr, const int32_t *corr2, int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32, gbytes = nb * r16_block_bytes(kind);
#define R16A_ARGS(t) nb, n, grp, h, qs + (t) * n, d + (t) * nb, L == 2 ? qs2 + (t) * n : qs2, \
    L == 2 ? d2 + (t) * nb : d2, s + (t) * nb, corr ? corr + (t) * nb : corr, corr2 ? corr2 + (t) * nb : corr2, \
    y + (t) * ldy + g * 16 + 8 * h, ldy
    if (ntokens == 1) {   // decode: one walk over both halves of each group
        for (int64_t g = 0; g < nrows / 16; g++)
            r16a_row(kind, L, nb, packed + g * gbytes, qs, d, qs2, d2, s, corr, corr2, y + g * 16);
        return;
    }
    // Tiles of 4 tokens with one level, 3 with two: accumulators and both int levels stay in registers.
    const int64_t tile = L == 2 ? 3 : 4;
    for (int64_t g = 0; g < nrows / 16; g++) {
        const uint8_t *grp = packed + g * gbytes;
        for (int h = 0; h < 2; h++) {
            int64_t t = 0;
            if (L == 2) for (; t + tile <= ntokens; t += tile) r16a_tile(kind, L, 3, R16A_ARGS(t));
            else for (; t + tile <= ntokens; t += tile) r16a_tile(kind, L, 4, R16A_ARGS(t));
            switch (ntokens - t) {
            case 3: r16a_tile(kind, L, 3, R16A_ARGS(t)); break;
            case 2: r16a_tile(kind, L, 2, R16A_ARGS(t)); break;
            case 1: r16a_tile(kind, L, 1, R16A_ARGS(t)); break;
            default: break;
            }
        }
    }
#undef R16A_ARGS
}

/// Start values of the 8-bit kind per token chunk: 16 KiB on the stack, so a decode step allocates nothing.
#define R16A_SUMS 4096

/// Returns 0 (nothing written) when one token's 8-bit start values exceed R16A_SUMS (n above 65,536 with
/// two levels); the caller then runs the scalar twin.
R16A_TARGET static int lt_qgemm_r16_avx2(int dtype, int64_t n, const void *packed, int64_t nrows,
                                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                                         const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const uint8_t *p = (const uint8_t *)packed;
    const int kind = r16_kind(dtype);
    const int64_t nb = n / 32;
    if (kind != 2) {
        switch (kind * 2 + (qs2 ? 1 : 0)) {
        case 0: r16a_gemm(0, 1, n, p, nrows, qs, d, qs2, d2, s, NULL, NULL, ntokens, y, ldy); break;
        case 1: r16a_gemm(0, 2, n, p, nrows, qs, d, qs2, d2, s, NULL, NULL, ntokens, y, ldy); break;
        case 2: r16a_gemm(1, 1, n, p, nrows, qs, d, qs2, d2, s, NULL, NULL, ntokens, y, ldy); break;
        default: r16a_gemm(1, 2, n, p, nrows, qs, d, qs2, d2, s, NULL, NULL, ntokens, y, ldy); break;
        }
        return 1;
    }
    const int64_t perToken = nb * (qs2 ? 2 : 1);
    if (perToken > R16A_SUMS) return 0;
    int32_t sums[R16A_SUMS];
    const int64_t chunk = R16A_SUMS / perToken;
    for (int64_t t0 = 0; t0 < ntokens; t0 += chunk) {
        const int64_t nt = ntokens - t0 < chunk ? ntokens - t0 : chunk;
        int32_t *corr = sums, *corr2 = qs2 ? sums + nt * nb : NULL;
        r16a_block_sums(qs + t0 * n, nt, n, corr);
        if (qs2) {
            r16a_block_sums(qs2 + t0 * n, nt, n, corr2);
            r16a_gemm(2, 2, n, p, nrows, qs + t0 * n, d + t0 * nb, qs2 + t0 * n, d2 + t0 * nb, s + t0 * nb, corr, corr2,
                      nt, y + t0 * ldy, ldy);
        } else {
            r16a_gemm(2, 1, n, p, nrows, qs + t0 * n, d + t0 * nb, qs2, d2, s + t0 * nb, corr, NULL, nt, y + t0 * ldy, ldy);
        }
    }
    return 1;
}
#endif

#if defined(__aarch64__)
/// neon.c (neon_impl.h, one instance per level): the r16 kernel with plain NEON (level 1) and with the
/// dot-product extension (level 2, SDOT); bit-identical to lt_qgemm_r16_scalar.
void lt_qgemm_r16_neon(int dtype, int64_t n, const void *packed, int64_t nrows,
                       const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                       int64_t ntokens, float *y, int64_t ldy);
void lt_qgemm_r16_neondot(int dtype, int64_t n, const void *packed, int64_t nrows,
                          const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                          int64_t ntokens, float *y, int64_t ldy);
#endif

#if defined(__x86_64__) || defined(__aarch64__)
/// Cached lt_cpu_level(); -1 until first use (racing first calls compute the same value).
static int r16_level = -1;

static inline int r16_cpu_level(void) {
    int level = __atomic_load_n(&r16_level, __ATOMIC_RELAXED);
    if (level < 0) { level = lt_cpu_level(); __atomic_store_n(&r16_level, level, __ATOMIC_RELAXED); }
    return level;
}
#endif

int lt_qgemm_r16_fast(void) {
#if defined(__x86_64__) || defined(__aarch64__)
    return r16_cpu_level() >= 1;   // aarch64: NEON is always there (level 1 or 2)
#else
    return 0;
#endif
}

void lt_qgemm_r16_at(int level, int dtype, int64_t n, const void *packed, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy) {
#if defined(__x86_64__)
    if (level >= 3 && r16_cpu_level() >= 3) {
        lt_qgemm_r16_vnni(dtype, n, packed, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
        return;
    }
    if (level >= 1 && r16_cpu_level() >= 1 &&
        lt_qgemm_r16_avx2(dtype, n, packed, nrows, qs, d, qs2, d2, s, ntokens, y, ldy)) return;
#endif
#if defined(__aarch64__)
    if (level >= 2 && r16_cpu_level() >= 2) {
        lt_qgemm_r16_neondot(dtype, n, packed, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
        return;
    }
    if (level >= 1 && r16_cpu_level() >= 1) {
        lt_qgemm_r16_neon(dtype, n, packed, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
        return;
    }
#endif
    (void)level;
    lt_qgemm_r16_scalar(dtype, n, packed, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

void lt_qgemm_r16(int dtype, int64_t n, const void *packed, int64_t nrows,
                  const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                  int64_t ntokens, float *y, int64_t ldy) {
    lt_qgemm_r16_at(3, dtype, n, packed, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}
