#ifndef LANTERN_CKERNELS_H
#define LANTERN_CKERNELS_H
#include <stdint.h>
#include <stddef.h>

/*
 * Innermost loops of Lantern's tensor ops. No allocation, no threads, no knowledge of tensors.
 *
 * Every entry point dispatches at run time on the CPU's instruction set. The `*_at` variants take the
 * level explicitly (clamped to what the CPU supports) so tests can compare every path against the
 * scalar one without touching global state.
 *
 * Activations for quantized dot products ("q8 activations") are kept in three parallel arrays per
 * row of n values (n a multiple of 32, nb = n / 32 blocks):
 *   qs[n]  int8 values in [-127, 127]
 *   d[nb]  float scale of each block: x ~= d * q, d = max|x| / 127 over the block
 *   s[nb]  float d * sum(q) over the block (the term Q4_0 / Q4_1 weights need for their offset)
 * Keeping qs contiguous lets SIMD code load 32 or 64 activation bytes at once.
 *
 * Two-level ("residual") q8 activations add a second int8 level for what the first one rounded away:
 *   qs, d   level 1 as above: q1 = round(x / d), d = max|x| / 127
 *   qs2[n]  level 2: q2 = round(r / d2) with r = x - d * q1 (one fused multiply-add)
 *   d2[nb]  d2 = max|r| / 127 over the block
 *   s[nb]   d * sum(q1) + d2 * sum(q2)
 * so x ~= d * q1 + d2 * q2 with |error| <= max|r| / 254 <= max|x| / 254^2 per value, about 250x below the
 * single level. The dot kernels unpack each weight block once and run it against both levels.
 */

/// Highest instruction-set level usable on this CPU: 0 scalar; x86-64: 1 AVX2+FMA+F16C, 2 AVX-512F/BW/VL,
/// 3 AVX-512 VNNI; aarch64: 1 NEON, 2 NEON with the dot-product extension (SDOT, FEAT_DotProd; read at run
/// time from the Linux auxiliary vector or macOS sysctl). On aarch64 the packed r16 layout runs NEON kernels
/// at both levels (lt_qgemm_r16_fast() is 1) and attention runs its scalar path.
int lt_cpu_level(void);

/// Weight element types understood by the kernels; values match nothing on disk.
enum {
    LT_F32 = 0, LT_F16 = 1, LT_BF16 = 2, LT_Q8_0 = 3, LT_Q4_0 = 4, LT_Q4_1 = 5,
    LT_Q5_0 = 6, LT_Q5_1 = 7, LT_Q2_K = 8, LT_Q3_K = 9, LT_Q4_K = 10, LT_Q5_K = 11, LT_Q6_K = 12
};

/// Quantizes `n` floats (n % 32 == 0) to q8 activations (layout above). Rounds to nearest even.
void lt_quantize_q8(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void lt_quantize_q8_at(int level, const float *x, int64_t n, int8_t *qs, float *d, float *s);

/// Quantizes `n` floats (n % 32 == 0) to two-level q8 activations (layout above). Bit-identical on every
/// level: r uses one fused multiply-add, d * sum(q1) and d2 * sum(q2) are rounded separately, then added.
void lt_quantize_q8x2(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s);
void lt_quantize_q8x2_at(int level, const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2,
                         float *s);

/// Two-level q8 activations (layout above) with the second level kept only in outlier blocks: block b keeps
/// both levels when d[b] >= tau * sqrt(mean over the row's blocks of d^2) (the squares summed by fused
/// multiply-adds in block order), bit for bit `lt_quantize_q8x2`'s block; elsewhere it is single-level:
/// q2 = 0, d2 = 0 and s = d * sum(q), bit for bit `lt_quantize_q8`'s. The same result on every level.
void lt_quantize_q8x2_mixed(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s,
                            float tau);
void lt_quantize_q8x2_mixed_at(int level, const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2,
                               float *s, float tau);

/// y[t * ldy + r] = dot(weight row r, activation row t) for r < nrows, t < ntokens.
/// `w` points at row 0 of a quantized matrix (any LT_Q* type) with `ldw` bytes per row and `n` values per
/// row (n % 32 == 0; n % 256 == 0 for the K-quants). Activation row t is qs + t * n, d + t * n / 32,
/// s + t * n / 32.
/// Rows are processed in tiles of up to 4 rows x 4 tokens so each weight block is unpacked once per tile.
/// Per 32-value activation block the integer dot with the weights is exact; float factors are applied per
/// block: Q8_0 / Q4_0 / Q5_0 d_w * d_x * isum (Q4_0's -8, Q5_0's -16 inside isum); Q4_1 / Q5_1 add m_w * s;
/// K-quants (a 256-value super-block spans 8 activation blocks) d * d_x * sum(sc * q * x) over the
/// block's sub-blocks (32 values for Q4_K / Q5_K, 16 for Q2_K / Q3_K / Q6_K), minus dmin * m * s for
/// Q4_K / Q5_K (one min per 32 values) or dmin * d_x * sum(m * x) for Q2_K (per 16 values).
void lt_qgemm(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
              const int8_t *qs, const float *d, const float *s, int64_t ntokens,
              float *y, int64_t ldy);
void lt_qgemm_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                 const int8_t *qs, const float *d, const float *s, int64_t ntokens,
                 float *y, int64_t ldy);

