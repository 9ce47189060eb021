// Times the packed (r16) integer matmul kernel alone, one thread: a Q4_1 matrix of ROWS x COLS, repacked
// and copied COPIES times (so the weights stream from memory as in decode, or stay cached with COPIES=1),
// against T activation rows of one or two int8 levels. Prints the best and median of PASSES passes.
//   benchmarks/qgemm_bench.sh [rows cols copies]     (default 1536 576 96). Check `uptime` first.
#include "ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 1536, cols = argc > 2 ? atoll(argv[2]) : 576;
    const int copies = argc > 3 ? atoi(argv[3]) : 96;
    const int64_t nb = cols / 32, raw = rows * nb * 20, packed = lt_pack_r16_bytes(LT_Q4_1, cols, rows);
    uint8_t *w = malloc(raw);
    srand(1);
    for (int64_t i = 0; i < rows * nb; i++) {
        uint16_t dd = 0x2000 + rand() % 256, mm = 0xA000 + rand() % 256;   // small positive d, negative m
        memcpy(w + 20 * i, &dd, 2); memcpy(w + 20 * i + 2, &mm, 2);
        for (int k = 0; k < 16; k++) w[20 * i + 4 + k] = (uint8_t)rand();
    }
    uint8_t *p = aligned_alloc(64, packed * copies);
    for (int c = 0; c < copies; c++) if (!lt_pack_r16(LT_Q4_1, cols, w, nb * 20, rows, p + c * packed)) return 1;
    const int T = 512;
    float *x = malloc(sizeof(float) * T * cols), *y = malloc(sizeof(float) * T * rows);
    int8_t *qs = malloc(T * cols), *qs2 = malloc(T * cols);
    float *d = malloc(sizeof(float) * T * nb), *d2 = malloc(sizeof(float) * T * nb), *s = malloc(sizeof(float) * T * nb);
    for (int64_t i = 0; i < T * cols; i++) x[i] = (float)(rand() & 0xFFFF) / 65536.0f - 0.5f;
    for (int t = 0; t < T; t++) lt_quantize_q8x2(x + t * cols, cols, qs + t * cols, d + t * nb, qs2 + t * cols, d2 + t * nb, s + t * nb);
    const int tokens[] = {1, 4, 8, 16, 64};
    for (int L = 1; L <= 2; L++)
        for (unsigned ti = 0; ti < sizeof tokens / sizeof *tokens; ti++) {
            const int nt = tokens[ti], passes = 15;
            const int use = nt >= 16 ? (copies < 8 ? copies : 8) : copies;   // compute-bound sizes: fewer copies
            double times[15];
            for (int r = 0; r < passes; r++) {
                const double t0 = now();
                for (int c = 0; c < use; c++)
                    lt_qgemm_r16(LT_Q4_1, cols, p + c * packed, rows, qs, d, L == 2 ? qs2 : NULL, L == 2 ? d2 : NULL, s, nt, y, rows);
                times[r] = (now() - t0) / use;
            }
            qsort(times, passes, sizeof *times, cmp);
            const double macs = (double)rows * cols * nt * L;
            printf("levels %d tokens %3d: best %8.1f us  median %8.1f us  %6.2f GB/s  %7.1f GMAC/s (best)\n", L, nt,
                   1e6 * times[0], 1e6 * times[passes / 2], packed / times[0] / 1e9, macs / times[0] / 1e9);
        }
    return 0;
}
