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
  const int64_t n = ids_in.size(0);
  if (n == 0) return torch::empty({0, output_dim}, text_projection.options());
  // Checks and the pooling positions on the host (the ids come from there; no device sync).
  torch::Tensor host = ids_in.to(at::kCPU, at::kLong);
  {
    auto lo = host.min().item<int64_t>(), hi = host.max().item<int64_t>();
    XT_CHECK(lo >= 0 && hi < vocab_size, kInvalid,
             "encodeTokens: token ids must be in [0, " + std::to_string(vocab_size) + "), got values from " +
                 std::to_string(lo) + " to " + std::to_string(hi));
  }
  // Pool at the end-of-text token: the highest id in each row, its first occurrence (OpenAI:
  // text.argmax(dim=-1)). Under the causal mask no token before it sees a later one, so every
  // position after the batch's last end-of-text token is dropped: the same embeddings, exactly,
  // for a fraction of the work (sampled report sentences are ~10-20 of 77 positions).
  torch::Tensor eot = host.argmax(-1);
  const int64_t l = eot.max().item<int64_t>() + 1;
  torch::Tensor ids = host.narrow(1, 0, l), pos = eot;
  if (dev.is_cuda()) {
    ids = ids.contiguous().pin_memory().to(dev, /*non_blocking=*/true);
    pos = pos.pin_memory().to(dev, /*non_blocking=*/true);
  } else {
    ids = ids.to(dev);
    pos = pos.to(dev);
  }
  torch::Tensor x = token_embedding->forward(ids);  // [N, l, W]
  if (InferencePath())
    x.add_(positional_embedding.slice(0, 0, l));
  else
    x = x + positional_embedding.slice(0, 0, l);
  torch::Tensor rows = torch::arange(n, pos.options()) * l + pos;
  torch::Tensor pooled = transformer->run_pooled(x, /*causal=*/true, rows, pos);  // [N, W]
  pooled = ln_final->forward(pooled);
  return at::mm(pooled, text_projection);
}

}  // namespace clip
}  // namespace xt