/// lt_qgemm against two-level activations (qs2 + t * n, d2 + t * n / 32 for row t; s holds both levels).
/// Per block: scale_w * (d * isum(w, q1) + d2 * isum(w, q2)) (+ min_w * s for Q4_1); weight bytes are read
/// and unpacked once for both levels, so memory traffic is that of lt_qgemm and integer work doubles.
void lt_qgemm_x2(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                 const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                 int64_t ntokens, float *y, int64_t ldy);
void lt_qgemm_x2_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                    const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                    int64_t ntokens, float *y, int64_t ldy);

/*
 * Row-interleaved ("r16") quantized weights for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0, repacked once at load.
 * A [nrows, n] matrix (nrows % 16 == 0, n % 32 == 0) becomes nrows / 16 row groups, each nb = n / 32
 * packed blocks in order; one packed block holds 32 values of 16 rows:
 *   [0, 32)    16 f16 scales d_r
 *   [32, 64)   16 f16 offsets m_r, so that value = d_r * u + m_r for the unsigned code u
 *              (Q4_1 / Q5_1: their min; Q4_0: -8 d; Q5_0: -16 d; Q8_0: -128 d with u = q + 128)
 *   4-/5-bit:  [64, 320) four 64-byte vectors k = 0..3; bytes 4r..4r+3 of vector k are bytes 4k..4k+3 of
 *              row r's 16 nibble bytes (low nibbles values 4k..4k+3, high nibbles 16+4k..16+4k+3)
 *   5-bit:     [320, 384) eight u64 masks, index 2k + h: bit 4r + j = bit 16h + 4k + j of row r's qh
 *   8-bit:     [64, 576) eight 64-byte vectors k = 0..7; bytes 4r..4r+3 are row r's codes 4k..4k+3
 * So one 512-bit load holds four consecutive codes of all 16 rows, and vpdpbusd against four activation
 * bytes broadcast to every lane adds 16 rows' partial dots at once, with no horizontal sums (on aarch64
 * four 128-bit SDOTs, Q8_0's codes as u ^ 0x80 plus 128 * the block's activation sum). Packed
 * blocks are 320 / 384 / 576 bytes for 16 rows against 288-320 / 352-384 / 544 as stored.
 */
