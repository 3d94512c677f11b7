// Exact contrastive gradient accumulation: see grad_cache.h.
#include "train/grad_cache.h"

#include <ATen/CPUGeneratorImpl.h>

#include <vector>

namespace xt {
namespace train {

torch::Tensor CachedContrastiveBackward(const torch::Tensor& pixels, const torch::Tensor& ids,
                                        const c10::optional<torch::Tensor>& groups, int accum, double grad_scale,
                                        const EncodeFn& encode, const LossFn& loss_fn,
                                        const std::function<void()>& before_last_backward) {
  const int64_t B = pixels.size(0);
  auto lo = [&](int k) { return B * k / accum; };
  auto hi = [&](int k) { return B * (k + 1) / accum; };

  // Random draws inside the encoders (patch dropout draws from the CPU generator) must repeat in pass 3:
  // the generator's state before each micro-batch of pass 1 is replayed before the same micro-batch of
  // pass 3, and the state after pass 1 is restored at the end (the step consumes the draws once).
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::vector<torch::Tensor> rng_before(accum);

  // 1. features of the whole batch, without a graph
  torch::Tensor img, txt;
  {
    torch::NoGradGuard ng;
    std::vector<torch::Tensor> imgs, txts;
    imgs.reserve(accum);
    txts.reserve(accum);
    for (int k = 0; k < accum; ++k) {
      {
        std::lock_guard<std::mutex> lock(gen.mutex());
        rng_before[k] = gen.get_state();
      }
      auto f = encode(pixels.slice(0, lo(k), hi(k)), ids.slice(0, lo(k), hi(k)));
      imgs.push_back(std::move(f.first));
      txts.push_back(std::move(f.second));
    }
    img = torch::cat(imgs);
    txt = torch::cat(txts);
  }
  img.requires_grad_(true);
  txt.requires_grad_(true);

  // 2. the full-batch loss, back-propagated to the cached features and to the logit scale
  torch::Tensor rng_after;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng_after = gen.get_state();
  }
  auto set_rng = [&](const torch::Tensor& state) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  };

  torch::Tensor loss = loss_fn(img, txt, groups);
  if (!loss.defined()) return loss;
  (grad_scale != 1.0 ? loss * grad_scale : loss).backward();
  const torch::Tensor g_img = img.grad();
  const torch::Tensor g_txt = txt.grad();

  // 3. each micro-batch again, with a graph, driven by its rows of the cached gradients
  for (int k = 0; k < accum; ++k) {
    set_rng(rng_before[k]);
    auto f = encode(pixels.slice(0, lo(k), hi(k)), ids.slice(0, lo(k), hi(k)));
    if (k == accum - 1 && before_last_backward) before_last_backward();
    torch::autograd::backward({f.first, f.second}, {g_img.slice(0, lo(k), hi(k)).to(f.first.scalar_type()),
                                                     g_txt.slice(0, lo(k), hi(k)).to(f.second.scalar_type())});
  }
  set_rng(rng_after);
  return loss.detach();
}

}  // namespace train
}  // namespace xt
