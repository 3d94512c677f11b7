// Multi-head self-attention with OpenAI CLIP's parameter layout (nn.MultiheadAttention):
// one fused `in_proj_weight` [3W, W] / `in_proj_bias` [3W] and an `out_proj` Linear.
// Tensors are batch-first [N, L, W] (OpenAI permutes to [L, N, W]; the arithmetic is the same).
//
// LibTorch >= 2.0: at::scaled_dot_product_attention (fused kernels, causal flag).
// LibTorch 1.13: the composed form nn.MultiheadAttention uses (baddbmm with the scale folded in
// as alpha, softmax, bmm). Both are autograd-capable.
#pragma once
#include <torch/torch.h>

namespace xt {
namespace clip {

class MultiheadAttentionImpl : public torch::nn::Module {
 public:
  MultiheadAttentionImpl(int64_t width, int64_t heads);

  // x: [N, L, W] -> [N, L, W] (after out_proj).
  torch::Tensor forward(const torch::Tensor& x, bool causal = false);

  // The attention output before out_proj, contiguous [N, L, W]; the inference path fuses
  // out_proj with the residual add (see transformer.cc).
  torch::Tensor attend(const torch::Tensor& x, bool causal);
  // Attention for one query token per sequence: h [N, L, W] (keys and values from every token),
  // hq [N, W] (the query tokens' inputs), pos [N] their positions (causal: keys after pos are
  // masked; undefined when not causal). Returns [N, W] before out_proj. Used by the last block,
  // whose output is only read at the pooled token.
  torch::Tensor attend_at(const torch::Tensor& h, const torch::Tensor& hq, bool causal, const torch::Tensor& pos);

  int64_t width() const { return width_; }
  int64_t heads() const { return heads_; }

  torch::Tensor in_proj_weight;
  torch::Tensor in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t width_;
  int64_t heads_;
};
TORCH_MODULE(MultiheadAttention);

// Additive causal mask [L, L]: 0 on and below the diagonal, -inf above (OpenAI's build_attention_mask).
torch::Tensor CausalMask(int64_t length, const torch::TensorOptions& options);

// Whether at::scaled_dot_product_attention (LibTorch >= 2.0) is used rather than the composed path.
bool UsesFusedAttention();

}  // namespace clip
}  // namespace xt
