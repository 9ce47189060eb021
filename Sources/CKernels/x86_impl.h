// x86 kernel bodies, included once per instruction-set level by x86.c with
//   LT_ISA     suffix of the generated function names
//   LT_TARGET  the function attribute naming the target features
//   LT_VNNI    1 when AVX-512 VNNI (vpdpbusd) is available
//   LT_TILE_T  tokens per register tile (limited by the number of vector registers)
// Everything works on 256-bit vectors: one 32-value quantization block per register. AVX-512 adds
// 16 more registers (bigger tiles) and VNNI fuses the u8 x s8 -> s32 dot into one instruction.

#define LT_CAT2(a, b) a##_##b
#define LT_CAT(a, b) LT_CAT2(a, b)
#define FN(name) LT_CAT(name, LT_ISA)
#define LT_INLINE static inline __attribute__((always_inline)) LT_TARGET
/// Register tiles index their accumulators by the row/token loop variables: the loops must unroll fully
/// or the accumulators live on the stack (a store-forwarding round trip per multiply-add).
#define LT_UNROLL _Pragma("clang loop unroll(full)")
#ifndef LT_PREFETCH_BYTES
/// How far ahead of the current weight byte the kernels prefetch. Tile rows are contiguous, so this is
/// a linear distance into the coming row tiles; tuned on the 2-core AMD EPYC (Zen 4) dev machine.
#define LT_PREFETCH_BYTES 8192
#endif

LT_INLINE float FN(hsum)(__m256 a) {
    __m128 v = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

LT_INLINE int32_t FN(hsum_i32)(__m256i a) {
    __m128i v = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4E));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xB1));
    return _mm_cvtsi128_si32(v);
}

LT_INLINE float FN(f16)(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }

/// acc + per-lane sum of four u8 x s8 products. Without VNNI the pairwise int16 sums of maddubs must
/// not saturate: callers guarantee u * |s| * 2 <= 32767 (u <= 128, |s| <= 127).
LT_INLINE __m256i FN(dot_u8s8)(__m256i acc, __m256i u, __m256i s) {
#if LT_VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

/// 16 bytes of nibbles -> 32 bytes in element order (low nibbles are elements 0..15, high 16..31).
LT_INLINE __m256i FN(unpack_q4)(const uint8_t *p) {
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m128i q = _mm_loadu_si128((const __m128i *)p);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
}

/// The high bits of a Q5_0 / Q5_1 block as bytes: 0x10 at element j where bit j of qh is set.
LT_INLINE __m256i FN(q5_high)(uint32_t qh) {
#if LT_AVX512
    return _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10));
#else
    // Byte j gets byte j / 8 of qh, then tests bit j % 8.
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bits), bits);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
#endif
}

/// Quantizes one block held in v[0..3] to 32 int8 at q (element order); returns the scale max|x| / 127,
/// the sum of q in *sum and the rounded values as int32 in iv.
LT_INLINE float FN(quantize_block)(const __m256 v[4], int8_t *q, int32_t *sum, __m256i iv[4]) {
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signbit, v[0]), _mm256_andnot_ps(signbit, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(signbit, v[2]), _mm256_andnot_ps(signbit, v[3])));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    // cvtps2dq rounds to nearest even (default MXCSR), matching nearbyintf in the scalar twin.
    for (int k = 0; k < 4; k++) iv[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
    *sum = FN(hsum_i32)(_mm256_add_epi32(_mm256_add_epi32(iv[0], iv[1]), _mm256_add_epi32(iv[2], iv[3])));
    // Packing interleaves 128-bit lanes; the permute restores element order.
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    return db;
}

LT_TARGET void FN(lt_quantize_q8)(const float *x, int64_t n, int8_t *qs, float *d, float *s) {
    for (int64_t b = 0; b < n / 32; b++) {
        const float *xb = x + b * 32;
        const __m256 v[4] = { _mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8), _mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24) };
        __m256i iv[4];
        int32_t sum;
        const float db = FN(quantize_block)(v, qs + b * 32, &sum, iv);
        d[b] = db;
        s[b] = db * (float)sum;
    }
}

LT_TARGET void FN(lt_quantize_q8x2)(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s) {
    for (int64_t b = 0; b < n / 32; b++) {
        const float *xb = x + b * 32;
        const __m256 v[4] = { _mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8), _mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24) };
        __m256i iv[4];
        int32_t sum1, sum2;
        const float db = FN(quantize_block)(v, qs + b * 32, &sum1, iv);
        // r = x - d * q1 with one rounding (fmaf in the scalar twin). |q1| <= 127 for finite x, so the
        // int32 values equal the stored int8 ones.
        const __m256 vd = _mm256_set1_ps(db);
        __m256 r[4];
        for (int k = 0; k < 4; k++) r[k] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(iv[k]), vd, v[k]);
        const float db2 = FN(quantize_block)(r, qs2 + b * 32, &sum2, iv);
        d[b] = db;
        d2[b] = db2;
        // Separate statements: the two products are rounded before the sum (no contraction to an FMA).
        const float s1 = db * (float)sum1;
        const float s2 = db2 * (float)sum2;
        s[b] = s1 + s2;
    }
}

/// One register tile: R weight rows x T tokens, all blocks of the row. `dtype`, R and T are
/// compile-time constants after inlining, so the loops over them unroll and accumulators stay in registers.
/// L (1 or 2) is the number of activation levels: with L == 2 each unpacked weight block also meets
/// qs2 / d2 (two-level activations, see ckernels.h) while still in registers.
LT_INLINE void FN(qtile)(const int dtype, const int L, const int R, const int T, int64_t n, const uint8_t *w, int64_t ldw,
                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                         float *y, int64_t ldy) {
    const int64_t nb = n / 32;
    const int bb = lt_block_bytes(dtype);
    const __m256i zero = _mm256_setzero_si256();
    __m256 acc[4][LT_TILE_T];
    float accm[4][LT_TILE_T];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) { acc[i][j] = _mm256_setzero_ps(); accm[i][j] = 0; }

    for (int64_t b = 0; b < nb; b++) {
        __m256i wv[4];
#if !LT_VNNI
        __m256i wa[4];
#endif
        float dw[4], mw[4];
        for (int i = 0; i < R; i++) {
            const uint8_t *blk = w + i * ldw + b * bb;
            // Rows of small matrices are only a few cache lines long and a tile walks R of them in
            // parallel, which the hardware prefetcher does not follow well; fetch LT_PREFETCH_BYTES
            // ahead explicitly (prefetches never fault, so running past the end is harmless).
            _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES), _MM_HINT_T0);
            dw[i] = FN(f16)(blk);
            if (dtype == LT_Q8_0) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
#if LT_VNNI
                wv[i] = _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80));   // q + 128 as u8
#else
                wv[i] = q;
                wa[i] = _mm256_abs_epi8(q);                                   // |q| <= 128 as u8
