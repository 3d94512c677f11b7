// Internal interface between the loss API/autograd function and its CPU and CUDA halves.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace xt {
namespace loss {

// CLIP clamps logit_scale to 4.6052 (exp = 100.003); the shared fixtures sit on that boundary
// and expect the gradient to pass there, as torch.clamp does.
constexpr double kMaxLogitScale = 4.6052;

// Shape/dtype/device/value checks shared by both implementations (throws xt::XtError).
// check_values: also reject non-finite values and zero-norm rows (needs a pass over the data).
void ValidateInputs(const at::Tensor& image, const at::Tensor& text, const at::Tensor& logit_scale,
                    double positive_clip, const at::Tensor& groups, bool check_values);

// Throws XT_INVALID describing why row `row` of x (named `what`) cannot be normalised.
[[noreturn]] void ThrowBadRow(const at::Tensor& x, int64_t row, const std::string& what);

// ---- CPU fused path (relaxed_loss_cpu.cc); image/text contiguous fp32 or fp64, groups
// int32/int64 [B] or undefined.
at::Tensor CpuFusedForward(const at::Tensor& image, const at::Tensor& text, double tau, double clip,
                           const at::Tensor& groups, std::vector<at::Tensor>* saved);
struct CpuGrads {
  at::Tensor image, text;  // undefined when not requested
  double dtau;             // dloss/dtau (already multiplied by the upstream gradient)
};
// in_place: write dS over the saved S (no second [B, B] buffer); `saved` is unusable afterwards.
CpuGrads CpuFusedBackward(const std::vector<at::Tensor>& saved, const at::Tensor& image,
                          const at::Tensor& text, double tau, double clip, double grad_out,
                          bool need_image, bool need_text, bool in_place);
const char* CpuIsa();
void ReleaseCpuCache();
void ForceGenericCpu(bool on);

#ifdef XT_WITH_CUDA
// ---- CUDA fused path (relaxed_loss_cuda_ops.cc): tau is a 1-element device tensor of the
// accumulation dtype (float, or double for fp64 inputs); nothing here synchronises the stream.
at::Tensor CudaFusedForward(const at::Tensor& image, const at::Tensor& text, const at::Tensor& tau,
                            double clip, const at::Tensor& groups, std::vector<at::Tensor>* saved);
struct CudaGrads {
  at::Tensor image, text;
  at::Tensor dtau;  // 1-element device tensor: dloss/dtau
};
// Writes dS over the saved S: `saved` is unusable afterwards.
CudaGrads CudaFusedBackward(const std::vector<at::Tensor>& saved, const at::Tensor& image, const at::Tensor& text,
                            const at::Tensor& tau, double clip, const at::Tensor& grad_out, bool need_image,
                            bool need_text);
#endif

}  // namespace loss
}  // namespace xt
