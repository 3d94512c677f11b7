#include "clip/text.h"

#include "core/errors.h"

namespace xt {
namespace clip {

TextTransformerImpl::TextTransformerImpl(const ClipConfig& cfg)
    : context_length(cfg.context_length), vocab_size(cfg.vocab_size), width(cfg.text_width), output_dim(cfg.embed_dim) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(vocab_size, width));
  torch::NoGradGuard ng;
  positional_embedding = register_parameter("positional_embedding", torch::empty({context_length, width}).normal_(0, 0.01));
  transformer = register_module(
      "transformer", Transformer(width, cfg.text_layers, cfg.text_heads, cfg.quick_gelu, cfg.layer_norm_eps));
  ln_final = register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(cfg.layer_norm_eps)));
  text_projection = register_parameter("text_projection", torch::empty({width, output_dim}).normal_(0, std::pow(width, -0.5)));
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& ids_in) {
  XT_CHECK(ids_in.dim() == 2 && ids_in.size(1) >= 1 && ids_in.size(1) <= context_length, kShape,
           "encodeTokens: expected ids of shape [n, L] with 1 <= L <= " + std::to_string(context_length) + ", got " +
               c10::str(ids_in.sizes()));
  XT_CHECK(!at::isFloatingType(ids_in.scalar_type()) && ids_in.scalar_type() != at::kBool, kInvalid,
           "encodeTokens: token ids must be integers");
  const auto dev = token_embedding->weight.device();
  torch::Tensor ids = ids_in.to(dev, at::kLong);
  const int64_t n = ids.size(0), l = ids.size(1);
  if (n == 0) return torch::empty({0, output_dim}, text_projection.options());
  {
    auto lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    XT_CHECK(lo >= 0 && hi < vocab_size, kInvalid,
             "encodeTokens: token ids must be in [0, " + std::to_string(vocab_size) + "), got values from " +
                 std::to_string(lo) + " to " + std::to_string(hi));
  }
  torch::Tensor x = token_embedding->forward(ids);  // [N, L, W]
  if (InferencePath())
    x.add_(positional_embedding.slice(0, 0, l));
  else
    x = x + positional_embedding.slice(0, 0, l);
  x = transformer->run(x, /*causal=*/true);
  // Pool at the end-of-text token: the highest id in each row (OpenAI: text.argmax(dim=-1)).
  torch::Tensor rows = torch::arange(n, ids.options()) * l + ids.argmax(-1);
  torch::Tensor pooled = x.reshape({n * l, width}).index_select(0, rows);  // [N, W]
  pooled = ln_final->forward(pooled);  // LayerNorm is per token: only the pooled ones are needed
  return at::mm(pooled, text_projection);
}

}  // namespace clip
}  // namespace xt
