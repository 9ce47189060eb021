// lt_attend_kv (and so lt_attend_ext_f32) on 256-bit registers (AVX2 + FMA + F16C) for head dimensions
// that are a multiple of 8, reading f32, f16 or q8_0 cache rows (converted to float eight values at a
// time). Same contract and scalar twin as kv.c's; dispatch picks it at level 1 (and at level 2 where the
// 512-bit kernel declines). attention512.c's scheme on half the width:
// - scores: eight keys at a time, each key's dot kept as an 8-lane partial vector, then the eight vectors
//   summed lane-wise into one vector of eight scores (hadd tree and one 128-bit swap) instead of a
//   horizontal sum per key;
// - values: the output row (up to 64 values per pass) stays in registers across all keys;
// - no division per key: positions walk their cache blocks with a running (block, offset) pair;
// - prefetch: key rows a tile ahead, value rows while their keys are scored (lt_kv_prefetch).
#include "kernels_internal.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define B_TARGET __attribute__((target("avx2,fma,f16c")))
#define B_INLINE static inline __attribute__((always_inline)) B_TARGET
#define B_UNROLL _Pragma("clang loop unroll(full)")

float lt_softmax_f32_avx2(float *x, int64_t n);

/// Lane i of the result is the sum of the eight lanes of a[i].
B_INLINE __m256 sum8(const __m256 a[8]) {
    // [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7] for the pairs (a, b).
    const __m256 h0 = _mm256_hadd_ps(a[0], a[1]), h1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 h2 = _mm256_hadd_ps(a[4], a[5]), h3 = _mm256_hadd_ps(a[6], a[7]);
    // Lanes 0-3: low-half sums of keys 0-3 (4-7 for g1); lanes 4-7: their high-half sums.
    const __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);
    return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

/// Eight values c * 8 ..< c * 8 + 8 of a cache row stored as KT (LT_KV_F32 / F16 / Q8_0).
B_INLINE __m256 kv_load8(const int KT, const uint8_t *row, int c) {
    if (KT == LT_KV_F32) return _mm256_loadu_ps((const float *)row + 8 * c);
    if (KT == LT_KV_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 16 * c)));
    const uint8_t *b = row + (c >> 2) * 34;
    uint16_t h; memcpy(&h, b, 2);
    const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + 8 * (c & 3)))));
    return _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h)), q);
}

/// NC = hd / 8 chunks per row (a compile-time constant for 64 / 128 / 256; 0 means read hd at run time).
B_INLINE void attend256(const int NC, const int KT, const float *q, const uint8_t *k, const uint8_t *v,
                        const int32_t *table, int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd,
                        float scale, float slope, const float *bias, float *scores, float *out, float *lse) {
    const int nc = NC ? NC : (int)(hd / 8);
    const __m256 vscale = _mm256_set1_ps(scale), vslope = _mm256_set1_ps(slope);
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    lt_kv_walk w = lt_kv_walk_start(table, block, first), pw = w;
    lt_kv_prefetch_keys(KT, k, &pw, first, first + 8, n, stride, hd);
    for (int64_t j0 = first; j0 < n; j0 += 8) {
        const int m = n - j0 < 8 ? (int)(n - j0) : 8;
        lt_kv_prefetch_keys(KT, k, &pw, j0 + 8, j0 + 16, n, stride, hd);   // the next tile's keys
        __m256 acc[8];
        B_UNROLL for (int i = 0; i < 8; i++) {
            acc[i] = _mm256_setzero_ps();
            if (i < m) {
                const int64_t row = lt_kv_walk_row(&w);
                const uint8_t *kr = k + row * stride;
                lt_kv_prefetch(KT, v + row * stride, hd);   // the value pass after the softmax finds it cached
                lt_kv_walk_next(&w);
                if (NC) {
                    B_UNROLL for (int c = 0; c < NC; c++)
                        acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * c), kv_load8(KT, kr, c), acc[i]);
                } else {
                    for (int c = 0; c < nc; c++)
                        acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * c), kv_load8(KT, kr, c), acc[i]);
                }
            }
        }
        // dot * scale + slope * j (+ bias[j]), in the twin's order.
        __m256 sc = _mm256_mul_ps(sum8(acc), vscale);
        sc = _mm256_add_ps(sc, _mm256_mul_ps(vslope, _mm256_add_ps(_mm256_set1_ps((float)j0), lane)));
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        if (bias) sc = _mm256_add_ps(sc, m == 8 ? _mm256_loadu_ps(bias + j0) : _mm256_maskload_ps(bias + j0, mask));
        // A masked store costs about a dozen cycles on AMD cores: full tiles take a plain one.
        if (m == 8) _mm256_storeu_ps(scores + (j0 - first), sc);
        else _mm256_maskstore_ps(scores + (j0 - first), mask, sc);
    }
    const float l = lt_softmax_f32_avx2(scores, n - first);
    if (lse) *lse = l;
    // out = sum_j p_j v_j, 64 output values (8 registers) per pass over the keys.
    for (int c0 = 0; c0 < nc; c0 += 8) {
        const int cn = nc - c0 < 8 ? nc - c0 : 8;
        __m256 o[8];
        B_UNROLL for (int c = 0; c < 8; c++) o[c] = _mm256_setzero_ps();
        w = lt_kv_walk_start(table, block, first);
        for (int64_t j = first; j < n; j++) {
            const uint8_t *vr = v + lt_kv_walk_row(&w) * stride;
            lt_kv_walk_next(&w);
            const __m256 p = _mm256_set1_ps(scores[j - first]);
            if (NC && NC % 8 == 0) {
                B_UNROLL for (int c = 0; c < 8; c++) o[c] = _mm256_fmadd_ps(p, kv_load8(KT, vr, c0 + c), o[c]);
            } else {
                B_UNROLL for (int c = 0; c < 8; c++)
                    if (c < cn) o[c] = _mm256_fmadd_ps(p, kv_load8(KT, vr, c0 + c), o[c]);
            }
        }
        B_UNROLL for (int c = 0; c < 8; c++)
            if (c < cn) _mm256_storeu_ps(out + 8 * (c0 + c), o[c]);
    }
}

