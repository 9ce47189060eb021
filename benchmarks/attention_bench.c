// One tile of query rows over an f16 paged cache, through the row-tile kernel (lt_attend_kv_rows) and row by
// row (lt_attend_kv_lse), at each ISA level this CPU has: best of 7 x 200 calls.
//   benchmarks/c_bench.sh attention_bench [rows keys head_dim]     (default 8 512 64: a prompt tile)
// Rows are a causal run (the last `rows` positions of `keys`); 3 rows of equal length are a decode group.
#include "ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float uniform(void) { return (float)rand() / (float)RAND_MAX - 0.5f; }

int main(int argc, char **argv) {
    const int rows = argc > 1 ? atoi(argv[1]) : 8, keys = argc > 2 ? atoi(argv[2]) : 512, hd = argc > 3 ? atoi(argv[3]) : 64;
    if (rows < 1 || keys < rows || hd < 8 || hd > 256 || hd % 8) { fprintf(stderr, "bad sizes\n"); return 1; }
    const int64_t rowBytes = (int64_t)hd * 2, block = 16, blocks = (keys + block - 1) / block;
    uint16_t *k = malloc(blocks * block * rowBytes), *v = malloc(blocks * block * rowBytes);
    float *tmp = malloc(hd * sizeof(float)), *q = malloc((size_t)rows * hd * sizeof(float));
    int32_t *table = malloc(blocks * sizeof(int32_t));
    for (int64_t i = 0; i < blocks; i++) table[i] = (int32_t)(blocks - 1 - i);   // pages in reverse order
    for (int j = 0; j < keys; j++) {
        for (int d = 0; d < hd; d++) tmp[d] = uniform();
        lt_kv_store(LT_KV_F16, tmp, hd, k + (int64_t)j * hd);
        for (int d = 0; d < hd; d++) tmp[d] = uniform();
        lt_kv_store(LT_KV_F16, tmp, hd, v + (int64_t)j * hd);
    }
    for (int i = 0; i < rows * hd; i++) q[i] = uniform();
    int64_t *ns = malloc(rows * sizeof(int64_t));
    for (int r = 0; r < rows; r++) ns[r] = keys - rows + 1 + r;
    float *scores = malloc((size_t)rows * keys * sizeof(float)), *out = malloc((size_t)rows * hd * sizeof(float));
    float *lse = malloc(rows * sizeof(float));
    for (int level = 0; level <= lt_cpu_level(); level++) {
        for (int mode = 0; mode < 2; mode++) {
            double best = 1e9;
            for (int rep = 0; rep < 7; rep++) {
                const double t0 = now();
                for (int it = 0; it < 200; it++) {
                    if (mode == 0)
                        lt_attend_kv_rows_at(level, LT_KV_F16, rows, q, hd, k, v, table, block, rowBytes, 0, ns, hd, 0.125f, 0,
                                             scores, keys, out, hd, lse);
                    else
                        for (int r = 0; r < rows; r++)
                            lt_attend_kv_lse_at(level, LT_KV_F16, q + r * hd, k, v, table, block, rowBytes, 0, ns[r], hd, 0.125f,
                                                0, NULL, scores + (int64_t)r * keys, out + r * hd, lse + r);
                }
                const double t = (now() - t0) / 200;
                if (t < best) best = t;
            }
            printf("level %d %-10s %d rows x %d keys, hd %d f16: %8.1f us\n", level, mode == 0 ? "tile" : "row by row",
                   rows, keys, hd, best * 1e6);
        }
    }
    return 0;
}
