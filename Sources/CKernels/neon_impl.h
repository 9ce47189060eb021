// Integer dot-product kernels (lt_qgemm for every quantized type, lt_qgemm_r16 for the packed r16 layout),
// included twice by neon.c with
//   LT_NISA     suffix of the generated function names (neon, neondot)
//   LT_NTARGET  the function attribute naming the target features (empty, or the dot-product extension)
//   LT_DOTPROD  1 when SDOT (vdotq_s32) may be used
// lt_qgemm: weight blocks unpack to signed int8 (Q4_0's -8, Q5_0's -16, Q3_K's -4 and Q6_K's -32 applied while
// unpacking: NEON multiplies signed by signed, so no base term is needed), 32 values as two 16-byte
// registers in element order, against 32 activation bytes in two registers. Each 32-value integer dot is
// exact; it becomes float once per block and is added, scaled, to a 4-lane float accumulator whose lanes
// are summed at the end (so only the float summation order differs from the scalar twin).
// lt_qgemm_r16 (end of the file) is bit-identical to its scalar twin instead; see r16_tile.

#define LT_NCAT2(a, b) a##_##b
#define LT_NCAT(a, b) LT_NCAT2(a, b)
#define NFN(name) LT_NCAT(name, LT_NISA)
#define LT_NINL static inline __attribute__((always_inline)) LT_NTARGET

/// acc + per-lane sums of four int8 x int8 products (lane k: bytes 4k..4k+3 with SDOT; the plain path
/// pairs bytes k and k + 8 first, which only changes which lane holds which products).
/// Plain path bound: |a| <= 128, |b| <= 127, so two products fit an int16 (2 * 128 * 127 = 32512).
LT_NINL int32x4_t NFN(dot16)(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if LT_DOTPROD
    return vdotq_s32(acc, a, b);
#else
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_high_s8(p, a, b);
    return vpadalq_s16(acc, p);
#endif
}

/// Exact integer dot of 32 unpacked weights with 32 activation bytes, as four int32 lanes.
LT_NINL int32x4_t NFN(dot32)(nq32 wv, int8x16_t x0, int8x16_t x1) {
    return NFN(dot16)(NFN(dot16)(vdupq_n_s32(0), wv.lo, x0), wv.hi, x1);
}

/// R weight rows x T tokens of a 32-value block type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1); L activation levels.
/// Per block: acc += float(isum lanes) * (d_w * d_x) per level; Q4_1 / Q5_1 add m_w * s_x in a scalar.
LT_NINL void NFN(qtile)(const int dtype, const int L, const int R, const int T, int64_t n, const uint8_t *w,
                        int64_t ldw, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                        const float *s, float *y, int64_t ldy) {
    const int64_t nb = n / 32;
    const int bb = lt_block_bytes(dtype);
    const int withMin = dtype == LT_Q4_1 || dtype == LT_Q5_1;
    float32x4_t acc[4][LT_NTILE_T];
    float accm[4][LT_NTILE_T];
    LT_NUNROLL for (int i = 0; i < R; i++)
        LT_NUNROLL for (int j = 0; j < T; j++) { acc[i][j] = vdupq_n_f32(0); accm[i][j] = 0; }
    for (int64_t b = 0; b < nb; b++) {
        nq32 wv[4];
        float dw[4], mw[4];
        LT_NUNROLL for (int i = 0; i < R; i++) {
            const uint8_t *blk = w + i * ldw + b * bb;
            __builtin_prefetch(blk + LT_NPREFETCH_BYTES);
            dw[i] = nf16(blk);
            mw[i] = withMin ? nf16(blk + 2) : 0.0f;
            wv[i] = nunpack_block(dtype, blk);
        }
        LT_NUNROLL for (int l = 0; l < L; l++)
        LT_NUNROLL for (int j = 0; j < T; j++) {
            const int8_t *xq = (l ? qs2 : qs) + j * n + b * 32;
            const int8x16_t x0 = vld1q_s8(xq), x1 = vld1q_s8(xq + 16);
            const float dx = (l ? d2 : d)[j * nb + b];
            LT_NUNROLL for (int i = 0; i < R; i++) {
                const int32x4_t p = NFN(dot32)(wv[i], x0, x1);
                acc[i][j] = vfmaq_f32(acc[i][j], vcvtq_f32_s32(p), vdupq_n_f32(dw[i] * dx));
                if (withMin && l == 0) accm[i][j] += mw[i] * s[j * nb + b];
            }
        }
    }
    LT_NUNROLL for (int i = 0; i < R; i++)
        LT_NUNROLL for (int j = 0; j < T; j++) y[j * ldy + i] = vaddvq_f32(acc[i][j]) + accm[i][j];
}

