// CUDA kernels of the fused relaxed contrastive loss (see relaxed_loss_cuda.h for the contract).
// Plain CUDA runtime and raw pointers: this file builds with nvcc alone (scripts/check-cuda).
//
// Layout of the work, for S [B, B] (row-major, element type T, accumulation type A):
//   rows:    one block per row: relaxed max, positives' count and mean, then sum exp(tau (r - m));
//   columns: blocks of 32 columns x 8 row lanes over a slice of the rows keep an online
//            (max, sum) per column (coalesced row reads), then a small kernel merges the slices;
//   loss:    one block reduces the O(B) statistics;
//   backward: one block per row writes dS (both softmaxes minus targets) and its share of the
//            logit-scale gradient; a per-row kernel chains through the normalisation.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math_constants.h>

#include <cmath>
#include <cstdint>

#include "loss/relaxed_loss_cuda.h"

namespace xt {
namespace loss_cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kColTile = 32;   // columns per block in the column pass
constexpr int kColLanes = 8;   // row lanes per block in the column pass
constexpr int kMaxSplits = 64;

template <typename T>
struct AccOf {
  using type = float;
};
template <>
struct AccOf<double> {
  using type = double;
};

template <typename A>
__device__ __forceinline__ A ToAcc(float x) { return x; }
template <typename A>
__device__ __forceinline__ A ToAcc(double x) { return x; }
template <typename A>
__device__ __forceinline__ A ToAcc(__half x) { return __half2float(x); }
template <typename A>
__device__ __forceinline__ A ToAcc(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
struct FromAcc;
template <>
struct FromAcc<float> {
  __device__ __forceinline__ static float cast(float x) { return x; }
};
template <>
struct FromAcc<double> {
  __device__ __forceinline__ static double cast(double x) { return x; }
};
template <>
struct FromAcc<__half> {
  __device__ __forceinline__ static __half cast(float x) { return __float2half_rn(x); }
};
template <>
struct FromAcc<__nv_bfloat16> {
  __device__ __forceinline__ static __nv_bfloat16 cast(float x) { return __float2bfloat16_rn(x); }
};

__device__ __forceinline__ float Exp(float x) { return expf(x); }
__device__ __forceinline__ double Exp(double x) { return exp(x); }
__device__ __forceinline__ float Log(float x) { return logf(x); }
__device__ __forceinline__ double Log(double x) { return log(x); }
__device__ __forceinline__ float Sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double Sqrt(double x) { return sqrt(x); }

template <typename A>
__device__ __forceinline__ A NegInf();
template <>
__device__ __forceinline__ float NegInf<float>() { return -CUDART_INF_F; }
template <>
__device__ __forceinline__ double NegInf<double>() { return -CUDART_INF; }

template <typename A>
__device__ __forceinline__ A WarpSum(A v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename A>
__device__ __forceinline__ A WarpMax(A v) {
  for (int o = 16; o > 0; o >>= 1) {
    A w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}

// Block-wide reductions for 1-D blocks whose size is a multiple of 32; every thread gets the result.
template <typename A>
__device__ A BlockSum(A v, A* sh) {
  v = WarpSum(v);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  if (wid == 0) {
    v = lane < nw ? sh[lane] : A(0);
    v = WarpSum(v);
    if (lane == 0) sh[0] = v;
  }
  __syncthreads();
  return sh[0];
}

template <typename A>
__device__ A BlockMax(A v, A* sh) {
  v = WarpMax(v);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  if (wid == 0) {
    v = lane < nw ? sh[lane] : NegInf<A>();
    v = WarpMax(v);
    if (lane == 0) sh[0] = v;
  }
  __syncthreads();
  return sh[0];
}

__device__ __forceinline__ bool IsPositive(const int32_t* groups, int64_t i, int64_t j, int32_t gi) {
  return groups ? groups[j] == gi : i == j;
}

// ---------------------------------------------------------------------------------------------
template <typename T, typename A>
__global__ void NormalizeRowsKernel(const T* __restrict__ x, int64_t D, T* __restrict__ xn, A* __restrict__ inv,
                                    int32_t* bad) {
  __shared__ A sh[32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * D;
  A ss = 0;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) {
    A a = ToAcc<A>(xr[k]);
    ss += a * a;
  }
  ss = BlockSum(ss, sh);
  const bool ok = ss > A(0) && isfinite(ss);
  const A iv = ok ? A(1) / Sqrt(ss) : A(0);
  if (threadIdx.x == 0) {
    inv[row] = iv;
    if (!ok) atomicMax(bad, static_cast<int32_t>(row + 1));
  }
  T* out = xn + row * D;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) out[k] = FromAcc<T>::cast(ToAcc<A>(xr[k]) * iv);
}

template <typename T, typename A>
__global__ void ForwardRowsKernel(const T* __restrict__ S, int64_t B, const int32_t* __restrict__ groups,
                                  const A* __restrict__ tau_p, A clip, A* __restrict__ row_max,
                                  A* __restrict__ row_logsum, int32_t* __restrict__ row_count,
                                  A* __restrict__ row_target) {
  __shared__ A sh[32];
  const int64_t i = blockIdx.x;
  const A tau = *tau_p;
  const int32_t gi = groups ? groups[i] : 0;
  const T* row = S + i * B;
  A m = NegInf<A>(), psum = 0, cnt = 0;
  for (int64_t j = threadIdx.x; j < B; j += blockDim.x) {
    A s = ToAcc<A>(row[j]);
    if (IsPositive(groups, i, j, gi)) {
      s = s > clip ? clip : s;
      psum += s;
      cnt += A(1);
    }
    m = s > m ? s : m;
  }
  m = BlockMax(m, sh);
  psum = BlockSum(psum, sh);
  cnt = BlockSum(cnt, sh);
  A se = 0;
  for (int64_t j = threadIdx.x; j < B; j += blockDim.x) {
    A s = ToAcc<A>(row[j]);
    if (IsPositive(groups, i, j, gi)) s = s > clip ? clip : s;
    se += Exp(tau * (s - m));
  }
  se = BlockSum(se, sh);
  if (threadIdx.x == 0) {
    row_max[i] = m;
    row_logsum[i] = Log(se);
    row_count[i] = static_cast<int32_t>(cnt);
    row_target[i] = psum / cnt;
  }
}

// grid (ceil(B / kColTile), splits), block (kColTile, kColLanes)
template <typename T, typename A>
__global__ void ForwardColsKernel(const T* __restrict__ S, int64_t B, const int32_t* __restrict__ groups,
                                  const A* __restrict__ tau_p, A clip, int64_t rows_per_split,
                                  A* __restrict__ part_m, A* __restrict__ part_s) {
  __shared__ A sm[kColLanes][kColTile];
  __shared__ A ss[kColLanes][kColTile];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t split = blockIdx.y;
  const int64_t i0 = split * rows_per_split;
  const int64_t i1 = min(B, i0 + rows_per_split);
  const A tau = *tau_p;
  A m = NegInf<A>(), s = 0;
  if (j < B) {
    const int32_t gj = groups ? groups[j] : 0;
    for (int64_t i = i0 + threadIdx.y; i < i1; i += kColLanes) {
      A r = ToAcc<A>(S[i * B + j]);
      if (groups ? groups[i] == gj : i == j) r = r > clip ? clip : r;
      if (r > m) {
        s = s * Exp(tau * (m - r)) + A(1);
        m = r;
      } else {
        s += Exp(tau * (r - m));
      }
    }
  }
  sm[threadIdx.y][threadIdx.x] = m;
  ss[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < B) {
    A M = NegInf<A>();
    for (int k = 0; k < kColLanes; ++k) M = sm[k][threadIdx.x] > M ? sm[k][threadIdx.x] : M;
    A tot = 0;
    for (int k = 0; k < kColLanes; ++k)
      if (ss[k][threadIdx.x] > A(0)) tot += ss[k][threadIdx.x] * Exp(tau * (sm[k][threadIdx.x] - M));
    part_m[split * B + j] = M;
    part_s[split * B + j] = tot;
  }
}

template <typename A>
__global__ void ForwardColsMergeKernel(const A* __restrict__ part_m, const A* __restrict__ part_s, int64_t splits,
                                       int64_t B, const A* __restrict__ tau_p, A* __restrict__ col_max,
                                       A* __restrict__ col_logsum) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= B) return;
  const A tau = *tau_p;
  A M = NegInf<A>();
  for (int64_t k = 0; k < splits; ++k) M = part_m[k * B + j] > M ? part_m[k * B + j] : M;
  A tot = 0;
  for (int64_t k = 0; k < splits; ++k)
    if (part_s[k * B + j] > A(0)) tot += part_s[k * B + j] * Exp(tau * (part_m[k * B + j] - M));
  col_max[j] = M;
  col_logsum[j] = Log(tot);
}

// Sums in double whatever A is: maxima and targets nearly cancel when the loss is small, so they
// are subtracted before the scale multiplies them, and B terms of size ~tau need the headroom.
template <typename A>
__global__ void LossKernel(const A* __restrict__ row_max, const A* __restrict__ row_logsum,
                           const A* __restrict__ row_target, const A* __restrict__ col_max,
                           const A* __restrict__ col_logsum, int64_t B, const A* __restrict__ tau_p,
                           A* __restrict__ loss) {
  __shared__ double sh[32];
  double diff = 0, logs = 0;
  for (int64_t i = threadIdx.x; i < B; i += blockDim.x) {
    diff += double(row_max[i]) + double(col_max[i]) - 2.0 * double(row_target[i]);
    logs += double(row_logsum[i]) + double(col_logsum[i]);
  }
  diff = BlockSum(diff, sh);
  logs = BlockSum(logs, sh);
  if (threadIdx.x == 0) *loss = static_cast<A>((double(*tau_p) * diff + logs) / (2.0 * double(B)));
}

template <typename T, typename A>
// S and dS may be the same buffer (no __restrict__): each thread reads S_ij, then writes dS_ij.
__global__ void BackwardKernel(const T* S, int64_t B, const int32_t* __restrict__ groups,
                               const A* __restrict__ tau_p, A clip, const A* __restrict__ row_max,
                               const A* __restrict__ row_logsum, const int32_t* __restrict__ row_count,
                               const A* __restrict__ col_max, const A* __restrict__ col_logsum,
                               const A* __restrict__ grad_out, T* dS, A* __restrict__ dtau_rows) {
  __shared__ A sh[32];
  const int64_t i = blockIdx.x;
  const A tau = *tau_p;
  const A coef = *grad_out / (A(2) * A(B));
  const int32_t gi = groups ? groups[i] : 0;
  const A t = A(2) / A(row_count[i]);
  const A m = row_max[i], l = row_logsum[i];
  const T* row = S + i * B;
  T* drow = dS + i * B;
  A acc = 0;
  for (int64_t j = threadIdx.x; j < B; j += blockDim.x) {
    const A s = ToAcc<A>(row[j]);
    const bool pos = IsPositive(groups, i, j, gi);
    const A r = pos && s > clip ? clip : s;
    A d = Exp(tau * (r - m) - l) + Exp(tau * (r - col_max[j]) - col_logsum[j]);
    if (pos) d -= t;
    acc += d * r;
    drow[j] = FromAcc<T>::cast(pos && s > clip ? A(0) : coef * tau * d);
  }
  acc = BlockSum(acc, sh);
  if (threadIdx.x == 0) dtau_rows[i] = coef * acc;
}

template <typename T, typename A>
__global__ void FinishRowsKernel(const T* __restrict__ u, const T* __restrict__ xn, const A* __restrict__ inv,
                                 int64_t D, T* __restrict__ dx) {
  __shared__ A sh[32];
  const int64_t row = blockIdx.x;
  const T* ur = u + row * D;
  const T* xr = xn + row * D;
  A dot = 0;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) dot += ToAcc<A>(xr[k]) * ToAcc<A>(ur[k]);
  dot = BlockSum(dot, sh);
  const A iv = inv[row];
  T* out = dx + row * D;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x)
    out[k] = FromAcc<T>::cast(iv * (ToAcc<A>(ur[k]) - ToAcc<A>(xr[k]) * dot));
}

