// The relaxed contrastive loss composed from ATen ops, differentiated by autograd: the reference
// the fused kernels are tested and benchmarked against. It is written the way one would in
// PyTorch: normalise, one similarity GEMM, torch.where for the relaxation, cross-entropy (or
// soft-target log-softmax with groups) in both directions.
#include <torch/torch.h>

#include "core/errors.h"
#include "loss/relaxed_loss.h"
#include "loss/relaxed_loss_impl.h"

namespace xt {

at::Tensor relaxed_contrastive_loss_reference(const at::Tensor& image, const at::Tensor& text,
                                             const at::Tensor& logit_scale, double positive_clip,
                                             const c10::optional<at::Tensor>& groups) {
  at::Tensor g = groups.has_value() ? *groups : at::Tensor();
  loss::ValidateInputs(image, text, logit_scale, positive_clip, g, /*check_values=*/true);
  const int64_t B = image.size(0);
  at::Tensor img = image, txt = text;
  if (img.device().is_cpu() && img.scalar_type() != at::kFloat && img.scalar_type() != at::kDouble) {
    img = img.to(at::kFloat);
    txt = txt.to(at::kFloat);
  }
  at::Tensor a = img / img.norm(2, {1}, /*keepdim=*/true);
  at::Tensor b = txt / txt.norm(2, {1}, /*keepdim=*/true);
  at::Tensor s = at::mm(a, b.t());
  at::Tensor positive;
  if (g.defined()) {
    at::Tensor ids = g.to(s.device(), at::kLong);
    positive = ids.unsqueeze(1) == ids.unsqueeze(0);
  } else {
    positive = at::eye(B, s.options().dtype(at::kBool));
  }
  s = at::where(positive, s.clamp_max(positive_clip), s);
  at::Tensor scale = logit_scale.reshape({}).to(s.scalar_type()).clamp_max(loss::kMaxLogitScale).exp();
  at::Tensor logits = scale * s;
  if (!g.defined()) {
    at::Tensor target = at::arange(B, s.options().dtype(at::kLong));
    return 0.5 * (at::cross_entropy_loss(logits, target) + at::cross_entropy_loss(logits.t(), target));
  }
  at::Tensor t = positive.to(s.scalar_type());
  t = t / t.sum(1, /*keepdim=*/true);  // row i: 1/n_i over its group; symmetric, so also the columns
  at::Tensor rows = -(t * at::log_softmax(logits, 1)).sum(1).mean();
  at::Tensor cols = -(t * at::log_softmax(logits, 0)).sum(0).mean();
  return 0.5 * (rows + cols);
}

}  // namespace xt