#endif
            } else if (dtype == LT_Q4_0) {
                wv[i] = FN(unpack_q4)(blk + 2);
            } else if (dtype == LT_Q5_0 || dtype == LT_Q5_1) {
                const int one = dtype == LT_Q5_1;
                uint32_t qh;
                memcpy(&qh, blk + (one ? 4 : 2), 4);
                if (one) mw[i] = FN(f16)(blk + 2);
                wv[i] = _mm256_or_si256(FN(unpack_q4)(blk + (one ? 8 : 6)), FN(q5_high)(qh));   // 0..31
            } else {
                mw[i] = FN(f16)(blk + 2);
                wv[i] = FN(unpack_q4)(blk + 4);
            }
        }
        for (int l = 0; l < L; l++)
        for (int j = 0; j < T; j++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)((l ? qs2 : qs) + j * n + b * 32));
            const float dx = (l ? d2 : d)[j * nb + b];
            // Offset correction folded into the integer accumulator's start value:
            // Q4_0 computes sum((q - 8) x) = sum(q x) - 8 sum(x); VNNI Q8_0 sum((q + 128) x) - 128 sum(x).
            __m256i base = zero;
            if (dtype == LT_Q4_0) base = _mm256_sub_epi32(zero, FN(dot_u8s8)(zero, _mm256_set1_epi8(8), xv));
            if (dtype == LT_Q5_0) base = _mm256_sub_epi32(zero, FN(dot_u8s8)(zero, _mm256_set1_epi8(16), xv));
#if LT_VNNI
            if (dtype == LT_Q8_0) base = _mm256_sub_epi32(zero, FN(dot_u8s8)(zero, _mm256_set1_epi8((char)0x80), xv));
#endif
            for (int i = 0; i < R; i++) {
                __m256i p;
#if !LT_VNNI
                if (dtype == LT_Q8_0) p = FN(dot_u8s8)(zero, wa[i], _mm256_sign_epi8(xv, wv[i]));
                else
#endif
                p = FN(dot_u8s8)(base, wv[i], xv);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[i] * dx), acc[i][j]);
                if ((dtype == LT_Q4_1 || dtype == LT_Q5_1) && l == 0) accm[i][j] += mw[i] * s[j * nb + b];
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) y[j * ldy + i] = FN(hsum)(acc[i][j]) + accm[i][j];
}


#if LT_VNNI
/// Largest row (in blocks) the 512-bit tile handles; it keeps Q4_1 minimums for one row tile on the stack.
#define LT_MAX_NB512 256

/// The VNNI tile on 512-bit registers: two blocks (A, B) per register and iteration.
/// 4-bit weights unpack to 128-bit lanes [A_lo, B_lo, A_hi, B_hi], so the activations (stored
/// [A_lo, A_hi, B_lo, B_hi]) get the same lane shuffle once per token; int32 lanes 0-3 and 8-11 then
/// belong to block A, 4-7 and 12-15 to B. Q8_0 keeps natural order (lanes 0-7 A, 8-15 B).
/// Q4_1's min term sum_b m_b * s_b is a small [R, nb] x [nb, T] product done after the main loop
/// (minimums stored block-major so one 128-bit register holds the four rows' minimums of a block).
/// Requires nb even and nb <= LT_MAX_NB512.
LT_INLINE void FN(qtile512)(const int dtype, const int L, const int R, const int T, int64_t n, const uint8_t *w,
                            int64_t ldw, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                            const float *s, float *y, int64_t ldy) {
    const int64_t nb = n / 32;
    const int bb = lt_block_bytes(dtype);
    const int withMin = dtype == LT_Q4_1 || dtype == LT_Q5_1;
    const __m512i zero = _mm512_setzero_si512();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i idx_tok = dtype == LT_Q8_0
        ? _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
        : _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
    // Q4_1 scales arrive as [dA, mA, dB, mB]; the others as [dA, dB].
    const __m512i idx_w = withMin ? _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2) : idx_tok;
    __m512 acc[4][LT_TILE_T];
    float mins[withMin ? LT_MAX_NB512 : 1][4];   // [block][row]
    LT_UNROLL for (int i = 0; i < R; i++)
        LT_UNROLL for (int j = 0; j < T; j++) acc[i][j] = _mm512_setzero_ps();

    for (int64_t b = 0; b < nb; b += 2) {
        __m512i wv[4];
        __m512 dwv[4];
        LT_UNROLL for (int i = 0; i < R; i++) {
            const uint8_t *blkA = w + i * ldw + b * bb, *blkB = blkA + bb;
            _mm_prefetch((const char *)(blkA + LT_PREFETCH_BYTES), _MM_HINT_T0);
            _mm_prefetch((const char *)(blkB + LT_PREFETCH_BYTES), _MM_HINT_T0);
            if (withMin) {
                uint32_t dmA, dmB;
                memcpy(&dmA, blkA, 4); memcpy(&dmB, blkB, 4);
                __m128 f = _mm_cvtph_ps(_mm_unpacklo_epi32(_mm_cvtsi32_si128((int)dmA), _mm_cvtsi32_si128((int)dmB)));
                dwv[i] = _mm512_permutexvar_ps(idx_w, _mm512_castps128_ps512(f));
                _mm_store_ss(&mins[b][i], _mm_movehdup_ps(f));
                _mm_store_ss(&mins[b + 1][i], _mm_shuffle_ps(f, f, _MM_SHUFFLE(3, 3, 3, 3)));
            } else {
                uint16_t dA, dB;
                memcpy(&dA, blkA, 2); memcpy(&dB, blkB, 2);
                __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)dA | (uint32_t)dB << 16)));
                dwv[i] = _mm512_permutexvar_ps(idx_w, _mm512_castps128_ps512(f));
            }
            if (dtype == LT_Q8_0) {
                __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blkA + 2))),
                                               _mm256_loadu_si256((const __m256i *)(blkB + 2)), 1);
                wv[i] = _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80));   // q + 128 as u8
            } else {
                const int off = dtype == LT_Q4_1 ? 4 : dtype == LT_Q4_0 ? 2 : dtype == LT_Q5_0 ? 6 : 8;
                __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(blkA + off))),
                                                    _mm_loadu_si128((const __m128i *)(blkB + off)), 1);
                wv[i] = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), m4);
                if (dtype == LT_Q5_0 || dtype == LT_Q5_1) {
                    // High bits in the same lane order [A_lo, B_lo, A_hi, B_hi] as the nibbles.
                    uint32_t hA, hB;
                    memcpy(&hA, blkA + off - 4, 4); memcpy(&hB, blkB + off - 4, 4);
                    const uint64_t mask = (uint64_t)(hA & 0xFFFF) | (uint64_t)(hB & 0xFFFF) << 16 |
                                          (uint64_t)(hA >> 16) << 32 | (uint64_t)(hB >> 16) << 48;
                    wv[i] = _mm512_or_si512(wv[i], _mm512_maskz_mov_epi8((__mmask64)mask, _mm512_set1_epi8(0x10)));
                }
            }
        }
        LT_UNROLL for (int j = 0; j < T; j++) {
            __m512i xv[2], base[2];
            __m512 dxv[2];
            LT_UNROLL for (int l = 0; l < L; l++) {
                xv[l] = _mm512_loadu_si512((const void *)((l ? qs2 : qs) + j * n + b * 32));
                if (dtype != LT_Q8_0) xv[l] = _mm512_shuffle_i64x2(xv[l], xv[l], _MM_SHUFFLE(3, 1, 2, 0));
                dxv[l] = _mm512_permutexvar_ps(idx_tok, _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)((l ? d2 : d) + j * nb + b)))));
                base[l] = zero;
                if (dtype == LT_Q4_0) base[l] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(8), xv[l]));
                if (dtype == LT_Q5_0) base[l] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(16), xv[l]));
                if (dtype == LT_Q8_0) base[l] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8((char)0x80), xv[l]));
            }
            LT_UNROLL for (int i = 0; i < R; i++) {
                const __m512i p = _mm512_dpbusd_epi32(base[0], wv[i], xv[0]);
                if (L == 1) {
                    acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dwv[i], dxv[0]), acc[i][j]);
                } else {
                    // Both levels share the weight scale: (d * p + d2 * p2) * dw, one multiply fewer.
                    const __m512i p2 = _mm512_dpbusd_epi32(base[1], wv[i], xv[1]);
                    const __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p2), dxv[1], _mm512_mul_ps(_mm512_cvtepi32_ps(p), dxv[0]));
                    acc[i][j] = _mm512_fmadd_ps(f, dwv[i], acc[i][j]);
                }
            }
        }
    }
    float minTerm[LT_TILE_T][4] = {{0}};
    if (withMin && R == 4) {
        // Four blocks per 512-bit step: mins[b..b+3][0..3] against s[b..b+3] each repeated over the four
        // rows' lanes; the 128-bit quarters (one per block) are summed at the end.
        const __m512i idx_s = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        __m512 accw[LT_TILE_T];
        __m128 accm[LT_TILE_T];
        LT_UNROLL for (int j = 0; j < T; j++) { accw[j] = _mm512_setzero_ps(); accm[j] = _mm_setzero_ps(); }
        int64_t b = 0;
        for (; b + 4 <= nb; b += 4) {
            const __m512 mv = _mm512_loadu_ps(mins[b]);
            LT_UNROLL for (int j = 0; j < T; j++) {
                const __m512 sv = _mm512_permutexvar_ps(idx_s, _mm512_castps128_ps512(_mm_loadu_ps(s + j * nb + b)));
                accw[j] = _mm512_fmadd_ps(mv, sv, accw[j]);
            }
        }
        for (; b < nb; b++) {
            const __m128 mv = _mm_loadu_ps(mins[b]);
            LT_UNROLL for (int j = 0; j < T; j++) accm[j] = _mm_fmadd_ps(mv, _mm_set1_ps(s[j * nb + b]), accm[j]);
        }
        LT_UNROLL for (int j = 0; j < T; j++) {
            const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(accw[j]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(accw[j]), 1)));
            const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            _mm_storeu_ps(minTerm[j], _mm_add_ps(q, accm[j]));
        }
    } else if (withMin) {
        for (int64_t b = 0; b < nb; b++)
            LT_UNROLL for (int j = 0; j < T; j++)
                LT_UNROLL for (int i = 0; i < R; i++) minTerm[j][i] += mins[b][i] * s[j * nb + b];
    }
    LT_UNROLL for (int i = 0; i < R; i++)
        LT_UNROLL for (int j = 0; j < T; j++) y[j * ldy + i] = _mm512_reduce_add_ps(acc[i][j]) + minTerm[j][i];
}
#endif