// ---------------------------------------------------------------------------------------------
int64_t Splits(int64_t B) {
  int64_t s = (B + 255) / 256;
  return s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s);
}

template <typename T>
cudaError_t NormalizeT(const void* x, int64_t B, int64_t D, void* xn, void* inv, int32_t* bad, cudaStream_t st) {
  using A = typename AccOf<T>::type;
  NormalizeRowsKernel<T, A><<<static_cast<unsigned>(B), kThreads, 0, st>>>(
      static_cast<const T*>(x), D, static_cast<T*>(xn), static_cast<A*>(inv), bad);
  return cudaGetLastError();
}

template <typename T>
cudaError_t ForwardT(const void* S, int64_t B, const int32_t* groups, const void* tau, double clip, void* row_max,
                     void* row_logsum, int32_t* row_count, void* col_max, void* col_logsum, void* workspace,
                     void* loss, cudaStream_t st) {
  using A = typename AccOf<T>::type;
  const T* s = static_cast<const T*>(S);
  const A* tp = static_cast<const A*>(tau);
  A* ws = static_cast<A*>(workspace);
  const int64_t splits = Splits(B);
  A* row_target = ws;
  A* part_m = ws + B;
  A* part_s = part_m + splits * B;
  ForwardRowsKernel<T, A><<<static_cast<unsigned>(B), kThreads, 0, st>>>(
      s, B, groups, tp, static_cast<A>(clip), static_cast<A*>(row_max), static_cast<A*>(row_logsum), row_count,
      row_target);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  const int64_t rows_per_split = (B + splits - 1) / splits;
  dim3 grid(static_cast<unsigned>((B + kColTile - 1) / kColTile), static_cast<unsigned>(splits));
  dim3 block(kColTile, kColLanes);
  ForwardColsKernel<T, A><<<grid, block, 0, st>>>(s, B, groups, tp, static_cast<A>(clip), rows_per_split, part_m,
                                                   part_s);
  if ((e = cudaGetLastError()) != cudaSuccess) return e;
  ForwardColsMergeKernel<A><<<static_cast<unsigned>((B + kThreads - 1) / kThreads), kThreads, 0, st>>>(
      part_m, part_s, splits, B, tp, static_cast<A*>(col_max), static_cast<A*>(col_logsum));
  if ((e = cudaGetLastError()) != cudaSuccess) return e;
  LossKernel<A><<<1, 1024, 0, st>>>(static_cast<const A*>(row_max), static_cast<const A*>(row_logsum), row_target,
                                    static_cast<const A*>(col_max), static_cast<const A*>(col_logsum), B, tp,
                                    static_cast<A*>(loss));
  return cudaGetLastError();
}