/// Bytes of the packed form, or 0 when the type, n or nrows has none.
int64_t lt_pack_r16_bytes(int dtype, int64_t n, int64_t nrows);
/// Packs `nrows` rows (ldw bytes apart) into dst (lt_pack_r16_bytes bytes). Returns 0, leaving dst
/// unspecified, when the matrix has no packed form or an implied offset (-8 d, -16 d, -128 d) is not
/// exactly an f16 (a scale of several hundred: no real model has one), 1 otherwise.
int lt_pack_r16(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows, void *dst);
/// Row `row` of a packed matrix as n floats (the values the stored blocks encode).
void lt_dequantize_r16(int dtype, int64_t n, const void *packed, int64_t row, float *dst);
/// lt_qgemm / lt_qgemm_x2 (qs2 == NULL: one level) over packed weights; nrows % 16 == 0 and `packed`
/// points at a row group. Per row, token and block: isum = exact integer dot of the codes with the
/// activation bytes; one level: acc = fma(isum, d_w * d_x, acc); two levels: acc = fma(fma(isum2, d2_x,
/// isum1 * d_x), d_w, acc); then acc = fma(m_w, s_x, acc). The SIMD path and the scalar twin take these
/// steps in this order, so they agree bit for bit, and a token's result does not depend on the others.
void lt_qgemm_r16(int dtype, int64_t n, const void *packed, int64_t nrows,
                  const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                  int64_t ntokens, float *y, int64_t ldy);
/// x86-64: level 3 runs the AVX-512 VNNI kernel where the CPU has it, levels 1-2 (or 3 on a CPU without
/// VNNI) the AVX2 kernel (8 rows per 256-bit half of a packed vector, vpmaddubsw). aarch64: levels 2-3 run
/// the SDOT kernel where the CPU has the dot product, level 1 (or 2-3 without it) the plain NEON kernel
/// (vmull_s8 + pairwise adds); both take 8 rows per 32-byte half of a packed vector (two int32x4 of rows).
/// Level 0 runs the scalar twin.
void lt_qgemm_r16_at(int level, int dtype, int64_t n, const void *packed, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy);
/// Whether lt_qgemm_r16 has a SIMD path on this CPU (x86-64 with AVX2, or any aarch64 CPU: NEON;
/// otherwise packing would only slow matmuls down).
int lt_qgemm_r16_fast(void);

/// Same contract as lt_qgemm for F32 / F16 / BF16 weights against float activations x (row t at x + t * n).
void lt_fgemm(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
              const float *x, int64_t ntokens, float *y, int64_t ldy);
void lt_fgemm_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                 const float *x, int64_t ntokens, float *y, int64_t ldy);

/// Expands `n` values of `dtype` (n a multiple of the block size) at `src` into float32.
void lt_dequantize(int dtype, const void *src, int64_t n, float *dst);
void lt_dequantize_at(int level, int dtype, const void *src, int64_t n, float *dst);

/// Float32 helpers.
float lt_dot_f32(const float *a, const float *b, int64_t n);
/// y[i] += a * x[i]
void lt_axpy_f32(float a, const float *x, float *y, int64_t n);
/// sum of x[i]^2
float lt_sumsq_f32(const float *x, int64_t n);
/// gate[i] = silu(gate[i]) * up[i]; SIMD exp within ~2 ulp, see x86_impl.h.
void lt_swiglu_f32(float *gate, const float *up, int64_t n);
/// Index of the first largest value of x[0 ..< n] (greedy sampling): NaNs are skipped, and 0 when no value
/// is above -infinity (all -inf or NaN, or n < 1), as a loop that keeps the first strictly larger value does.
int64_t lt_argmax_f32(const float *x, int64_t n);
int64_t lt_argmax_f32_at(int level, const float *x, int64_t n);
void lt_swiglu_f32_at(int level, float *gate, const float *up, int64_t n);
/// In place: x[i] = gelu(x[i]) = 0.5 x (1 + erf(x / sqrt 2)) (exact GELU, BERT). The SIMD paths use
/// erfc(z) ~ poly(t) exp(-z^2), t = 1 / (1 + p z) (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7) on
/// |x| so negative inputs avoid the 1 + erf cancellation: |gelu error| <= 2e-7 * max(1, |x|) + float
/// rounding. The scalar path calls erff.
void lt_gelu_f32(float *x, int64_t n);
void lt_gelu_f32_at(int level, float *x, int64_t n);
/// In place: x[i] = gelu_tanh(x[i]) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), times up[i] when
/// up is not NULL (GeGLU: Gemma, T5 v1.1; plain: GPT-2, BLOOM). The SIMD path computes it as
/// x / (1 + exp(-2u)): within 4e-7 relative of the tanh form plus 1e-30 (tested).
void lt_gelu_tanh_f32(float *x, const float *up, int64_t n);
void lt_gelu_tanh_f32_at(int level, float *x, const float *up, int64_t n);
/// In-place numerically stable softmax; -inf inputs give exactly 0.
void lt_softmax_f32(float *x, int64_t n);
void lt_softmax_f32_at(int level, float *x, int64_t n);
/// One attention head over n cached positions:
///   scores[j] = scale * dot(q, k + j * stride) (hd values), softmax over j < n,
///   out[0..<hd] = sum_j scores[j] * (v + j * stride)[0..<hd].
/// `scores` is caller scratch of n floats and holds the probabilities afterwards.
void lt_attend_f32(const float *q, const float *k, const float *v, int64_t stride, int64_t n,
                   int64_t hd, float scale, float *scores, float *out);
