// Private declarations shared by the kernel translation units.
#ifndef LANTERN_KERNELS_INTERNAL_H
#define LANTERN_KERNELS_INTERNAL_H
#include "include/ckernels.h"
#include <string.h>

float lt_f16_to_f32(uint16_t h);

/// Bytes per block of a quantized kernel type (32 values, or 256 for the K-quants).
static inline int lt_block_bytes(int dtype) {
    switch (dtype) {
    case LT_Q8_0: return 34;
    case LT_Q4_0: return 18;
    case LT_Q4_1: return 20;
    case LT_Q5_0: return 22;
    case LT_Q5_1: return 24;
    case LT_Q2_K: return 84;
    case LT_Q3_K: return 110;
    case LT_Q4_K: return 144;
    case LT_Q5_K: return 176;
    default: return 210;   // LT_Q6_K
    }
}

/// One K-quant super-block in integers: x[e] = d * sc[e / 16] * q[e] - dmin * mn[e / 16].
/// (Q4_K / Q5_K scales and mins are per 32 values and appear twice; Q3_K / Q6_K have no min.)
typedef struct { int8_t q[256]; int16_t sc[16]; int16_t mn[16]; float d, dmin; } lt_kblock;
void lt_kquant_decode(int dtype, const uint8_t *block, lt_kblock *out);

void lt_quantize_q8_scalar(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void lt_quantize_q8x2_scalar(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s);
/// qs2 == NULL: single-level activations (d2 unused).
void lt_qgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy);
void lt_qgemm_r16_scalar(int dtype, int64_t n, const void *packed, int64_t nrows,
                         const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                         int64_t ntokens, float *y, int64_t ldy);
void lt_fgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const float *x, int64_t ntokens, float *y, int64_t ldy);
void lt_dequantize_scalar(int dtype, const void *src, int64_t n, float *dst);
float lt_dot_f32_scalar(const float *a, const float *b, int64_t n);
/// kv.c: lt_kv_store at an already clamped level (the F16C path at level >= 1 on x86).
void lt_kv_store_level(int level, int kvtype, const float *src, int64_t n, void *dst);
/// kv.c: lt_attend_kv at the AVX2 level (level >= 1, x86) or the scalar twin (level 0); stride in bytes.
void lt_attend_kv_below512(int level, int kvtype, const float *q, const void *k, const void *v,
                           const int32_t *table, int64_t block, int64_t stride, int64_t first, int64_t n,
                           int64_t hd, float scale, float slope, const float *bias, float *scores, float *out,
                           float *lse);
/// kv.c: the scalar softmax of lt_softmax_f32_at(0, ...), returning the log-sum-exp (max + log sum exp).
float lt_softmax_scalar_lse(float *x, int64_t n);

#if defined(__x86_64__)
#define LT_DECLARE_ISA(isa) \
    void lt_quantize_q8_##isa(const float *x, int64_t n, int8_t *qs, float *d, float *s); \
    void lt_quantize_q8x2_##isa(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s); \
    void lt_qgemm_##isa(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows, \
                        const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s, \
                        int64_t ntokens, float *y, int64_t ldy); \
    void lt_fgemm_##isa(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows, \
                        const float *x, int64_t ntokens, float *y, int64_t ldy); \
    void lt_dequantize_##isa(int dtype, const void *src, int64_t n, float *dst); \
    float lt_dot_f32_##isa(const float *a, const float *b, int64_t n); \
    void lt_axpy_f32_##isa(float a, const float *x, float *y, int64_t n); \
    float lt_sumsq_f32_##isa(const float *x, int64_t n); \
    int64_t lt_argmax_f32_##isa(const float *x, int64_t n); \
    void lt_swiglu_f32_##isa(float *gate, const float *up, int64_t n); \
    void lt_gelu_f32_##isa(float *x, int64_t n); \
    void lt_gelu_tanh_f32_##isa(float *x, const float *up, int64_t n); \
    float lt_softmax_f32_##isa(float *x, int64_t n); /* returns max + log(sum of exp): the log-sum-exp */ \
    void lt_attend_ext_f32_##isa(const float *q, const float *k, const float *v, const int32_t *table, \
                                 int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, \
                                 float slope, const float *bias, float *scores, float *out, float *lse);
#endif

/// Whether any of T second-level activation scales d2[0], d2[stride], ... is nonzero (bit patterns: d2 >= 0,
/// and `.mixed` activations store +0 where a block has one level): a packed-kernel tile may skip the second
/// level's dots of a block when this is 0.
static inline __attribute__((always_inline)) int lt_tile_has_level2(const float *d2, int64_t stride, int T) {
    uint32_t any = 0;
    for (int t = 0; t < T; t++) { uint32_t u; memcpy(&u, d2 + t * stride, 4); any |= u; }
    return any != 0;
}

/// Whether the SIMD attention kernels with `width`-float registers (16: attention512.c, 8: attention256.c)
/// take this cache type and head size: hd a multiple of the width up to 256; q8_0 rows need whole 32-value
/// blocks. The single-row and the row-tile kernels of a width take the same ones, so dispatch can tell which
/// kernel a row would get alone.
static inline int lt_attend_simd_takes(int kvtype, int64_t hd, int width) {
    return hd > 0 && hd <= 256 && hd % width == 0 &&
           (kvtype == LT_KV_F32 || kvtype == LT_KV_F16 || (kvtype == LT_KV_Q8_0 && hd % 32 == 0));
}