/// Up to B_ROWS query rows of one head (lt_attend_kv_rows on AVX2), each row's arithmetic exactly attend256's,
/// so a row's bits do not depend on the rows beside it:
/// - scores: each tile of 8 keys is converted to float once into kt (the values kv_load8 gives), then every
///   row computes its 8 dots from kt in attend256's order (the same fma chain per key, the same sum8 tree);
/// - softmax per row over its own keys, with its log-sum-exp; probabilities past a row's last key are 0;
/// - values: one walk over the keys in tiles of 8, each tile's value rows converted to float once into vt,
///   then every row adds them into its output (64 values in registers at a time, carried across tiles in
///   out) key by key in order, as attend256 adds them (a 0 probability adds an exact 0).
/// attend256_rows_scores takes the row count at run time; attend256_rows_values is compiled per row count
/// R (1 ... B_ROWS), so its row loops unroll without a test per row.
#define B_ROWS 8
B_INLINE int64_t attend256_rows_scores(const int NC, const int KT, const int rows, const float *q, int64_t qstride,
                                       const uint8_t *k, const uint8_t *v, const int32_t *table, int64_t block, int64_t stride,
                                       int64_t first, const int64_t *ns, int64_t hd, float scale, float slope, float *scores,
                                       int64_t sstride, float *lse) {
    const int nc = NC ? NC : (int)(hd / 8);
    int64_t nmax = first;
    for (int r = 0; r < rows; r++) nmax = ns[r] > nmax ? ns[r] : nmax;
    const __m256 vscale = _mm256_set1_ps(scale), vslope = _mm256_set1_ps(slope);
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    float kt[8 * 256] __attribute__((aligned(32)));
    lt_kv_walk w = lt_kv_walk_start(table, block, first), pw = w;
    lt_kv_prefetch_keys(KT, k, &pw, first, first + 8, nmax, stride, hd);
    for (int64_t j0 = first; j0 < nmax; j0 += 8) {
        const int m = nmax - j0 < 8 ? (int)(nmax - j0) : 8;
        lt_kv_prefetch_keys(KT, k, &pw, j0 + 8, j0 + 16, nmax, stride, hd);
        for (int i = 0; i < m; i++) {
            const int64_t row = lt_kv_walk_row(&w);
            const uint8_t *kr = k + row * stride;
            lt_kv_prefetch(KT, v + row * stride, hd);
            lt_kv_walk_next(&w);
            if (NC) { B_UNROLL for (int c = 0; c < NC; c++) _mm256_store_ps(kt + i * hd + 8 * c, kv_load8(KT, kr, c)); }
            else for (int c = 0; c < nc; c++) _mm256_store_ps(kt + i * hd + 8 * c, kv_load8(KT, kr, c));
        }
        const float jf = (float)j0;
        for (int r = 0; r < rows; r++) {
            if (ns[r] <= j0) continue;
            const int mr = ns[r] - j0 < m ? (int)(ns[r] - j0) : m;
            const float *qr = q + r * qstride;
            __m256 acc[8];
            if (NC && mr == 8) {   // a full tile: one q chunk load feeds the eight keys' chains
                B_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
                B_UNROLL for (int c = 0; c < NC; c++) {
                    const __m256 qc = _mm256_loadu_ps(qr + 8 * c);
                    B_UNROLL for (int i = 0; i < 8; i++) acc[i] = _mm256_fmadd_ps(qc, _mm256_load_ps(kt + i * hd + 8 * c), acc[i]);
                }
            } else
            B_UNROLL for (int i = 0; i < 8; i++) {
                acc[i] = _mm256_setzero_ps();
                if (i < mr) {
                    if (NC) {
                        B_UNROLL for (int c = 0; c < NC; c++)
                            acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c), _mm256_load_ps(kt + i * hd + 8 * c), acc[i]);
                    } else {
                        for (int c = 0; c < nc; c++)
                            acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c), _mm256_load_ps(kt + i * hd + 8 * c), acc[i]);
                    }
                }
            }
            __m256 sc = _mm256_mul_ps(sum8(acc), vscale);
            sc = _mm256_add_ps(sc, _mm256_mul_ps(vslope, _mm256_add_ps(_mm256_set1_ps(jf), lane)));
            if (mr == 8) _mm256_storeu_ps(scores + r * sstride + (j0 - first), sc);   // (a masked store is slow on AMD)
            else _mm256_maskstore_ps(scores + r * sstride + (j0 - first), _mm256_cmpgt_epi32(_mm256_set1_epi32(mr), lanes), sc);
        }
    }
    for (int r = 0; r < rows; r++) {
        float *sr = scores + r * sstride;
        lse[r] = lt_softmax_f32_avx2(sr, ns[r] - first);
        for (int64_t j = ns[r] - first; j < nmax - first; j++) sr[j] = 0;
    }
    return nmax;
}