/// K-quant tile (Q2_K .. Q6_K): R rows x T tokens over whole super-blocks. Per 32-value sub-block the two
/// 16-value integer dots are multiplied by their integer scales (the same sub-scale twice for Q4_K / Q5_K)
/// in int32, then scaled by d * d_x in float. Q4_K / Q5_K mins: dmin * m_j against the activation block
/// sums s_j, eight per super-block, in the same lane accumulator. Q2_K mins (per 16 values) meet the
/// activation bytes' group sums: dmin * d_x * sum(m_g * sum_g(x)) in a scalar per row and token.
LT_NINL void NFN(qtile_k)(const int dtype, const int L, const int R, const int T, int64_t n, const uint8_t *w,
                          int64_t ldw, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                          const float *s, float *y, int64_t ldy) {
    const int64_t nb = n / 32, nsb = n / 256;
    const int bb = lt_block_bytes(dtype);
    const int per16 = dtype == LT_Q2_K || dtype == LT_Q3_K || dtype == LT_Q6_K;
    float32x4_t acc[4][LT_NTILE_T];
    float accm[4][LT_NTILE_T];
    LT_NUNROLL for (int i = 0; i < R; i++)
        LT_NUNROLL for (int j = 0; j < T; j++) { acc[i][j] = vdupq_n_f32(0); accm[i][j] = 0; }
    for (int64_t sb = 0; sb < nsb; sb++) {
        int32_t sc[4][16], mn[4][16];
        float kd[4], kdmin[4];
        LT_NUNROLL for (int i = 0; i < R; i++) {
            const uint8_t *blk = w + i * ldw + sb * bb;
            __builtin_prefetch(blk + LT_NPREFETCH_BYTES);
            __builtin_prefetch(blk + LT_NPREFETCH_BYTES + 64);
            __builtin_prefetch(blk + LT_NPREFETCH_BYTES + 128);
            if (bb > 192) __builtin_prefetch(blk + LT_NPREFETCH_BYTES + 192);
            nkscales(dtype, blk, sc[i], mn[i], &kd[i], &kdmin[i]);
            if (dtype == LT_Q4_K || dtype == LT_Q5_K) {
                // dmin * m_j (exact in float) for the eight sub-blocks; mn holds each twice.
                const int32x4x2_t m2a = vld2q_s32(mn[i]), m2b = vld2q_s32(mn[i] + 8);
                const float32x4_t dm0 = vmulq_n_f32(vcvtq_f32_s32(m2a.val[0]), kdmin[i]);
                const float32x4_t dm1 = vmulq_n_f32(vcvtq_f32_s32(m2b.val[0]), kdmin[i]);
                LT_NUNROLL for (int j = 0; j < T; j++) {
                    const float *sj = s + j * nb + sb * 8;
                    acc[i][j] = vfmsq_f32(acc[i][j], dm0, vld1q_f32(sj));
                    acc[i][j] = vfmsq_f32(acc[i][j], dm1, vld1q_f32(sj + 4));
                }
            }
        }
        for (int bl = 0; bl < 8; bl++) {
            const int64_t b = sb * 8 + bl;
            nq32 wv[4];
            LT_NUNROLL for (int i = 0; i < R; i++) wv[i] = nkunpack(dtype, w + i * ldw + sb * bb, bl);
            LT_NUNROLL for (int l = 0; l < L; l++)
            LT_NUNROLL for (int j = 0; j < T; j++) {
                const int8_t *xq = (l ? qs2 : qs) + j * n + b * 32;
                const int8x16_t x0 = vld1q_s8(xq), x1 = vld1q_s8(xq + 16);
                const float dx = (l ? d2 : d)[j * nb + b];
                int32_t xs0 = 0, xs1 = 0;
                if (dtype == LT_Q2_K) { xs0 = vaddlvq_s8(x0); xs1 = vaddlvq_s8(x1); }
                LT_NUNROLL for (int i = 0; i < R; i++) {
                    int32x4_t p;
                    if (per16) {
                        const int32x4_t g0 = NFN(dot16)(vdupq_n_s32(0), wv[i].lo, x0);
                        const int32x4_t g1 = NFN(dot16)(vdupq_n_s32(0), wv[i].hi, x1);
                        p = vmlaq_n_s32(vmulq_n_s32(g0, sc[i][2 * bl]), g1, sc[i][2 * bl + 1]);
                    } else {
                        p = vmulq_n_s32(NFN(dot32)(wv[i], x0, x1), sc[i][2 * bl]);
                    }
                    acc[i][j] = vfmaq_f32(acc[i][j], vcvtq_f32_s32(p), vdupq_n_f32(kd[i] * dx));
                    if (dtype == LT_Q2_K) {
                        const int32_t msum = mn[i][2 * bl] * xs0 + mn[i][2 * bl + 1] * xs1;
                        accm[i][j] += kdmin[i] * dx * (float)msum;
                    }
                }
            }
        }
    }
    LT_NUNROLL for (int i = 0; i < R; i++)
        LT_NUNROLL for (int j = 0; j < T; j++) y[j * ldy + i] = vaddvq_f32(acc[i][j]) - accm[i][j];
}