/// A walk over cache positions first, first + 1, ... of a paged cache (row of position j:
/// table[j / block] * block + j % block, or j without a table) that keeps a running (block, offset) pair
/// instead of dividing per key; shared by attention256.c, attention512.c and lt_attend_prefetch.
typedef struct { const int32_t *table; int64_t block, bi, off, j; } lt_kv_walk;

static inline __attribute__((always_inline)) lt_kv_walk lt_kv_walk_start(const int32_t *table, int64_t block, int64_t j) {
    lt_kv_walk w = { table, block, j / block, j % block, j };
    return w;
}

static inline __attribute__((always_inline)) int64_t lt_kv_walk_row(const lt_kv_walk *w) {
    return w->table ? (int64_t)w->table[w->bi] * w->block + w->off : w->j;
}

static inline __attribute__((always_inline)) void lt_kv_walk_next(lt_kv_walk *w) {
    w->j++;
    if (++w->off == w->block) { w->off = 0; w->bi++; }
}
/// Prefetches one head's slice of a cache row (hd values of type kt) into L1. Attention over paged cache
/// rows is otherwise bound by the latency of each row's first touch (a decode step's keys and values
/// have left the caches while the weights streamed through). Shared by attention256.c, attention512.c and
/// lt_attend_prefetch.
static inline __attribute__((always_inline)) void lt_kv_prefetch(const int kt, const uint8_t *row, int64_t hd) {
    const int64_t bytes = kt == LT_KV_F32 ? hd * 4 : kt == LT_KV_F16 ? hd * 2 : hd / 32 * 34;
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 3);
    __builtin_prefetch(row + bytes - 1, 0, 3);
}

/// Prefetches the key rows of positions j..<min(end, n); the walker `pw` is at j and moves on.
static inline __attribute__((always_inline)) void lt_kv_prefetch_keys(const int kt, const uint8_t *k, lt_kv_walk *pw,
                                                                      int64_t j, int64_t end, int64_t n,
                                                                      int64_t stride, int64_t hd) {
    for (; j < end && j < n; j++) { lt_kv_prefetch(kt, k + lt_kv_walk_row(pw) * stride, hd); lt_kv_walk_next(pw); }
}

#if defined(__x86_64__)
/// attention512.c: the 512-bit lt_attend_kv for hd % 16 == 0, hd <= 256 (stride in bytes); returns 0
/// (doing nothing) for other head sizes.
int lt_attend_kv_512(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                     int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                     float slope, const float *bias, float *scores, float *out, float *lse);
/// attention512.c: lt_attend_kv_rows for hd % 16 == 0, hd <= 256; returns 0 (nothing written) otherwise.
int lt_attend_kv_rows_512(int kvtype, int64_t rows, const float *q, int64_t qstride, const uint8_t *k, const uint8_t *v,
                          const int32_t *table, int64_t block, int64_t stride, int64_t first, const int64_t *ns,
                          int64_t hd, float scale, float slope, float *scores, int64_t sstride, float *out,
                          int64_t ostride, float *lse);
/// The 256-bit (AVX2) kernel of attention256.c; returns 0 (nothing written) for a head size it does not take.
int lt_attend_kv_256(int kvtype, const float *q, const uint8_t *k, const uint8_t *v, const int32_t *table,
                     int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                     float slope, const float *bias, float *scores, float *out, float *lse);
/// attention256.c: lt_attend_kv_rows on AVX2 for the head sizes lt_attend_kv_256 takes; 0 (nothing written)
/// otherwise or when a row has no keys.
int lt_attend_kv_rows_256(int kvtype, int64_t rows, const float *q, int64_t qstride, const uint8_t *k, const uint8_t *v,
                          const int32_t *table, int64_t block, int64_t stride, int64_t first, const int64_t *ns,
                          int64_t hd, float scale, float slope, float *scores, int64_t sstride, float *out,
                          int64_t ostride, float *lse);
LT_DECLARE_ISA(avx2)
LT_DECLARE_ISA(avx512)
LT_DECLARE_ISA(vnni)
#endif
#if defined(__aarch64__)
/// neon.c: level 1 (plain NEON) and 2 (NEON with the dot-product extension) share everything but lt_qgemm.
void lt_quantize_q8_neon(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void lt_quantize_q8x2_neon(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s);
void lt_qgemm_neon(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                   const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                   int64_t ntokens, float *y, int64_t ldy);
void lt_qgemm_neondot(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                      const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                      int64_t ntokens, float *y, int64_t ldy);
void lt_fgemm_neon(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                   const float *x, int64_t ntokens, float *y, int64_t ldy);
void lt_dequantize_neon(int dtype, const void *src, int64_t n, float *dst);
float lt_dot_f32_neon(const float *a, const float *b, int64_t n);
void lt_axpy_f32_neon(float a, const float *x, float *y, int64_t n);
float lt_sumsq_f32_neon(const float *x, int64_t n);
int64_t lt_argmax_f32_neon(const float *x, int64_t n);
void lt_swiglu_f32_neon(float *gate, const float *up, int64_t n);
void lt_gelu_f32_neon(float *x, int64_t n);
void lt_gelu_tanh_f32_neon(float *x, const float *up, int64_t n);
/// Returns the log-sum-exp of the inputs (as lt_softmax_scalar_lse).
float lt_softmax_f32_neon(float *x, int64_t n);
#endif
#endif
