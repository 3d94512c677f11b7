// The fused relaxed contrastive loss as a custom autograd function, plus the input checks shared
// with the composed reference. Forward and backward run the CPU kernels (relaxed_loss_cpu.cc) or,
// in CUDA builds, the CUDA kernels (relaxed_loss_cuda_ops.cc -> relaxed_loss_cuda.cu).
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "core/errors.h"
#include "loss/relaxed_loss.h"
#include "loss/relaxed_loss_impl.h"

namespace xt {
namespace loss {

namespace {

std::string ShapeStr(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

bool IsFloat(const at::Tensor& t) { return at::isFloatingType(t.scalar_type()); }

}  // namespace

void ThrowBadRow(const at::Tensor& x, int64_t row, const std::string& what) {
  at::Tensor r = x.select(0, row).to(at::kCPU, at::kDouble).contiguous();
  const double* p = r.data_ptr<double>();
  for (int64_t k = 0; k < r.numel(); ++k) {
    if (!std::isfinite(p[k]))
      throw XtError(kInvalid, what + " has a non-finite value at [" + std::to_string(row) + ", " +
                                  std::to_string(k) + "] (" + std::to_string(p[k]) + ")");
  }
  bool zero = true;
  for (int64_t k = 0; k < r.numel(); ++k) zero = zero && p[k] == 0;
  if (zero)
    throw XtError(kInvalid, what + " row " + std::to_string(row) +
                                " is all zeros: its cosine similarity is undefined");
  throw XtError(kInvalid, what + " row " + std::to_string(row) + " is too large to normalise");
}

void ValidateInputs(const at::Tensor& image, const at::Tensor& text, const at::Tensor& logit_scale,
                    double positive_clip, const at::Tensor& groups, bool check_values) {
  XT_CHECK(image.defined() && text.defined() && logit_scale.defined(), kInvalid,
           "relaxed_contrastive_loss: image, text and logit_scale must be defined tensors");
  XT_CHECK(image.dim() == 2, kShape, "relaxed_contrastive_loss: image must be [B, D], got " + ShapeStr(image));
  XT_CHECK(text.dim() == 2, kShape, "relaxed_contrastive_loss: text must be [B, D], got " + ShapeStr(text));
  XT_CHECK(image.size(0) >= 1, kShape, "relaxed_contrastive_loss: the batch is empty (B = 0)");
  XT_CHECK(image.size(1) >= 1, kShape, "relaxed_contrastive_loss: the embedding width is 0 (D = 0)");
  XT_CHECK(text.size(0) == image.size(0), kShape,
           "relaxed_contrastive_loss: image has " + std::to_string(image.size(0)) + " rows but text has " +
               std::to_string(text.size(0)) + " (both must be B)");
  XT_CHECK(text.size(1) == image.size(1), kShape,
           "relaxed_contrastive_loss: embedding widths differ: image D = " + std::to_string(image.size(1)) +
               ", text D = " + std::to_string(text.size(1)));
  XT_CHECK(IsFloat(image) && IsFloat(text), kInvalid,
           "relaxed_contrastive_loss: image and text must be floating point");
  XT_CHECK(image.scalar_type() == text.scalar_type(), kInvalid,
           std::string("relaxed_contrastive_loss: image and text dtypes differ (") +
               c10::toString(image.scalar_type()) + " vs " + c10::toString(text.scalar_type()) + ")");
  XT_CHECK(image.device() == text.device(), kInvalid,
           "relaxed_contrastive_loss: image and text are on different devices");
  XT_CHECK(logit_scale.numel() == 1 && IsFloat(logit_scale), kInvalid,
           "relaxed_contrastive_loss: logit_scale must be a single floating-point value, got " +
               ShapeStr(logit_scale));
  XT_CHECK(std::isfinite(positive_clip) && positive_clip >= -1.0 && positive_clip <= 1.0, kInvalid,
           "relaxed_contrastive_loss: positive_clip must be in [-1, 1], got " + std::to_string(positive_clip));
  if (groups.defined()) {
    XT_CHECK(groups.dim() == 1 && groups.size(0) == image.size(0), kShape,
             "relaxed_contrastive_loss: groups must have one id per sample ([" + std::to_string(image.size(0)) +
                 "]), got " + ShapeStr(groups));
    XT_CHECK(groups.scalar_type() == at::kInt || groups.scalar_type() == at::kLong, kInvalid,
             "relaxed_contrastive_loss: groups must be int32 or int64 ids");
  }
  if (logit_scale.device().is_cpu()) {
    XT_CHECK(std::isfinite(logit_scale.item<double>()), kInvalid,
             "relaxed_contrastive_loss: logit_scale is not finite");
  }
  if (check_values) {
    // one device->host read for all three checks
    at::NoGradGuard ng;
    at::Tensor ni = image.detach().norm(2, {1});
    at::Tensor nt = text.detach().norm(2, {1});
    at::Tensor ok = at::stack({at::isfinite(image.detach()).all(), at::isfinite(text.detach()).all(),
                               at::isfinite(logit_scale.detach()).all(), (ni > 0).all(), (nt > 0).all(),
                               at::isfinite(ni).all(), at::isfinite(nt).all()})
                        .cpu();
    const bool* f = ok.data_ptr<bool>();
    if (!f[2]) throw XtError(kInvalid, "relaxed_contrastive_loss: logit_scale is not finite");
    if (!(f[0] && f[3] && f[5])) {
      at::Tensor bad = (~at::isfinite(ni.cpu()) | (ni.cpu() <= 0)).nonzero();
      ThrowBadRow(image, bad.numel() ? bad[0][0].item<int64_t>() : 0, "image");
    }
    if (!(f[1] && f[4] && f[6])) {
      at::Tensor bad = (~at::isfinite(nt.cpu()) | (nt.cpu() <= 0)).nonzero();
      ThrowBadRow(text, bad.numel() ? bad[0][0].item<int64_t>() : 0, "text");
    }
  }
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class RelaxedLossFunction : public torch::autograd::Function<RelaxedLossFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor image, at::Tensor text, at::Tensor logit_scale,
                            double clip, c10::optional<at::Tensor> groups_opt) {
    // (an optional, not an undefined Tensor: LibTorch 1.13's Function::apply reads the device of
    // every Tensor argument)
    const at::Tensor groups = groups_opt.has_value() ? *groups_opt : at::Tensor();
    std::vector<at::Tensor> saved;
    at::Tensor loss;
    ctx->saved_data["clip"] = clip;
    if (image.device().is_cpu()) {
      const double ls = logit_scale.item<double>();
      const double tau = std::exp(std::min(ls, kMaxLogitScale));
      loss = CpuFusedForward(image, text, tau, clip, groups, &saved);
      ctx->saved_data["tau"] = tau;
      ctx->saved_data["capped"] = ls > kMaxLogitScale;
      ctx->saved_data["s_consumed"] = false;
    } else {
#ifdef XT_WITH_CUDA
      const auto acc = image.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
      at::Tensor ls = logit_scale.detach().reshape({1}).to(acc);
      at::Tensor tau = ls.clamp_max(kMaxLogitScale).exp();
      loss = CudaFusedForward(image, text, tau, clip, groups, &saved);
      saved.push_back(tau);
      saved.push_back(ls <= kMaxLogitScale);  // where the logit-scale gradient passes
      ctx->saved_data["s_consumed"] = false;
#else
      throw XtError(kCuda, "relaxed_contrastive_loss: this build has no CUDA support");
#endif
    }
    saved.push_back(image);
    saved.push_back(text);
    ctx->save_for_backward(saved);
    ctx->saved_data["device_cpu"] = image.device().is_cpu();
    ctx->saved_data["scale_shape"] = logit_scale.sizes().vec();
    ctx->saved_data["scale_dtype"] = static_cast<int64_t>(logit_scale.scalar_type());
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    std::vector<at::Tensor> saved = ctx->get_saved_variables();
    at::Tensor text = saved.back();
    saved.pop_back();
    at::Tensor image = saved.back();
    saved.pop_back();
    const double clip = ctx->saved_data["clip"].toDouble();
    const bool need_image = ctx->needs_input_grad(0), need_text = ctx->needs_input_grad(1);
    const bool need_scale = ctx->needs_input_grad(2);
    at::Tensor gi, gt, gs;
    at::Tensor gout = grads[0];
    const std::vector<int64_t> scale_shape = ctx->saved_data["scale_shape"].toIntVector();
    const auto scale_dtype = static_cast<at::ScalarType>(ctx->saved_data["scale_dtype"].toInt());
    if (ctx->saved_data["device_cpu"].toBool()) {
      const double tau = ctx->saved_data["tau"].toDouble();
      const double g = gout.defined() ? gout.item<double>() : 0.0;
      // The first backward writes dS over the saved S. A second one (retain_graph) finds S
      // consumed and recomputes it, with the statistics, from the saved inputs.
      if (ctx->saved_data["s_consumed"].toBool()) {
        std::vector<at::Tensor> fresh;
        CpuFusedForward(image, text, tau, clip, saved[7], &fresh);
        saved = fresh;
      }
      ctx->saved_data["s_consumed"] = true;
      CpuGrads r = CpuFusedBackward(saved, image, text, tau, clip, g, need_image, need_text, /*in_place=*/true);
      gi = r.image;
      gt = r.text;
      if (need_scale) {
        const double d = ctx->saved_data["capped"].toBool() ? 0.0 : r.dtau * tau;
        gs = at::full(scale_shape, d, image.options().dtype(scale_dtype));
      }
    } else {
#ifdef XT_WITH_CUDA
      at::Tensor pass = saved.back();
      saved.pop_back();
      at::Tensor tau = saved.back();
      saved.pop_back();
      if (!gout.defined()) gout = at::zeros({}, tau.options());
      // as on the CPU: dS overwrites S; a second backward recomputes S and the statistics
      if (ctx->saved_data["s_consumed"].toBool()) {
        std::vector<at::Tensor> fresh;
        const at::Tensor& g32 = saved[8];
        CudaFusedForward(image, text, tau, clip, g32.numel() ? g32 : at::Tensor(), &fresh);
        saved = fresh;
      }
      ctx->saved_data["s_consumed"] = true;
      CudaGrads r = CudaFusedBackward(saved, image, text, tau, clip, gout, need_image, need_text);
      gi = r.image;
      gt = r.text;
      if (need_scale)
        gs = at::where(pass, r.dtau * tau, at::zeros_like(tau)).reshape(scale_shape).to(scale_dtype);
#endif
    }
    return {gi, gt, gs, at::Tensor(), at::Tensor()};
  }
};

}  // namespace
}  // namespace loss

