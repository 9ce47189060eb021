// lt_attend_kv (and so lt_attend_ext_f32) on 512-bit registers for head dimensions that are a multiple of
// 16 (64, 128, 256 in the models Lantern runs), reading f32, f16 or q8_0 cache rows (converted to float
// sixteen values at a time). Same contract and scalar twin as kv.c's; dispatch picks this one at level >= 2. What makes it faster than one dot and one axpy call per key:
// - scores: sixteen keys at a time, each key's dot kept as a 16-lane partial vector, then the sixteen
//   vectors summed lane-wise into one vector of sixteen scores by a transpose-and-add tree (46 shuffles and
//   adds for 16 keys instead of a horizontal sum per key);
// - values: the output row stays in registers across all keys (two interleaved sets of accumulators, so
//   the multiply-add chains overlap), instead of a load and store of the output per key;
// - no division per key: positions walk their cache blocks with a running (block, offset) pair;
// - prefetch: key rows a tile ahead, value rows while their keys are scored (lt_kv_prefetch).
#include "kernels_internal.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define A_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define A_INLINE static inline __attribute__((always_inline)) A_TARGET
#define A_UNROLL _Pragma("clang loop unroll(full)")

float lt_softmax_f32_avx512(float *x, int64_t n);

/// Lane i of the result is the sum of the sixteen lanes of a[i].
A_INLINE __m512 sum16(const __m512 a[16]) {
    __m512 r1[8], r2[4], r3[2];
    // a's 128-bit quarters q0..q3: [a.q0 + a.q2, a.q1 + a.q3, b.q0 + b.q2, b.q1 + b.q3].
    A_UNROLL for (int p = 0; p < 8; p++)
        r1[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    // Quarter i of r2[p]: four partials of key 4p + i.
    A_UNROLL for (int p = 0; p < 4; p++)
        r2[p] = _mm512_add_ps(_mm512_shuffle_f32x4(r1[2 * p], r1[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(r1[2 * p], r1[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    // Lane i of r3[p]: [key 8p + i (two partials), key 8p + 4 + i (two partials)].
    A_UNROLL for (int p = 0; p < 2; p++)
        r3[p] = _mm512_add_ps(_mm512_shuffle_ps(r2[2 * p], r2[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_ps(r2[2 * p], r2[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    // Element 4i + t holds key 4t + i.
    const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(r3[0], r3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(r3[0], r3[1], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), s);
}

/// Sixteen values c * 16 ..< c * 16 + 16 of a cache row stored as KT (LT_KV_F32 / F16 / Q8_0).
A_INLINE __m512 kv_load(const int KT, const uint8_t *row, int c) {
    if (KT == LT_KV_F32) return _mm512_loadu_ps((const float *)row + 16 * c);
    if (KT == LT_KV_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 32 * c)));
    const uint8_t *b = row + (c >> 1) * 34;
    uint16_t h; memcpy(&h, b, 2);
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 2 + 16 * (c & 1)))));
    return _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(h)), q);
}

/// NC = hd / 16 chunks per row (a compile-time constant for 64 / 128 / 256; 0 means read hd at run time).
/// KT: the cache's element type; k, v, stride in bytes.
A_INLINE void attend512(const int NC, const int KT, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                        int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                        const float *bias, float *scores, float *out, float *lse) {
    const int nc = NC ? NC : (int)(hd / 16);
    // The query stays in registers when it fits beside the 16 key accumulators.
    __m512 qv[8];
    if (NC && NC <= 8) A_UNROLL for (int c = 0; c < (NC <= 8 ? NC : 1); c++) qv[c] = _mm512_loadu_ps(q + 16 * c);
    const __m512 vscale = _mm512_set1_ps(scale), vslope = _mm512_set1_ps(slope);
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    lt_kv_walk w = lt_kv_walk_start(table, block, first), pw = w;
    lt_kv_prefetch_keys(KT, k, &pw, first, first + 16, n, stride, hd);
    for (int64_t j0 = first; j0 < n; j0 += 16) {
        const int m = n - j0 < 16 ? (int)(n - j0) : 16;
        lt_kv_prefetch_keys(KT, k, &pw, j0 + 16, j0 + 32, n, stride, hd);
        __m512 acc[16];
        A_UNROLL for (int i = 0; i < 16; i++) {
            acc[i] = _mm512_setzero_ps();
            if (i < m) {
                const int64_t row = lt_kv_walk_row(&w);
                const uint8_t *kr = k + row * stride;
                lt_kv_prefetch(KT, v + row * stride, hd);   // the value pass after the softmax finds it cached
                lt_kv_walk_next(&w);
                if (NC && NC <= 8) {
                    A_UNROLL for (int c = 0; c < (NC <= 8 ? NC : 1); c++) acc[i] = _mm512_fmadd_ps(qv[c], kv_load(KT, kr, c), acc[i]);
                } else {
                    for (int c = 0; c < nc; c++) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(q + 16 * c), kv_load(KT, kr, c), acc[i]);
                }
            }
        }
        // dot * scale + slope * j (+ bias[j]), in the twin's order.
        __m512 sc = _mm512_mul_ps(sum16(acc), vscale);
        sc = _mm512_add_ps(sc, _mm512_mul_ps(vslope, _mm512_add_ps(_mm512_set1_ps((float)j0), lane)));
        const __mmask16 mask = (__mmask16)((1u << m) - 1u);
        if (bias) sc = _mm512_add_ps(sc, _mm512_maskz_loadu_ps(mask, bias + j0));
        _mm512_mask_storeu_ps(scores + (j0 - first), mask, sc);
    }
    const float l = lt_softmax_f32_avx512(scores, n - first);
    if (lse) *lse = l;
    // out = sum_j p_j v_j with two accumulator sets (even and odd keys), added at the end.
    __m512 o0[16], o1[16];
    for (int c = 0; c < nc; c++) { o0[c] = _mm512_setzero_ps(); o1[c] = _mm512_setzero_ps(); }
    w = lt_kv_walk_start(table, block, first);
    int64_t j = first;
    for (; j + 2 <= n; j += 2) {
        const uint8_t *v0 = v + lt_kv_walk_row(&w) * stride; lt_kv_walk_next(&w);
        const uint8_t *v1 = v + lt_kv_walk_row(&w) * stride; lt_kv_walk_next(&w);
        const __m512 p0 = _mm512_set1_ps(scores[j - first]), p1 = _mm512_set1_ps(scores[j + 1 - first]);
        if (NC) {
            A_UNROLL for (int c = 0; c < NC; c++) {
                o0[c] = _mm512_fmadd_ps(p0, kv_load(KT, v0, c), o0[c]);
                o1[c] = _mm512_fmadd_ps(p1, kv_load(KT, v1, c), o1[c]);
            }
        } else {
            for (int c = 0; c < nc; c++) {
                o0[c] = _mm512_fmadd_ps(p0, kv_load(KT, v0, c), o0[c]);
                o1[c] = _mm512_fmadd_ps(p1, kv_load(KT, v1, c), o1[c]);
            }
        }
    }
    if (j < n) {
        const uint8_t *v0 = v + lt_kv_walk_row(&w) * stride;
        const __m512 p0 = _mm512_set1_ps(scores[j - first]);
        for (int c = 0; c < nc; c++) o0[c] = _mm512_fmadd_ps(p0, kv_load(KT, v0, c), o0[c]);
    }
    for (int c = 0; c < nc; c++) _mm512_storeu_ps(out + 16 * c, _mm512_add_ps(o0[c], o1[c]));
}

/// Instantiates one head-size switch per element type.
#define A_SWITCH(KT) \
    switch (hd) { \
    case 64: attend512(4, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    case 128: attend512(8, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    case 256: attend512(16, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    default: attend512(0, KT, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out, lse); break; \
    }

A_TARGET int lt_attend_kv_512(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                              int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                              float slope, const float *bias, float *scores, float *out, float *lse) {
    if (!lt_attend_simd_takes(kvtype, hd, 16)) return 0;
    switch (kvtype) {
    case LT_KV_F32: A_SWITCH(LT_KV_F32) break;
    case LT_KV_F16: A_SWITCH(LT_KV_F16) break;
    case LT_KV_Q8_0: A_SWITCH(LT_KV_Q8_0) break;
    default: return 0;
    }
    return 1;
}

/// Up to A_ROWS query rows of one head (lt_attend_kv_rows), each row's arithmetic exactly attend512's:
/// - scores: each tile of 16 keys is converted to float once into kt (the values kv_load gives), then every
///   row computes its 16 dots from kt in attend512's order (the same fma chain per key, the same sum16 tree);
/// - softmax per row over its own keys, with its log-sum-exp; probabilities past a row's last key are 0;
/// - values: one pass over the keys per 16-value chunk c, each value chunk loaded once and added into every
///   row's even / odd accumulators of that chunk, as attend512 adds them (a 0 probability adds an exact 0).
#define A_ROWS 8
/// Scores and softmax of the tile's rows (their count at run time); full 16-key tiles of a row take a path
/// without per-key tests. Returns the longest row's end.
A_INLINE int64_t attend512_rows_scores(const int NC, const int KT, const int rows, const float *q, int64_t qstride,
                                       const uint8_t *k, const uint8_t *v, const int32_t *table, int64_t block, int64_t stride,
                                       int64_t first, const int64_t *ns, int64_t hd, float scale, float slope, float *scores,
                                       int64_t sstride, float *lse) {
    const int nc = NC ? NC : (int)(hd / 16);
    int64_t nmax = first;
    for (int r = 0; r < rows; r++) nmax = ns[r] > nmax ? ns[r] : nmax;
    const __m512 vscale = _mm512_set1_ps(scale), vslope = _mm512_set1_ps(slope);
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    float kt[16 * 256] __attribute__((aligned(64)));
    lt_kv_walk w = lt_kv_walk_start(table, block, first), pw = w;
    lt_kv_prefetch_keys(KT, k, &pw, first, first + 16, nmax, stride, hd);
    for (int64_t j0 = first; j0 < nmax; j0 += 16) {
        const int m = nmax - j0 < 16 ? (int)(nmax - j0) : 16;
        lt_kv_prefetch_keys(KT, k, &pw, j0 + 16, j0 + 32, nmax, stride, hd);
        for (int i = 0; i < m; i++) {
            const int64_t row = lt_kv_walk_row(&w);
            const uint8_t *kr = k + row * stride;
            lt_kv_prefetch(KT, v + row * stride, hd);
            lt_kv_walk_next(&w);
            for (int c = 0; c < nc; c++) _mm512_store_ps(kt + i * hd + 16 * c, kv_load(KT, kr, c));
        }
        const float jf = (float)j0;
        for (int r = 0; r < rows; r++) {
            if (ns[r] <= j0) continue;
            const int mr = ns[r] - j0 < m ? (int)(ns[r] - j0) : m;
            const float *qr = q + r * qstride;
            __m512 acc[16];
            if (mr == 16 && NC) {
                __m512 qv[8];
                A_UNROLL for (int c = 0; c < NC; c++) qv[c] = _mm512_loadu_ps(qr + 16 * c);
                A_UNROLL for (int i = 0; i < 16; i++) {
                    acc[i] = _mm512_setzero_ps();
                    A_UNROLL for (int c = 0; c < NC; c++)
                        acc[i] = _mm512_fmadd_ps(qv[c], _mm512_load_ps(kt + i * hd + 16 * c), acc[i]);
                }
            } else {
                A_UNROLL for (int i = 0; i < 16; i++) {
                    acc[i] = _mm512_setzero_ps();
                    if (i < mr) {
                        if (NC) {
                            A_UNROLL for (int c = 0; c < NC; c++)
                                acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(qr + 16 * c), _mm512_load_ps(kt + i * hd + 16 * c), acc[i]);
                        } else {
                            for (int c = 0; c < nc; c++)
                                acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(qr + 16 * c), _mm512_load_ps(kt + i * hd + 16 * c), acc[i]);
                        }
                    }
                }
            }
            __m512 sc = _mm512_mul_ps(sum16(acc), vscale);
            sc = _mm512_add_ps(sc, _mm512_mul_ps(vslope, _mm512_add_ps(_mm512_set1_ps(jf), lane)));
            _mm512_mask_storeu_ps(scores + r * sstride + (j0 - first), (__mmask16)((1u << mr) - 1u), sc);
        }
    }
    for (int r = 0; r < rows; r++) {
        float *sr = scores + r * sstride;
        lse[r] = lt_softmax_f32_avx512(sr, ns[r] - first);
        for (int64_t j = ns[r] - first; j < nmax - first; j++) sr[j] = 0;
    }
    return nmax;
}

/// The value pass: R (1 ... A_ROWS) is the tile's row count as a compile-time constant, so the row loops
/// unroll without a test per row and key. With few rows and narrow heads (R * NC <= 12: a decode group of 3
/// query heads of 64 values) every chunk goes in one walk over the keys (each accumulator still adds its
/// keys in the same order).
A_INLINE void attend512_rows_values(const int NC, const int KT, const int R, const uint8_t *v, const int32_t *table,
                                    int64_t block, int64_t stride, int64_t first, int64_t hd, const float *scores,
                                    int64_t sstride, float *out, int64_t ostride, int64_t nmax) {
    const int nc = NC ? NC : (int)(hd / 16);
    lt_kv_walk w;
    if (NC && NC * R <= 12) {
        // Every chunk of every row in registers: one walk over the keys.
        __m512 o0[12], o1[12];   // [r * NC + c]
        A_UNROLL for (int i = 0; i < 12; i++) if (i < R * NC) { o0[i] = _mm512_setzero_ps(); o1[i] = _mm512_setzero_ps(); }
        w = lt_kv_walk_start(table, block, first);
        int64_t j = first;
        for (; j + 2 <= nmax; j += 2) {
            const uint8_t *v0 = v + lt_kv_walk_row(&w) * stride; lt_kv_walk_next(&w);
            const uint8_t *v1 = v + lt_kv_walk_row(&w) * stride; lt_kv_walk_next(&w);
            A_UNROLL for (int c = 0; c < NC; c++) {
                const __m512 x0 = kv_load(KT, v0, c), x1 = kv_load(KT, v1, c);
                A_UNROLL for (int r = 0; r < R; r++) {
                    o0[r * NC + c] = _mm512_fmadd_ps(_mm512_set1_ps(scores[r * sstride + j - first]), x0, o0[r * NC + c]);
                    o1[r * NC + c] = _mm512_fmadd_ps(_mm512_set1_ps(scores[r * sstride + j + 1 - first]), x1, o1[r * NC + c]);
                }
            }
        }
        if (j < nmax) {
            const uint8_t *v0 = v + lt_kv_walk_row(&w) * stride;
            A_UNROLL for (int c = 0; c < NC; c++) {
                const __m512 x0 = kv_load(KT, v0, c);
                A_UNROLL for (int r = 0; r < R; r++)
                    o0[r * NC + c] = _mm512_fmadd_ps(_mm512_set1_ps(scores[r * sstride + j - first]), x0, o0[r * NC + c]);
            }
        }
        A_UNROLL for (int r = 0; r < R; r++) A_UNROLL for (int c = 0; c < NC; c++)
            _mm512_storeu_ps(out + r * ostride + 16 * c, _mm512_add_ps(o0[r * NC + c], o1[r * NC + c]));
        return;
    }
    for (int c = 0; c < nc; c++) {
        __m512 o0[A_ROWS], o1[A_ROWS];
        A_UNROLL for (int r = 0; r < R; r++) { o0[r] = _mm512_setzero_ps(); o1[r] = _mm512_setzero_ps(); }
        w = lt_kv_walk_start(table, block, first);
        int64_t j = first;
        for (; j + 2 <= nmax; j += 2) {
            const uint8_t *v0 = v + lt_kv_walk_row(&w) * stride; lt_kv_walk_next(&w);
            const uint8_t *v1 = v + lt_kv_walk_row(&w) * stride; lt_kv_walk_next(&w);
            const __m512 x0 = kv_load(KT, v0, c), x1 = kv_load(KT, v1, c);
            A_UNROLL for (int r = 0; r < R; r++) {
                o0[r] = _mm512_fmadd_ps(_mm512_set1_ps(scores[r * sstride + j - first]), x0, o0[r]);
                o1[r] = _mm512_fmadd_ps(_mm512_set1_ps(scores[r * sstride + j + 1 - first]), x1, o1[r]);
            }
        }
        if (j < nmax) {
            const __m512 x0 = kv_load(KT, v + lt_kv_walk_row(&w) * stride, c);
            A_UNROLL for (int r = 0; r < R; r++)
                o0[r] = _mm512_fmadd_ps(_mm512_set1_ps(scores[r * sstride + j - first]), x0, o0[r]);
        }
        A_UNROLL for (int r = 0; r < R; r++) _mm512_storeu_ps(out + r * ostride + 16 * c, _mm512_add_ps(o0[r], o1[r]));
    }
}

#define A_ROWS_CALL(NC, KT, R) attend512_rows_values(NC, KT, R, v, table, block, stride, first, hd, scores + r0 * sstride, sstride, \
                                              out + r0 * ostride, ostride, nmax)
/// The scores and softmax once per head size and element type (rows counted at run time), the value pass
/// compiled per row count.
#define A_ROWS_R(NC, KT) { \
    const int64_t nmax = attend512_rows_scores(NC, KT, nr, qr, qstride, k, v, table, block, stride, first, ns + r0, hd, scale, \
                                           slope, scores + r0 * sstride, sstride, lse + r0); \
    switch (nr) { \
    case 1: A_ROWS_CALL(NC, KT, 1); break; case 2: A_ROWS_CALL(NC, KT, 2); break; \
    case 3: A_ROWS_CALL(NC, KT, 3); break; case 4: A_ROWS_CALL(NC, KT, 4); break; \
    case 5: A_ROWS_CALL(NC, KT, 5); break; case 6: A_ROWS_CALL(NC, KT, 6); break; \
    case 7: A_ROWS_CALL(NC, KT, 7); break; default: A_ROWS_CALL(NC, KT, 8); break; \
    } }
#define A_ROWS_SWITCH(KT) \
    switch (hd) { \
    case 64: A_ROWS_R(4, KT) break; \
    case 128: A_ROWS_R(8, KT) break; \
    default: A_ROWS_R(0, KT) break; \
    }

A_TARGET int lt_attend_kv_rows_512(int kvtype, int64_t rows, const float *q, int64_t qstride, const uint8_t *k,
                                   const uint8_t *v, const int32_t *table, int64_t block, int64_t stride, int64_t first,
                                   const int64_t *ns, int64_t hd, float scale, float slope, float *scores,
                                   int64_t sstride, float *out, int64_t ostride, float *lse) {
    if (!lt_attend_simd_takes(kvtype, hd, 16)) return 0;
    for (int64_t r = 0; r < rows; r++) if (ns[r] <= first) return 0;
    for (int64_t r0 = 0; r0 < rows; r0 += A_ROWS) {
        const int nr = rows - r0 < A_ROWS ? (int)(rows - r0) : A_ROWS;
        const float *qr = q + r0 * qstride;
        switch (kvtype) {
        case LT_KV_F32: A_ROWS_SWITCH(LT_KV_F32) break;
        case LT_KV_F16: A_ROWS_SWITCH(LT_KV_F16) break;
        default: A_ROWS_SWITCH(LT_KV_Q8_0) break;
        }
    }
    return 1;
}
#endif
