#include "clip/vision.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "core/errors.h"

namespace xt {
namespace clip {

VisionTransformerImpl::VisionTransformerImpl(const ClipConfig& cfg)
    : input_resolution(cfg.image_resolution),
      patch_size(cfg.vision_patch_size),
      width(cfg.vision_width),
      output_dim(cfg.embed_dim) {
  conv1 = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width, patch_size).stride(patch_size).bias(false)));
  const double scale = 1.0 / std::sqrt(static_cast<double>(width));
  torch::NoGradGuard ng;
  class_embedding = register_parameter("class_embedding", torch::randn({width}) * scale);
  positional_embedding = register_parameter("positional_embedding", torch::randn({cfg.num_patches() + 1, width}) * scale);
  ln_pre = register_module("ln_pre", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(cfg.layer_norm_eps)));
  transformer = register_module(
      "transformer", Transformer(width, cfg.vision_layers, cfg.vision_heads, cfg.quick_gelu, cfg.layer_norm_eps));
  ln_post = register_module("ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(cfg.layer_norm_eps)));
  proj = register_parameter("proj", torch::randn({width, output_dim}) * scale);
}

namespace {
// x: [N, 1 + P, W] (class token first) -> [N, 1 + K, W]: the class token and K = max(1, floor((1 - p) P))
// patch tokens per image, the K of largest N(0, 1) draw (open_clip's choice: a uniformly random subset).
torch::Tensor DropPatches(const torch::Tensor& x, double p) {
  const int64_t n = x.size(0), patches = x.size(1) - 1, w = x.size(2);
  const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(std::floor((1.0 - p) * static_cast<double>(patches))));
  if (keep >= patches) return x;
  // Drawn on the CPU (its generator is the one the session seeds and saves), one image after another, so
  // that image i gets the same patches whether it is encoded in one batch or in micro-batches
  // (exact accumulation, train/grad_cache.h, replays the generator between its two passes).
  std::vector<torch::Tensor> keys;
  keys.reserve(n);
  for (int64_t i = 0; i < n; ++i) keys.push_back(torch::randn({patches}));
  torch::Tensor idx = std::get<1>(torch::stack(keys).topk(keep, /*dim=*/1)).add_(1).to(x.device());
  torch::Tensor kept = x.gather(1, idx.unsqueeze(-1).expand({n, keep, w}));
  return at::cat({x.narrow(1, 0, 1), kept}, 1);
}
}  // namespace

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images) {
  XT_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == input_resolution &&
               images.size(3) == input_resolution,
           kShape,
           "encodeImages: expected pixels of shape [n, 3, " + std::to_string(input_resolution) + ", " +
               std::to_string(input_resolution) + "], got " + c10::str(images.sizes()));
  const int64_t n = images.size(0);
  const auto& w = conv1->weight;
  torch::Tensor x = conv1->forward(images.to(w.device(), w.scalar_type()));  // [N, W, g, g]
  x = x.flatten(2).transpose(1, 2);                                          // [N, g*g, W]
  torch::Tensor cls = class_embedding.view({1, 1, width}).expand({n, 1, width});
  x = at::cat({cls, x}, 1);  // [N, 1 + g*g, W]
  if (InferencePath())
    x.add_(positional_embedding);
  else
    x = x + positional_embedding;
  if (patch_dropout > 0 && is_training()) x = DropPatches(x, patch_dropout);
  x = ln_pre->forward(x);
  // only the class token is read: the last block runs at it alone (keys/values for all)
  const int64_t l = x.size(1);
  torch::Tensor rows = torch::arange(n, torch::TensorOptions().dtype(at::kLong).device(x.device())) * l;
  x = transformer->run_pooled(x, /*causal=*/false, rows, torch::Tensor());
  x = ln_post->forward(x);
  return at::mm(x, proj);
}

}  // namespace clip
}  // namespace xt