at::Tensor relaxed_contrastive_loss(const at::Tensor& image, const at::Tensor& text, const at::Tensor& logit_scale,
                                   double positive_clip, const c10::optional<at::Tensor>& groups,
                                   bool validate_values) {
  at::Tensor g = groups.has_value() ? *groups : at::Tensor();
  const bool cpu = image.defined() && image.device().is_cpu();
  // CPU: the kernels find non-finite values and zero rows while normalising, for free.
  loss::ValidateInputs(image, text, logit_scale, positive_clip, g, /*check_values=*/!cpu && validate_values);
#ifndef XT_WITH_CUDA
  XT_CHECK(cpu, kCuda, "relaxed_contrastive_loss: this build has no CUDA support (inputs are on " +
                           image.device().str() + ")");
#endif
  at::Tensor img = image, txt = text;
  if (cpu && img.scalar_type() != at::kFloat && img.scalar_type() != at::kDouble) {
    img = img.to(at::kFloat);  // fp16/bf16 on CPU: computed in fp32 (autograd casts the grads back)
    txt = txt.to(at::kFloat);
  }
  img = img.contiguous();
  txt = txt.contiguous();
  if (g.defined() && g.device() != img.device()) g = g.to(img.device());
  c10::optional<at::Tensor> gopt;
  if (g.defined()) gopt = g;
  at::Tensor loss = loss::RelaxedLossFunction::apply(img, txt, logit_scale, positive_clip, gopt);
  return loss;
}

const char* relaxed_loss_cpu_isa() { return loss::CpuIsa(); }

void relaxed_loss_force_generic_cpu(bool on) { loss::ForceGenericCpu(on); }

void relaxed_loss_release_cache() { loss::ReleaseCpuCache(); }

}  // namespace xt
