// CUDA kernels of the fused relaxed contrastive loss, over raw device pointers and a stream
// (plain CUDA runtime; no ATen here, so nvcc builds relaxed_loss_cuda.cu without a CUDA
// LibTorch). relaxed_loss_cuda_ops.cc wraps them with tensors and the current stream; the GEMMs
// (S = a b^T, dS b, dS^T a) are done there with cuBLAS through ATen.
//
// Element types: fp32, fp16, bf16 (accumulated in fp32) and fp64 (accumulated in fp64). "acc"
// buffers below are of the accumulation type. Every function returns the launch status.
//
// Notation as in relaxed_loss_cpu.h: S = cosines [B, B] (row-major, element type T), positives of
// row i are the j with groups[j] == groups[i] (or j == i when groups is null), relaxed to
// min(S_ij, clip); tau is read from device memory (acc type) so nothing synchronises.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace xt {
namespace loss_cuda {

enum class DType : int { kF32 = 0, kF64 = 1, kF16 = 2, kBF16 = 3 };

// xn = x / ||x|| per row, inv[i] = 1/||x_i|| (acc), *bad = 1 + first bad row (non-finite or zero
// norm) or left untouched; `bad` must be zeroed by the caller.
cudaError_t NormalizeRows(DType dt, const void* x, int64_t B, int64_t D, void* xn, void* inv, int32_t* bad,
                          cudaStream_t stream);

// Scratch (acc elements) ForwardStats needs for B.
size_t ForwardWorkspaceElems(int64_t B);

// Row and column statistics of the relaxed, scaled similarities and the loss:
//   row_max, row_logsum, col_max, col_logsum: [B] acc; row_count: [B] int32 (positives per row);
//   loss: 1 acc element = (sum_i (tau m_i + l_i) + sum_j (tau M_j + L_j) - 2 tau sum_i mean_pos r_i) / 2B.
cudaError_t ForwardStats(DType dt, const void* S, int64_t B, const int32_t* groups, const void* tau, double clip,
                         void* row_max, void* row_logsum, int32_t* row_count, void* col_max, void* col_logsum,
                         void* workspace, void* loss, cudaStream_t stream);

// dS_ij = tau * g/(2B) * (P^r_ij + P^c_ij - 2[pos]/n_i), 0 at clipped positives (element type T;
// dS may be S itself);
// dtau_rows[i] = g/(2B) * sum_j (P^r + P^c - targets)_ij r_ij (acc), g = *grad_out (acc).
cudaError_t Backward(DType dt, const void* S, int64_t B, const int32_t* groups, const void* tau, double clip,
                     const void* row_max, const void* row_logsum, const int32_t* row_count, const void* col_max,
                     const void* col_logsum, const void* grad_out, void* dS, void* dtau_rows, cudaStream_t stream);

// dx_i = inv_i (u_i - xn_i (xn_i . u_i)): chains a gradient w.r.t. normalised rows back to the raw rows.
cudaError_t FinishRows(DType dt, const void* u, const void* xn, const void* inv, int64_t B, int64_t D, void* dx,
                       cudaStream_t stream);

}  // namespace loss_cuda
}  // namespace xt
