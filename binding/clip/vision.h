// CLIP's vision transformer (OpenAI VisionTransformer): conv patch embedding without bias,
// class token, positional embedding, ln_pre, the transformer, ln_post on the class token,
// and the `proj` projection. Parameter names: conv1.weight, class_embedding,
// positional_embedding, ln_pre.*, transformer.resblocks.*, ln_post.*, proj.
#pragma once
#include <torch/torch.h>

#include "clip/clip_config.h"
#include "clip/transformer.h"

namespace xt {
namespace clip {

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const ClipConfig& cfg);
  // images: [N, 3, R, R] (normalised pixels, R = image_resolution) -> [N, embed_dim], projected.
  torch::Tensor forward(const torch::Tensor& images);

  int64_t input_resolution, patch_size, width, output_dim;
  // Patch dropout (FLIP; open_clip's PatchDropout): in training mode each image keeps the class token and
  // a random max(1, floor((1 - p) * patches)) of its patch tokens, drawn from the CPU default generator
  // (the training session's seeded, checkpointed state). Evaluation (eval mode) sees every patch.
  double patch_dropout = 0;
  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding;
  torch::Tensor positional_embedding;
  torch::nn::LayerNorm ln_pre{nullptr};
  Transformer transformer{nullptr};
  torch::nn::LayerNorm ln_post{nullptr};
  torch::Tensor proj;
};
TORCH_MODULE(VisionTransformer);

}  // namespace clip
}  // namespace xt
