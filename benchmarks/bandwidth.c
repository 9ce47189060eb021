// Read bandwidth of this machine: T threads each stream their share of a buffer much larger than the last
// level cache with 256-bit loads (what a decode step does with the weights), best and median of R runs.
// Usage: bandwidth [MiB] [runs] [--format json]. Built and run by benchmarks/bandwidth.sh.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static const uint8_t *buffer;
static size_t bytes;
static int threads;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void *reader(void *arg) {
    const size_t id = (size_t)(intptr_t)arg, share = bytes / (size_t)threads / 128 * 128;
    const uint8_t *p = buffer + id * share;
    uint64_t sink = 0;
#if defined(__x86_64__) && defined(__AVX2__)
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i < share; i += 128) {
        a = _mm256_xor_si256(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_xor_si256(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
        c = _mm256_xor_si256(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
        d = _mm256_xor_si256(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
    sink = (uint64_t)_mm256_extract_epi64(a, 0);
#else
    uint64_t s0 = 0, s1 = 0;
    for (size_t i = 0; i < share; i += 16) { uint64_t x, y; memcpy(&x, p + i, 8); memcpy(&y, p + i + 8, 8); s0 ^= x; s1 ^= y; }
    sink = s0 ^ s1;
#endif
    return (void *)(intptr_t)sink;
}

static int compare(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    size_t mib = 1024; int runs = 7, json = 0, positional = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) { json = !strcmp(argv[++i], "json"); continue; }
        if (positional == 0) mib = (size_t)atol(argv[i]); else runs = atoi(argv[i]);
        positional++;
    }
    if (mib < 64 || runs < 1 || runs > 100) { fprintf(stderr, "usage: bandwidth [MiB >= 64] [runs 1-100] [--format json]\n"); return 2; }
    bytes = mib << 20;
    uint8_t *buf = aligned_alloc(64, bytes);
    if (!buf) { fprintf(stderr, "bandwidth: cannot allocate %zu MiB\n", mib); return 1; }
    for (size_t i = 0; i < bytes; i += 4096) buf[i] = (uint8_t)i;   // touch every page
    memset(buf, 1, bytes);
    buffer = buf;
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (json) printf("{\"mib\": %zu, \"runs\": %d, \"results\": [", mib, runs);
    for (threads = 1; threads <= cores && threads <= 64; threads *= 2) {
        double gbs[100];
        for (int r = 0; r < runs; r++) {
            pthread_t t[64];
            const double t0 = now();
            for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, reader, (void *)(intptr_t)i);
            for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
            gbs[r] = (double)(bytes / (size_t)threads / 128 * 128 * (size_t)threads) / (now() - t0) / 1e9;
        }
        qsort(gbs, (size_t)runs, sizeof(double), compare);
        if (json) printf("%s{\"threads\": %d, \"best_gb_s\": %.2f, \"median_gb_s\": %.2f}", threads > 1 ? ", " : "", threads, gbs[runs - 1], gbs[runs / 2]);
        else printf("%d thread%s: best %.2f GB/s, median %.2f GB/s\n", threads, threads > 1 ? "s" : "", gbs[runs - 1], gbs[runs / 2]);
        if (threads * 2 > cores && threads != cores) threads = (int)cores / 2;   // end on exactly `cores`
    }
    if (json) printf("]}\n");
    free(buf);
    return 0;
}
