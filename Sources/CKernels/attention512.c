// lt_attend_ext_f32 on 512-bit registers for head dimensions that are a multiple of 16 (64, 128, 256 in
// the models Lantern runs). Same contract and scalar twin as the AVX2 body in x86_impl.h; dispatch.c picks
// this one at level >= 2. What makes it faster than one dot and one axpy call per key:
// - scores: sixteen keys at a time, each key's dot kept as a 16-lane partial vector, then the sixteen
//   vectors summed lane-wise into one vector of sixteen scores by a transpose-and-add tree (46 shuffles and
//   adds for 16 keys instead of a horizontal sum per key);
// - values: the output row stays in registers across all keys (two interleaved sets of accumulators, so
//   the multiply-add chains overlap), instead of a load and store of the output per key;
// - no division per key: positions walk their cache blocks with a running (block, offset) pair.
#include "kernels_internal.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define A_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define A_INLINE static inline __attribute__((always_inline)) A_TARGET
#define A_UNROLL _Pragma("clang loop unroll(full)")

void lt_softmax_f32_avx512(float *x, int64_t n);

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

/// Cache row of key j and the walk to the next key.
typedef struct { const int32_t *table; int64_t block, bi, off, j; } a_walk;

A_INLINE a_walk walk_start(const int32_t *table, int64_t block, int64_t j) {
    a_walk w = { table, block, j / block, j % block, j };
    return w;
}

A_INLINE int64_t walk_row(const a_walk *w) { return w->table ? (int64_t)w->table[w->bi] * w->block + w->off : w->j; }

A_INLINE void walk_next(a_walk *w) {
    w->j++;
    if (++w->off == w->block) { w->off = 0; w->bi++; }
}

/// NC = hd / 16 chunks per row (a compile-time constant for 64 / 128 / 256; 0 means read hd at run time).
A_INLINE void attend512(const int NC, const float *q, const float *k, const float *v, const int32_t *table,
                        int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                        const float *bias, float *scores, float *out) {
    const int nc = NC ? NC : (int)(hd / 16);
    // The query stays in registers when it fits beside the 16 key accumulators.
    __m512 qv[8];
    if (NC && NC <= 8) A_UNROLL for (int c = 0; c < (NC <= 8 ? NC : 1); c++) qv[c] = _mm512_loadu_ps(q + 16 * c);
    const __m512 vscale = _mm512_set1_ps(scale), vslope = _mm512_set1_ps(slope);
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    a_walk w = walk_start(table, block, first);
    for (int64_t j0 = first; j0 < n; j0 += 16) {
        const int m = n - j0 < 16 ? (int)(n - j0) : 16;
        __m512 acc[16];
        A_UNROLL for (int i = 0; i < 16; i++) {
            acc[i] = _mm512_setzero_ps();
            if (i < m) {
                const float *kr = k + walk_row(&w) * stride;
                walk_next(&w);
                if (NC && NC <= 8) {
                    A_UNROLL for (int c = 0; c < (NC <= 8 ? NC : 1); c++) acc[i] = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(kr + 16 * c), acc[i]);
                } else {
                    for (int c = 0; c < nc; c++) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(q + 16 * c), _mm512_loadu_ps(kr + 16 * c), acc[i]);
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
    lt_softmax_f32_avx512(scores, n - first);
    // out = sum_j p_j v_j with two accumulator sets (even and odd keys), added at the end.
    __m512 o0[16], o1[16];
    for (int c = 0; c < nc; c++) { o0[c] = _mm512_setzero_ps(); o1[c] = _mm512_setzero_ps(); }
    w = walk_start(table, block, first);
    int64_t j = first;
    for (; j + 2 <= n; j += 2) {
        const float *v0 = v + walk_row(&w) * stride; walk_next(&w);
        const float *v1 = v + walk_row(&w) * stride; walk_next(&w);
        const __m512 p0 = _mm512_set1_ps(scores[j - first]), p1 = _mm512_set1_ps(scores[j + 1 - first]);
        if (NC) {
            A_UNROLL for (int c = 0; c < NC; c++) {
                o0[c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16 * c), o0[c]);
                o1[c] = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1 + 16 * c), o1[c]);
            }
        } else {
            for (int c = 0; c < nc; c++) {
                o0[c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16 * c), o0[c]);
                o1[c] = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1 + 16 * c), o1[c]);
            }
        }
    }
    if (j < n) {
        const float *v0 = v + walk_row(&w) * stride;
        const __m512 p0 = _mm512_set1_ps(scores[j - first]);
        for (int c = 0; c < nc; c++) o0[c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16 * c), o0[c]);
    }
    for (int c = 0; c < nc; c++) _mm512_storeu_ps(out + 16 * c, _mm512_add_ps(o0[c], o1[c]));
}

A_TARGET int lt_attend_ext_f32_512(const float *q, const float *k, const float *v, const int32_t *table,
                                   int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                                   float slope, const float *bias, float *scores, float *out) {
    if (hd % 16 != 0 || hd > 256 || hd <= 0) return 0;
    switch (hd) {
    case 64: attend512(4, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out); break;
    case 128: attend512(8, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out); break;
    case 256: attend512(16, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out); break;
    default: attend512(0, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out); break;
    }
    return 1;
}
#endif
