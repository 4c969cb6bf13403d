// Widening of 16 half-precision values to float32 in registers, and the 16×16 transposing panel pack built on it,
// for TensorCore's kernels. Swift's generic SIMD conversions (`SIMD16<Float>(SIMD16<Float16>)`,
// `truncatingIfNeeded:`) are calls the optimizer does not always inline inside a large kernel, and such a call makes
// every vector register caller-saved; these always inline to one `vcvtph2ps` (f16) or a zero-extension and shift
// (bf16). Built with the package's SIMD flags (AVX-512, or AVX2 with F16C).
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

/// Element formats of `evo_pack_rows16`'s source.
enum { EVO_FORMAT_F32 = 0, EVO_FORMAT_F16 = 1, EVO_FORMAT_BF16 = 2 };

/// 16 elements at `p` (any alignment) in `format`, as float32.
static inline __attribute__((always_inline)) evo_float32x16 evo_load16(const void *p, int format) {
    if (format == EVO_FORMAT_F16) return evo_widen_f16x16(p);
    if (format == EVO_FORMAT_BF16) return evo_widen_bf16x16(p);
    evo_float32x16 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

/// One stage of a 16×16 transpose: swaps bit `b` of the row index with bit `b` of the lane index, rows i and i + b
/// (bit b of i clear) exchanging lanes through one two-input shuffle each.
#define EVO_TRANSPOSE_STAGE(r, b, LO, HI)                                      \
    _Pragma("clang loop unroll(full)")                                         \
    for (int i = 0; i < 16; i++) {                                             \
        if (i & (b)) continue;                                                 \
        evo_float32x16 x = r[i], y = r[i + (b)];                               \
        r[i] = __builtin_shufflevector(x, y, LO);                              \
        r[i + (b)] = __builtin_shufflevector(x, y, HI);                        \
    }

// Shuffle lanes of each stage (x's lanes are 0–15, y's 16–31): lane j of the low row takes x[j] when bit b of j is
// clear, else y[j − b]; of the high row, x[j + b] when clear, else y[j].
#define EVO_LANES_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define EVO_LANES_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define EVO_LANES_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define EVO_LANES_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define EVO_LANES_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define EVO_LANES_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define EVO_LANES_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define EVO_LANES_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31

/// A 16×16 block of a row-major matrix, transposed: `dst[t·16 + c] = src[c·ld + t]` (element offsets in `format`)
/// for rows c < `rows`, 0 for the others (whose memory is not read). `dst` takes 256 floats at any alignment.
/// SmallGEMM's panels of a transposed B (a linear layer's `[out, in]` weight, attention's keys) are built from these.
static inline __attribute__((always_inline)) void evo_pack_rows16(const void *src, long ld, int rows, int format,
                                                                  float *dst) {
    const long size = format == EVO_FORMAT_F32 ? 4 : 2;
    evo_float32x16 r[16];
    _Pragma("clang loop unroll(full)")
    for (int c = 0; c < 16; c++) {
        r[c] = c < rows ? evo_load16((const char *)src + c * ld * size, format) : (evo_float32x16)0;
    }
    EVO_TRANSPOSE_STAGE(r, 8, EVO_LANES_LO8, EVO_LANES_HI8)
    EVO_TRANSPOSE_STAGE(r, 4, EVO_LANES_LO4, EVO_LANES_HI4)
    EVO_TRANSPOSE_STAGE(r, 2, EVO_LANES_LO2, EVO_LANES_HI2)
    EVO_TRANSPOSE_STAGE(r, 1, EVO_LANES_LO1, EVO_LANES_HI1)
    _Pragma("clang loop unroll(full)")
    for (int t = 0; t < 16; t++) __builtin_memcpy(dst + 16 * t, &r[t], sizeof r[t]);
}

#endif
