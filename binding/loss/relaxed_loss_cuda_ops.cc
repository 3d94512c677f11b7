// Tensor-level wrapper of the CUDA kernels (relaxed_loss_cuda.cu): allocation, the cuBLAS GEMMs
// through ATen, and the current stream. Compiled only in CUDA builds (XT_WITH_CUDA).
#ifdef XT_WITH_CUDA

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "loss/relaxed_loss_cuda.h"
#include "loss/relaxed_loss_impl.h"

namespace xt {
namespace loss {

namespace {

loss_cuda::DType DTypeOf(at::ScalarType st) {
  switch (st) {
    case at::kFloat: return loss_cuda::DType::kF32;
    case at::kDouble: return loss_cuda::DType::kF64;
    case at::kHalf: return loss_cuda::DType::kF16;
    case at::kBFloat16: return loss_cuda::DType::kBF16;
    default:
      throw XtError(kInvalid, std::string("relaxed_contrastive_loss (CUDA): unsupported dtype ") + c10::toString(st));
  }
}

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw XtError(kCuda, std::string("relaxed_contrastive_loss: ") + what + ": " + cudaGetErrorString(e));
}

at::ScalarType AccType(at::ScalarType st) { return st == at::kDouble ? at::kDouble : at::kFloat; }

}  // namespace

at::Tensor CudaFusedForward(const at::Tensor& image, const at::Tensor& text, const at::Tensor& tau, double clip,
                            const at::Tensor& groups, std::vector<at::Tensor>* saved) {
  c10::cuda::CUDAGuard guard(image.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t B = image.size(0), D = image.size(1);
  const loss_cuda::DType dt = DTypeOf(image.scalar_type());
  auto acc = image.options().dtype(AccType(image.scalar_type()));

  // inputs were checked for non-finite values and zero rows before (one read-back there), so
  // the kernels' own flag is not read here: that would synchronise the stream again
  at::Tensor an = at::empty_like(image), bn = at::empty_like(text);
  at::Tensor inv_row = at::empty({B}, acc), inv_col = at::empty({B}, acc);
  at::Tensor bad = at::zeros({2}, image.options().dtype(at::kInt));
  Check(loss_cuda::NormalizeRows(dt, image.data_ptr(), B, D, an.data_ptr(), inv_row.data_ptr(), bad.data_ptr<int32_t>(),
                                 stream),
        "normalising image rows");
  Check(loss_cuda::NormalizeRows(dt, text.data_ptr(), B, D, bn.data_ptr(), inv_col.data_ptr(),
                                 bad.data_ptr<int32_t>() + 1, stream),
        "normalising text rows");

  at::Tensor S = at::mm(an, bn.t()).contiguous();
  at::Tensor g32 = groups.defined() ? groups.to(at::kInt).contiguous()
                                    : at::empty({0}, image.options().dtype(at::kInt));
  const int32_t* gp = g32.numel() ? g32.data_ptr<int32_t>() : nullptr;
  at::Tensor row_max = at::empty({B}, acc), row_logsum = at::empty({B}, acc);
  at::Tensor col_max = at::empty({B}, acc), col_logsum = at::empty({B}, acc);
  at::Tensor row_count = at::empty({B}, image.options().dtype(at::kInt));
  at::Tensor ws = at::empty({static_cast<int64_t>(loss_cuda::ForwardWorkspaceElems(B))}, acc);
  at::Tensor loss = at::empty({}, acc);
  at::Tensor tau_c = tau.contiguous();
  Check(loss_cuda::ForwardStats(dt, S.data_ptr(), B, gp, tau_c.data_ptr(), clip, row_max.data_ptr(),
                                row_logsum.data_ptr(), row_count.data_ptr<int32_t>(), col_max.data_ptr(),
                                col_logsum.data_ptr(), ws.data_ptr(), loss.data_ptr(), stream),
        "forward kernels");
  // saved: S and O(B) statistics; the normalised rows are rebuilt in backward (an O(B D) pass)
  if (saved) *saved = {S, inv_row, inv_col, row_max, row_logsum, row_count, col_max, col_logsum, g32};
  return loss;
}

CudaGrads CudaFusedBackward(const std::vector<at::Tensor>& saved, const at::Tensor& image, const at::Tensor& text,
                            const at::Tensor& tau, double clip, const at::Tensor& grad_out, bool need_image,
                            bool need_text) {
  const at::Tensor &S = saved[0], &inv_row = saved[1], &inv_col = saved[2];
  const at::Tensor &row_max = saved[3], &row_logsum = saved[4], &row_count = saved[5];
  const at::Tensor &col_max = saved[6], &col_logsum = saved[7], &g32 = saved[8];
  c10::cuda::CUDAGuard guard(S.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const int64_t B = S.size(0), D = image.size(1);
  const loss_cuda::DType dt = DTypeOf(S.scalar_type());
  auto acc = row_max.options();
  at::Tensor an = at::empty_like(image), bn = at::empty_like(text);
  at::Tensor inv_scratch = at::empty({2, B}, acc);
  at::Tensor bad = at::zeros({1}, image.options().dtype(at::kInt));
  Check(loss_cuda::NormalizeRows(dt, image.data_ptr(), B, D, an.data_ptr(), inv_scratch[0].data_ptr(),
                                 bad.data_ptr<int32_t>(), stream),
        "normalising image rows");
  Check(loss_cuda::NormalizeRows(dt, text.data_ptr(), B, D, bn.data_ptr(), inv_scratch[1].data_ptr(),
                                 bad.data_ptr<int32_t>(), stream),
        "normalising text rows");
  at::Tensor gout = grad_out.to(acc).reshape({1}).contiguous();
  at::Tensor tau_c = tau.contiguous();
  at::Tensor dS = S;  // in place: each thread reads S_ij before writing dS_ij (the caller owns S)
  at::Tensor dtau_rows = at::empty({B}, acc);
  const int32_t* gp = g32.numel() ? g32.data_ptr<int32_t>() : nullptr;
  Check(loss_cuda::Backward(dt, S.data_ptr(), B, gp, tau_c.data_ptr(), clip, row_max.data_ptr(),
                            row_logsum.data_ptr(), row_count.data_ptr<int32_t>(), col_max.data_ptr(),
                            col_logsum.data_ptr(), gout.data_ptr(), dS.data_ptr(), dtau_rows.data_ptr(), stream),
        "backward kernel");
  CudaGrads out;
  if (need_image) {
    at::Tensor u = at::mm(dS, bn);
    out.image = at::empty_like(an);
    Check(loss_cuda::FinishRows(dt, u.data_ptr(), an.data_ptr(), inv_row.data_ptr(), B, D, out.image.data_ptr(), stream),
          "image gradient");
  }
  if (need_text) {
    at::Tensor v = at::mm(dS.t(), an);
    out.text = at::empty_like(bn);
    Check(loss_cuda::FinishRows(dt, v.data_ptr(), bn.data_ptr(), inv_col.data_ptr(), B, D, out.text.data_ptr(), stream),
          "text gradient");
  }
  out.dtau = dtau_rows.sum().reshape({1});
  return out;
}

}  // namespace loss
}  // namespace xt

#endif  // XT_WITH_CUDA