void lt_attend_f32_at(int level, const float *q, const float *k, const float *v, int64_t stride, int64_t n,
                      int64_t hd, float scale, float *scores, float *out);

/// Attention of one head over keys first..<n that may live in a paged cache, with an additive bias:
///   row(j) = table ? table[j / block] * block + j % block : j        (table: block ids of a sequence)
///   scores[j - first] = scale * dot(q, k + row(j) * stride) + slope * j + (bias ? bias[j] : 0)
///   softmax over first <= j < n; out[0..<hd] = sum_j scores[j - first] * (v + row(j) * stride)[0..<hd].
/// `slope` is ALiBi's per-head slope (0 for none: a per-query constant does not change a softmax, so
/// slope * j equals slope * (j - i)); `bias` is n floats (indexed by absolute j) such as a T5
/// relative-position row. `first` > 0 is a sliding window (Gemma, Mistral): keys before it are not read.
/// No score matrix is built: masks are the caller's choice of first and n. Requires 0 <= first < n.
/// `scores` (n - first floats) holds the probabilities after.
void lt_attend_ext_f32(const float *q, const float *k, const float *v, const int32_t *table, int64_t block,
                       int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                       const float *bias, float *scores, float *out);
void lt_attend_ext_f32_at(int level, const float *q, const float *k, const float *v, const int32_t *table,
                          int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                          float slope, const float *bias, float *scores, float *out);

/// Element types of a KV cache row (`lt_attend_kv`, `lt_kv_store`):
///   LT_KV_F32  float32 values
///   LT_KV_F16  IEEE half values (round to nearest even on store)
///   LT_KV_Q8_0 blocks of 32 values, each {f16 d; int8 q[32]} (34 bytes): value = d * q, d = max|x| / 127,
///              q = round-to-nearest-even(x / d); needs hd % 32 == 0
enum { LT_KV_F32 = 0, LT_KV_F16 = 1, LT_KV_Q8_0 = 2 };

/// IEEE half nearest to f (ties to even; overflow to infinity; NaN stays NaN), as F16C's conversion.
uint16_t lt_f32_to_f16(float f);

/// Bytes of `n` values of a KV element type (n % 32 == 0 for LT_KV_Q8_0).
int64_t lt_kv_bytes(int kvtype, int64_t n);

/// Converts n floats (n % 32 == 0 for LT_KV_Q8_0) into the KV element type at dst. Bit-identical on every
/// level (F16C's conversion rounds to nearest even as the scalar one does).
void lt_kv_store(int kvtype, const float *src, int64_t n, void *dst);
void lt_kv_store_at(int level, int kvtype, const float *src, int64_t n, void *dst);

/// lt_attend_ext_f32 over keys and values stored as `kvtype`: k and v point at this head's first value in
/// row 0, `stride` is in BYTES between rows. For LT_KV_Q8_0, hd % 32 == 0 and the head starts on a block.
/// Scores and the output are computed in float from the decoded values (the scalar twin decodes each
/// value with lt_f16_to_f32 / d * q and follows lt_attend_ext_f32's scalar order).
void lt_attend_kv(int kvtype, const float *q, const void *k, const void *v, const int32_t *table, int64_t block,
                  int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                  const float *bias, float *scores, float *out);
