// The relaxed-loss CPU kernels compiled for AVX2+FMA with ATen's AVX2 Vectorized<float/double>
// (what PyTorch's own CPU kernels use), chosen at run time only on CPUs that have AVX2, FMA and
// BMI2. The target also enables F16C and BMI (every AVX2 CPU has them; newer ATen vector headers
// use their intrinsics), as PyTorch's own AVX2 build flags do.
//
// How the ISA is confined to this code: the generic headers (standard library, c10, ATen's
// scalar math) are included first, compiled for the baseline target; only ATen's vector headers
// (whose classes live in the namespace at::vec::AVX2, distinct from the portable build's) and
// the kernels are compiled under the AVX2 target. So no inline function shared with the rest of
// the addon is ever emitted with AVX2 instructions, and a CPU without AVX2 never runs any.
//
// ATen's AVX2 headers include <sleef.h>; LibTorch 2.x ships it, Debian's 1.13 does not
// (binding/loss/compat/sleef.h stands in, see there). Our kernels never call SLEEF: exp is the
// Cephes polynomial below, so nothing extra is linked.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    defined(__has_include) && !defined(XT_NO_AVX2)
#if __has_include(<sleef.h>)
#define XT_LOSS_AVX2 1
#endif
#endif

#include "loss/relaxed_loss_cpu.h"

#ifdef XT_LOSS_AVX2

// ---- baseline-target includes (everything ATen's vector headers pull in besides themselves)
#include <algorithm>
#include <array>
#include <bitset>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <ostream>
#include <type_traits>
#include <x86intrin.h>

#include <c10/macros/Macros.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <c10/util/complex.h>
#include <c10/util/irange.h>
#include <c10/util/TypeCast.h>
#if __has_include(<c10/util/BFloat16-math.h>)
#include <c10/util/BFloat16-math.h>
#endif
#if __has_include(<c10/util/copysign.h>)
#include <c10/util/copysign.h>
#endif
#if __has_include(<c10/util/math_compat.h>)
#include <c10/util/math_compat.h>
#endif
#if __has_include(<c10/util/Load.h>)
#include <c10/util/Load.h>
#endif
#if __has_include(<c10/util/qint32.h>)
#include <c10/util/qint32.h>
#include <c10/util/qint8.h>
#include <c10/util/quint8.h>
#endif
#include <ATen/NumericUtils.h>
#include <ATen/native/Math.h>
#if __has_include(<ATen/native/cpu/zmath.h>)
#include <ATen/native/cpu/zmath.h>
#endif
#if __has_include(<ATen/native/quantized/AffineQuantizerBase.h>)
#include <ATen/native/quantized/AffineQuantizerBase.h>
#endif

// ---- AVX2 region
#ifndef CPU_CAPABILITY
#define CPU_CAPABILITY AVX2
#endif
#define CPU_CAPABILITY_AVX2
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi,bmi2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi,bmi2")
#endif

#include <ATen/cpu/vec/vec.h>

namespace xt {
namespace loss {
namespace {

// exp(x), Cephes' single-precision polynomial (max relative error ~2e-7 on the range used here).
inline at::vec::Vectorized<float> VExp(const at::vec::Vectorized<float>& v) {
  const __m256 magic = _mm256_set1_ps(12582912.f);  // 1.5 * 2^23: adding it rounds to an integer
  __m256 x = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-87.33654475f)), _mm256_set1_ps(88.0f));
  __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
  __m256 fx = _mm256_sub_ps(t, magic);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  // 2^n from the integer left in t's low mantissa bits
  __m256i n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// exp(x), Cephes' double-precision Pade form (relative error ~2e-16).
inline at::vec::Vectorized<double> VExp(const at::vec::Vectorized<double>& v) {
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  __m256d x = _mm256_min_pd(_mm256_max_pd(v, _mm256_set1_pd(-708.39)), _mm256_set1_pd(709.0));
  __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634073599), magic);
  __m256d fx = _mm256_sub_pd(t, magic);
  x = _mm256_fnmadd_pd(fx, _mm256_set1_pd(6.93145751953125e-1), x);
  x = _mm256_fnmadd_pd(fx, _mm256_set1_pd(1.42860682030941723212e-6), x);
  __m256d xx = _mm256_mul_pd(x, x);
  __m256d px = _mm256_fmadd_pd(_mm256_set1_pd(1.26177193074810590878e-4), xx, _mm256_set1_pd(3.02994407707441961300e-2));
  px = _mm256_fmadd_pd(px, xx, _mm256_set1_pd(9.99999999999999999910e-1));
  px = _mm256_mul_pd(px, x);
  __m256d qx = _mm256_fmadd_pd(_mm256_set1_pd(3.00198505138664455042e-6), xx, _mm256_set1_pd(2.52448340349684104192e-3));
  qx = _mm256_fmadd_pd(qx, xx, _mm256_set1_pd(2.27265548208155028766e-1));
  qx = _mm256_fmadd_pd(qx, xx, _mm256_set1_pd(2.00000000000000000009e0));
  __m256d y = _mm256_div_pd(px, _mm256_sub_pd(qx, px));
  y = _mm256_fmadd_pd(y, _mm256_set1_pd(2.0), _mm256_set1_pd(1.0));
  __m256i n = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(0x4338000000000000LL));
  __m256i e = _mm256_slli_epi64(_mm256_add_epi64(n, _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(y, _mm256_castsi256_pd(e));
}

}  // namespace
}  // namespace loss
}  // namespace xt

#include "loss/relaxed_loss_cpu_kernels.h"

namespace xt {
namespace loss {

// Function-local statics, not globals: a global's initialiser would run at load time on every
// CPU, and here it would be AVX2 code. The dispatcher calls these only after checking the CPU.
const KernelSet<float>* Avx2KernelsF32() {
  static const KernelSet<float> k = MakeKernelSet<float>("avx2");
  return &k;
}
const KernelSet<double>* Avx2KernelsF64() {
  static const KernelSet<double> k = MakeKernelSet<double>("avx2");
  return &k;
}

}  // namespace loss
}  // namespace xt

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  // !XT_LOSS_AVX2

namespace xt {
namespace loss {
const KernelSet<float>* Avx2KernelsF32() { return nullptr; }
const KernelSet<double>* Avx2KernelsF64() { return nullptr; }
}  // namespace loss
}  // namespace xt

#endif
