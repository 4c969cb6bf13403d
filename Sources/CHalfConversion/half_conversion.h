// Widening of 16 half-precision values to float32 in registers, for TensorCore's kernels. Swift's generic SIMD
// conversions (`SIMD16<Float>(SIMD16<Float16>)`, `truncatingIfNeeded:`) are calls the optimizer does not always
// inline inside a large kernel, and such a call makes every vector register caller-saved; these always inline to
// one `vcvtph2ps` (f16) or a zero-extension and shift (bf16). Built with the package's SIMD flags (AVX-512, or AVX2
// with F16C).
#ifndef EVOSEARCH_HALF_CONVERSION_H
#define EVOSEARCH_HALF_CONVERSION_H

/// 16 float32 lanes (imported into Swift as SIMD16<Float>).
typedef float evo_float32x16 __attribute__((ext_vector_type(16)));

#if defined(__x86_64__)
#include <immintrin.h>

/// The 16 IEEE binary16 values at `p` (any alignment) as float32: exact for every bit pattern (NaNs quietened).
static inline __attribute__((always_inline)) evo_float32x16 evo_widen_f16x16(const void *p) {
#if defined(__AVX512F__)
    return (evo_float32x16)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
#else
    __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p + 1));
    return __builtin_shufflevector((__attribute__((ext_vector_type(8))) float)lo,
                                   (__attribute__((ext_vector_type(8))) float)hi,
                                   0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#endif
}

/// The 16 bfloat16 values at `p` (any alignment) as float32: each the upper half of its float32, payloads kept.
static inline __attribute__((always_inline)) evo_float32x16 evo_widen_bf16x16(const void *p) {
#if defined(__AVX512F__)
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return (evo_float32x16)_mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
#else
    __m256i lo = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16);
    __m256i hi = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p + 1)), 16);
    return __builtin_shufflevector((__attribute__((ext_vector_type(8))) float)_mm256_castsi256_ps(lo),
                                   (__attribute__((ext_vector_type(8))) float)_mm256_castsi256_ps(hi),
                                   0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#endif
}

#else  // other architectures: the compiler's own conversions

static inline __attribute__((always_inline)) evo_float32x16 evo_widen_f16x16(const void *p) {
    _Float16 h[16];
    __builtin_memcpy(h, p, sizeof h);
    evo_float32x16 r;
    for (int i = 0; i < 16; i++) r[i] = (float)h[i];
    return r;
}

static inline __attribute__((always_inline)) evo_float32x16 evo_widen_bf16x16(const void *p) {
    unsigned short h[16];
    __builtin_memcpy(h, p, sizeof h);
    evo_float32x16 r;
    for (int i = 0; i < 16; i++) {
        unsigned int bits = (unsigned int)h[i] << 16;
        float f;
        __builtin_memcpy(&f, &bits, sizeof f);
        r[i] = f;
    }
    return r;
}

#endif
#endif
