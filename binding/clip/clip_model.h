// The CLIP model (ViT image tower + text tower + learnable logit scale) as a LibTorch module
// whose named_parameters() are exactly OpenAI's state-dict names ("visual.conv1.weight",
// "transformer.resblocks.0.attn.in_proj_weight", "token_embedding.weight", "logit_scale", ...).
//
// Autograd-capable: with grad mode on, every op is out of place and differentiable (the native
// training step builds on encode_image / encode_text / logit_scale_exp). With grad mode off
// (NoGradGuard / InferenceMode) the transformer blocks run a fused in-place path.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "clip/clip_config.h"
#include "clip/text.h"
#include "clip/vision.h"

namespace xt {
namespace clip {

class ClipModelImpl : public torch::nn::Module {
 public:
  // Parameters are allocated and given LibTorch's default init; call reset_parameters(seed)
  // for CLIP's own init scheme, or copy weights in (see io/weights.h).
  explicit ClipModelImpl(const ClipConfig& cfg);

  // OpenAI CLIP's initialisation (CLIP.initialize_parameters plus the defaults of the modules
  // it leaves alone), drawn from a CPU generator seeded with `seed`: deterministic.
  void reset_parameters(uint64_t seed);

  // [N, 3, R, R] normalised pixels -> [N, embed_dim] projected (not normalised) embeddings.
  torch::Tensor encode_image(const torch::Tensor& images);
  // [N, L] token ids (L <= context_length) -> [N, embed_dim] projected (not normalised).
  torch::Tensor encode_text(const torch::Tensor& ids);
  // exp(logit_scale), capped at 100, as a float32 scalar (differentiable).
  torch::Tensor logit_scale_exp();
  // logits_per_image [N_img, N_txt] = logit_scale_exp * normalize(img) @ normalize(txt)^T.
  torch::Tensor logits(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds);
  // logits(encode_image(images), encode_text(ids)).
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& ids);

  const ClipConfig& config() const { return cfg_; }
  // named_parameters() as a vector, OpenAI names, registration order.
  std::vector<std::pair<std::string, torch::Tensor>> state_dict();
  // One parameter by OpenAI name; throws XT_INVALID for an unknown name.
  torch::Tensor parameter(const std::string& name);
  int64_t num_parameters();

  VisionTransformer visual{nullptr};
  // The text tower. Not registered as a child: its parameters and children are registered at
  // this module's top level, where OpenAI's names put them.
  TextTransformer text{nullptr};
  torch::Tensor logit_scale;

 private:
  ClipConfig cfg_;
};
TORCH_MODULE(ClipModel);

}  // namespace clip
}  // namespace xt