void lt_attend_kv_at(int level, int kvtype, const float *q, const void *k, const void *v, const int32_t *table,
                     int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                     float slope, const float *bias, float *scores, float *out);

/// lt_attend_kv that also writes *lse (when not NULL) = max_j s_j + log(sum_j exp(s_j - max)), the
/// log-sum-exp of its scores, so the outputs of disjoint key ranges of one query can be merged exactly
/// as if it had attended over their union (lt_attend_merge; split-K attention).
void lt_attend_kv_lse(int kvtype, const float *q, const void *k, const void *v, const int32_t *table, int64_t block,
                      int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                      const float *bias, float *scores, float *out, float *lse);
void lt_attend_kv_lse_at(int level, int kvtype, const float *q, const void *k, const void *v, const int32_t *table,
                         int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                         float slope, const float *bias, float *scores, float *out, float *lse);
/// A tile of `rows` queries of one head (row r at q + r * qstride, e.g. consecutive positions of a prompt)
/// against the same cache: row r attends over keys first..<ns[r] (each ns[r] > first; no bias), writes its
/// probabilities at scores + r * sstride (sstride >= max ns - first), its output at out + r * ostride and
/// its log-sum-exp at lse[r] (not NULL). Each row's results are bit-identical to lt_attend_kv_lse_at of
/// that row alone at the same level, so a row's value does not depend on how rows are grouped; the SIMD
/// path converts each key tile once and reads each value row once per call instead of once per query.
void lt_attend_kv_rows(int kvtype, int64_t rows, const float *q, int64_t qstride, const void *k, const void *v,
                       const int32_t *table, int64_t block, int64_t stride, int64_t first, const int64_t *ns,
                       int64_t hd, float scale, float slope, float *scores, int64_t sstride, float *out,
                       int64_t ostride, float *lse);
void lt_attend_kv_rows_at(int level, int kvtype, int64_t rows, const float *q, int64_t qstride, const void *k,
                          const void *v, const int32_t *table, int64_t block, int64_t stride, int64_t first,
                          const int64_t *ns, int64_t hd, float scale, float slope, float *scores, int64_t sstride,
                          float *out, int64_t ostride, float *lse);
/// Merges the outputs of one query over `parts` disjoint key ranges (part i: out at outs + i * ostride,
/// log-sum-exp lses[i]): w_i = exp(lse_i - max) / sum_k exp(lse_k - max), out = sum_i w_i out_i (in part
/// order). Writes w_i into weights when not NULL (to rescale a part's probabilities to the whole row's) and
/// returns the merged log-sum-exp. Plain C, the same on every CPU.
/// Hints the caches to fetch the key and value rows (one head's hd values of type kvtype, stride bytes apart,
/// paged through `table` as in lt_attend_kv) of positions first..<n: attention over a decode batch calls it
/// for the next (sequence, head) while it attends the current one. Only a hint: reads nothing it returns.
void lt_attend_prefetch(int kvtype, const void *k, const void *v, const int32_t *table, int64_t block,
                        int64_t stride, int64_t first, int64_t n, int64_t hd);
float lt_attend_merge(int64_t parts, const float *outs, int64_t ostride, const float *lses, int64_t hd, float *out,
                      float *weights);

/*
 * Tiny atomics on plain 64-bit words for ThreadPool. Swift's `Synchronization.Atomic` needs macOS 15
 * while the package supports macOS 14, so the pool uses these compiler builtins instead.
 */
static inline int64_t lt_atomic_load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline int64_t lt_atomic_load_acquire(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void lt_atomic_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline int64_t lt_atomic_add(int64_t *p, int64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
/// Stores `desired` if *p == expected; returns whether it did.
static inline _Bool lt_atomic_cas(int64_t *p, int64_t expected, int64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
/// A hint to the CPU that the caller is spin-waiting.
static inline void lt_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
