// The JS-facing arguments of the relaxed contrastive loss, shared by its binding (loss_binding.cc:
// contrastiveLoss) and the test/benchmark hooks (binding/testing/loss_hooks.cc).
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>

namespace xt {
namespace loss_js {

enum class Impl { kFused, kReference };

Impl ImplArg(const std::string& s);                             // "fused" | "reference"
torch::Device DeviceArg(const std::string& s);                  // "cpu" | "cuda"
c10::optional<torch::ScalarType> DtypeArg(const std::string& s);  // "" (the input's) | float32 | ...

torch::Tensor RunLoss(Impl impl, const torch::Tensor& img, const torch::Tensor& txt, const torch::Tensor& ls,
                      double clip, const c10::optional<torch::Tensor>& groups);

// contrastiveLoss(image, text, B, D, {logitScale, positiveClip, groups, impl, device, dtype}),
// parsed and copied off the JS heap (main thread).
struct LossCall {
  torch::Tensor img, txt;
  double logit_scale = 0;
  double clip = 1;
  Impl impl = Impl::kFused;
  torch::Device device = torch::kCPU;
  c10::optional<torch::ScalarType> dtype;
  c10::optional<torch::Tensor> groups;
};
LossCall ParseLossCall(const Napi::CallbackInfo& info, const char* fn);

// The call's leaves (converted, on its device, requiring grad) and its loss (worker thread).
struct LossGraph {
  torch::Tensor image, text, logit_scale, loss;
};
LossGraph BuildLoss(const LossCall& call);

struct LossResult {
  double loss;
  torch::Tensor grad_image, grad_text;
  double grad_scale;
};
// Gradients of the three leaves, from `grads` (as torch::autograd::grad returns them).
LossResult ToResult(const LossGraph& g, const std::vector<torch::Tensor>& grads);
Napi::Value LossResultToJs(Napi::Env env, LossResult& r);

}  // namespace loss_js
}  // namespace xt
