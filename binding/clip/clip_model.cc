#include "clip/clip_model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/errors.h"

namespace xt {
namespace clip {

ClipModelImpl::ClipModelImpl(const ClipConfig& cfg) : cfg_(cfg) {
  cfg_.Validate();
  text = TextTransformer(cfg_);
  // OpenAI's top-level names: positional_embedding, text_projection, logit_scale, then
  // visual.*, transformer.*, token_embedding.*, ln_final.*.
  register_parameter("positional_embedding", text->positional_embedding);
  register_parameter("text_projection", text->text_projection);
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
  visual = register_module("visual", VisionTransformer(cfg_));
  register_module("transformer", text->transformer);
  register_module("token_embedding", text->token_embedding);
  register_module("ln_final", text->ln_final);
}

void ClipModelImpl::reset_parameters(uint64_t seed) {
  torch::NoGradGuard ng;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  // Fill on the CPU (the generator's device), then copy into wherever the parameter lives.
  auto normal = [&](torch::Tensor& p, double std) {
    p.copy_(torch::empty(p.sizes(), torch::kFloat32).normal_(0.0, std, gen));
  };
  auto uniform = [&](torch::Tensor& p, double bound) {
    p.copy_(torch::empty(p.sizes(), torch::kFloat32).uniform_(-bound, bound, gen));
  };
  auto ones = [](torch::Tensor& p) { p.fill_(1.0); };
  auto zeros = [](torch::Tensor& p) { p.zero_(); };
  auto layer_norm = [&](torch::nn::LayerNorm& ln) {
    ones(ln->weight);
    zeros(ln->bias);
  };
  // nn.Linear / nn.Conv2d defaults: kaiming_uniform(a=sqrt(5)) -> U(+-1/sqrt(fan_in)), bias likewise.
  auto linear_default = [&](torch::nn::Linear& l) {
    double b = 1.0 / std::sqrt(static_cast<double>(l->weight.size(1)));
    uniform(l->weight, b);
    uniform(l->bias, b);
  };

  // Text tower: CLIP.initialize_parameters.
  const double tw = static_cast<double>(cfg_.text_width);
  normal(text->token_embedding->weight, 0.02);
  normal(text->positional_embedding, 0.01);
  const double proj_std = std::pow(tw, -0.5) * std::pow(2.0 * cfg_.text_layers, -0.5);
  const double attn_std = std::pow(tw, -0.5);
  const double fc_std = std::pow(2.0 * tw, -0.5);
  for (auto& b : text->transformer->blocks) {
    layer_norm(b->ln_1);
    layer_norm(b->ln_2);
    linear_default(b->mlp->c_fc);  // biases keep the nn.Linear default
    linear_default(b->mlp->c_proj);
    normal(b->attn->in_proj_weight, attn_std);
    zeros(b->attn->in_proj_bias);
    normal(b->attn->out_proj->weight, proj_std);
    zeros(b->attn->out_proj->bias);
    normal(b->mlp->c_fc->weight, fc_std);
    normal(b->mlp->c_proj->weight, proj_std);
  }
  layer_norm(text->ln_final);
  normal(text->text_projection, attn_std);

  // Vision tower: VisionTransformer's own init (scale * randn) and module defaults.
  const double vw = static_cast<double>(cfg_.vision_width);
  const double scale = std::pow(vw, -0.5);
  {
    auto& w = visual->conv1->weight;
    uniform(w, 1.0 / std::sqrt(static_cast<double>(w.size(1) * w.size(2) * w.size(3))));
  }
  normal(visual->class_embedding, scale);
  normal(visual->positional_embedding, scale);
  layer_norm(visual->ln_pre);
  for (auto& b : visual->transformer->blocks) {
    layer_norm(b->ln_1);
    layer_norm(b->ln_2);
    // nn.MultiheadAttention._reset_parameters: xavier_uniform in_proj, zero biases.
    uniform(b->attn->in_proj_weight, std::sqrt(6.0 / (vw + 3.0 * vw)));
    zeros(b->attn->in_proj_bias);
    uniform(b->attn->out_proj->weight, 1.0 / std::sqrt(vw));
    zeros(b->attn->out_proj->bias);
    linear_default(b->mlp->c_fc);
    linear_default(b->mlp->c_proj);
  }
  layer_norm(visual->ln_post);
  normal(visual->proj, scale);

  logit_scale.fill_(std::log(1.0 / 0.07));
}

torch::Tensor ClipModelImpl::encode_image(const torch::Tensor& images) { return visual->forward(images); }

torch::Tensor ClipModelImpl::encode_text(const torch::Tensor& ids) { return text->forward(ids); }

torch::Tensor ClipModelImpl::logit_scale_exp() {
  // in float32 whatever the parameter dtype (half exp is missing on some CPUs/LibTorch versions)
  return logit_scale.to(at::kFloat).exp().clamp_max(100.0);
}

torch::Tensor ClipModelImpl::logits(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds) {
  XT_CHECK(image_embeds.dim() == 2 && text_embeds.dim() == 2 && image_embeds.size(1) == text_embeds.size(1), kShape,
           "logits: expected image [n, d] and text [m, d] embeddings");
  auto img = image_embeds / image_embeds.norm(2, -1, true);
  auto txt = text_embeds / text_embeds.norm(2, -1, true);
  return logit_scale_exp().to(img.scalar_type()) * at::mm(img, txt.t());
}

torch::Tensor ClipModelImpl::forward(const torch::Tensor& images, const torch::Tensor& ids) {
  return logits(encode_image(images), encode_text(ids));
}

std::vector<std::pair<std::string, torch::Tensor>> ClipModelImpl::state_dict() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& kv : named_parameters(/*recurse=*/true)) out.emplace_back(kv.key(), kv.value());
  return out;
}

torch::Tensor ClipModelImpl::parameter(const std::string& name) {
  auto params = named_parameters(true);
  if (const torch::Tensor* p = params.find(name)) return *p;
  throw XtError(kInvalid, "CLIP model has no parameter named '" + name + "'");
}

int64_t ClipModelImpl::num_parameters() {
  int64_t n = 0;
  for (const auto& p : parameters(true)) n += p.numel();
  return n;
}

}  // namespace clip
}  // namespace xt