B_INLINE void attend256_rows_values(const int NC, const int KT, const int R, const uint8_t *v, const int32_t *table,
                                    int64_t block, int64_t stride, int64_t first, int64_t hd, const float *scores,
                                    int64_t sstride, float *out, int64_t ostride, int64_t nmax) {
    const int nc = NC ? NC : (int)(hd / 8);
    // Keys in tiles of 8: the tile's value rows are converted to float once (vt), then each row adds them
    // into its output, up to 64 values (8 registers) at a time, key by key in order: per row and value the
    // same fma chain as attend256 (from 0, one fma per key), carried across tiles in out.
    float vt[8 * 256] __attribute__((aligned(32)));
    B_UNROLL for (int r = 0; r < R; r++)
        for (int c = 0; c < nc; c++) _mm256_storeu_ps(out + r * ostride + 8 * c, _mm256_setzero_ps());
    lt_kv_walk w = lt_kv_walk_start(table, block, first);
    for (int64_t j0 = first; j0 < nmax; j0 += 8) {
        const int m = nmax - j0 < 8 ? (int)(nmax - j0) : 8;
        for (int i = 0; i < m; i++) {
            const uint8_t *vr = v + lt_kv_walk_row(&w) * stride;
            lt_kv_walk_next(&w);
            if (NC) { B_UNROLL for (int c = 0; c < NC; c++) _mm256_store_ps(vt + i * hd + 8 * c, kv_load8(KT, vr, c)); }
            else for (int c = 0; c < nc; c++) _mm256_store_ps(vt + i * hd + 8 * c, kv_load8(KT, vr, c));
        }
        B_UNROLL for (int r = 0; r < R; r++) {
            const float *pr = scores + r * sstride + (j0 - first);
            float *orow = out + r * ostride;
            for (int c0 = 0; c0 < nc; c0 += 8) {
                const int cn = nc - c0 < 8 ? nc - c0 : 8;
                __m256 o[8];
                if (cn == 8) {
                    B_UNROLL for (int c = 0; c < 8; c++) o[c] = _mm256_loadu_ps(orow + 8 * (c0 + c));
                    for (int i = 0; i < m; i++) {
                        const __m256 p = _mm256_broadcast_ss(pr + i);
                        B_UNROLL for (int c = 0; c < 8; c++)
                            o[c] = _mm256_fmadd_ps(p, _mm256_load_ps(vt + i * hd + 8 * (c0 + c)), o[c]);
                    }
                    B_UNROLL for (int c = 0; c < 8; c++) _mm256_storeu_ps(orow + 8 * (c0 + c), o[c]);
                } else {
                    B_UNROLL for (int c = 0; c < 8; c++) if (c < cn) o[c] = _mm256_loadu_ps(orow + 8 * (c0 + c));
                    for (int i = 0; i < m; i++) {
                        const __m256 p = _mm256_broadcast_ss(pr + i);
                        B_UNROLL for (int c = 0; c < 8; c++)
                            if (c < cn) o[c] = _mm256_fmadd_ps(p, _mm256_load_ps(vt + i * hd + 8 * (c0 + c)), o[c]);
                    }
                    B_UNROLL for (int c = 0; c < 8; c++) if (c < cn) _mm256_storeu_ps(orow + 8 * (c0 + c), o[c]);
                }
            }
        }
    }
}