template <typename T>
cudaError_t BackwardT(const void* S, int64_t B, const int32_t* groups, const void* tau, double clip,
                      const void* row_max, const void* row_logsum, const int32_t* row_count, const void* col_max,
                      const void* col_logsum, const void* grad_out, void* dS, void* dtau_rows, cudaStream_t st) {
  using A = typename AccOf<T>::type;
  BackwardKernel<T, A><<<static_cast<unsigned>(B), kThreads, 0, st>>>(
      static_cast<const T*>(S), B, groups, static_cast<const A*>(tau), static_cast<A>(clip),
      static_cast<const A*>(row_max), static_cast<const A*>(row_logsum), row_count, static_cast<const A*>(col_max),
      static_cast<const A*>(col_logsum), static_cast<const A*>(grad_out), static_cast<T*>(dS),
      static_cast<A*>(dtau_rows));
  return cudaGetLastError();
}

template <typename T>
cudaError_t FinishT(const void* u, const void* xn, const void* inv, int64_t B, int64_t D, void* dx, cudaStream_t st) {
  using A = typename AccOf<T>::type;
  FinishRowsKernel<T, A><<<static_cast<unsigned>(B), kThreads, 0, st>>>(
      static_cast<const T*>(u), static_cast<const T*>(xn), static_cast<const A*>(inv), D, static_cast<T*>(dx));
  return cudaGetLastError();
}

}  // namespace