/// Tiles of 4 rows x LT_NTILE_T tokens, then token and row remainders. dtype and L are compile-time
/// constants after inlining (the switch in lt_qgemm below).
LT_NINL void NFN(qgemm_typed)(const int dtype, const int L, int64_t n, const uint8_t *w, int64_t ldw,
                              int64_t nrows, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                              const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32;
    const int kq = dtype >= LT_Q2_K;
    // Level-2 pointers are offset only when present (qs2 is NULL for single-level activations).
#define LT_NARGS(r, t) n, w + (r) * ldw, ldw, qs + (t) * n, d + (t) * nb, L == 2 ? qs2 + (t) * n : qs2, \
    L == 2 ? d2 + (t) * nb : d2, s + (t) * nb, y + (t) * ldy + (r), ldy
#define LT_NTILE(R, T, r, t) (kq ? NFN(qtile_k)(dtype, L, R, T, LT_NARGS(r, t)) : NFN(qtile)(dtype, L, R, T, LT_NARGS(r, t)))
    int64_t r = 0;
    for (; r + 4 <= nrows; r += 4) {
        int64_t t = 0;
        for (; t + LT_NTILE_T <= ntokens; t += LT_NTILE_T) LT_NTILE(4, LT_NTILE_T, r, t);
        for (; t < ntokens; t++) LT_NTILE(4, 1, r, t);
    }
    for (; r < nrows; r++) {
        int64_t t = 0;
        for (; t + LT_NTILE_T <= ntokens; t += LT_NTILE_T) LT_NTILE(1, LT_NTILE_T, r, t);
        for (; t < ntokens; t++) LT_NTILE(1, 1, r, t);
    }
#undef LT_NTILE
#undef LT_NARGS
}

