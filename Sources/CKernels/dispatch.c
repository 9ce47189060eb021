// Run-time selection of the kernel variant for this CPU.
#include "kernels_internal.h"
#include <math.h>
#include <string.h>

/// Cached lt_cpu_level(); -1 until first use. Racing first calls compute the same value.
static int lt_detected = -1;

static inline int active_level(void) {
    int level = __atomic_load_n(&lt_detected, __ATOMIC_RELAXED);
    if (level < 0) {
        level = lt_cpu_level();
        __atomic_store_n(&lt_detected, level, __ATOMIC_RELAXED);
    }
    return level;
}

/// Requested level clamped to what the CPU supports.
static inline __attribute__((unused)) int clamp_level(int level) {
    int max = active_level();
    return level < 0 ? 0 : level > max ? max : level;
}

void lt_quantize_q8_at(int level, const float *x, int64_t n, int8_t *qs, float *d, float *s) {
#if defined(__x86_64__)
    switch (clamp_level(level)) {
    case 3: lt_quantize_q8_vnni(x, n, qs, d, s); return;
    case 2: lt_quantize_q8_avx512(x, n, qs, d, s); return;
    case 1: lt_quantize_q8_avx2(x, n, qs, d, s); return;
    default: break;
    }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_quantize_q8_neon(x, n, qs, d, s); return; }
#endif
    (void)level;
    lt_quantize_q8_scalar(x, n, qs, d, s);
}

void lt_quantize_q8(const float *x, int64_t n, int8_t *qs, float *d, float *s) {
    lt_quantize_q8_at(active_level(), x, n, qs, d, s);
}

void lt_quantize_q8x2_at(int level, const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2,
                         float *s) {
#if defined(__x86_64__)
    switch (clamp_level(level)) {
    case 3: lt_quantize_q8x2_vnni(x, n, qs, d, qs2, d2, s); return;
    case 2: lt_quantize_q8x2_avx512(x, n, qs, d, qs2, d2, s); return;
    case 1: lt_quantize_q8x2_avx2(x, n, qs, d, qs2, d2, s); return;
    default: break;
    }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_quantize_q8x2_neon(x, n, qs, d, qs2, d2, s); return; }
#endif
    (void)level;
    lt_quantize_q8x2_scalar(x, n, qs, d, qs2, d2, s);
}

void lt_quantize_q8x2(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s) {
    lt_quantize_q8x2_at(active_level(), x, n, qs, d, qs2, d2, s);
}

void lt_quantize_q8x2_mixed_at(int level, const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2,
                               float *s, float tau) {
    const int64_t nb = n / 32;
    // One level everywhere (q, d and s as lt_quantize_q8 gives them), then both levels where a block is kept:
    // lt_quantize_q8x2 of that block alone is bit for bit its block of the whole row.
    lt_quantize_q8_at(level, x, n, qs, d, s);
    memset(qs2, 0, (size_t)n);
    memset(d2, 0, (size_t)nb * sizeof(float));
    float squares = 0;   // fmaf: the same rounding whatever the compiler contracts
    for (int64_t b = 0; b < nb; b++) squares = fmaf(d[b], d[b], squares);
    const float threshold = tau * sqrtf(squares / (float)nb);
    for (int64_t b = 0; b < nb; b++)
        if (d[b] >= threshold)
            lt_quantize_q8x2_at(level, x + b * 32, 32, qs + b * 32, d + b, qs2 + b * 32, d2 + b, s + b);
}

void lt_quantize_q8x2_mixed(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s,
                            float tau) {
    lt_quantize_q8x2_mixed_at(active_level(), x, n, qs, d, qs2, d2, s, tau);
}

