// CPU kernels of the fused relaxed contrastive loss, as plain functions over raw row-major
// buffers (no ATen types), so that one header serves the portable build and the AVX2 build
// (relaxed_loss_cpu_avx2.cc). Each kernel works on a range of rows [r0, r1); the caller splits
// rows across threads with at::parallel_for and owns all per-chunk scratch buffers.
//
// Notation (B samples, row i = image i, column j = text j):
//   S_ij = cos(img_i, txt_j), computed as G_ij * inv_row_i * inv_col_j from the raw product G;
//   r_ij = min(S_ij, clip) when (i, j) is a positive pair (same group), else S_ij;
//   logits = tau * r; row statistics (m_i, l_i) with logsumexp_j(tau r_ij) = tau m_i + l_i,
//   column statistics (M_j, L_j) likewise; positives of row i are the members of its group.
#pragma once
#include <cstdint>

namespace xt {
namespace loss {

// Groups in compressed form: row i belongs to group group_of[i]; the members of group g are
// members[start[g] .. start[g+1]). Without group ids every sample is its own group.
struct GroupsView {
  const int32_t* group_of;
  const int32_t* start;
  const int32_t* members;
};

template <typename T>
struct ForwardArgs {
  int64_t B;
  T* S;                 // [B, B]: raw products on entry to forward_rows, cosines after it
  const T* inv_row;     // [B] 1/||img_i||
  const T* inv_col;     // [B] 1/||txt_j||
  T tau;                // effective logit scale (after the cap)
  T clip;               // positive_clip
  GroupsView groups;
  T* row_max;           // [B] out: m_i
  T* row_logsum;        // [B] out: l_i
  const T* col_max;     // [B] in (forward_cols): M_j
};

template <typename T>
struct BackwardArgs {
  int64_t B;
  const T* S;           // [B, B] cosines (unrelaxed)
  T* dS;                // [B, B] out: dloss/dS_ij * inv_row_i * inv_col_j; may be S itself
  const T* inv_row;
  const T* inv_col;
  T tau;
  T clip;
  T coef;               // upstream grad / (2B)
  GroupsView groups;
  const T* row_max;
  const T* row_logsum;
  const T* col_max;
  const T* col_logsum;
};

template <typename T>
struct KernelSet {
  const char* isa;  // "avx2" or "generic"
  // inv[i] = 1/||x_i|| for rows [r0, r1) of x [*, D]; returns the first row whose squared norm
  // is zero or not finite (the caller reports why), or -1.
  int64_t (*row_inv_norms)(const T* x, int64_t D, T* inv, int64_t r0, int64_t r1);
  // Scales S rows to cosines, relaxes positives, writes (m_i, l_i), folds the relaxed rows into
  // col_max_part (a [B] running maximum, initialised to -inf by the caller) and returns
  // sum_i mean_{j in group(i)} r_ij over its rows (the targets, before the scale), in double.
  double (*forward_rows)(const ForwardArgs<T>& a, int64_t r0, int64_t r1, T* buf, T* col_max_part);
  // Adds exp(tau (r_ij - M_j)) over its rows into col_sum_part (a [B] partial sum in double,
  // zeroed by the caller).
  void (*forward_cols)(const ForwardArgs<T>& a, int64_t r0, int64_t r1, T* buf, double* col_sum_part);
  // Writes dS rows (softmax both ways minus targets, zero at clipped positives, pre-scaled by
  // coef * tau * inv_row_i * inv_col_j) and returns sum_ij (P^r + P^c - targets)_ij r_ij over its
  // rows. buf holds 2B elements.
  double (*backward_rows)(const BackwardArgs<T>& a, int64_t r0, int64_t r1, T* buf);
  // Chains through the normalisation: u_i <- u_i - x_i inv_i^2 (x_i . u_i) for rows [r0, r1).
  void (*finish_rows)(T* u, const T* x, const T* inv, int64_t D, int64_t r0, int64_t r1);
};

// The kernels for this CPU: AVX2+FMA when the CPU has them and the AVX2 build was compiled in,
// else the portable ones. `force_generic` selects the portable ones (tests).
const KernelSet<float>& CpuKernelsF32(bool force_generic = false);
const KernelSet<double>& CpuKernelsF64(bool force_generic = false);

// Implemented by relaxed_loss_cpu_avx2.cc: nullptr when it was compiled without AVX2 support.
const KernelSet<float>* Avx2KernelsF32();
const KernelSet<double>* Avx2KernelsF64();

}  // namespace loss
}  // namespace xt