LT_NINL void NFN(qgemm_levels)(const int dtype, int64_t n, const uint8_t *w, int64_t ldw, int64_t nrows,
                               const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                               const float *s, int64_t ntokens, float *y, int64_t ldy) {
    if (qs2) NFN(qgemm_typed)(dtype, 2, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
    else NFN(qgemm_typed)(dtype, 1, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

LT_NTARGET void NFN(lt_qgemm)(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                              const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                              int64_t ntokens, float *y, int64_t ldy) {
    const uint8_t *wb = (const uint8_t *)w;
#define LT_NCALL(DT) NFN(qgemm_levels)(DT, n, wb, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break
    switch (dtype) {
    case LT_Q8_0: LT_NCALL(LT_Q8_0);
    case LT_Q4_0: LT_NCALL(LT_Q4_0);
    case LT_Q5_0: LT_NCALL(LT_Q5_0);
    case LT_Q5_1: LT_NCALL(LT_Q5_1);
    case LT_Q2_K: LT_NCALL(LT_Q2_K);
    case LT_Q3_K: LT_NCALL(LT_Q3_K);
    case LT_Q4_K: LT_NCALL(LT_Q4_K);
    case LT_Q5_K: LT_NCALL(LT_Q5_K);
    case LT_Q6_K: LT_NCALL(LT_Q6_K);
    default:      LT_NCALL(LT_Q4_1);
    }
#undef LT_NCALL
}

// ---- Row-interleaved ("r16") packed weights (layout and arithmetic contract in ckernels.h) ----

/// acc + per-lane sums of four int8 x int8 products, lane i: bytes 4i..4i+3 of w and b. With b four
/// activation bytes broadcast to every lane and w 16 bytes of a packed vector (four codes of four rows),
/// lane i gains one row's 4-value partial dot: no horizontal sums. The plain path multiplies into int16
/// (vmull_s8), adds neighbouring products (vpaddq_s16: |w| <= 128, |b| <= 127, so 2 * 128 * 127 = 32512
/// fits) and then neighbouring pairs into the int32 lanes (vpadalq_s16), the same exact sum as SDOT.
LT_NINL int32x4_t NFN(r16dot)(int32x4_t acc, int8x16_t w, int8x16_t b) {
#if LT_DOTPROD
    return vdotq_s32(acc, w, b);
#else
    const int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(b));
    const int16x8_t hi = vmull_high_s8(w, b);
    return vpadalq_s16(acc, vpaddq_s16(lo, hi));
#endif
}

/// 8 rows (half h of a 16-row group: bytes 32h .. 32h + 31 of every packed vector, two int32x4 of rows)
/// x T tokens (T <= 4) over all nb blocks of one row group; L activation levels. Per block each row's
/// exact integer dot (isum) per level, then the scalar twin's float steps in its order:
///   one level:  acc = fma(isum, d_w * d_x, acc)
///   two levels: acc = fma(fma(isum2, d2_x, isum1 * d_x), d_w, acc)
///   then        acc = fma(m_w, s_x, acc)
/// so the result is bit-identical to lt_qgemm_r16_scalar. The 4-/5-bit codes (0..31) are already valid
/// signed bytes. The 8-bit kind's codes are u = q + 128 (0..255): the kernel dots the signed q = u ^ 0x80
/// and starts each row's isum at 128 * (the sum of the block's 32 activation bytes), which is the same
/// exact integer sum over u.
LT_NINL void NFN(r16_tile)(const int kind, const int L, const int T, int64_t nb, int64_t n, const uint8_t *grp,
                           const int h, const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                           const float *s, float *y, int64_t ldy) {
    const int64_t bbp = nr16_block_bytes(kind);
    const uint8x16_t m4 = vdupq_n_u8(0x0F), sign = vdupq_n_u8(0x80);
    float32x4_t acc[4][2];
    LT_NUNROLL for (int t = 0; t < T; t++) { acc[t][0] = vdupq_n_f32(0); acc[t][1] = vdupq_n_f32(0); }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = grp + b * bbp;
        if (h == 0) {   // the second half's pass finds the group in cache
            _Pragma("GCC unroll 9") for (int c = 0; c < 9; c++)
                if (64 * c < bbp) __builtin_prefetch(blk + LT_NPREFETCH_BYTES + 64 * c);
        }
        // A block whose second level is zero for every token of the tile (`.mixed` activations) takes the
        // first level's dots alone; the float steps stay the two-level ones with d2 * i2 = 0, bit for bit.
        const int two = L == 2 && lt_tile_has_level2(d2 + b, nb, T);
        int32x4_t i1[4][2], i2[4][2];
        if (kind == 2) {
            LT_NUNROLL for (int t = 0; t < T; t++) {
                i1[t][0] = i1[t][1] = vdupq_n_s32(128 * nr16_sum32(qs + t * n + b * 32));
                if (two) i2[t][0] = i2[t][1] = vdupq_n_s32(128 * nr16_sum32(qs2 + t * n + b * 32));
            }
            _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                const uint8_t *wp = blk + 64 + 64 * k + 32 * h;
                const int8x16_t w0 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(wp), sign));
                const int8x16_t w1 = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(wp + 16), sign));
                LT_NUNROLL for (int t = 0; t < T; t++) {
                    const int8x16_t x = nr16_bcast(qs + t * n + b * 32 + 4 * k);
                    i1[t][0] = NFN(r16dot)(i1[t][0], w0, x);
                    i1[t][1] = NFN(r16dot)(i1[t][1], w1, x);
                    if (two) {
                        const int8x16_t x2 = nr16_bcast(qs2 + t * n + b * 32 + 4 * k);
                        i2[t][0] = NFN(r16dot)(i2[t][0], w0, x2);
                        i2[t][1] = NFN(r16dot)(i2[t][1], w1, x2);
                    }
                }
            }
        } else {
            LT_NUNROLL for (int t = 0; t < T; t++) {
                i1[t][0] = i1[t][1] = vdupq_n_s32(0);
                if (two) i2[t][0] = i2[t][1] = vdupq_n_s32(0);
            }
            LT_NUNROLL for (int k = 0; k < 4; k++) {
                const uint8_t *wp = blk + 64 + 64 * k + 32 * h;
                const uint8x16_t raw0 = vld1q_u8(wp), raw1 = vld1q_u8(wp + 16);
                uint8x16_t lo0 = vandq_u8(raw0, m4), lo1 = vandq_u8(raw1, m4);
                uint8x16_t hi0 = vshrq_n_u8(raw0, 4), hi1 = vshrq_n_u8(raw1, 4);
                if (kind == 1) {   // masks 2k (low nibbles) and 2k + 1 (high), bits 32h .. 32h + 31 each
                    uint8x16_t b0, b1;
                    nr16_high(blk + 320 + 16 * k + 4 * h, &b0, &b1);
                    lo0 = vorrq_u8(lo0, b0); lo1 = vorrq_u8(lo1, b1);
                    nr16_high(blk + 328 + 16 * k + 4 * h, &b0, &b1);
                    hi0 = vorrq_u8(hi0, b0); hi1 = vorrq_u8(hi1, b1);
                }
                const int8x16_t l0 = vreinterpretq_s8_u8(lo0), l1 = vreinterpretq_s8_u8(lo1);
                const int8x16_t u0 = vreinterpretq_s8_u8(hi0), u1 = vreinterpretq_s8_u8(hi1);
                LT_NUNROLL for (int t = 0; t < T; t++) {
                    const int8_t *x = qs + t * n + b * 32 + 4 * k;
                    const int8x16_t xl = nr16_bcast(x), xh = nr16_bcast(x + 16);
                    i1[t][0] = NFN(r16dot)(NFN(r16dot)(i1[t][0], l0, xl), u0, xh);
                    i1[t][1] = NFN(r16dot)(NFN(r16dot)(i1[t][1], l1, xl), u1, xh);
                    if (two) {
                        const int8_t *x2 = qs2 + t * n + b * 32 + 4 * k;
                        const int8x16_t xl2 = nr16_bcast(x2), xh2 = nr16_bcast(x2 + 16);
                        i2[t][0] = NFN(r16dot)(NFN(r16dot)(i2[t][0], l0, xl2), u0, xh2);
                        i2[t][1] = NFN(r16dot)(NFN(r16dot)(i2[t][1], l1, xl2), u1, xh2);
                    }
                }
            }
        }
        float32x4_t dw[2], mw[2];
        nr16_f16x8(blk + 16 * h, &dw[0], &dw[1]);
        nr16_f16x8(blk + 32 + 16 * h, &mw[0], &mw[1]);
        LT_NUNROLL for (int t = 0; t < T; t++) {
            const float dx = d[t * nb + b], sx = s[t * nb + b];
            LT_NUNROLL for (int q = 0; q < 2; q++) {
                if (L == 2) {
                    const float32x4_t p = vmulq_n_f32(vcvtq_f32_s32(i1[t][q]), dx);
                    const float32x4_t f = two ? vfmaq_n_f32(p, vcvtq_f32_s32(i2[t][q]), d2[t * nb + b]) : p;
                    acc[t][q] = vfmaq_f32(acc[t][q], f, dw[q]);
                } else {
                    acc[t][q] = vfmaq_f32(acc[t][q], vcvtq_f32_s32(i1[t][q]), vmulq_n_f32(dw[q], dx));
                }
                acc[t][q] = vfmaq_n_f32(acc[t][q], mw[q], sx);
            }
        }
    }
    LT_NUNROLL for (int t = 0; t < T; t++) { vst1q_f32(y + t * ldy, acc[t][0]); vst1q_f32(y + t * ldy + 4, acc[t][1]); }
}