/// Float scales of one K-quant super-block: Q4_K / Q5_K: dsc[j] = d * sc_j, dmn[j] = dmin * m_j for the
/// eight 32-value sub-blocks (6-bit codes unpacked as ggml's get_scale_min_k4); Q6_K: dsc[g] = d * sc_g
/// for the sixteen 16-value groups (dmn unused). All products are exact in float32.
LT_INLINE void FN(kscales)(const int dtype, const uint8_t *blk, float *dsc, float *dmn) {
    if (dtype == LT_Q3_K) {   // 16 signed 6-bit scales (sc - 32), as Reference.q3kScale
        const float dd = FN(f16)(blk + 108);
        const uint8_t *p = blk + 96;
        int32_t sc[16];
        for (int g = 0; g < 16; g++) sc[g] = (((p[g % 8] >> (g < 8 ? 0 : 4)) & 0x0F) | ((p[8 + g % 4] >> (2 * (g / 4))) & 3) << 4) - 32;
        for (int k = 0; k < 16; k += 8)
            _mm256_storeu_ps(dsc + k, _mm256_mul_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(sc + k)))));
        return;
    }
    if (dtype == LT_Q2_K) {   // 16 (scale, min) nibble pairs
        const float dd = FN(f16)(blk + 80), dmin = FN(f16)(blk + 82);
        const __m128i v = _mm_loadu_si128((const __m128i *)blk);
        const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F)), hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
        _mm256_storeu_ps(dsc, _mm256_mul_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo))));
        _mm256_storeu_ps(dsc + 8, _mm256_mul_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(lo, lo)))));
        _mm256_storeu_ps(dmn, _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi))));
        _mm256_storeu_ps(dmn + 8, _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(hi, hi)))));
        return;
    }
    if (dtype == LT_Q6_K) {
        const float dd = FN(f16)(blk + 208);
        const __m128i sc = _mm_loadu_si128((const __m128i *)(blk + 192));
        const __m256 vd = _mm256_set1_ps(dd);
        _mm256_storeu_ps(dsc, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc))));
        _mm256_storeu_ps(dsc + 8, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(sc, sc)))));
        return;
    }
    const float dd = FN(f16)(blk), dmin = FN(f16)(blk + 2);
    // Four codes per 32-bit word: bytes 0-3 hold sc0-3 (low 6 bits) and the top bits of sc4-7, bytes 4-7
    // m0-3 and the top bits of m4-7, bytes 8-11 the low nibbles of sc4-7 and (high nibbles) m4-7.
    uint32_t a, b, c;
    memcpy(&a, blk + 4, 4); memcpy(&b, blk + 8, 4); memcpy(&c, blk + 12, 4);
    const uint32_t k6 = 0x3F3F3F3Fu, k4 = 0x0F0F0F0Fu, k2 = 0x03030303u;
    const uint64_t sc = (uint64_t)(a & k6) | (uint64_t)((c & k4) | ((a >> 6) & k2) << 4) << 32;
    const uint64_t m = (uint64_t)(b & k6) | (uint64_t)(((c >> 4) & k4) | ((b >> 6) & k2) << 4) << 32;
    _mm256_storeu_ps(dsc, _mm256_mul_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc)))));
    _mm256_storeu_ps(dmn, _mm256_mul_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)m)))));
}