/// Both qgemm entry points; qs2 == NULL selects single-level activations.
static void qgemm_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy) {
#if defined(__x86_64__)
    switch (clamp_level(level)) {
    case 3: lt_qgemm_vnni(dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case 2: lt_qgemm_avx512(dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case 1: lt_qgemm_avx2(dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    default: break;
    }
#endif
#if defined(__aarch64__)
    switch (clamp_level(level)) {
    case 2: lt_qgemm_neondot(dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    case 1: lt_qgemm_neon(dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy); return;
    default: break;
    }
#endif
    (void)level;
    lt_qgemm_scalar(dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

void lt_qgemm_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                 const int8_t *qs, const float *d, const float *s, int64_t ntokens, float *y, int64_t ldy) {
    qgemm_at(level, dtype, n, w, ldw, nrows, qs, d, NULL, NULL, s, ntokens, y, ldy);
}

void lt_qgemm(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
              const int8_t *qs, const float *d, const float *s, int64_t ntokens, float *y, int64_t ldy) {
    qgemm_at(active_level(), dtype, n, w, ldw, nrows, qs, d, NULL, NULL, s, ntokens, y, ldy);
}

void lt_qgemm_x2_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                    const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                    int64_t ntokens, float *y, int64_t ldy) {
    qgemm_at(level, dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

void lt_qgemm_x2(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                 const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                 int64_t ntokens, float *y, int64_t ldy) {
    qgemm_at(active_level(), dtype, n, w, ldw, nrows, qs, d, qs2, d2, s, ntokens, y, ldy);
}

void lt_fgemm_at(int level, int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                 const float *x, int64_t ntokens, float *y, int64_t ldy) {
#if defined(__x86_64__)
    switch (clamp_level(level)) {
    case 3: lt_fgemm_vnni(dtype, n, w, ldw, nrows, x, ntokens, y, ldy); return;
    case 2: lt_fgemm_avx512(dtype, n, w, ldw, nrows, x, ntokens, y, ldy); return;
    case 1: lt_fgemm_avx2(dtype, n, w, ldw, nrows, x, ntokens, y, ldy); return;
    default: break;
    }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_fgemm_neon(dtype, n, w, ldw, nrows, x, ntokens, y, ldy); return; }
#endif
    (void)level;
    lt_fgemm_scalar(dtype, n, w, ldw, nrows, x, ntokens, y, ldy);
}

void lt_fgemm(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
              const float *x, int64_t ntokens, float *y, int64_t ldy) {
    lt_fgemm_at(active_level(), dtype, n, w, ldw, nrows, x, ntokens, y, ldy);
}

void lt_dequantize_at(int level, int dtype, const void *src, int64_t n, float *dst) {
#if defined(__x86_64__)
    switch (clamp_level(level)) {
    case 3: lt_dequantize_vnni(dtype, src, n, dst); return;
    case 2: lt_dequantize_avx512(dtype, src, n, dst); return;
    case 1: lt_dequantize_avx2(dtype, src, n, dst); return;
    default: break;
    }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_dequantize_neon(dtype, src, n, dst); return; }
#endif
    (void)level;
    lt_dequantize_scalar(dtype, src, n, dst);
}

void lt_dequantize(int dtype, const void *src, int64_t n, float *dst) {
    lt_dequantize_at(active_level(), dtype, src, n, dst);
}

float lt_dot_f32(const float *a, const float *b, int64_t n) {
#if defined(__x86_64__)
    if (active_level() >= 1) return lt_dot_f32_avx2(a, b, n);
#endif
#if defined(__aarch64__)
    if (active_level() >= 1) return lt_dot_f32_neon(a, b, n);
#endif
    return lt_dot_f32_scalar(a, b, n);
}

void lt_axpy_f32(float a, const float *x, float *y, int64_t n) {
#if defined(__x86_64__)
    if (active_level() >= 1) { lt_axpy_f32_avx2(a, x, y, n); return; }
#endif
#if defined(__aarch64__)
    if (active_level() >= 1) { lt_axpy_f32_neon(a, x, y, n); return; }
#endif
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

float lt_sumsq_f32(const float *x, int64_t n) {
#if defined(__x86_64__)
    if (active_level() >= 1) return lt_sumsq_f32_avx2(x, n);
#endif
#if defined(__aarch64__)
    if (active_level() >= 1) return lt_sumsq_f32_neon(x, n);
#endif
    float acc = 0;
    for (int64_t i = 0; i < n; i++) acc += x[i] * x[i];
    return acc;
}

/// The plain twin: the first strictly larger value wins; NaN compares false, so it never does.
static int64_t argmax_scalar(const float *x, int64_t n) {
    int64_t best = 0;
    float top = -INFINITY;
    for (int64_t i = 0; i < n; i++) if (x[i] > top) { top = x[i]; best = i; }
    return best;
}

int64_t lt_argmax_f32_at(int level, const float *x, int64_t n) {
#if defined(__x86_64__)
    if (clamp_level(level) >= 1) return lt_argmax_f32_avx2(x, n);
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) return lt_argmax_f32_neon(x, n);
#endif
    (void)level;
    return argmax_scalar(x, n);
}

int64_t lt_argmax_f32(const float *x, int64_t n) { return lt_argmax_f32_at(active_level(), x, n); }

void lt_swiglu_f32_at(int level, float *gate, const float *up, int64_t n) {
#if defined(__x86_64__)
    if (clamp_level(level) >= 1) { lt_swiglu_f32_avx2(gate, up, n); return; }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_swiglu_f32_neon(gate, up, n); return; }
#endif
    (void)level;
    for (int64_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void lt_swiglu_f32(float *gate, const float *up, int64_t n) { lt_swiglu_f32_at(active_level(), gate, up, n); }

void lt_gelu_f32_at(int level, float *x, int64_t n) {
#if defined(__x86_64__)
    if (clamp_level(level) >= 1) { lt_gelu_f32_avx2(x, n); return; }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_gelu_f32_neon(x, n); return; }
#endif
    (void)level;
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void lt_gelu_f32(float *x, int64_t n) { lt_gelu_f32_at(active_level(), x, n); }

void lt_gelu_tanh_f32_at(int level, float *x, const float *up, int64_t n) {
#if defined(__x86_64__)
    if (clamp_level(level) >= 1) { lt_gelu_tanh_f32_avx2(x, up, n); return; }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_gelu_tanh_f32_neon(x, up, n); return; }
#endif
    (void)level;
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        const float g = v / (1.0f + expf(-2.0f * 0.79788456080286536f * (v + 0.044715f * v * v * v)));
        x[i] = up ? g * up[i] : g;
    }
}

void lt_gelu_tanh_f32(float *x, const float *up, int64_t n) { lt_gelu_tanh_f32_at(active_level(), x, up, n); }

void lt_softmax_f32_at(int level, float *x, int64_t n) {
#if defined(__x86_64__)
    if (clamp_level(level) >= 1) { lt_softmax_f32_avx2(x, n); return; }
#endif
#if defined(__aarch64__)
    if (clamp_level(level) >= 1) { lt_softmax_f32_neon(x, n); return; }
#endif
    (void)level;
    lt_softmax_scalar_lse(x, n);
}

void lt_softmax_f32(float *x, int64_t n) { lt_softmax_f32_at(active_level(), x, n); }

void lt_attend_f32_at(int level, const float *q, const float *k, const float *v, int64_t stride, int64_t n,
                      int64_t hd, float scale, float *scores, float *out) {
    // Contiguous keys, no bias: the general kernel with no block table.
    lt_attend_ext_f32_at(level, q, k, v, NULL, n > 0 ? n : 1, stride, 0, n, hd, scale, 0.0f, NULL, scores, out);
}

void lt_attend_f32(const float *q, const float *k, const float *v, int64_t stride, int64_t n,
                   int64_t hd, float scale, float *scores, float *out) {
    lt_attend_f32_at(active_level(), q, k, v, stride, n, hd, scale, scores, out);
}

void lt_attend_ext_f32_at(int level, const float *q, const float *k, const float *v, const int32_t *table,
                          int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                          float slope, const float *bias, float *scores, float *out) {
    lt_attend_kv_at(level, LT_KV_F32, q, k, v, table, block, stride * (int64_t)sizeof(float), first, n, hd, scale,
                    slope, bias, scores, out);
}

void lt_kv_store_at(int level, int kvtype, const float *src, int64_t n, void *dst) {
    lt_kv_store_level(clamp_level(level), kvtype, src, n, dst);
}

void lt_kv_store(int kvtype, const float *src, int64_t n, void *dst) {
    lt_kv_store_level(active_level(), kvtype, src, n, dst);
}

void lt_attend_kv_lse_at(int level, int kvtype, const float *q, const void *k, const void *v, const int32_t *table,
                         int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                         float slope, const float *bias, float *scores, float *out, float *lse) {
    if (block <= 0) block = n > 0 ? n : 1;
    if (first < 0) first = 0;
    level = clamp_level(level);
#if defined(__x86_64__)
    if (level >= 2 && n > first &&
        lt_attend_kv_512(kvtype, q, (const uint8_t *)k, (const uint8_t *)v, table, block, stride, first, n, hd,
                         scale, slope, bias, scores, out, lse)) return;
#endif
    lt_attend_kv_below512(level, kvtype, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out,
                          lse);
}

void lt_attend_kv_lse(int kvtype, const float *q, const void *k, const void *v, const int32_t *table, int64_t block,
                      int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                      const float *bias, float *scores, float *out, float *lse) {
    lt_attend_kv_lse_at(active_level(), kvtype, q, k, v, table, block, stride, first, n, hd, scale, slope, bias,
                        scores, out, lse);
}

void lt_attend_kv_at(int level, int kvtype, const float *q, const void *k, const void *v, const int32_t *table,
                     int64_t block, int64_t stride, int64_t first, int64_t n, int64_t hd, float scale,
                     float slope, const float *bias, float *scores, float *out) {
    lt_attend_kv_lse_at(level, kvtype, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out,
                        NULL);
}

void lt_attend_kv_rows_at(int level, int kvtype, int64_t rows, const float *q, int64_t qstride, const void *k,
                          const void *v, const int32_t *table, int64_t block, int64_t stride, int64_t first,
                          const int64_t *ns, int64_t hd, float scale, float slope, float *scores, int64_t sstride,
                          float *out, int64_t ostride, float *lse) {
    if (rows <= 0) return;
    if (block <= 0) { block = 1; for (int64_t r = 0; r < rows; r++) block = ns[r] > block ? ns[r] : block; }
    if (first < 0) first = 0;
    level = clamp_level(level);
#if defined(__x86_64__)
    if (level >= 2 && rows > 1 &&
        lt_attend_kv_rows_512(kvtype, rows, q, qstride, (const uint8_t *)k, (const uint8_t *)v, table, block, stride,
                              first, ns, hd, scale, slope, scores, sstride, out, ostride, lse)) return;
    // The AVX2 tile where a single row takes lt_attend_kv_256: level 1, or level 2 for head sizes the
    // 512-bit kernel declines (a row must get the bits it gets alone).
    if (level >= 1 && rows > 1 && !(level >= 2 && lt_attend_simd_takes(kvtype, hd, 16)) &&
        lt_attend_kv_rows_256(kvtype, rows, q, qstride, (const uint8_t *)k, (const uint8_t *)v, table, block, stride,
                              first, ns, hd, scale, slope, scores, sstride, out, ostride, lse)) return;
#endif
    for (int64_t r = 0; r < rows; r++)
        lt_attend_kv_lse_at(level, kvtype, q + r * qstride, k, v, table, block, stride, first, ns[r], hd, scale, slope,
                            NULL, scores + r * sstride, out + r * ostride, lse + r);
}

void lt_attend_kv_rows(int kvtype, int64_t rows, const float *q, int64_t qstride, const void *k, const void *v,
                       const int32_t *table, int64_t block, int64_t stride, int64_t first, const int64_t *ns,
                       int64_t hd, float scale, float slope, float *scores, int64_t sstride, float *out,
                       int64_t ostride, float *lse) {
    lt_attend_kv_rows_at(active_level(), kvtype, rows, q, qstride, k, v, table, block, stride, first, ns, hd, scale,
                         slope, scores, sstride, out, ostride, lse);
}

void lt_attend_prefetch(int kvtype, const void *k, const void *v, const int32_t *table, int64_t block,
                        int64_t stride, int64_t first, int64_t n, int64_t hd) {
    if (block <= 0) block = n > 0 ? n : 1;
    if (first < 0) first = 0;
    lt_kv_walk w = lt_kv_walk_start(table, block, first);
    for (int64_t j = first; j < n; j++, lt_kv_walk_next(&w)) {
        const int64_t row = lt_kv_walk_row(&w);
        lt_kv_prefetch(kvtype, (const uint8_t *)k + row * stride, hd);
        lt_kv_prefetch(kvtype, (const uint8_t *)v + row * stride, hd);
    }
}

float lt_attend_merge(int64_t parts, const float *outs, int64_t ostride, const float *lses, int64_t hd, float *out,
                      float *weights) {
    float m = -INFINITY;
    for (int64_t i = 0; i < parts; i++) m = lses[i] > m ? lses[i] : m;
    float total = 0;
    for (int64_t i = 0; i < parts; i++) total += expf(lses[i] - m);
    for (int64_t d = 0; d < hd; d++) out[d] = 0;
    for (int64_t i = 0; i < parts; i++) {
        const float w = expf(lses[i] - m) / total;
        if (weights) weights[i] = w;
        for (int64_t d = 0; d < hd; d++) out[d] += w * outs[i * ostride + d];
    }
    return m + logf(total);
}

void lt_attend_kv(int kvtype, const float *q, const void *k, const void *v, const int32_t *table, int64_t block,
                  int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                  const float *bias, float *scores, float *out) {
    lt_attend_kv_at(active_level(), kvtype, q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out);
}

void lt_attend_ext_f32(const float *q, const float *k, const float *v, const int32_t *table, int64_t block,
                       int64_t stride, int64_t first, int64_t n, int64_t hd, float scale, float slope,
                       const float *bias, float *scores, float *out) {
    lt_attend_ext_f32_at(active_level(), q, k, v, table, block, stride, first, n, hd, scale, slope, bias, scores, out);
}