/// Row groups, each in two halves of 8 rows, each half in tiles of 4 tokens (one level) or 3 (two levels:
/// twice the int32 accumulators), then the token remainder. The weights of a tile are loaded once for
/// all its tokens; a token's result does not depend on the others.
LT_NINL void NFN(r16_gemm)(const int kind, const int L, int64_t n, const uint8_t *packed, int64_t nrows,
                           const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                           int64_t ntokens, float *y, int64_t ldy) {
    const int64_t nb = n / 32, gbytes = nb * nr16_block_bytes(kind);
    // Level-2 pointers are offset only when present (qs2 is NULL for single-level activations).
#define LT_NR16ARGS(t) nb, n, grp, h, qs + (t) * n, d + (t) * nb, L == 2 ? qs2 + (t) * n : qs2, \
    L == 2 ? d2 + (t) * nb : d2, s + (t) * nb, y + (t) * ldy + g * 16 + 8 * h, ldy
    for (int64_t g = 0; g < nrows / 16; g++) {
        const uint8_t *grp = packed + g * gbytes;
        for (int h = 0; h < 2; h++) {
            int64_t t = 0;
            if (L == 2) for (; t + 3 <= ntokens; t += 3) NFN(r16_tile)(kind, L, 3, LT_NR16ARGS(t));
            else for (; t + 4 <= ntokens; t += 4) NFN(r16_tile)(kind, L, 4, LT_NR16ARGS(t));
            switch (ntokens - t) {
            case 3: NFN(r16_tile)(kind, L, 3, LT_NR16ARGS(t)); break;
            case 2: NFN(r16_tile)(kind, L, 2, LT_NR16ARGS(t)); break;
            case 1: NFN(r16_tile)(kind, L, 1, LT_NR16ARGS(t)); break;
            default: break;
            }
        }
    }
#undef LT_NR16ARGS
}

/// lt_qgemm_r16 (contract in ckernels.h) for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 packed weights; packed.c's
/// lt_qgemm_r16_at calls it at levels >= 1 (the SDOT instance at >= 2 where the CPU has the dot product).
LT_NTARGET void NFN(lt_qgemm_r16)(int dtype, int64_t n, const void *packed, int64_t nrows,
                                  const int8_t *qs, const float *d, const int8_t *qs2, const float *d2,
                                  const float *s, int64_t ntokens, float *y, int64_t ldy) {
    const uint8_t *p = (const uint8_t *)packed;
    const int kind = dtype == LT_Q8_0 ? 2 : dtype == LT_Q5_0 || dtype == LT_Q5_1 ? 1 : 0;
    switch (kind * 2 + (qs2 ? 1 : 0)) {
    case 0: NFN(r16_gemm)(0, 1, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 1: NFN(r16_gemm)(0, 2, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 2: NFN(r16_gemm)(1, 1, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 3: NFN(r16_gemm)(1, 2, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    case 4: NFN(r16_gemm)(2, 1, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    default: NFN(r16_gemm)(2, 2, n, p, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); break;
    }
}

#undef NFN
#undef LT_NINL
#undef LT_NCAT
#undef LT_NCAT2
