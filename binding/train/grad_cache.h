// Exact contrastive gradient accumulation (GradCache; open_clip's --accum-freq semantics).
//
// A contrastive loss couples every sample of the batch with every other one, so splitting a batch of B
// into N micro-batches with a loss each trains on N problems of B/N samples: each sample sees B/N - 1
// negatives instead of B - 1. This keeps the full-batch objective at micro-batch activation memory:
//
//   1. forward every micro-batch without an autograd graph and cache the image and text features of the
//      whole batch ([B, E] each: a few KiB per sample);
//   2. compute the full-batch loss on the cached features (relaxation, multi-positive groups and, in
//      data-parallel runs, the gathered global batch: whatever `loss` does) and back-propagate it to the
//      cached features and, directly, to the logit scale;
//   3. forward each micro-batch again, now with a graph, and back-propagate the cached feature gradients
//      of its rows through it; parameter gradients accumulate over the micro-batches.
//
// The parameter gradients then equal those of one forward/backward over the whole batch, within floating
// point rounding (the encoders run on smaller GEMMs and gradients are summed in another order). The cost:
// the encoders run forward twice (about +1/3 of a step's compute), for 1/N of the activation memory.
// The forward must be deterministic between the two passes: augmentation happens before the step (the
// pixels are fixed), and the encoders hold no dropout.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <utility>

namespace xt {
namespace train {

// (pixels, token ids) of one micro-batch -> (image features, text features), under the caller's autocast,
// with a graph when grad mode is on.
using EncodeFn = std::function<std::pair<torch::Tensor, torch::Tensor>(const torch::Tensor&, const torch::Tensor&)>;
// (image features, text features, group ids of those rows) -> the 0-dim loss of the whole batch, with
// autograd to both features and the logit scale; an undefined tensor when the features are not finite.
using LossFn = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const c10::optional<torch::Tensor>&)>;

// Runs the three phases above over `accum` micro-batches of rows [B*k/accum, B*(k+1)/accum) and leaves the
// parameter gradients of the whole-batch loss (times `grad_scale`, e.g. fp16's loss scale) in .grad().
// `before_last_backward` runs right before the last micro-batch's backward (the data-parallel reducer
// arms its overlap hooks there). Returns the detached loss, or an undefined tensor when the loss said the
// features were not finite (then no gradient was produced).
torch::Tensor CachedContrastiveBackward(const torch::Tensor& pixels, const torch::Tensor& ids,
                                        const c10::optional<torch::Tensor>& groups, int accum, double grad_scale,
                                        const EncodeFn& encode, const LossFn& loss,
                                        const std::function<void()>& before_last_backward);

}  // namespace train
}  // namespace xt
