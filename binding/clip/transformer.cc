#include "clip/transformer.h"

#include "clip/checkpoint.h"
#include "core/errors.h"

namespace xt {
namespace clip {

bool InferencePath() { return !at::GradMode::is_enabled(); }

MlpImpl::MlpImpl(int64_t width, int64_t hidden, bool quick_gelu_) : quick_gelu(quick_gelu_) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, hidden));
  c_proj = register_module("c_proj", torch::nn::Linear(hidden, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto sizes = x.sizes().vec();
  if (quick_gelu) {
    // QuickGELU(h) = silu(1.702 h) / 1.702: 1.702 rides on c_fc's GEMM (alpha, beta) and 1 / 1.702 on
    // c_proj's, so autograd sees one fused activation (silu and its backward) instead of
    // mul + sigmoid + mul over the [tokens, 4W] hidden state, forward and backward.
    constexpr double kQ = 1.702;
    torch::Tensor h = at::silu(at::addmm(c_fc->bias, x.reshape({-1, x.size(-1)}), c_fc->weight.t(), kQ, kQ));
    return at::addmm(c_proj->bias, h, c_proj->weight.t(), 1.0, 1.0 / kQ).view(sizes);
  }
  torch::Tensor h = at::gelu(at::addmm(c_fc->bias, x.reshape({-1, x.size(-1)}), c_fc->weight.t()));
  return at::addmm(c_proj->bias, h, c_proj->weight.t()).view(sizes);
}

void MlpImpl::add_to(torch::Tensor& x2d, const torch::Tensor& h2d) {
  constexpr double kQ = 1.702;
  if (quick_gelu) {
    torch::Tensor h = at::addmm(c_fc->bias, h2d, c_fc->weight.t(), /*beta=*/kQ, /*alpha=*/kQ);  // 1.702 (x W^T + b)
    at::silu_(h);                                                                             // = 1.702 QuickGELU
    x2d.add_(c_proj->bias);
    x2d.addmm_(h, c_proj->weight.t(), /*beta=*/1.0, /*alpha=*/1.0 / kQ);
  } else {
    torch::Tensor h = at::gelu(at::addmm(c_fc->bias, h2d, c_fc->weight.t()));
    x2d.add_(c_proj->bias);
    x2d.addmm_(h, c_proj->weight.t());
  }
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(int64_t width, int64_t heads, bool quick_gelu, double eps) {
  attn = register_module("attn", MultiheadAttention(width, heads));
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps)));
  mlp = register_module("mlp", Mlp(width, 4 * width, quick_gelu));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps)));
}

torch::Tensor ResidualAttentionBlockImpl::forward_graph(const torch::Tensor& x, bool causal) {
  torch::Tensor y = x + attn->forward(ln_1->forward(x), causal);
  return y + mlp->forward(ln_2->forward(y));
}

torch::Tensor ResidualAttentionBlockImpl::forward(torch::Tensor x, bool causal) {
  if (!InferencePath()) return forward_graph(x, causal);
  // Inference: x += out_proj(attn(ln_1(x))); x += c_proj(act(c_fc(ln_2(x)))), with the bias
  // and residual folded into in-place GEMMs on x (one read-modify-write of x per branch).
  const int64_t w = x.size(-1);
  if (!x.is_contiguous()) x = x.contiguous();
  torch::Tensor x2d = x.view({-1, w});
  torch::Tensor a = attn->attend(ln_1->forward(x), causal);
  x2d.add_(attn->out_proj->bias);
  x2d.addmm_(a.view({-1, w}), attn->out_proj->weight.t());
  mlp->add_to(x2d, ln_2->forward(x).view({-1, w}));
  return x;
}

torch::Tensor ResidualAttentionBlockImpl::forward_at(const torch::Tensor& x, bool causal, const torch::Tensor& rows,
                                                     const torch::Tensor& pos) {
  const int64_t n = x.size(0), l = x.size(1), w = x.size(2);
  torch::Tensor h = ln_1->forward(x);  // every token: keys and values need them all
  torch::Tensor hq = h.reshape({n * l, w}).index_select(0, rows);
  torch::Tensor y = x.reshape({n * l, w}).index_select(0, rows);
  y = y + attn->out_proj->forward(attn->attend_at(h, hq, causal, pos));
  return y + mlp->forward(ln_2->forward(y));
}

TransformerImpl::TransformerImpl(int64_t width_, int64_t layers_, int64_t heads, bool quick_gelu, double eps)
    : width(width_), layers(layers_) {
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) {
    blocks.emplace_back(width, heads, quick_gelu, eps);
    resblocks->push_back(blocks.back());
  }
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& x, bool causal) {
  // the fused path writes into its input: never into the caller's tensor
  return run(InferencePath() && x.is_contiguous() ? x.clone() : x, causal);
}

namespace {
torch::Tensor RunBlock(ResidualAttentionBlock& b, torch::Tensor x, bool causal, bool checkpoint) {
  if (checkpoint && !InferencePath() && x.requires_grad()) return CheckpointedBlock(*b, x, causal);
  return b->forward(std::move(x), causal);
}
}  // namespace

torch::Tensor TransformerImpl::run(torch::Tensor x, bool causal) {
  const bool ckpt = grad_checkpointing && is_training();
  for (auto& b : blocks) x = RunBlock(b, std::move(x), causal, ckpt);
  return x;
}

torch::Tensor TransformerImpl::run_pooled(torch::Tensor x, bool causal, const torch::Tensor& rows,
                                          const torch::Tensor& pos) {
  const int64_t n = x.size(0), l = x.size(1);
  if (blocks.empty()) return x.reshape({n * l, x.size(2)}).index_select(0, rows);
  const bool ckpt = grad_checkpointing && is_training();
  for (size_t i = 0; i + 1 < blocks.size(); ++i) x = RunBlock(blocks[i], std::move(x), causal, ckpt);
  return blocks.back()->forward_at(x, causal, rows, pos);
}

}  // namespace clip
}  // namespace xt