/// 32 weight values of 32-value sub-block bl (0..7) of a K-quant super-block as u8: Q2_K 0..3,
/// Q3_K 0..7 (q + 4), Q4_K 0..15, Q5_K 0..31, Q6_K 0..63 (q + 32); the offsets are the caller's base term.
LT_INLINE __m256i FN(kunpack)(const int dtype, const uint8_t *blk, const int bl) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    if (dtype == LT_Q2_K || dtype == LT_Q3_K) {   // 2-bit q of half h, shift 2j; Q3_K: + 4 * hbit (u = q + 4)
        const int h = bl / 4, j = bl % 4;
        __m256i v = _mm256_loadu_si256((const __m256i *)(blk + (dtype == LT_Q2_K ? 16 : 32) + 32 * h));
        v = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * j)), _mm256_set1_epi8(3));
        if (dtype == LT_Q3_K) {
            const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + j)));
            const __m256i hm = _mm256_loadu_si256((const __m256i *)blk);
            v = _mm256_or_si256(v, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), _mm256_set1_epi8(4)));
        }
        return v;
    }
    if (dtype == LT_Q6_K) {
        const int h = bl / 4, k = bl % 4;
        __m256i lo = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32 * (k & 1)));
        lo = _mm256_and_si256(k >> 1 ? _mm256_srli_epi16(lo, 4) : lo, m4);
        __m256i hi = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
        hi = _mm256_and_si256(_mm256_srl_epi16(hi, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3));
        return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
    }
    const uint8_t *qs = blk + (dtype == LT_Q4_K ? 16 : 48) + bl / 2 * 32;
    __m256i v = _mm256_loadu_si256((const __m256i *)qs);
    v = _mm256_and_si256(bl & 1 ? _mm256_srli_epi16(v, 4) : v, m4);
    if (dtype == LT_Q5_K) {
        const __m256i bit = _mm256_set1_epi8((char)(1 << bl));
        const __m256i h = _mm256_loadu_si256((const __m256i *)(blk + 16));
        v = _mm256_or_si256(v, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit), _mm256_set1_epi8(0x10)));
    }
    return v;
}

/// K-quant register tile (all five K-quants): R rows x T tokens over whole rows of super-blocks. Each
/// 32-value sub-block meets one q8 activation block: the integer dot (u8 weights x s8 activations,
/// exact) goes to float once per block with the float scale d * sc (Q2_K, Q3_K, Q6_K: one per 16 values,
/// so the scale is a vector [d sc_2b x4, d sc_2b+1 x4] matching the dot's int32 lanes). Q4_K / Q5_K mins
/// cost one FMA per super-block: dmin * m_j against the activation block sums s_j, in the same accumulator
/// (its lanes are summed at the end anyway); Q2_K's mins (per 16 values) meet per-lane activation sums.
/// Q6_K's -32 and Q3_K's -4 offsets are a per-token base -offset * sum(x) per lane.
LT_INLINE void FN(qtile_k)(const int dtype, const int L, const int R, const int T, int64_t n, const uint8_t *w, int64_t ldw,
                           const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                           float *y, int64_t ldy) {
    const int64_t nb = n / 32, nsb = n / 256;
    const int bb = lt_block_bytes(dtype);
    const __m256i zero = _mm256_setzero_si256();
    __m256 acc[4][LT_TILE_T];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) acc[i][j] = _mm256_setzero_ps();
    // Scales per 16 values (a lane vector) for Q2_K, Q3_K, Q6_K; the u8 offset each type's base removes.
    const int per16 = dtype == LT_Q2_K || dtype == LT_Q3_K || dtype == LT_Q6_K;
    const int offset = dtype == LT_Q6_K ? 32 : dtype == LT_Q3_K ? 4 : 0;
    for (int64_t sb = 0; sb < nsb; sb++) {
        float dsc[4][16], dmn[4][16];
        for (int i = 0; i < R; i++) {
            const uint8_t *blk = w + i * ldw + sb * bb;
            _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES), _MM_HINT_T0);
            _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES + 64), _MM_HINT_T0);
            if (bb > 128) _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES + 128), _MM_HINT_T0);
            if (bb > 192) _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES + 192), _MM_HINT_T0);
            FN(kscales)(dtype, blk, dsc[i], dmn[i]);
            if (dtype == LT_Q4_K || dtype == LT_Q5_K)
                for (int j = 0; j < T; j++)
                    acc[i][j] = _mm256_fnmadd_ps(_mm256_loadu_ps(dmn[i]), _mm256_loadu_ps(s + j * nb + sb * 8), acc[i][j]);
        }
        for (int bl = 0; bl < 8; bl++) {
            const int64_t b = sb * 8 + bl;
            __m256i wv[4];
            __m256 wsc[4], wmn[4];
            for (int i = 0; i < R; i++) {
                wv[i] = FN(kunpack)(dtype, w + i * ldw + sb * bb, bl);
                if (per16) wsc[i] = _mm256_set_m128(_mm_set1_ps(dsc[i][2 * bl + 1]), _mm_set1_ps(dsc[i][2 * bl]));
                if (dtype == LT_Q2_K) wmn[i] = _mm256_set_m128(_mm_set1_ps(dmn[i][2 * bl + 1]), _mm_set1_ps(dmn[i][2 * bl]));
            }
            for (int l = 0; l < L; l++)
            for (int j = 0; j < T; j++) {
                // `.mixed` activations: a zero second level (d2 = 0, q2 = 0) adds nothing; skip its dot.
                if (l == 1 && d2[j * nb + b] == 0.0f) continue;
                const __m256i xv = _mm256_loadu_si256((const __m256i *)((l ? qs2 : qs) + j * n + b * 32));
                const float dx = (l ? d2 : d)[j * nb + b];
                const __m256i base = offset ? _mm256_sub_epi32(zero, FN(dot_u8s8)(zero, _mm256_set1_epi8((char)offset), xv)) : zero;
                // Q2_K's mins are per 16 values: the activation sums per int32 lane, times the lane's min.
                const __m256 xsum = dtype == LT_Q2_K ? _mm256_cvtepi32_ps(FN(dot_u8s8)(zero, _mm256_set1_epi8(1), xv)) : _mm256_setzero_ps();
                for (int i = 0; i < R; i++) {
                    const __m256i p = FN(dot_u8s8)(base, wv[i], xv);
                    const __m256 vdx = _mm256_set1_ps(dx);
                    const __m256 f = per16 ? _mm256_mul_ps(wsc[i], vdx) : _mm256_set1_ps(dsc[i][bl] * dx);
                    acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), f, acc[i][j]);
                    if (dtype == LT_Q2_K) acc[i][j] = _mm256_fnmadd_ps(xsum, _mm256_mul_ps(wmn[i], vdx), acc[i][j]);
                }
            }
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) y[j * ldy + i] = FN(hsum)(acc[i][j]);
}

