// CLIP's transformer: pre-LN residual blocks
//   x = x + attn(ln_1(x));  x = x + mlp(ln_2(x)),  mlp = c_proj(act(c_fc(x)))
// with QuickGELU (x * sigmoid(1.702 x)) as OpenAI trained it (or exact GELU when configured).
// Parameter names follow OpenAI: resblocks.<i>.{attn.in_proj_weight, attn.out_proj.weight,
// ln_1.weight, mlp.c_fc.weight, mlp.c_proj.weight, ln_2.weight, ...}.
//
// QuickGELU runs as silu(1.702 x) / 1.702 with the two constants folded into the MLP's GEMMs.
// When autograd is off (inference / no-grad), blocks run a fused path: the residual adds are
// folded into the out_proj / c_proj GEMMs (addmm_ into x) and the activation runs in place.
// With autograd on, every op is out of place so the graph is complete for training.
#pragma once
#include <torch/torch.h>

#include "clip/attention.h"

namespace xt {
namespace clip {

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t width, int64_t hidden, bool quick_gelu);
  torch::Tensor forward(const torch::Tensor& x);
  // Inference (autograd off): x2d += c_proj(act(c_fc(h2d))), with the bias and residual folded
  // into the GEMMs and the activation one in-place pass (QuickGELU(x) = silu(1.702 x) / 1.702:
  // 1.702 is applied by c_fc's GEMM, 1 / 1.702 by c_proj's).
  void add_to(torch::Tensor& x2d, const torch::Tensor& h2d);

  torch::nn::Linear c_fc{nullptr};
  torch::nn::Linear c_proj{nullptr};
  bool quick_gelu;
};
TORCH_MODULE(Mlp);

class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  ResidualAttentionBlockImpl(int64_t width, int64_t heads, bool quick_gelu, double eps);
  // x: [N, L, W] (contiguous for the fused path, which updates it in place and returns it).
  torch::Tensor forward(torch::Tensor x, bool causal);
  // The out-of-place ops of the training graph, whatever the grad mode (forward() with grad mode on;
  // gradient checkpointing runs it without a graph and again, with one, in backward).
  torch::Tensor forward_graph(const torch::Tensor& x, bool causal);
  // The block's output at one token per sequence: rows [N] index x viewed as [N*L, W], pos [N]
  // are the tokens' positions within their sequences (used for the causal mask). Returns [N, W].
  // Only keys and values are computed for the other tokens.
  torch::Tensor forward_at(const torch::Tensor& x, bool causal, const torch::Tensor& rows, const torch::Tensor& pos);

  MultiheadAttention attn{nullptr};
  torch::nn::LayerNorm ln_1{nullptr};
  Mlp mlp{nullptr};
  torch::nn::LayerNorm ln_2{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(int64_t width, int64_t layers, int64_t heads, bool quick_gelu, double eps);
  // x: [N, L, W]; never modifies x.
  torch::Tensor forward(const torch::Tensor& x, bool causal);
  // Like forward, but with autograd off it may update x in place (pass a tensor you own).
  torch::Tensor run(torch::Tensor x, bool causal);
  // run(x)[n, pos[n]] for every n, as [N, W], without computing the last block at the tokens
  // nobody reads (CLIP pools one token per sequence: the class token, the end-of-text token).
  // rows = n * L + pos[n]; pos may be undefined when not causal. Same arithmetic as run().
  torch::Tensor run_pooled(torch::Tensor x, bool causal, const torch::Tensor& rows, const torch::Tensor& pos);

  int64_t width, layers;
  // Gradient checkpointing (clip/checkpoint.h) of every block but the pooled last one, in training
  // with grad mode on and an input that requires grad. Off by default.
  bool grad_checkpointing = false;
  torch::nn::ModuleList resblocks{nullptr};
  std::vector<ResidualAttentionBlock> blocks;  // typed handles to the same modules
};
TORCH_MODULE(Transformer);

// True when the fused in-place inference path may be used (autograd off).
bool InferencePath();

}  // namespace clip
}  // namespace xt