#define B_ROWS_CALL(NC, KT, R) attend256_rows_values(NC, KT, R, v, table, block, stride, first, hd, scores + r0 * sstride, sstride, \
                                              out + r0 * ostride, ostride, nmax)
/// The scores and softmax once per head size and element type (rows counted at run time), the value pass
/// compiled per row count.
#define B_ROWS_R(NC, KT) { \
    const int64_t nmax = attend256_rows_scores(NC, KT, nr, qr, qstride, k, v, table, block, stride, first, ns + r0, hd, scale, \
                                           slope, scores + r0 * sstride, sstride, lse + r0); \
    switch (nr) { \
    case 1: B_ROWS_CALL(NC, KT, 1); break; case 2: B_ROWS_CALL(NC, KT, 2); break; \
    case 3: B_ROWS_CALL(NC, KT, 3); break; case 4: B_ROWS_CALL(NC, KT, 4); break; \
    case 5: B_ROWS_CALL(NC, KT, 5); break; case 6: B_ROWS_CALL(NC, KT, 6); break; \
    case 7: B_ROWS_CALL(NC, KT, 7); break; default: B_ROWS_CALL(NC, KT, 8); break; \
    } }
#define B_ROWS_SWITCH(KT) \
    switch (hd) { \
    case 64: B_ROWS_R(8, KT) break; \
    case 128: B_ROWS_R(16, KT) break; \
    default: B_ROWS_R(0, KT) break; \
    }

/// lt_attend_kv_rows on AVX2 for the head sizes lt_attend_kv_256 takes; 0 (nothing written) otherwise or when
/// a row has no keys.
B_TARGET int lt_attend_kv_rows_256(int kvtype, int64_t rows, const float *q, int64_t qstride, const uint8_t *k,
                                   const uint8_t *v, const int32_t *table, int64_t block, int64_t stride, int64_t first,
                                   const int64_t *ns, int64_t hd, float scale, float slope, float *scores,
                                   int64_t sstride, float *out, int64_t ostride, float *lse) {
    if (!lt_attend_simd_takes(kvtype, hd, 8)) return 0;
    for (int64_t r = 0; r < rows; r++) if (ns[r] <= first) return 0;
    for (int64_t r0 = 0; r0 < rows; r0 += B_ROWS) {
        const int nr = rows - r0 < B_ROWS ? (int)(rows - r0) : B_ROWS;
        const float *qr = q + r0 * qstride;
        switch (kvtype) {
        case LT_KV_F32: B_ROWS_SWITCH(LT_KV_F32) break;
        case LT_KV_F16: B_ROWS_SWITCH(LT_KV_F16) break;
        default: B_ROWS_SWITCH(LT_KV_Q8_0) break;
        }
    }
    return 1;
}

#define B_SWITCH(KT) \
    switch (hd) { \
    case 64: attend256(8, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    case 128: attend256(16, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    case 256: attend256(32, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    default: attend256(0, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    }

B_TARGET int lt_attend_kv_256(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                              int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                              float slope, const float *bias, float *scores, float *out, float *lse) {
    if (!lt_attend_simd_takes(kvtype, hd, 8) || n <= first) return 0;
    switch (kvtype) {
    case LT_KV_F32: B_SWITCH(LT_KV_F32) break;
    case LT_KV_F16: B_SWITCH(LT_KV_F16) break;
    case LT_KV_Q8_0: B_SWITCH(LT_KV_Q8_0) break;
    default: return 0;
    }
    return 1;
}
#endif