#if LT_VNNI
/// The K-quant tile on 512-bit registers: sub-blocks 2c and 2c + 1 of a super-block in one register,
/// in natural order (lanes 0-7 block A, 8-15 block B), matching 64 contiguous activation bytes.
LT_INLINE void FN(qtile_k512)(const int dtype, const int L, const int R, const int T, int64_t n, const uint8_t *w,
                              int64_t ldw, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                              const float *s, float *y, int64_t ldy) {
    const int64_t nb = n / 32, nsb = n / 256;
    const int bb = lt_block_bytes(dtype);
    const __m512i zero = _mm512_setzero_si512();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i idx_pair = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i idx_quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc[4][LT_TILE_T];
    LT_UNROLL for (int i = 0; i < R; i++)
        LT_UNROLL for (int j = 0; j < T; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        float dsc[4][16], dmn[4][16];
        LT_UNROLL for (int i = 0; i < R; i++) {
            const uint8_t *blk = w + i * ldw + sb * bb;
            _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES), _MM_HINT_T0);
            _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES + 64), _MM_HINT_T0);
            _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES + 128), _MM_HINT_T0);
            if (bb > 192) _mm_prefetch((const char *)(blk + LT_PREFETCH_BYTES + 192), _MM_HINT_T0);
            FN(kscales)(dtype, blk, dsc[i], dmn[i]);
            if (dtype != LT_Q6_K)
                LT_UNROLL for (int j = 0; j < T; j++)
                    acc[i][j] = _mm512_fnmadd_ps(_mm512_zextps256_ps512(_mm256_loadu_ps(dmn[i])),
                                                 _mm512_zextps256_ps512(_mm256_loadu_ps(s + j * nb + sb * 8)), acc[i][j]);
        }
        LT_UNROLL for (int c = 0; c < 4; c++) {
            const int64_t b = sb * 8 + 2 * c;
            __m512i wv[4];
            __m512 wsc[4];
            LT_UNROLL for (int i = 0; i < R; i++) {
                const uint8_t *blk = w + i * ldw + sb * bb;
                if (dtype == LT_Q6_K) {
                    const int h = c / 2, nib = c % 2;   // blocks 4h + 2 nib + {0, 1}
                    __m512i lo = _mm512_loadu_si512((const void *)(blk + 64 * h));
                    lo = _mm512_and_si512(nib ? _mm512_srli_epi16(lo, 4) : lo, m4);
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
                    const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * nib))),
                                                          _mm256_srl_epi16(qh, _mm_cvtsi32_si128(4 * nib + 2)), 1);
                    wv[i] = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(hi, _mm512_set1_epi8(3)), 4));
                    wsc[i] = _mm512_permutexvar_ps(idx_quad, _mm512_castps128_ps512(_mm_loadu_ps(dsc[i] + 4 * c)));
                } else {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + (dtype == LT_Q4_K ? 16 : 48) + 32 * c));
                    wv[i] = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), m4);
                    if (dtype == LT_Q5_K) {
                        const __m256i h = _mm256_loadu_si256((const __m256i *)(blk + 16));
                        const uint64_t mA = _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(1 << (2 * c))));
                        const uint64_t mB = _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(2 << (2 * c))));
                        wv[i] = _mm512_or_si512(wv[i], _mm512_maskz_mov_epi8((__mmask64)(mA | mB << 32), _mm512_set1_epi8(0x10)));
                    }
                    wsc[i] = _mm512_permutexvar_ps(idx_pair, _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(dsc[i] + 2 * c)))));
                }
            }
            LT_UNROLL for (int j = 0; j < T; j++) {
                __m512i xv[2], base[2];
                __m512 dxv[2];
                // `.mixed` activations: where both blocks' second level is zero (d2 = 0, q2 = 0) its dot is 0
                // and the two-level float step reduces to d * p exactly, so it is skipped.
                uint64_t d2pair = 0;
                if (L == 2) memcpy(&d2pair, d2 + j * nb + b, 8);
                const int levels = L == 2 && d2pair == 0 ? 1 : L;
                LT_UNROLL for (int l = 0; l < levels; l++) {
                    xv[l] = _mm512_loadu_si512((const void *)((l ? qs2 : qs) + j * n + b * 32));
                    dxv[l] = _mm512_permutexvar_ps(idx_pair, _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)((l ? d2 : d) + j * nb + b)))));
                    base[l] = dtype == LT_Q6_K ? _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(32), xv[l])) : zero;
                }
                LT_UNROLL for (int i = 0; i < R; i++) {
                    const __m512i p = _mm512_dpbusd_epi32(base[0], wv[i], xv[0]);
                    if (L == 1) {
                        acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(wsc[i], dxv[0]), acc[i][j]);
                    } else if (levels == 1) {
                        acc[i][j] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(p), dxv[0]), wsc[i], acc[i][j]);
                    } else {
                        const __m512i p2 = _mm512_dpbusd_epi32(base[1], wv[i], xv[1]);
                        const __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p2), dxv[1], _mm512_mul_ps(_mm512_cvtepi32_ps(p), dxv[0]));
                        acc[i][j] = _mm512_fmadd_ps(f, wsc[i], acc[i][j]);
                    }
                }
            }
        }
    }
    LT_UNROLL for (int i = 0; i < R; i++)
        LT_UNROLL for (int j = 0; j < T; j++) y[j * ldy + i] = _mm512_reduce_add_ps(acc[i][j]);
}
#endif

LT_INLINE void FN(qgemm_k)(const int dtype, const int L, int64_t n, const uint8_t *w, int64_t ldw,
                           int64_t nrows, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                           const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32;
#define LT_KARGS(r, t) n, w + (r) * ldw, ldw, qs + (t) * n, d + (t) * nb, L == 2 ? qs2 + (t) * n : qs2, \
    L == 2 ? d2 + (t) * nb : d2, s + (t) * nb, y + (t) * ldy + (r), ldy
#if LT_VNNI   // Q2_K / Q3_K have no 512-bit tile: the 256-bit one with vpdpbusd
#define LT_KTILE(R, T, r, t) (dtype == LT_Q2_K || dtype == LT_Q3_K ? FN(qtile_k)(dtype, L, R, T, LT_KARGS(r, t)) \
                                                                   : FN(qtile_k512)(dtype, L, R, T, LT_KARGS(r, t)))
#else
#define LT_KTILE(R, T, r, t) FN(qtile_k)(dtype, L, R, T, LT_KARGS(r, t))
#endif
    int64_t r = 0;
    for (; r + 4 <= nrows; r += 4) {
        int64_t t = 0;
        for (; t + LT_TILE_T <= ntokens; t += LT_TILE_T) LT_KTILE(4, LT_TILE_T, r, t);
        for (; t < ntokens; t++) LT_KTILE(4, 1, r, t);
    }
    for (; r < nrows; r++) {
        int64_t t = 0;
        for (; t + LT_TILE_T <= ntokens; t += LT_TILE_T) LT_KTILE(1, LT_TILE_T, r, t);
        for (; t < ntokens; t++) LT_KTILE(1, 1, r, t);
    }
#undef LT_KTILE
#undef LT_KARGS
}

