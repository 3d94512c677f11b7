// JS binding of the relaxed contrastive loss (lib/loss.ts wraps it):
//   contrastiveLoss(image, text, B, D, opts) -> Promise<{loss, gradImage, gradText, gradLogitScale}>
//   lossInfo() -> {cpuIsa, cuda}
// Its test and benchmark hooks (lossForceGenericCpu, a double backward, benchContrastiveLoss) are
// in binding/testing/loss_hooks.cc: only the testing addon has them.
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "loss/loss_args.h"
#include "loss/relaxed_loss.h"

namespace xt {
namespace loss_js {

Impl ImplArg(const std::string& s) {
  if (s == "fused") return Impl::kFused;
  if (s == "reference") return Impl::kReference;
  throw XtError(kInvalid, "option 'impl' must be 'fused' or 'reference', got '" + s + "'");
}

torch::Device DeviceArg(const std::string& s) {
  if (s == "cpu") return torch::kCPU;
  if (s == "cuda") {
    XT_CHECK(torch::cuda::is_available(), kCuda, "option device: 'cuda' but no CUDA device is available to this build");
    return torch::kCUDA;
  }
  throw XtError(kInvalid, "option 'device' must be 'cpu' or 'cuda', got '" + s + "'");
}

c10::optional<torch::ScalarType> DtypeArg(const std::string& s) {
  if (s.empty()) return c10::nullopt;
  if (s == "float32") return torch::kFloat32;
  if (s == "float64") return torch::kFloat64;
  if (s == "float16") return torch::kFloat16;
  if (s == "bfloat16") return torch::kBFloat16;
  throw XtError(kInvalid, "option 'dtype' must be float32, float64, float16 or bfloat16, got '" + s + "'");
}

torch::Tensor RunLoss(Impl impl, const torch::Tensor& img, const torch::Tensor& txt, const torch::Tensor& ls,
                      double clip, const c10::optional<torch::Tensor>& groups) {
  return impl == Impl::kFused ? relaxed_contrastive_loss(img, txt, ls, clip, groups)
                              : relaxed_contrastive_loss_reference(img, txt, ls, clip, groups);
}

LossCall ParseLossCall(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  XT_CHECK(info.Length() >= 5 && info[4].IsObject(), kInvalid,
           std::string(fn) + "(image, text, B, D, opts): 5 arguments expected");
  XT_CHECK(info[2].IsNumber() && info[3].IsNumber(), kInvalid, std::string(fn) + ": B and D must be numbers");
  Napi::Array shape = Napi::Array::New(env, 2);
  shape.Set(0u, info[2]);
  shape.Set(1u, info[3]);
  const std::vector<int64_t> bd = ShapeArg(shape, "shape [B, D]");
  LossCall c;
  c.img = TensorFromTypedArray(info[0], bd, "image");
  c.txt = TensorFromTypedArray(info[1], bd, "text");
  Napi::Object o = info[4].As<Napi::Object>();
  XT_CHECK(o.Has("logitScale") && o.Get("logitScale").IsNumber(), kInvalid,
           "option 'logitScale' (the log-space scale) is required and must be a number");
  c.logit_scale = o.Get("logitScale").As<Napi::Number>().DoubleValue();
  c.clip = OptNumber(o, "positiveClip", 1.0);
  c.impl = ImplArg(OptString(o, "impl", "fused"));
  c.device = DeviceArg(OptString(o, "device", "cpu"));
  c.dtype = DtypeArg(OptString(o, "dtype", ""));
  if (o.Has("groups") && !o.Get("groups").IsUndefined() && !o.Get("groups").IsNull()) {
    Napi::Value gv = o.Get("groups");
    XT_CHECK(gv.IsTypedArray() && gv.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array, kInvalid,
             "option 'groups' must be an Int32Array (one group id per sample)");
    const int64_t n = static_cast<int64_t>(gv.As<Napi::TypedArray>().ElementLength());
    c.groups = TensorFromTypedArray(gv, {n}, "groups");
  }
  return c;
}

LossGraph BuildLoss(const LossCall& c) {
  torch::Tensor i = c.img, t = c.txt;
  c10::optional<torch::Tensor> g = c.groups;
  if (c.dtype) {
    i = i.to(*c.dtype);
    t = t.to(*c.dtype);
  }
  if (c.device.is_cuda()) {
    i = i.to(c.device);
    t = t.to(c.device);
    if (g) g = g->to(c.device);
  }
  LossGraph r;
  r.image = i.detach().requires_grad_(true);
  r.text = t.detach().requires_grad_(true);
  const auto ls_dtype = r.image.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  r.logit_scale = torch::full({}, c.logit_scale, r.image.options().dtype(ls_dtype)).requires_grad_(true);
  r.loss = RunLoss(c.impl, r.image, r.text, r.logit_scale, c.clip, g);
  return r;
}

LossResult ToResult(const LossGraph& g, const std::vector<torch::Tensor>& grads) {
  LossResult r;
  r.loss = g.loss.item<double>();
  r.grad_image = grads[0].to(torch::kCPU);
  r.grad_text = grads[1].to(torch::kCPU);
  r.grad_scale = grads[2].item<double>();
  return r;
}

Napi::Value LossResultToJs(Napi::Env env, LossResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", r.loss);
  out.Set("gradImage", TypedArrayFromTensor(env, r.grad_image));
  out.Set("gradText", TypedArrayFromTensor(env, r.grad_text));
  out.Set("gradLogitScale", r.grad_scale);
  return out;
}

}  // namespace loss_js

namespace {

using namespace loss_js;

// contrastiveLoss(image, text, B, D, {logitScale, positiveClip, groups, impl, device, dtype})
Napi::Value ContrastiveLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    LossCall call = ParseLossCall(info, "contrastiveLoss");
    return RunAsync<LossResult>(
        env, "xt.contrastiveLoss",
        [call]() {
          LossGraph g = BuildLoss(call);
          return ToResult(g, torch::autograd::grad({g.loss}, {g.image, g.text, g.logit_scale}));
        },
        [](Napi::Env env, LossResult& r) -> Napi::Value { return LossResultToJs(env, r); });
  });
}

Napi::Value LossInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpuIsa", relaxed_loss_cpu_isa());
#ifdef XT_WITH_CUDA
    o.Set("cuda", Napi::Boolean::New(env, true));
#else
    o.Set("cuda", Napi::Boolean::New(env, false));
#endif
    return o;
  });
}

void InitLoss(Napi::Env env, Napi::Object exports) {
  exports.Set("contrastiveLoss", Napi::Function::New(env, ContrastiveLoss, "contrastiveLoss"));
  exports.Set("lossInfo", Napi::Function::New(env, LossInfo, "lossInfo"));
}

}  // namespace
}  // namespace xt

XT_REGISTER_MODULE(loss, xt::InitLoss);