#define XT_DISPATCH(dt, FN, ...)                                  \
  switch (dt) {                                                   \
    case DType::kF32: return FN<float>(__VA_ARGS__);              \
    case DType::kF64: return FN<double>(__VA_ARGS__);             \
    case DType::kF16: return FN<__half>(__VA_ARGS__);             \
    case DType::kBF16: return FN<__nv_bfloat16>(__VA_ARGS__);     \
  }                                                               \
  return cudaErrorInvalidValue

cudaError_t NormalizeRows(DType dt, const void* x, int64_t B, int64_t D, void* xn, void* inv, int32_t* bad,
                          cudaStream_t stream) {
  if (B <= 0 || D <= 0) return cudaErrorInvalidValue;
  XT_DISPATCH(dt, NormalizeT, x, B, D, xn, inv, bad, stream);
}

size_t ForwardWorkspaceElems(int64_t B) { return static_cast<size_t>(B * (2 * Splits(B) + 1)); }

cudaError_t ForwardStats(DType dt, const void* S, int64_t B, const int32_t* groups, const void* tau, double clip,
                         void* row_max, void* row_logsum, int32_t* row_count, void* col_max, void* col_logsum,
                         void* workspace, void* loss, cudaStream_t stream) {
  if (B <= 0) return cudaErrorInvalidValue;
  XT_DISPATCH(dt, ForwardT, S, B, groups, tau, clip, row_max, row_logsum, row_count, col_max, col_logsum, workspace,
              loss, stream);
}

cudaError_t Backward(DType dt, const void* S, int64_t B, const int32_t* groups, const void* tau, double clip,
                     const void* row_max, const void* row_logsum, const int32_t* row_count, const void* col_max,
                     const void* col_logsum, const void* grad_out, void* dS, void* dtau_rows, cudaStream_t stream) {
  if (B <= 0) return cudaErrorInvalidValue;
  XT_DISPATCH(dt, BackwardT, S, B, groups, tau, clip, row_max, row_logsum, row_count, col_max, col_logsum, grad_out,
              dS, dtau_rows, stream);
}

cudaError_t FinishRows(DType dt, const void* u, const void* xn, const void* inv, int64_t B, int64_t D, void* dx,
                       cudaStream_t stream) {
  if (B <= 0 || D <= 0) return cudaErrorInvalidValue;
  XT_DISPATCH(dt, FinishT, u, xn, inv, B, D, dx, stream);
}

#undef XT_DISPATCH

}  // namespace loss_cuda
}  // namespace xt