LT_INLINE void FN(qgemm_k_levels)(const int dtype, int64_t n, const uint8_t *w, int64_t ldw, int64_t nrows,
                                  const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                                  const float *s, int64_t ntokens, float *y, int64_t ldy) {
    if (qs2) FN(qgemm_k)(dtype, 2, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
    else FN(qgemm_k)(dtype, 1, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

LT_INLINE void FN(qgemm_typed)(const int dtype, const int wide, const int L, int64_t n, const uint8_t *w, int64_t ldw,
                               int64_t nrows, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                               const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32;
    // Level-2 pointers are offset only when present (qs2 is NULL for single-level activations).
#define LT_QARGS(r, t) n, w + (r) * ldw, ldw, qs + (t) * n, d + (t) * nb, L == 2 ? qs2 + (t) * n : qs2, \
    L == 2 ? d2 + (t) * nb : d2, s + (t) * nb, y + (t) * ldy + (r), ldy
#if LT_VNNI
#define LT_QTILE(R, T, r, t) \
    (wide ? FN(qtile512)(dtype, L, R, T, LT_QARGS(r, t)) : FN(qtile)(dtype, L, R, T, LT_QARGS(r, t)))
#else
    (void)wide;
#define LT_QTILE(R, T, r, t) FN(qtile)(dtype, L, R, T, LT_QARGS(r, t))
#endif
    int64_t r = 0;
    for (; r + 4 <= nrows; r += 4) {
        int64_t t = 0;
        for (; t + LT_TILE_T <= ntokens; t += LT_TILE_T) LT_QTILE(4, LT_TILE_T, r, t);
        for (; t < ntokens; t++) LT_QTILE(4, 1, r, t);
    }
    for (; r < nrows; r++) {
        int64_t t = 0;
        for (; t + LT_TILE_T <= ntokens; t += LT_TILE_T) LT_QTILE(1, LT_TILE_T, r, t);
        for (; t < ntokens; t++) LT_QTILE(1, 1, r, t);
    }
#undef LT_QTILE
#undef LT_QARGS
}

/// Specializes on dtype, tile width and level count (all compile-time constants below).
LT_INLINE void FN(qgemm_levels)(const int dtype, const int wide, int64_t n, const uint8_t *w, int64_t ldw,
                                int64_t nrows, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                                const float *s, int64_t ntokens, float *y, int64_t ldy) {
    if (qs2) FN(qgemm_typed)(dtype, wide, 2, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
    else FN(qgemm_typed)(dtype, wide, 1, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

LT_TARGET void FN(lt_qgemm)(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                            const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                            int64_t ntokens, float *y, int64_t ldy) {
    switch (dtype) {
    case LT_Q4_K: FN(qgemm_k_levels)(LT_Q4_K, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case LT_Q5_K: FN(qgemm_k_levels)(LT_Q5_K, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case LT_Q6_K: FN(qgemm_k_levels)(LT_Q6_K, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case LT_Q2_K: FN(qgemm_k_levels)(LT_Q2_K, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case LT_Q3_K: FN(qgemm_k_levels)(LT_Q3_K, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    default: break;
    }
#if LT_VNNI
    const int wide = (n / 32) % 2 == 0 && n / 32 <= LT_MAX_NB512;
#else
    const int wide = 0;
#endif
#define LT_QCALL(DT, WIDE) FN(qgemm_levels)(DT, WIDE, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy)
    if (wide) {
        switch (dtype) {
        case LT_Q8_0: LT_QCALL(LT_Q8_0, 1); break;
        case LT_Q4_0: LT_QCALL(LT_Q4_0, 1); break;
        case LT_Q5_0: LT_QCALL(LT_Q5_0, 1); break;
        case LT_Q5_1: LT_QCALL(LT_Q5_1, 1); break;
        default:      LT_QCALL(LT_Q4_1, 1); break;
        }
    } else {
        switch (dtype) {
        case LT_Q8_0: LT_QCALL(LT_Q8_0, 0); break;
        case LT_Q4_0: LT_QCALL(LT_Q4_0, 0); break;
        case LT_Q5_0: LT_QCALL(LT_Q5_0, 0); break;
        case LT_Q5_1: LT_QCALL(LT_Q5_1, 0); break;
        default:      LT_QCALL(LT_Q4_1, 0); break;
        }
    }
#undef LT_QCALL
}

/// 8 weights as float32 from an F32, F16 or BF16 row.
LT_INLINE __m256 FN(load8)(const int dtype, const void *w, int64_t k) {
    if (dtype == LT_F32) return _mm256_loadu_ps((const float *)w + k);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + k));
    if (dtype == LT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

LT_INLINE float FN(load1)(const int dtype, const void *w, int64_t k) {
    if (dtype == LT_F32) return ((const float *)w)[k];
    uint16_t h = ((const uint16_t *)w)[k];
    if (dtype == LT_F16) return _cvtsh_ss(h);
    uint32_t bits = (uint32_t)h << 16; float f; memcpy(&f, &bits, 4); return f;
}

/// R float weight rows x T tokens; each 8-wide weight load feeds T FMAs and each activation load R.
/// Tails (n % 8) run scalar.
LT_INLINE void FN(ftile)(const int dtype, const int R, const int T, int64_t n, const uint8_t *w, int64_t ldw,
                         const float *x, float *y, int64_t ldy) {
    const int esize = dtype == LT_F32 ? 4 : 2;
    __m256 acc[4][LT_TILE_T];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 wv[4];
        for (int i = 0; i < R; i++) {
            // Stream the next row tile in ahead of use (see the quantized tile).
            if ((k * esize) % 64 == 0) _mm_prefetch((const char *)(w + i * ldw + LT_PREFETCH_BYTES + k * esize), _MM_HINT_T0);
            wv[i] = FN(load8)(dtype, w + i * ldw, k);
        }
        for (int j = 0; j < T; j++) {
            const __m256 xv = _mm256_loadu_ps(x + j * n + k);
            for (int i = 0; i < R; i++) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < T; j++) {
            float sum = FN(hsum)(acc[i][j]);
            for (int64_t kk = k; kk < n; kk++) sum += FN(load1)(dtype, w + i * ldw, kk) * x[j * n + kk];
            y[j * ldy + i] = sum;
        }
}

LT_INLINE void FN(fgemm_typed)(const int dtype, int64_t n, const uint8_t *w, int64_t ldw, int64_t nrows,
                               const float *x, int64_t ntokens, float *y, int64_t ldy) {
    int64_t r = 0;
    for (; r + 4 <= nrows; r += 4) {
        int64_t t = 0;
        for (; t + LT_TILE_T <= ntokens; t += LT_TILE_T) FN(ftile)(dtype, 4, LT_TILE_T, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
        for (; t < ntokens; t++) FN(ftile)(dtype, 4, 1, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
    }
    for (; r < nrows; r++)
        for (int64_t t = 0; t < ntokens; t++) FN(ftile)(dtype, 1, 1, n, w + r * ldw, ldw, x + t * n, y + t * ldy + r, ldy);
}

LT_TARGET void FN(lt_fgemm)(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                            const float *x, int64_t ntokens, float *y, int64_t ldy) {
    switch (dtype) {
    case LT_F16:  FN(fgemm_typed)(LT_F16, n, w, ldw, nrows, x, ntokens, y, ldy); break;
    case LT_BF16: FN(fgemm_typed)(LT_BF16, n, w, ldw, nrows, x, ntokens, y, ldy); break;
    default:      FN(fgemm_typed)(LT_F32, n, w, ldw, nrows, x, ntokens, y, ldy); break;
    }
}

/// 32 signed bytes q (|q| < 128) -> dst[0..32] = d * q + m, with the product and the sum rounded
/// separately (the products of the 5-bit types are exact, so this equals the reference).
LT_INLINE void FN(store_block)(float *dst, __m256i q, __m256 vd, __m256 vm) {
    __m128i halves[2] = { _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1) };
    for (int h = 0; h < 2; h++) {
        __m128i lo = halves[h], hi = _mm_unpackhi_epi64(halves[h], halves[h]);
        _mm256_storeu_ps(dst + h * 16, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), vd), vm));
        _mm256_storeu_ps(dst + h * 16 + 8, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), vd), vm));
    }
}

/// K-quant super-blocks -> float, as ggml: (d * sc) * q - dmin * m, all products exact in float32, one
/// rounding for the difference (mul then sub, never fused, to match the reference bit for bit).
LT_INLINE void FN(dequantize_k)(const int dtype, const uint8_t *p, int64_t n, float *dst) {
    const int bb = lt_block_bytes(dtype);
    const int offset = dtype == LT_Q6_K ? 32 : dtype == LT_Q3_K ? 4 : 0;
    for (int64_t sb = 0; sb < n / 256; sb++, p += bb) {
        float dsc[16], dmn[16];
        FN(kscales)(dtype, p, dsc, dmn);
        for (int bl = 0; bl < 8; bl++) {
            const __m256i q = _mm256_sub_epi8(FN(kunpack)(dtype, p, bl), _mm256_set1_epi8((char)offset));
            float *out = dst + sb * 256 + bl * 32;
            const __m128i halves[2] = { _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1) };
            for (int h = 0; h < 2; h++) {
                const int per16 = dtype == LT_Q2_K || dtype == LT_Q3_K || dtype == LT_Q6_K;
                const __m256 vd = _mm256_set1_ps(per16 ? dsc[2 * bl + h] : dsc[bl]);
                const __m256 vm = _mm256_set1_ps(dtype == LT_Q2_K ? dmn[2 * bl + h] : dtype == LT_Q4_K || dtype == LT_Q5_K ? dmn[bl] : 0.0f);
                const __m128i lo = halves[h], hi = _mm_unpackhi_epi64(halves[h], halves[h]);
                _mm256_storeu_ps(out + h * 16, _mm256_sub_ps(_mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))), vm));
                _mm256_storeu_ps(out + h * 16 + 8, _mm256_sub_ps(_mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))), vm));
            }
        }
    }
}

