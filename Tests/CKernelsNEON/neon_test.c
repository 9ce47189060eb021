// Reference tests of CKernels' NEON paths against their scalar twins (scalar.c), for aarch64 under
// qemu-aarch64 (tools/neon_check.sh builds and runs it; not a Swift target). Every dispatched kernel is
// called at level 1 (plain NEON) and level 2 (NEON with SDOT; clamped to 1 on a CPU without the dot
// product, so a run on such a CPU also checks that the dispatcher never issues SDOT there) over random
// inputs of many sizes, including lengths that are not multiples of the vector width, and compared with
// the scalar twin:
//   - activation quantization and dequantization: bit for bit (same IEEE operations; every product
//     d * q of a dequantization is exact, so fused or not it rounds once);
//   - quantized matmuls, "exact" inputs (power-of-two scales, small integers: every float step is exact):
//     bit for bit, which pins the integer unpacking and dot products of every block type;
//   - quantized matmuls, random inputs: |error| <= 1e-5 * sum|terms| + 1e-6 (only the float summation
//     order differs), the bound of LanternTensorTests' quantizedKernelMatchesIntegerTwin;
//   - the packed ("r16") matmul, Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0, one and two activation levels and
//     `.mixed` activations (the second level zero in most blocks): bit for bit on random inputs against
//     lt_qgemm_r16_at(0) (its kernels take the scalar twin's float steps);
//   - float kernels: the bounds of LanternTensorTests (float matmul 1e-5 * sum|w x| + 1e-6; swiglu and
//     softmax 4e-7 relative + 1e-30; exact GELU 2e-7 * max(1, |x|) + 1e-7; tanh GELU 1.2e-7 (4 + 2|u|)
//     relative + 1e-30 against a double-precision evaluation, scalar and SIMD alike).
// Prints one line per kernel and type and exits 1 on any mismatch.
// Usage: neon_test [expected lt_cpu_level]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ckernels.h"
#include "kernels_internal.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_u64(void) {   // splitmix64
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static int rand_int(int lo, int hi) { return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1)); }
/// Uniform in [-scale, scale).
static float rand_float(float scale) { return scale * (2.0f * (float)(next_u64() >> 40) / 16777216.0f - 1.0f); }
/// A finite, normal f16 with a random sign and a biased exponent in [emin, emax].
static uint16_t rand_f16(int emin, int emax) {
    return (uint16_t)((next_u64() & 1) << 15 | (uint16_t)rand_int(emin, emax) << 10 | (next_u64() & 0x3FF));
}
static void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static int failures = 0;
static int max_level = 0;

static void report(const char *kernel, const char *type, int level, int cases, int bad, double worst) {
    const int used = level < max_level ? level : max_level;
    printf("%-4s %-14s %-5s level %d%s: %4d cases, worst error / bound %.3g\n", bad ? "FAIL" : "ok", kernel, type,
           level, used != level ? " (clamped to 1)" : "", cases, worst);
    if (bad) failures++;
}

static const char *type_name(int dtype) {
    static const char *names[] = { "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
                                   "Q4_K", "Q5_K", "Q6_K" };
    return names[dtype];
}
static int block_values(int dtype) { return dtype >= LT_Q2_K ? 256 : dtype >= LT_Q8_0 ? 32 : 1; }
static int64_t row_bytes(int dtype, int64_t n) {
    if (dtype == LT_F32) return n * 4;
    if (dtype == LT_F16 || dtype == LT_BF16) return n * 2;
    return n / block_values(dtype) * lt_block_bytes(dtype);
}

/// Byte offsets of the f16 scale (first) and min (second, -1 for none) of a quantized block.
static void f16_fields(int dtype, int *scale, int *min) {
    *min = -1;
    switch (dtype) {
    case LT_Q4_1: case LT_Q5_1: case LT_Q4_K: case LT_Q5_K: *scale = 0; *min = 2; break;
    case LT_Q2_K: *scale = 80; *min = 82; break;
    case LT_Q3_K: *scale = 108; break;
    case LT_Q6_K: *scale = 208; break;
    default: *scale = 0; break;
    }
}

/// Random weights of rows x n values. Quantized: random code bytes with finite f16 scales (random, or in
/// exact mode powers of two and small integer mins, so every float step of a dot product is exact).
static uint8_t *random_weights(int dtype, int64_t rows, int64_t n, int exact) {
    const int64_t rb = row_bytes(dtype, n);
    uint8_t *w = malloc((size_t)(rows * rb));
    for (int64_t i = 0; i < rows * rb; i++) w[i] = (uint8_t)next_u64();
    if (dtype == LT_F32) {
        for (int64_t i = 0; i < rows * n; i++) { float v = rand_float(1.0f); memcpy(w + 4 * i, &v, 4); }
    } else if (dtype == LT_F16) {
        for (int64_t i = 0; i < rows * n; i++) put_u16(w + 2 * i, rand_f16(8, 16));
    } else if (dtype == LT_BF16) {
        for (int64_t i = 0; i < rows * n; i++) {
            float v = rand_float(1.0f); uint32_t b; memcpy(&b, &v, 4); put_u16(w + 2 * i, (uint16_t)(b >> 16));
        }
    } else {
        int sc, mn;
        f16_fields(dtype, &sc, &mn);
        const int bb = lt_block_bytes(dtype);
        for (int64_t b = 0; b < rows * rb / bb; b++) {
            uint8_t *blk = w + b * bb;
            if (exact) {
                static const uint16_t pow2[] = { 0x3800, 0x3C00, 0x4000, 0xBC00 };   // 0.5, 1, 2, -1
                static const uint16_t small[] = { 0x0000, 0x3C00, 0xC200, 0x4400, 0xBC00 };   // 0, 1, -3, 4, -1
                put_u16(blk + sc, pow2[rand_int(0, 3)]);
                if (mn >= 0) put_u16(blk + mn, dtype >= LT_Q2_K ? pow2[rand_int(0, 3)] : small[rand_int(0, 4)]);
            } else {
                put_u16(blk + sc, rand_f16(5, 15));
                if (mn >= 0) put_u16(blk + mn, rand_f16(5, 15));
            }
        }
    }
    return w;
}

// ---------------------------------------------------------------------------------------------------
// Dequantization: bit for bit.

