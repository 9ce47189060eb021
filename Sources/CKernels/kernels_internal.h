// Private declarations shared by the kernel translation units.
#ifndef LANTERN_KERNELS_INTERNAL_H
#define LANTERN_KERNELS_INTERNAL_H
#include "include/ckernels.h"

float lt_f16_to_f32(uint16_t h);

void lt_quantize_q8_scalar(const float *x, int64_t n, int8_t *qs, float *d, float *s);
void lt_quantize_q8x2_scalar(const float *x, int64_t n, int8_t *qs, float *d, int8_t *qs2, float *d2, float *s);
/// qs2 == NULL: single-level activations (d2 unused).
void lt_qgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const int8_t *qs, const float *d, const int8_t *qs2, const float *d2, const float *s,
                     int64_t ntokens, float *y, int64_t ldy);
void lt_fgemm_scalar(int dtype, int64_t n, const void *w, int64_t ldw, int64_t nrows,
                     const float *x, int64_t ntokens, float *y, int64_t ldy);
void lt_dequantize_scalar(int dtype, const void *src, int64_t n, float *dst);
float lt_dot_f32_scalar(const float *a, const float *b, int64_t n);

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
    void lt_swiglu_f32_##isa(float *gate, const float *up, int64_t n); \
    void lt_gelu_f32_##isa(float *x, int64_t n); \
    void lt_softmax_f32_##isa(float *x, int64_t n); \
    void lt_attend_f32_##isa(const float *q, const float *k, const float *v, int64_t stride, int64_t n, \
                             int64_t hd, float scale, float *scores, float *out); \
    void lt_attend_ext_f32_##isa(const float *q, const float *k, const float *v, const int32_t *table, \
                                 int64_t block, int64_t stride, int64_t n, int64_t hd, float scale, \
                                 float slope, const float *bias, float *scores, float *out);
LT_DECLARE_ISA(avx2)
LT_DECLARE_ISA(avx512)
LT_DECLARE_ISA(vnni)
#endif
#endif