LT_TARGET void FN(lt_dequantize)(int dtype, const void *src, int64_t n, float *dst) {
    const uint8_t *p = (const uint8_t *)src;
    switch (dtype) {
    case LT_F16: case LT_BF16: {
        int64_t k = 0;
        if (dtype == LT_F16) for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, FN(load8)(LT_F16, src, k));
        else for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, FN(load8)(LT_BF16, src, k));
        for (; k < n; k++) dst[k] = FN(load1)(dtype, src, k);
        break;
    }
    case LT_Q8_0:
    case LT_Q4_0:
    case LT_Q4_1: {
        const int bb = dtype == LT_Q8_0 ? 34 : dtype == LT_Q4_0 ? 18 : 20;
        for (int64_t b = 0; b < n / 32; b++, p += bb) {
            const __m256 vd = _mm256_set1_ps(FN(f16)(p));
            __m256 vm = _mm256_setzero_ps();
            __m256i q;   // 32 signed (Q8_0, Q4_0 after -8) or unsigned (Q4_1) bytes in element order
            if (dtype == LT_Q8_0) q = _mm256_loadu_si256((const __m256i *)(p + 2));
            else if (dtype == LT_Q4_0) q = _mm256_sub_epi8(FN(unpack_q4)(p + 2), _mm256_set1_epi8(8));
            else { q = FN(unpack_q4)(p + 4); vm = _mm256_set1_ps(FN(f16)(p + 2)); }
            __m128i halves[2] = { _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1) };
            for (int h = 0; h < 2; h++) {
                __m128i lo = halves[h], hi = _mm_unpackhi_epi64(halves[h], halves[h]);
                __m256i a = _mm256_cvtepi8_epi32(lo), c = _mm256_cvtepi8_epi32(hi);   // nibbles are < 128
                _mm256_storeu_ps(dst + b * 32 + h * 16, _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), vd, vm));
                _mm256_storeu_ps(dst + b * 32 + h * 16 + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(c), vd, vm));
            }
        }
        break;
    }
    case LT_Q5_0: case LT_Q5_1: {
        const int one = dtype == LT_Q5_1, bb = one ? 24 : 22;
        for (int64_t b = 0; b < n / 32; b++, p += bb) {
            uint32_t qh;
            memcpy(&qh, p + (one ? 4 : 2), 4);
            __m256i q = _mm256_or_si256(FN(unpack_q4)(p + (one ? 8 : 6)), FN(q5_high)(qh));
            if (!one) q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
            FN(store_block)(dst + b * 32, q, _mm256_set1_ps(FN(f16)(p)), one ? _mm256_set1_ps(FN(f16)(p + 2)) : _mm256_setzero_ps());
        }
        break;
    }
    case LT_Q2_K: FN(dequantize_k)(LT_Q2_K, p, n, dst); break;
    case LT_Q3_K: FN(dequantize_k)(LT_Q3_K, p, n, dst); break;
    case LT_Q4_K: FN(dequantize_k)(LT_Q4_K, p, n, dst); break;
    case LT_Q5_K: FN(dequantize_k)(LT_Q5_K, p, n, dst); break;
    case LT_Q6_K: FN(dequantize_k)(LT_Q6_K, p, n, dst); break;
    default: memcpy(dst, src, (size_t)n * 4); break;   // LT_F32
    }
}

LT_TARGET float FN(lt_dot_f32)(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), acc1);
    }
    for (; k + 8 <= n; k += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
    float sum = FN(hsum)(_mm256_add_ps(acc0, acc1));
    for (; k < n; k++) sum += a[k] * b[k];
    return sum;
}

LT_TARGET void FN(lt_axpy_f32)(float a, const float *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
    for (; k < n; k++) y[k] += a * x[k];
}

LT_TARGET float FN(lt_sumsq_f32)(const float *x, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) { __m256 v = _mm256_loadu_ps(x + k); acc = _mm256_fmadd_ps(v, v, acc); }
    float sum = FN(hsum)(acc);
    for (; k < n; k++) sum += x[k] * x[k];
    return sum;
}