static void test_dequantize(void) {
    for (int dtype = LT_F32; dtype <= LT_Q6_K; dtype++) {
        const int bv = block_values(dtype);
        const int64_t counts_f[] = { 1, 3, 4, 7, 8, 13, 31, 64, 577 }, counts_q[] = { 1, 2, 3, 7, 19 };
        for (int level = 1; level <= 2; level++) {
            int cases = 0, bad = 0;
            const int nc = bv == 1 ? 9 : 5;
            for (int c = 0; c < nc; c++) {
                const int64_t n = bv == 1 ? counts_f[c] : counts_q[c] * bv;
                uint8_t *w = random_weights(dtype, 1, n, 0);
                float *want = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
                lt_dequantize_scalar(dtype, w, n, want);
                memset(got, 0xFF, (size_t)n * 4);
                lt_dequantize_at(level, dtype, w, n, got);
                if (memcmp(want, got, (size_t)n * 4) != 0) {
                    bad++;
                    for (int64_t k = 0; k < n; k++)
                        if (memcmp(want + k, got + k, 4)) { printf("  %s n %lld: [%lld] %g vs %g\n", type_name(dtype), (long long)n, (long long)k, got[k], want[k]); break; }
                }
                if (level == 2 && c == nc - 1) {   // the public entry point at the detected level
                    lt_dequantize(dtype, w, n, got);
                    if (memcmp(want, got, (size_t)n * 4) != 0) { bad++; printf("  lt_dequantize %s differs\n", type_name(dtype)); }
                }
                cases++;
                free(w); free(want); free(got);
            }
            report("dequantize", type_name(dtype), level, cases, bad, bad ? INFINITY : 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Activation quantization: bit for bit, with the edge cases of LanternTensorTests.

static void fill_activations(float *x, int64_t n, float scale) {
    for (int64_t k = 0; k < n; k++) x[k] = rand_float(scale);
    if (n >= 192) {
        for (int j = 0; j < 32; j++) x[32 + j] = 0;                       // all-zero block
        x[64 + 5] = 1000;                                                   // one dominant value
        x[96 + 1] = -0.5f; x[96 + 2] = 0.5f;                                // exact halves after scaling
        for (int j = 0; j < 32; j++) x[128 + j] = (float)(j - 16);          // a 127-step grid: tiny residual
        for (int j = 0; j < 32; j++) x[160 + j] = 1e-30f * rand_float(1);   // tiny values
    }
    if (n >= 256)   // d = 127 / 127 = 1 exactly, so j - 15.5 are exact ties: rounding must go to even
        for (int j = 0; j < 32; j++) x[224 + j] = j == 0 ? 127.0f : (float)j - 15.5f;
}

static void test_quantize(void) {
    const int64_t counts[] = { 32, 64, 96, 32 * 23, 4096 };
    for (int two = 0; two < 2; two++)
        for (int level = 1; level <= 2; level++) {
            int cases = 0, bad = 0;
            for (int c = 0; c < 5; c++) {
                const int64_t n = counts[c], nb = n / 32;
                float *x = malloc((size_t)n * 4);
                fill_activations(x, n, 3);
                int8_t *q[2][2];
                float *d[2][2], *s[2];
                for (int v = 0; v < 2; v++) {   // v = 0 scalar, 1 NEON
                    for (int l = 0; l < 2; l++) {
                        q[v][l] = malloc((size_t)n); memset(q[v][l], 99, (size_t)n);
                        d[v][l] = malloc((size_t)nb * 4); memset(d[v][l], 0xFF, (size_t)nb * 4);
                    }
                    s[v] = malloc((size_t)nb * 4); memset(s[v], 0xFF, (size_t)nb * 4);
                }
                if (two) {
                    lt_quantize_q8x2_scalar(x, n, q[0][0], d[0][0], q[0][1], d[0][1], s[0]);
                    if (c == 4 && level == 2) lt_quantize_q8x2(x, n, q[1][0], d[1][0], q[1][1], d[1][1], s[1]);
                    else lt_quantize_q8x2_at(level, x, n, q[1][0], d[1][0], q[1][1], d[1][1], s[1]);
                } else {
                    lt_quantize_q8_scalar(x, n, q[0][0], d[0][0], s[0]);
                    if (c == 4 && level == 2) lt_quantize_q8(x, n, q[1][0], d[1][0], s[1]);
                    else lt_quantize_q8_at(level, x, n, q[1][0], d[1][0], s[1]);
                }
                int ok = memcmp(q[0][0], q[1][0], (size_t)n) == 0 && memcmp(d[0][0], d[1][0], (size_t)nb * 4) == 0 &&
                         memcmp(s[0], s[1], (size_t)nb * 4) == 0;
                if (two) ok = ok && memcmp(q[0][1], q[1][1], (size_t)n) == 0 && memcmp(d[0][1], d[1][1], (size_t)nb * 4) == 0;
                if (!ok) { bad++; printf("  quantize%s n %lld differs\n", two ? "_q8x2" : "_q8", (long long)n); }
                cases++;
                free(x);
                for (int v = 0; v < 2; v++) { free(q[v][0]); free(q[v][1]); free(d[v][0]); free(d[v][1]); free(s[v]); }
            }
            report(two ? "quantize_q8x2" : "quantize_q8", "f32", level, cases, bad, bad ? INFINITY : 0);
        }
}

// ---------------------------------------------------------------------------------------------------
// Quantized matmuls.

/// sum_k |terms of w_k * x_k| for row `row` against activation row t (the float magnitudes the kernels
/// add up): |d q| (+ |m| for Q4_1 / Q5_1), K-quants |d sc q| + |dmin m|, times |d q1 + d2 q2|; plus
/// sum_b |m * s_b| for the types whose min meets the block sums.
static double term_scale(int dtype, const uint8_t *row, int64_t n, const int8_t *qs, const float *d,
                         const int8_t *qs2, const float *d2, const float *s) {
    double total = 0;
    const int bb = lt_block_bytes(dtype);
    for (int64_t k = 0; k < n; k++) {
        const double x = fabs((double)d[k / 32] * qs[k] + (qs2 ? (double)d2[k / 32] * qs2[k] : 0));
        double wmag;
        if (dtype >= LT_Q2_K) {
            lt_kblock kb;
            lt_kquant_decode(dtype, row + k / 256 * bb, &kb);
            const int e = (int)(k % 256);
            wmag = fabs((double)kb.d * kb.sc[e / 16] * kb.q[e]) + fabs((double)kb.dmin * kb.mn[e / 16]);
            if (dtype == LT_Q4_K || dtype == LT_Q5_K) wmag = fabs((double)kb.d * kb.sc[e / 16] * kb.q[e]);
        } else {
            float v[32];
            lt_dequantize_scalar(dtype, row + k / 32 * bb, 32, v);
            wmag = fabs(v[k % 32]);
            if (dtype == LT_Q4_1 || dtype == LT_Q5_1) wmag += fabs(lt_f16_to_f32((uint16_t)(row[k / 32 * bb + 2] | row[k / 32 * bb + 3] << 8)));
        }
        total += wmag * x;
    }
    for (int64_t b = 0; b < n / 32; b++) {
        double m = 0;
        if (dtype == LT_Q4_1 || dtype == LT_Q5_1) m = lt_f16_to_f32((uint16_t)(row[b * bb + 2] | row[b * bb + 3] << 8));
        if (dtype == LT_Q4_K || dtype == LT_Q5_K) {
            lt_kblock kb;
            lt_kquant_decode(dtype, row + b / 8 * bb, &kb);
            m = (double)kb.dmin * kb.mn[(b % 8) * 2];
        }
        total += fabs(m * s[b]);
    }
    return total;
}

static void test_qgemm(void) {
    // (rows, n, tokens): every tile remainder (4-row tiles, 4-token tiles) and 1..9 tokens.
    static const int shapes32[][3] = { {1, 32, 1}, {5, 96, 3}, {13, 608, 9}, {8, 576, 4}, {7, 64, 6}, {5, 1536, 5},
                                       {3, 8256, 2}, {6, 160, 7}, {9, 128, 8}, {4, 32, 4} };
    static const int shapesK[][3] = { {1, 256, 1}, {5, 512, 3}, {13, 768, 9}, {8, 256, 4}, {7, 4864, 6}, {6, 1280, 7},
                                      {9, 512, 8}, {3, 4864, 2}, {4, 768, 5} };
    for (int dtype = LT_Q8_0; dtype <= LT_Q6_K; dtype++)
        for (int two = 0; two < 2; two++)
            for (int level = 1; level <= 2; level++) {
                const int kq = dtype >= LT_Q2_K;
                const int nshapes = kq ? 9 : 10;
                int cases = 0, bad = 0;
                double worst = 0;
                for (int sh = 0; sh < nshapes; sh++)
                    for (int exact = 0; exact < 2; exact++) {
                        const int rows = kq ? shapesK[sh][0] : shapes32[sh][0];
                        const int64_t n = kq ? shapesK[sh][1] : shapes32[sh][1];
                        const int tokens = kq ? shapesK[sh][2] : shapes32[sh][2];
                        // Exact mode keeps every partial sum below 2^24 (|q x| sums bounded by n * 128 * 128 * 3).
                        if (exact && n > (kq ? 768 : 1536)) continue;
                        const int64_t nb = n / 32, ldw = row_bytes(dtype, n);
                        uint8_t *w = random_weights(dtype, rows, n, exact);
                        int8_t *q = malloc((size_t)(tokens * n)), *q2 = malloc((size_t)(tokens * n));
                        float *d = malloc((size_t)(tokens * nb) * 4), *d2 = malloc((size_t)(tokens * nb) * 4);
                        float *s = malloc((size_t)(tokens * nb) * 4);
                        if (exact) {
                            for (int64_t k = 0; k < tokens * n; k++) { q[k] = (int8_t)rand_int(-3, 3); q2[k] = (int8_t)rand_int(-3, 3); }
                            for (int64_t b = 0; b < tokens * nb; b++) {
                                d[b] = 1.0f; d2[b] = 0.5f;
                                int s1 = 0, s2 = 0;
                                for (int j = 0; j < 32; j++) { s1 += q[b * 32 + j]; s2 += q2[b * 32 + j]; }
                                s[b] = two ? d[b] * (float)s1 + d2[b] * (float)s2 : d[b] * (float)s1;
                            }
                        } else {
                            float *x = malloc((size_t)(tokens * n) * 4);
                            for (int64_t k = 0; k < tokens * n; k++) x[k] = rand_float(1);
                            for (int t = 0; t < tokens; t++) {
                                if (two) lt_quantize_q8x2_scalar(x + t * n, n, q + t * n, d + t * nb, q2 + t * n, d2 + t * nb, s + t * nb);
                                else lt_quantize_q8_scalar(x + t * n, n, q + t * n, d + t * nb, s + t * nb);
                            }
                            free(x);
                        }
                        float *want = malloc((size_t)(tokens * rows) * 4), *got = malloc((size_t)(tokens * rows) * 4);
                        lt_qgemm_scalar(dtype, n, w, ldw, rows, q, d, two ? q2 : NULL, d2, s, tokens, want, rows);
                        for (int i = 0; i < tokens * rows; i++) got[i] = NAN;
                        const int public_entry = level == 2 && sh == 2;   // once: the entry point at the detected level
                        if (two) {
                            if (public_entry) lt_qgemm_x2(dtype, n, w, ldw, rows, q, d, q2, d2, s, tokens, got, rows);
                            else lt_qgemm_x2_at(level, dtype, n, w, ldw, rows, q, d, q2, d2, s, tokens, got, rows);
                        } else {
                            if (public_entry) lt_qgemm(dtype, n, w, ldw, rows, q, d, s, tokens, got, rows);
                            else lt_qgemm_at(level, dtype, n, w, ldw, rows, q, d, s, tokens, got, rows);
                        }
                        for (int t = 0; t < tokens; t++)
                            for (int r = 0; r < rows; r++) {
                                const float g = got[t * rows + r], e = want[t * rows + r];
                                if (exact) {
                                    if (memcmp(&g, &e, 4) != 0) {
                                        if (!bad) printf("  %s%s exact rows %d n %lld tokens %d: y[%d][%d] %.9g vs %.9g\n", type_name(dtype),
                                                         two ? " x2" : "", rows, (long long)n, tokens, t, r, g, e);
                                        bad++;
                                    }
                                    continue;
                                }
                                const double bound = 1e-5 * term_scale(dtype, w + r * ldw, n, q + t * n, d + t * nb,
                                                                       two ? q2 + t * n : NULL, d2 + t * nb, s + t * nb) + 1e-6;
                                const double err = fabs((double)g - (double)e);
                                if (!(err <= bound)) {
                                    if (!bad) printf("  %s%s rows %d n %lld tokens %d: y[%d][%d] %.9g vs %.9g (bound %.3g)\n", type_name(dtype),
                                                     two ? " x2" : "", rows, (long long)n, tokens, t, r, g, e, bound);
                                    bad++;
                                }
                                if (err / bound > worst || isnan(err)) worst = isnan(err) ? INFINITY : err / bound;
                            }
                        cases++;
                        free(w); free(q); free(q2); free(d); free(d2); free(s); free(want); free(got);
                    }
                report(two ? "qgemm_x2" : "qgemm", type_name(dtype), level, cases, bad, worst);
            }
}

// ---------------------------------------------------------------------------------------------------
// Packed ("r16") quantized matmul: lt_qgemm_r16_at at levels 1 and 2 against level 0 (the scalar twin),
// bit for bit on random inputs (the SIMD kernels take the twin's float steps in its order).

/// Random rows x n stored blocks of a packable type with f16 scales whose implied offsets (-8 d, -16 d,
/// -128 d) are exact f16 (normal scales up to 2^5: at most 128 * 64 = 8192); Q4_1 / Q5_1 scales and mins
/// also subnormal. extreme: codes of the largest magnitude (4-/5-bit 15 / 31 with every high bit set,
/// Q8_0 q = -128, u = 0), the plain-NEON int16 pair sums' worst case against activations of -127.
static uint8_t *random_packable(int dtype, int64_t rows, int64_t n, int extreme) {
    uint8_t *w = random_weights(dtype, rows, n, 0);
    const int bb = lt_block_bytes(dtype), hasMin = dtype == LT_Q4_1 || dtype == LT_Q5_1;
    for (int64_t b = 0; b < rows * (n / 32); b++) {
        uint8_t *blk = w + b * bb;
        put_u16(blk, hasMin ? rand_f16(0, 16) : rand_f16(1, 20));
        if (hasMin) put_u16(blk + 2, rand_f16(0, 16));
        if (extreme) memset(blk + (hasMin ? 4 : 2), dtype == LT_Q8_0 ? 0x80 : 0xFF, (size_t)(bb - (hasMin ? 4 : 2)));
    }
    return w;
}

static void test_qgemm_r16(void) {
    static const int64_t lengths[] = { 32, 64, 96, 256, 576 };
    static const int row_counts[] = { 16, 32, 48 };
    static const int packable[] = { LT_Q4_0, LT_Q4_1, LT_Q5_0, LT_Q5_1, LT_Q8_0 };
    for (int pi = 0; pi < 5; pi++)
        for (int two = 0; two < 3; two++) {   // 2: `.mixed` activations (second level zero in most blocks)
            const int dtype = packable[pi];
            int cases[3] = {0}, bad[3] = {0};
            for (int li = 0; li < 5; li++)
                for (int ri = 0; ri < 3; ri++)
                    for (int tokens = 1; tokens <= 9; tokens++) {
                        const int64_t n = lengths[li], nb = n / 32, ldy = row_counts[ri] + 5;
                        const int rows = row_counts[ri], extreme = tokens == 5 && ri == 1;
                        uint8_t *w = random_packable(dtype, rows, n, extreme);
                        const int64_t bytes = lt_pack_r16_bytes(dtype, n, rows);
                        uint8_t *packed = malloc((size_t)bytes);
                        if (bytes <= 0 || !lt_pack_r16(dtype, n, w, row_bytes(dtype, n), rows, packed)) {
                            printf("  %s [%dx%lld] did not pack\n", type_name(dtype), rows, (long long)n);
                            bad[1]++; bad[2]++;
                            free(w); free(packed);
                            continue;
                        }
                        int8_t *q = malloc((size_t)(tokens * n)), *q2 = malloc((size_t)(tokens * n));
                        float *d = malloc((size_t)(tokens * nb) * 4), *d2 = malloc((size_t)(tokens * nb) * 4);
                        float *s = malloc((size_t)(tokens * nb) * 4), *x = malloc((size_t)(tokens * n) * 4);
                        for (int t = 0; t < tokens; t++) {
                            fill_activations(x + t * n, n, 3);
                            if (extreme && t == 0) for (int64_t k = 0; k < n; k++) x[k] = -1;   // q = -127 everywhere
                            if (two == 2) {
                                x[t * n + (t * 37) % n] = 40;   // an outlier block per token
                                lt_quantize_q8x2_mixed_at(0, x + t * n, n, q + t * n, d + t * nb, q2 + t * n, d2 + t * nb, s + t * nb, 1.5f);
                            } else if (two) lt_quantize_q8x2_scalar(x + t * n, n, q + t * n, d + t * nb, q2 + t * n, d2 + t * nb, s + t * nb);
                            else lt_quantize_q8_scalar(x + t * n, n, q + t * n, d + t * nb, s + t * nb);
                        }
                        // y rows ldy > rows apart; the gaps must stay untouched (NaN).
                        const size_t ny = (size_t)(tokens * ldy);
                        float *want = malloc(ny * 4), *got = malloc(ny * 4);
                        for (size_t i = 0; i < ny; i++) want[i] = NAN;
                        lt_qgemm_r16_at(0, dtype, n, packed, rows, q, d, two ? q2 : NULL, two ? d2 : NULL, s, tokens, want, ldy);
                        for (int level = 1; level <= 2; level++) {
                            for (size_t i = 0; i < ny; i++) got[i] = NAN;
                            // Once per shape list: the public entry point at the detected level.
                            if (level == 2 && li == 4 && ri == 2)
                                lt_qgemm_r16(dtype, n, packed, rows, q, d, two ? q2 : NULL, two ? d2 : NULL, s, tokens, got, ldy);
                            else
                                lt_qgemm_r16_at(level, dtype, n, packed, rows, q, d, two ? q2 : NULL, two ? d2 : NULL, s, tokens, got, ldy);
                            if (memcmp(want, got, ny * 4) != 0) {
                                if (!bad[level])
                                    for (size_t i = 0; i < ny; i++)
                                        if (memcmp(want + i, got + i, 4)) {
                                            printf("  %s%s r16 level %d rows %d n %lld tokens %d%s: y[%d][%d] %.9g vs %.9g\n", type_name(dtype),
                                                   two ? " x2" : "", level, rows, (long long)n, tokens, extreme ? " (extreme codes)" : "",
                                                   (int)(i / (size_t)ldy), (int)(i % (size_t)ldy), got[i], want[i]);
                                            break;
                                        }
                                bad[level]++;
                            }
                            cases[level]++;
                        }
                        free(w); free(packed); free(q); free(q2); free(d); free(d2); free(s); free(x); free(want); free(got);
                    }
            for (int level = 1; level <= 2; level++)
                report(two == 2 ? "qgemm_r16_mixed" : two ? "qgemm_r16_x2" : "qgemm_r16", type_name(dtype), level, cases[level],
                       bad[level], bad[level] ? INFINITY : 0);
        }
}

// `.mixed` activations (lt_quantize_q8x2_mixed): bit for bit the scalar level's, rows with and without
// outlier blocks.
static void test_quantize_mixed(void) {
    static const int64_t counts[] = { 32, 96, 576, 1536 };
    for (int level = 1; level <= 2; level++) {
        int cases = 0, bad = 0;
        for (int c = 0; c < 4; c++)
            for (int outliers = 0; outliers < 3; outliers++) {
                const int64_t n = counts[c], nb = n / 32;
                float *x = malloc((size_t)n * 4);
                fill_activations(x, n, 1);
                for (int o = 0; o < outliers; o++) x[(o * 197 + 5) % n] = o ? -25.0f : 40.0f;
                int8_t *q[2], *q2[2];
                float *d[2], *d2[2], *s[2];
                for (int v = 0; v < 2; v++) {
                    q[v] = malloc((size_t)n); q2[v] = malloc((size_t)n); memset(q[v], 99, (size_t)n); memset(q2[v], 99, (size_t)n);
                    d[v] = malloc((size_t)nb * 4); d2[v] = malloc((size_t)nb * 4); s[v] = malloc((size_t)nb * 4);
                    memset(d[v], 0xFF, (size_t)nb * 4); memset(d2[v], 0xFF, (size_t)nb * 4); memset(s[v], 0xFF, (size_t)nb * 4);
                }
                lt_quantize_q8x2_mixed_at(0, x, n, q[0], d[0], q2[0], d2[0], s[0], 1.5f);
                lt_quantize_q8x2_mixed_at(level, x, n, q[1], d[1], q2[1], d2[1], s[1], 1.5f);
                if (memcmp(q[0], q[1], (size_t)n) || memcmp(q2[0], q2[1], (size_t)n) || memcmp(d[0], d[1], (size_t)nb * 4) ||
                    memcmp(d2[0], d2[1], (size_t)nb * 4) || memcmp(s[0], s[1], (size_t)nb * 4)) {
                    bad++; printf("  quantize_q8x2_mixed n %lld outliers %d differs\n", (long long)n, outliers);
                }
                cases++;
                free(x);
                for (int v = 0; v < 2; v++) { free(q[v]); free(q2[v]); free(d[v]); free(d2[v]); free(s[v]); }
            }
        report("quantize_q8x2_mixed", "f32", level, cases, bad, bad ? INFINITY : 0);
    }
}

// ---------------------------------------------------------------------------------------------------
// Float-weight matmul.

static void test_fgemm(void) {
    static const int shapes[][2] = { {1, 1}, {5, 13}, {9, 64}, {6, 77}, {4, 3}, {8, 1000} };
    static const int token_counts[] = { 1, 2, 3, 4, 5, 9 };
    for (int dtype = LT_F32; dtype <= LT_BF16; dtype++)
        for (int level = 1; level <= 2; level++) {
            int cases = 0, bad = 0;
            double worst = 0;
            for (int sh = 0; sh < 6; sh++)
                for (int tc = 0; tc < 6; tc++) {
                    const int rows = shapes[sh][0], tokens = token_counts[tc];
                    const int64_t n = shapes[sh][1], ldw = row_bytes(dtype, n);
                    uint8_t *w = random_weights(dtype, rows, n, 0);
                    float *x = malloc((size_t)(tokens * n) * 4), *row = malloc((size_t)n * 4);
                    for (int64_t k = 0; k < tokens * n; k++) x[k] = rand_float(1);
                    float *want = malloc((size_t)(tokens * rows) * 4), *got = malloc((size_t)(tokens * rows) * 4);
                    lt_fgemm_scalar(dtype, n, w, ldw, rows, x, tokens, want, rows);
                    for (int i = 0; i < tokens * rows; i++) got[i] = NAN;
                    if (level == 2 && sh == 3 && tc == 5) lt_fgemm(dtype, n, w, ldw, rows, x, tokens, got, rows);
                    else lt_fgemm_at(level, dtype, n, w, ldw, rows, x, tokens, got, rows);
                    for (int r = 0; r < rows; r++) {
                        lt_dequantize_scalar(dtype, w + r * ldw, n, row);
                        for (int t = 0; t < tokens; t++) {
                            double mag = 0;
                            for (int64_t k = 0; k < n; k++) mag += fabs((double)row[k] * x[t * n + k]);
                            const double bound = 1e-5 * mag + 1e-6, err = fabs((double)got[t * rows + r] - want[t * rows + r]);
                            if (!(err <= bound)) {
                                if (!bad) printf("  %s [%dx%lld] tokens %d: y[%d][%d] %.9g vs %.9g\n", type_name(dtype), rows, (long long)n,
                                                 tokens, t, r, got[t * rows + r], want[t * rows + r]);
                                bad++;
                            }
                            if (err / bound > worst || isnan(err)) worst = isnan(err) ? INFINITY : err / bound;
                        }
                    }
                    cases++;
                    free(w); free(x); free(row); free(want); free(got);
                }
            report("fgemm", type_name(dtype), level, cases, bad, worst);
        }
}

// ---------------------------------------------------------------------------------------------------
// Float helpers and activations.

static void check(double err, double bound, int *bad, double *worst, const char *what, int64_t n, int64_t k, double got, double want) {
    if (!(err <= bound)) {
        if (!*bad) printf("  %s n %lld [%lld]: %.9g vs %.9g (bound %.3g)\n", what, (long long)n, (long long)k, got, want, bound);
        (*bad)++;
    }
    if (err / bound > *worst || isnan(err)) *worst = isnan(err) ? INFINITY : err / bound;
}

static const int64_t float_lengths[] = { 1, 3, 4, 5, 7, 8, 13, 31, 64, 577, 1536, 2048 };
#define NLEN (int)(sizeof float_lengths / sizeof float_lengths[0])

/// dot, axpy and sumsq have no level argument: the NEON functions directly (level 1 and 2 share them)
/// and the public entry points at the detected level.
static void test_blas1(void) {
    for (int via = 0; via < 2; via++) {
        int bad[3] = {0}, cases = 0;
        double worst[3] = {0};
        for (int c = 0; c < NLEN; c++) {
            const int64_t n = float_lengths[c];
            float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4), *y2 = malloc((size_t)n * 4);
            for (int64_t k = 0; k < n; k++) { a[k] = rand_float(1); b[k] = rand_float(1); }
            double mag = 0, sq = 0;
            for (int64_t k = 0; k < n; k++) { mag += fabs((double)a[k] * b[k]); sq += (double)a[k] * a[k]; }
            const float want_dot = lt_dot_f32_scalar(a, b, n);
            float want_sq = 0;
            for (int64_t k = 0; k < n; k++) want_sq += a[k] * a[k];
            float got_dot, got_sq;
#if defined(__aarch64__)
            if (via == 0) { got_dot = lt_dot_f32_neon(a, b, n); got_sq = lt_sumsq_f32_neon(a, n); }
            else
#endif
            { got_dot = lt_dot_f32(a, b, n); got_sq = lt_sumsq_f32(a, n); }
            check(fabs((double)got_dot - want_dot), 1e-5 * mag + 1e-6, &bad[0], &worst[0], "dot", n, 0, got_dot, want_dot);
            check(fabs((double)got_sq - want_sq), 1e-5 * sq + 1e-6, &bad[1], &worst[1], "sumsq", n, 0, got_sq, want_sq);
            const float alpha = rand_float(2);
            memcpy(y1, b, (size_t)n * 4); memcpy(y2, b, (size_t)n * 4);
            for (int64_t k = 0; k < n; k++) y1[k] += alpha * a[k];
#if defined(__aarch64__)
            if (via == 0) lt_axpy_f32_neon(alpha, a, y2, n);
            else
#endif
            lt_axpy_f32(alpha, a, y2, n);
            for (int64_t k = 0; k < n; k++)   // one fused vs two roundings: within 1.5 ulp of the magnitudes
                check(fabs((double)y2[k] - y1[k]), 1.8e-7 * (fabs((double)alpha * a[k]) + fabs((double)b[k])) + 1e-38,
                      &bad[2], &worst[2], "axpy", n, k, y2[k], y1[k]);
            cases++;
            free(a); free(b); free(y1); free(y2);
        }
        const int level = via == 0 ? 1 : 2;
        report(via ? "lt_dot_f32" : "dot_f32_neon", "f32", level, cases, bad[0], worst[0]);
        report(via ? "lt_sumsq_f32" : "sumsq_f32_neon", "f32", level, cases, bad[1], worst[1]);
        report(via ? "lt_axpy_f32" : "axpy_f32_neon", "f32", level, cases, bad[2], worst[2]);
    }
}

/// argmax: the NEON function and the public entry point against the plain loop (first strictly larger value
/// wins, NaN never does, 0 when nothing is above -inf), on ties, NaNs, -inf rows and signed zeros.
static void test_argmax(void) {
    for (int via = 0; via < 2; via++) {
        int bad = 0, cases = 0;
        for (int c = 0; c < NLEN; c++) {
            const int64_t n = float_lengths[c];
            float *x = malloc((size_t)n * 4);
            for (int kind = 0; kind < 6; kind++) {
                for (int64_t k = 0; k < n; k++) x[k] = rand_float(20);
                if (kind == 1) for (int64_t k = 0; k < n; k += 3) x[k] = NAN;
                if (kind == 2 && n > 3) { x[n / 3] = 100; x[n - 1] = 100; }
                if (kind == 3) for (int64_t k = 0; k < n; k++) x[k] = -INFINITY;
                if (kind == 4) for (int64_t k = 0; k < n; k++) x[k] = NAN;
                if (kind == 5) {
                    for (int64_t k = 0; k < n; k++) x[k] = -INFINITY;
                    x[n - 1] = 0.0f;
                    if (n > 2) x[n / 2] = -0.0f;
                }
                int64_t want = 0;
                float top = -INFINITY;
                for (int64_t k = 0; k < n; k++) if (x[k] > top) { top = x[k]; want = k; }
                int64_t got;
#if defined(__aarch64__)
                if (via == 0) got = lt_argmax_f32_neon(x, n);
                else
#endif
                got = lt_argmax_f32(x, n);
                if (got != want) {
                    if (!bad)
                        printf("  argmax n %lld kind %d: %lld vs %lld\n", (long long)n, kind, (long long)got, (long long)want);
                    bad++;
                }
                cases++;
            }
            free(x);
        }
        report(via ? "lt_argmax_f32" : "argmax_f32_neon", "f32", via == 0 ? 1 : 2, cases, bad, bad ? 1 : 0);
    }
}

static double gelu_u(float v) { const double x = v; return 0.79788456080286536 * (x + 0.044715 * x * x * x); }

static void test_activations(void) {
    for (int level = 0; level <= 2; level++) {   // level 0: the scalar twins against the same bounds
        int bad[5] = {0}, cases = 0;
        double worst[5] = {0};
        for (int c = 0; c < NLEN; c++) {
            const int64_t n = float_lengths[c];
            float *gate = malloc((size_t)n * 4), *up = malloc((size_t)n * 4), *g = malloc((size_t)n * 4);
            float *want = malloc((size_t)n * 4), *sc = malloc((size_t)n * 4), *x = malloc((size_t)n * 4);
            float *y = malloc((size_t)n * 4), *yg = malloc((size_t)n * 4);
            for (int64_t k = 0; k < n; k++) { gate[k] = rand_float(12); up[k] = rand_float(3); sc[k] = rand_float(30); x[k] = rand_float(6); }
            if (n > 4) { gate[0] = -100; gate[1] = 100; gate[2] = 0; gate[3] = -88; sc[1] = -INFINITY; sc[3] = -1e30f; sc[4] = 80; }
            if (n > 6) { x[0] = 0; x[1] = -12; x[2] = 12; x[3] = -1e-6f; x[4] = 3e-8f; x[5] = -100; x[6] = 50; }
            // swiglu against the scalar twin (libm expf)
            memcpy(want, gate, (size_t)n * 4); memcpy(g, gate, (size_t)n * 4);
            lt_swiglu_f32_at(0, want, up, n);
            lt_swiglu_f32_at(level, g, up, n);
            for (int64_t k = 0; k < n; k++) check(fabs((double)g[k] - want[k]), 4e-7 * fabs(want[k]) + 1e-30, &bad[0], &worst[0], "swiglu", n, k, g[k], want[k]);
            // softmax
            memcpy(want, sc, (size_t)n * 4); memcpy(g, sc, (size_t)n * 4);
            lt_softmax_f32_at(0, want, n);
            lt_softmax_f32_at(level, g, n);
            for (int64_t k = 0; k < n; k++) check(fabs((double)g[k] - want[k]), 4e-7 * fabs(want[k]) + 1e-30, &bad[1], &worst[1], "softmax", n, k, g[k], want[k]);
            if (n > 4 && g[1] != 0) { bad[1]++; printf("  softmax: exp(-inf) gave %g\n", g[1]); }
            // exact GELU against the scalar twin (erff)
            memcpy(want, x, (size_t)n * 4); memcpy(g, x, (size_t)n * 4);
            lt_gelu_f32_at(0, want, n);
            lt_gelu_f32_at(level, g, n);
            for (int64_t k = 0; k < n; k++) check(fabs((double)g[k] - want[k]), 2e-7 * fmax(1, fabs(x[k])) + 1e-7, &bad[2], &worst[2], "gelu", n, k, g[k], want[k]);
            // tanh GELU, plain and gated, against double precision
            memcpy(y, x, (size_t)n * 4); memcpy(yg, x, (size_t)n * 4);
            lt_gelu_tanh_f32_at(level, y, NULL, n);
            lt_gelu_tanh_f32_at(level, yg, up, n);
            for (int64_t k = 0; k < n; k++) {
                const double u = gelu_u(x[k]), plain = (double)x[k] / (1 + exp(-2 * u)), gated = plain * up[k];
                const double rel = 1.2e-7 * (4 + 2 * fabs(u));
                check(fabs((double)y[k] - plain), rel * fabs(plain) + 1e-30, &bad[3], &worst[3], "gelu_tanh", n, k, y[k], plain);
                check(fabs((double)yg[k] - gated), rel * fabs(gated) + 1e-30, &bad[4], &worst[4], "geglu", n, k, yg[k], gated);
            }
            cases++;
            free(gate); free(up); free(g); free(want); free(sc); free(x); free(y); free(yg);
        }
        static const char *names[5] = { "swiglu", "softmax", "gelu", "gelu_tanh", "gelu_tanh+up" };
        for (int i = 0; i < 5; i++) report(names[i], "f32", level, cases, bad[i], worst[i]);
    }
    // Public entry points (detected level) on one length with a tail.
    const int64_t n = 1541;
    float *a = malloc(n * 4), *b = malloc(n * 4), *up = malloc(n * 4);
    for (int64_t k = 0; k < n; k++) { a[k] = rand_float(8); up[k] = rand_float(2); }
    int bad = 0;
    double worst = 0;
    memcpy(b, a, n * 4); lt_swiglu_f32(b, up, n);
    for (int64_t k = 0; k < n; k++) { const double e = a[k] / (1 + exp(-(double)a[k])) * up[k]; check(fabs(b[k] - e), 4e-7 * fabs(e) + 1e-30, &bad, &worst, "lt_swiglu_f32", n, k, b[k], e); }
    memcpy(b, a, n * 4); lt_gelu_f32(b, n);
    for (int64_t k = 0; k < n; k++) { const double e = 0.5 * a[k] * (1 + erf(a[k] / sqrt(2.0))); check(fabs(b[k] - e), 2e-7 * fmax(1, fabs(a[k])) + 1e-7, &bad, &worst, "lt_gelu_f32", n, k, b[k], e); }
    memcpy(b, a, n * 4); lt_gelu_tanh_f32(b, NULL, n);
    for (int64_t k = 0; k < n; k++) { const double u = gelu_u(a[k]), e = a[k] / (1 + exp(-2 * u)); check(fabs(b[k] - e), 1.2e-7 * (4 + 2 * fabs(u)) * fabs(e) + 1e-30, &bad, &worst, "lt_gelu_tanh_f32", n, k, b[k], e); }
    memcpy(b, a, n * 4); lt_softmax_f32(b, n);
    double mx = -INFINITY, sum = 0;
    for (int64_t k = 0; k < n; k++) mx = fmax(mx, a[k]);
    for (int64_t k = 0; k < n; k++) sum += exp(a[k] - mx);
    for (int64_t k = 0; k < n; k++) { const double e = exp(a[k] - mx) / sum; check(fabs(b[k] - e), 4e-7 * fabs(e) + 1e-30, &bad, &worst, "lt_softmax_f32", n, k, b[k], e); }
    report("activations", "entry", max_level, 4, bad, worst);
    free(a); free(b); free(up);
}

// ---------------------------------------------------------------------------------------------------
// KV cache: storing rows (f16 must equal the scalar conversion bit for bit) and attention over stored
// rows (paged through a shuffled block table, with a first key, an ALiBi slope and a bias) against the
// scalar twin: outputs within 2e-6 of sum |p v| (plus 1e-6), the log-sum-exp within 2e-6 |lse| + 1e-6;
// and lt_attend_kv_rows_at equal to one row at a time, bit for bit.

static void test_kv(void) {
    for (int level = 1; level <= max_level; level++) {
        // Stores: random values plus the edges of f16 (overflow, ties, subnormals, infinities, NaN).
        int bad = 0, cases = 0; double worst = 0;
        const float edges[] = { 65504.0f, 65520.0f, 65519.99f, -1e9f, 1.0009765625f, 1.00048828125f, 5.9604645e-8f,
                                2.9802322e-8f, 8.9406967e-8f, -6.1035156e-5f, 6.0975552e-5f, 0.0f, -0.0f, INFINITY, -INFINITY, NAN };
        for (int kt = 1; kt <= 2; kt++) {
            const int64_t n = 96;
            float src[96]; uint8_t a[96 * 4], b[96 * 4];
            for (int rep = 0; rep < 40; rep++) {
                for (int i = 0; i < n; i++) src[i] = rep == 0 && i < 16 ? edges[i] : rand_float(rep < 20 ? 4.0f : 1e-4f);
                memset(a, 0, sizeof a); memset(b, 0, sizeof b);
                lt_kv_store_at(0, kt, src, n, a);
                lt_kv_store_at(level, kt, src, n, b);
                const int64_t bytes = lt_kv_bytes(kt, n);
                if (memcmp(a, b, (size_t)bytes) != 0) {
                    if (!bad) printf("  kv store type %d differs from the scalar store (rep %d)\n", kt, rep);
                    bad++;
                }
                cases++;
            }
        }
        report("kv_store", "f16/q8_0", level, cases, bad, worst);

        static const int64_t hds[] = { 64, 96, 128 }, lengths[] = { 1, 2, 7, 16, 33, 100 };
        for (int kt = 0; kt <= 2; kt++) {
            bad = 0; cases = 0; worst = 0;
            int rbad = 0;
            for (int hi = 0; hi < 3; hi++)
                for (int li = 0; li < 6; li++)
                    for (int variant = 0; variant < 3; variant++) {
                        const int64_t hd = hds[hi], n = lengths[li], block = 16, blocks = (n + block - 1) / block;
                        const int64_t heads = 2, row_bytes = lt_kv_bytes(kt, hd), stride = heads * row_bytes;
                        int32_t table[16];
                        for (int64_t i = 0; i < blocks; i++) table[i] = (int32_t)i;
                        for (int64_t i = blocks - 1; i > 0; i--) { const int j = rand_int(0, (int)i); int32_t t = table[i]; table[i] = table[j]; table[j] = t; }
                        uint8_t *k = calloc((size_t)(blocks * block * stride), 1), *v = calloc((size_t)(blocks * block * stride), 1);
                        float row[128], q[3 * 128];
                        for (int64_t j = 0; j < n; j++) {
                            const int64_t slot = (int64_t)table[j / block] * block + j % block;
                            for (int64_t h = 0; h < heads; h++) {
                                for (int64_t d = 0; d < hd; d++) row[d] = rand_float(2);
                                lt_kv_store_at(0, kt, row, hd, k + slot * stride + h * row_bytes);
                                for (int64_t d = 0; d < hd; d++) row[d] = rand_float(1);
                                lt_kv_store_at(0, kt, row, hd, v + slot * stride + h * row_bytes);
                            }
                        }
                        for (int64_t d = 0; d < 3 * hd; d++) q[d] = rand_float(1);
                        const int64_t first = variant == 2 && n > 3 ? 3 : 0;
                        const float slope = variant == 1 ? -0.0625f : 0.0f;
                        float bias[100];
                        for (int64_t j = 0; j < n; j++) bias[j] = rand_float(0.5f);
                        const float *bp = variant == 1 ? bias : NULL;
                        float s0[100], s1[100], o0[128], o1[128], l0 = 0, l1 = 0;
                        const uint8_t *kh = k + row_bytes, *vh = v + row_bytes;   // head 1 of each row
                        lt_attend_kv_lse_at(0, kt, q, kh, vh, table, block, stride, first, n, hd, 0.125f, slope, bp, s0, o0, &l0);
                        lt_attend_kv_lse_at(level, kt, q, kh, vh, table, block, stride, first, n, hd, 0.125f, slope, bp, s1, o1, &l1);
                        double mag[128] = {0};
                        float vr[128], one[1];
                        for (int64_t j = first; j < n; j++) {   // v_j itself: attention over key j alone
                            lt_attend_kv_lse_at(0, kt, q, kh, vh, table, block, stride, j, j + 1, hd, 0, 0, NULL, one, vr, NULL);
                            for (int64_t d = 0; d < hd; d++) mag[d] += fabs((double)s0[j - first] * vr[d]);
                        }
                        for (int64_t d = 0; d < hd; d++)
                            check(fabs((double)o1[d] - o0[d]), 2e-6 * mag[d] + 1e-6, &bad, &worst, "attend out", n, d, o1[d], o0[d]);
                        check(fabs((double)l1 - l0), 2e-6 * fabs((double)l0) + 1e-6, &bad, &worst, "attend lse", n, 0, l1, l0);
                        // Three rows of one head (grouped query heads) through the row kernel, each as alone.
                        if (!bp) {
                            int64_t ns[3] = { n, n, n };
                            float rs[3 * 100], ro[3 * 128], rl[3], so[100], oo[128], lo;
                            lt_attend_kv_rows_at(level, kt, 3, q, hd, kh, vh, table, block, stride, first, ns, hd, 0.125f,
                                                 slope, rs, 100, ro, hd, rl);
                            for (int r = 0; r < 3; r++) {
                                lt_attend_kv_lse_at(level, kt, q + r * hd, kh, vh, table, block, stride, first, n, hd, 0.125f,
                                                    slope, NULL, so, oo, &lo);
                                if (memcmp(oo, ro + r * hd, (size_t)hd * 4) != 0 || memcmp(&lo, rl + r, 4) != 0) {
                                    if (!rbad) printf("  attend rows type %d hd %lld n %lld row %d differs from the row alone\n",
                                                      kt, (long long)hd, (long long)n, r);
                                    rbad++;
                                }
                            }
                        }
                        cases++;
                        free(k); free(v);
                    }
            report("attend_kv", kt == 0 ? "f32" : kt == 1 ? "f16" : "q8_0", level, cases, bad, worst);
            report("attend_kv_rows", kt == 0 ? "f32" : kt == 1 ? "f16" : "q8_0", level, cases, rbad, 0);
        }
    }
}

int main(int argc, char **argv) {
    max_level = lt_cpu_level();
    printf("lt_cpu_level() = %d", max_level);
#if defined(__aarch64__)
    printf(" (aarch64: 1 NEON, 2 NEON + dot product)\n");
#else
    printf(" (not aarch64: the x86 paths are tested instead)\n");
#endif
    if (argc > 1 && atoi(argv[1]) != max_level) {
        printf("FAIL expected lt_cpu_level() = %s\n", argv[1]);
        failures++;
    }
#if defined(__aarch64__)
    // The r16 layout has NEON kernels at both levels: Swift repacks weights at load (PackedWeights.enabled).
    if (lt_qgemm_r16_fast() != 1) { printf("FAIL lt_qgemm_r16_fast() is %d on aarch64\n", lt_qgemm_r16_fast()); failures++; }
    else printf("ok   lt_qgemm_r16_fast() = 1 (packed weights on)\n");
#endif
    test_quantize();
    test_quantize_mixed();
    test_dequantize();
    test_qgemm();
    test_qgemm_r16();
    test_fgemm();
    test_blas1();
    test_argmax();
    test_activations();
    test_kv();
    printf("%s: %d failing kernel line(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
