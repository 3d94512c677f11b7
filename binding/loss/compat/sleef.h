// Stand-in for SLEEF's header, used only when the LibTorch in use ships ATen's vector headers
// without <sleef.h> (Debian's libtorch-dev 1.13; LibTorch 2.x ships the real one, which then wins).
// ATen's AVX2 Vectorized<float/double> classes name these functions in members we never call
// (xray-torch's kernels use their own exp), so declarations are all the compiler needs; nothing
// here is ever linked. CMakeLists.txt adds this folder to the include path only when no real
// sleef.h is found. Generated from the names ATen 1.13's vec256 headers use; like SLEEF's own
// header, results are declared const-qualified (ATen's map() takes such function pointers).
#ifndef __SLEEF_H__
#define __SLEEF_H__
#include <immintrin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { __m256 x, y; } Sleef___m256_2;
typedef struct { __m128 x, y; } Sleef___m128_2;
typedef struct { __m256d x, y; } Sleef___m256d_2;

const __m256d Sleef_acosd4_u10(__m256d a);
const __m128 Sleef_acosf4_u10(__m128 a);
const __m256 Sleef_acosf8_u10(__m256 a);
const __m256d Sleef_asind4_u10(__m256d a);
const __m128 Sleef_asinf4_u10(__m128 a);
const __m256 Sleef_asinf8_u10(__m256 a);
const __m256d Sleef_atan2d4_u10(__m256d a, __m256d b);
const __m128 Sleef_atan2f4_u10(__m128 a, __m128 b);
const __m256 Sleef_atan2f8_u10(__m256 a, __m256 b);
const __m256d Sleef_atand4_u10(__m256d a);
const __m128 Sleef_atanf4_u10(__m128 a);
const __m256 Sleef_atanf8_u10(__m256 a);
const __m256d Sleef_copysignd4(__m256d a, __m256d b);
const __m128 Sleef_copysignf4(__m128 a, __m128 b);
const __m256 Sleef_copysignf8(__m256 a, __m256 b);
const __m256d Sleef_cosd4_u10(__m256d a);
const __m128 Sleef_cosf4_u10(__m128 a);
const __m256 Sleef_cosf8_u10(__m256 a);
const __m256d Sleef_coshd4_u10(__m256d a);
const __m128 Sleef_coshf4_u10(__m128 a);
const __m256 Sleef_coshf8_u10(__m256 a);
const __m256d Sleef_erfcd4_u15(__m256d a);
const __m128 Sleef_erfcf4_u15(__m128 a);
const __m256 Sleef_erfcf8_u15(__m256 a);
const __m256d Sleef_erfd4_u10(__m256d a);
const __m128 Sleef_erff4_u10(__m128 a);
const __m256 Sleef_erff8_u10(__m256 a);
const __m256d Sleef_expd4_u10(__m256d a);
const __m128 Sleef_expf4_u10(__m128 a);
const __m256 Sleef_expf8_u10(__m256 a);
const __m256d Sleef_expm1d4_u10(__m256d a);
const __m128 Sleef_expm1f4_u10(__m128 a);
const __m256 Sleef_expm1f8_u10(__m256 a);
const __m256d Sleef_fmodd4(__m256d a, __m256d b);
const __m128 Sleef_fmodf4(__m128 a, __m128 b);
const __m256 Sleef_fmodf8(__m256 a, __m256 b);
const __m256d Sleef_hypotd4_u05(__m256d a, __m256d b);
const __m128 Sleef_hypotf4_u05(__m128 a, __m128 b);
const __m256 Sleef_hypotf8_u05(__m256 a, __m256 b);
const __m256d Sleef_lgammad4_u10(__m256d a);
const __m128 Sleef_lgammaf4_u10(__m128 a);
const __m256 Sleef_lgammaf8_u10(__m256 a);
const __m256d Sleef_log10d4_u10(__m256d a);
const __m128 Sleef_log10f4_u10(__m128 a);
const __m256 Sleef_log10f8_u10(__m256 a);
const __m256d Sleef_log1pd4_u10(__m256d a);
const __m128 Sleef_log1pf4_u10(__m128 a);
const __m256 Sleef_log1pf8_u10(__m256 a);
const __m256d Sleef_log2d4_u10(__m256d a);
const __m128 Sleef_log2f4_u10(__m128 a);
const __m256 Sleef_log2f8_u10(__m256 a);
const __m256d Sleef_logd4_u10(__m256d a);
const __m128 Sleef_logf4_u10(__m128 a);
const __m256 Sleef_logf8_u10(__m256 a);
const __m256d Sleef_nextafterd4(__m256d a, __m256d b);
const __m128 Sleef_nextafterf4(__m128 a, __m128 b);
const __m256 Sleef_nextafterf8(__m256 a, __m256 b);
const __m256d Sleef_powd4_u10(__m256d a, __m256d b);
const __m128 Sleef_powf4_u10(__m128 a, __m128 b);
const __m256 Sleef_powf8_u10(__m256 a, __m256 b);
const Sleef___m256d_2 Sleef_sincosd4_u10(__m256d a);
const Sleef___m256_2 Sleef_sincosf8_u10(__m256 a);
const __m256d Sleef_sind4_u10(__m256d a);
const __m128 Sleef_sinf4_u10(__m128 a);
const __m256 Sleef_sinf8_u10(__m256 a);
const __m256d Sleef_sinhd4_u10(__m256d a);
const __m128 Sleef_sinhf4_u10(__m128 a);
const __m256 Sleef_sinhf8_u10(__m256 a);
const __m256d Sleef_tand4_u10(__m256d a);
const __m128 Sleef_tanf4_u10(__m128 a);
const __m256 Sleef_tanf8_u10(__m256 a);
const __m256d Sleef_tanhd4_u10(__m256d a);
const __m128 Sleef_tanhf4_u10(__m128 a);
const __m256 Sleef_tanhf8_u10(__m256 a);

#ifdef __cplusplus
}
#endif
#endif  // __SLEEF_H__