/// Two passes: the largest value (vmaxps returns its second operand when either is NaN, so NaNs drop out
/// against the running maximum, which starts at -inf), then the first index holding it. When nothing is
/// above -inf the answer is 0, as the scalar twin's.
LT_TARGET int64_t FN(lt_argmax_f32)(const float *x, int64_t n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + k), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + k + 8), m1);
    }
    for (; k + 8 <= n; k += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + k), m0);
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    float top = -INFINITY;
    for (int i = 0; i < 8; i++) top = lanes[i] > top ? lanes[i] : top;
    for (; k < n; k++) top = x[k] > top ? x[k] : top;
    if (!(top > -INFINITY)) return 0;
    const __m256 t = _mm256_set1_ps(top);
    for (k = 0; k + 8 <= n; k += 8) {
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + k), t, _CMP_EQ_OQ));
        if (mask) return k + __builtin_ctz((unsigned)mask);
    }
    for (; k < n; k++) if (x[k] == top) return k;
    return 0;   // not reached: top is one of the values
}

/// exp(x) to about 2 ulp for x in [-87.3, 88.0]; 0 below that range (so exp(-inf) = 0 for masked
/// scores), clamped to exp(88.0) above it. Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2, then a
/// degree-7 Taylor polynomial (truncation error < 5e-9 relative) and 2^n built in the exponent field.
LT_INLINE __m256 FN(exp)(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.0f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), result);
}

LT_TARGET void FN(lt_swiglu_f32)(float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), signbit = _mm256_set1_ps(-0.0f);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 g = _mm256_loadu_ps(gate + k);
        __m256 sig = _mm256_div_ps(g, _mm256_add_ps(one, FN(exp)(_mm256_xor_ps(g, signbit))));
        _mm256_storeu_ps(gate + k, _mm256_mul_ps(sig, _mm256_loadu_ps(up + k)));
    }
    for (; k < n; k++) gate[k] = gate[k] / (1.0f + expf(-gate[k])) * up[k];
}

/// GELU's tanh approximation, optionally gated: x[i] = gelu_tanh(x[i]) (* up[i] when up is not NULL).
/// 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)) with u = sqrt(2/pi) (x + 0.044715 x^3), so one exp and one
/// division per value; for very negative x, exp(-2u) clamps at exp(88) and the result is x / huge ~ -0.
LT_TARGET void FN(lt_gelu_tanh_f32)(float *x, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(-2.0f * 0.79788456080286536f);
    const __m256 c3 = _mm256_set1_ps(0.044715f);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m256 v = _mm256_loadu_ps(x + k);
        const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(c3, v), _mm256_mul_ps(v, v), v);   // x + 0.044715 x^3
        __m256 g = _mm256_div_ps(v, _mm256_add_ps(one, FN(exp)(_mm256_mul_ps(c, inner))));
        if (up) g = _mm256_mul_ps(g, _mm256_loadu_ps(up + k));
        _mm256_storeu_ps(x + k, g);
    }
    for (; k < n; k++) {
        const float v = x[k];
        const float g = v / (1.0f + expf(-2.0f * 0.79788456080286536f * (v + 0.044715f * v * v * v)));
        x[k] = up ? g * up[k] : g;
    }
}

/// Exact GELU through erfc(z) ~ t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2), t = 1 / (1 + p z),
/// z = |x| / sqrt 2 (A&S 7.1.26): 1 + erf(x) is 2 - erfc(z) for x >= 0 and erfc(z) itself for x < 0.
LT_TARGET void FN(lt_gelu_f32)(float *x, int64_t n) {
    const __m256 signbit = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256 half = _mm256_set1_ps(0.5f), rsqrt2 = _mm256_set1_ps(0.70710678118654752f);
    const __m256 p = _mm256_set1_ps(0.3275911f);
    const __m256 a1 = _mm256_set1_ps(0.254829592f), a2 = _mm256_set1_ps(-0.284496736f), a3 = _mm256_set1_ps(1.421413741f);
    const __m256 a4 = _mm256_set1_ps(-1.453152027f), a5 = _mm256_set1_ps(1.061405429f);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m256 v = _mm256_loadu_ps(x + k);
        const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(signbit, v), rsqrt2);
        const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(p, z, one));
        __m256 poly = _mm256_fmadd_ps(a5, t, a4);
        poly = _mm256_fmadd_ps(poly, t, a3);
        poly = _mm256_fmadd_ps(poly, t, a2);
        poly = _mm256_fmadd_ps(poly, t, a1);
        poly = _mm256_mul_ps(poly, t);
        const __m256 erfc = _mm256_mul_ps(poly, FN(exp)(_mm256_xor_ps(_mm256_mul_ps(z, z), signbit)));
        const __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        const __m256 onePlusErf = _mm256_blendv_ps(_mm256_sub_ps(two, erfc), erfc, negative);
        _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_mul_ps(half, v), onePlusErf));
    }
    for (; k < n; k++) x[k] = 0.5f * x[k] * (1.0f + erff(x[k] * 0.70710678118654752f));
}

LT_TARGET float FN(lt_softmax_f32)(float *x, int64_t n) {
    if (n <= 0) return -INFINITY;
    __m256 vm = _mm256_set1_ps(-INFINITY);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + k));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(vm), _mm256_extractf128_ps(vm, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float m = _mm_cvtss_f32(h);
    for (; k < n; k++) m = x[k] > m ? x[k] : m;
    const __m256 vmax = _mm256_set1_ps(m);
    __m256 vs = _mm256_setzero_ps();
    for (k = 0; k + 8 <= n; k += 8) {
        __m256 e = FN(exp)(_mm256_sub_ps(_mm256_loadu_ps(x + k), vmax));
        _mm256_storeu_ps(x + k, e);
        vs = _mm256_add_ps(vs, e);
    }
    float sum = FN(hsum)(vs);
    for (; k < n; k++) { x[k] = expf(x[k] - m); sum += x[k]; }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (k = 0; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_loadu_ps(x + k), inv));
    for (; k < n; k++) x[k] *= 1.0f / sum;
    return m + logf(sum);
}

LT_TARGET void FN(lt_attend_ext_f32)(const float *q, const float *k, const float *v, const int32_t *table,
                                     int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd,
                                     float scale, float slope, const float *bias, float *scores, float *out,
                                     float *lse) {
    // Keys first..<n; scores[j - first] holds key j.
    for (int64_t b0 = first - first % block; b0 < n; b0 += block) {
        const int64_t base = table ? (int64_t)table[b0 / block] * block : b0;
        const int64_t lo = first > b0 ? first - b0 : 0;
        const int64_t m = n - b0 < block ? n - b0 : block;
        for (int64_t i = lo; i < m; i++) {
            const int64_t j = b0 + i;
            float sc = FN(lt_dot_f32)(q, k + (base + i) * stride, hd) * scale + slope * (float)j;
            scores[j - first] = bias ? sc + bias[j] : sc;
        }
    }
    const float l = FN(lt_softmax_f32)(scores, n - first);
    if (lse) *lse = l;
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int64_t b0 = first - first % block; b0 < n; b0 += block) {
        const int64_t base = table ? (int64_t)table[b0 / block] * block : b0;
        const int64_t lo = first > b0 ? first - b0 : 0;
        const int64_t m = n - b0 < block ? n - b0 : block;
        for (int64_t i = lo; i < m; i++) FN(lt_axpy_f32)(scores[b0 + i - first], v + (base + i) * stride, out, hd);
    }
}

#undef FN
#undef LT_INLINE
