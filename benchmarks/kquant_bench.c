// Weight-streaming speed of the quantized matvec kernels (lt_qgemm / lt_qgemm_x2), independent of the
// Swift code: a [rows, cols] matrix times 1 token, rows split across 1 or 2 threads, each thread timing
// `iters` back-to-back calls on its half. "hot": the same matrix every call (L2/L3-resident for small
// shapes); "cold": cycles through copies totalling ~96 MiB so the bytes come from DRAM.
// Build and run: [LT_LEVEL=0..3] [LT_TOKENS=n] benchmarks/kquant_bench.sh [rows cols [TYPE,TYPE...]]
#include "ckernels.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/// ISA level for the kernels: LT_LEVEL in the environment, else the CPU's best.
static int level = -1;
/// Tokens per call: LT_TOKENS in the environment, else 1 (a decode matvec); >1 shows prefill throughput.
static int64_t ntok = 1;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

typedef struct { const char *name; int code, block, bytes; int halves[2]; } type_info;
static const type_info types[] = {
    { "Q8_0", LT_Q8_0, 32, 34, { 0, -1 } }, { "Q4_0", LT_Q4_0, 32, 18, { 0, -1 } },
    { "Q4_1", LT_Q4_1, 32, 20, { 0, 2 } },  { "Q5_0", LT_Q5_0, 32, 22, { 0, -1 } },
    { "Q5_1", LT_Q5_1, 32, 24, { 0, 2 } },  { "Q2_K", LT_Q2_K, 256, 84, { 80, 82 } },
    { "Q3_K", LT_Q3_K, 256, 110, { 108, -1 } }, { "Q4_K", LT_Q4_K, 256, 144, { 0, 2 } },
    { "Q5_K", LT_Q5_K, 256, 176, { 0, 2 } }, { "Q6_K", LT_Q6_K, 256, 210, { 208, -1 } },
};

typedef struct {
    const type_info *t; int64_t rows, cols, row0, nrows, copies, iters, ldw; int levels;
    uint8_t **w; int8_t *qs, *qs2; float *d, *d2, *s, *y; double seconds;
} job;

static void *run(void *p) {
    job *j = p;
    double t0 = now();
    int64_t it = 0;
    // At least `iters` calls and at least 0.25 s.
    for (; it < j->iters || now() - t0 < 0.25; it++) {
        const uint8_t *w = j->w[it % j->copies] + j->row0 * j->ldw;
        if (j->levels == 2)
            lt_qgemm_x2_at(level, j->t->code, j->cols, w, j->ldw, j->nrows, j->qs, j->d, j->qs2, j->d2, j->s, ntok, j->y + j->row0, j->rows);
        else
            lt_qgemm_at(level, j->t->code, j->cols, w, j->ldw, j->nrows, j->qs, j->d, j->s, ntok, j->y + j->row0, j->rows);
    }
    j->seconds = now() - t0;
    j->iters = it;
    return NULL;
}

int main(int argc, char **argv) {
    const int64_t rows = argc > 2 ? atoll(argv[1]) : 896, cols = argc > 2 ? atoll(argv[2]) : 4864;
    const char *only = argc > 3 ? argv[3] : NULL;
    level = getenv("LT_LEVEL") ? atoi(getenv("LT_LEVEL")) : lt_cpu_level();
    if (getenv("LT_TOKENS")) ntok = atoll(getenv("LT_TOKENS")) > 0 ? atoll(getenv("LT_TOKENS")) : 1;
    float *x = malloc(ntok * cols * 4);
    srand(1);
    for (int64_t k = 0; k < ntok * cols; k++) x[k] = (float)((double)rand() / RAND_MAX) * 2 - 1;
    int8_t *qs = malloc(ntok * cols), *qs2 = malloc(ntok * cols);
    float *d = malloc(ntok * cols / 32 * 4), *d2 = malloc(ntok * cols / 32 * 4), *s = malloc(ntok * cols / 32 * 4);
    float *y = malloc(ntok * rows * 4);
    lt_quantize_q8x2(x, ntok * cols, qs, d, qs2, d2, s);   // per 32-value block, so rows need no separate calls
    printf("cpu level %d (running level %d), [%lld x %lld] x %lld token(s), GB/s of weight bytes per call (best of 3)\n",
           lt_cpu_level(), level, (long long)rows, (long long)cols, (long long)ntok);
    printf("%-5s %9s | %-27s | %-27s\n", "type", "MiB", "hot 1T  2T   (int8 / x2)", "cold 1T  2T   (int8 / x2)");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const type_info *t = &types[ti];
        if (only) {   // comma-separated list of type names
            char key[16], list[256];
            snprintf(key, sizeof key, ",%s,", t->name);
            snprintf(list, sizeof list, ",%s,", only);
            if (!strstr(list, key)) continue;
        }
        if (cols % t->block) continue;
        const int64_t ldw = cols / t->block * t->bytes, bytes = rows * ldw;
        const int64_t copies = (96ll << 20) / bytes + 1;
        uint8_t **w = malloc(copies * sizeof *w);
        for (int64_t c = 0; c < copies; c++) {
            w[c] = malloc(bytes);
            for (int64_t i = 0; i < bytes; i++) w[c][i] = (uint8_t)rand();
            for (int64_t b = 0; b < bytes / t->bytes; b++)
                for (int h = 0; h < 2; h++)
                    if (t->halves[h] >= 0) { uint16_t v = 0x2000 + (rand() & 0x3FF); memcpy(w[c] + b * t->bytes + t->halves[h], &v, 2); }
        }
        double gbs[2][2][2];   // [cold][threads - 1][levels - 1]
        for (int cold = 0; cold < 2; cold++)
            for (int nt = 1; nt <= 2; nt++)
                for (int lv = 1; lv <= 2; lv++) {
                    double best = 0;
                    for (int rep = 0; rep < 3; rep++) {
                        job jobs[2];
                        pthread_t th[2];
                        const int64_t iters = 4;
                        int64_t half = (rows / nt + 3) / 4 * 4;
                        for (int k = 0; k < nt; k++) {
                            int64_t r0 = k * half, r1 = k == nt - 1 ? rows : (k + 1) * half;
                            jobs[k] = (job){ t, rows, cols, r0, r1 - r0, cold ? copies : 1, iters, ldw, lv,
                                             w, qs, qs2, d, d2, s, y, 0 };
                            pthread_create(&th[k], NULL, run, &jobs[k]);
                        }
                        // Each thread streams its own rows: total bytes over the slowest thread's time.
                        double moved = 0, worst = 0;
                        for (int k = 0; k < nt; k++) {
                            pthread_join(th[k], NULL);
                            moved += (double)jobs[k].nrows * ldw * jobs[k].iters;
                            if (jobs[k].seconds > worst) worst = jobs[k].seconds;
                        }
                        double g = moved / worst / 1e9;
                        if (g > best) best = g;
                    }
                    gbs[cold][nt - 1][lv - 1] = best;
                }
        printf("%-5s %9.2f | %5.1f/%-5.1f %5.1f/%-5.1f    | %5.1f/%-5.1f %5.1f/%-5.1f\n", t->name, bytes / 1048576.0,
               gbs[0][0][0], gbs[0][0][1], gbs[0][1][0], gbs[0][1][1], gbs[1][0][0], gbs[1][0][1], gbs[1][1][0], gbs[1][1][1]);
        for (int64_t c = 0; c < copies; c++) free(w[c]);
        free(w);
        fflush(stdout);
    }
    return 0;
}
