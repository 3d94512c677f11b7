#include "clip/attention.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/errors.h"

#if TORCH_VERSION_MAJOR >= 2
#define XT_FUSED_SDPA 1
#else
#define XT_FUSED_SDPA 0
#endif

namespace xt {
namespace clip {

MultiheadAttentionImpl::MultiheadAttentionImpl(int64_t width, int64_t heads) : width_(width), heads_(heads) {
  XT_CHECK(heads >= 1 && width % heads == 0, kInvalid,
           "attention: width " + std::to_string(width) + " is not divisible by " + std::to_string(heads) + " heads");
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  // nn.MultiheadAttention's own init: xavier_uniform in_proj, zero biases.
  torch::NoGradGuard ng;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  out_proj->bias.zero_();
}

torch::Tensor CausalMask(int64_t length, const torch::TensorOptions& options) {
  return torch::full({length, length}, -std::numeric_limits<float>::infinity(), options).triu_(1);
}

bool UsesFusedAttention() { return XT_FUSED_SDPA != 0; }

torch::Tensor MultiheadAttentionImpl::attend(const torch::Tensor& x, bool causal) {
  XT_CHECK(x.dim() == 3 && x.size(2) == width_, kShape,
           "attention: expected input [N, L, " + std::to_string(width_) + "]");
  const int64_t n = x.size(0), l = x.size(1), h = heads_, d = width_ / heads_;
  // One GEMM for q, k and v: [N*L, 3W].
  torch::Tensor qkv = at::addmm(in_proj_bias, x.reshape({n * l, width_}), in_proj_weight.t());
#if XT_FUSED_SDPA
  // [N, L, 3, H, D] -> 3 x [N, H, L, D] strided views; SDPA takes them as they are.
  auto parts = qkv.view({n, l, 3, h, d}).permute({2, 0, 3, 1, 4});
  torch::Tensor out = at::scaled_dot_product_attention(parts[0], parts[1], parts[2], c10::nullopt, 0.0, causal);
  return out.transpose(1, 2).reshape({n, l, width_});
#else
  // One copy to head-major [3, N*H, L, D] (nn.MultiheadAttention makes the same one).
  torch::Tensor heads = qkv.view({n, l, 3, h, d}).permute({2, 0, 3, 1, 4}).reshape({3, n * h, l, d});
  torch::Tensor q = heads[0], k = heads[1], v = heads[2];
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  torch::Tensor scores;
  if (causal) {
    scores = at::baddbmm(CausalMask(l, q.options()).unsqueeze(0), q, k.transpose(1, 2), 1.0, scale);
  } else {
    // beta = 0: the uninitialised input is ignored (BLAS semantics), so no mask and no extra pass.
    scores = at::empty({n * h, l, l}, q.options());
    scores = at::baddbmm(scores, q, k.transpose(1, 2), 0.0, scale);
  }
  scores = at::softmax(scores, -1);
  torch::Tensor out = at::bmm(scores, v);  // [N*H, L, D]
  return out.view({n, h, l, d}).transpose(1, 2).reshape({n, l, width_});
#endif
}

torch::Tensor MultiheadAttentionImpl::attend_at(const torch::Tensor& h, const torch::Tensor& hq, bool causal,
                                               const torch::Tensor& pos) {
  const int64_t n = h.size(0), l = h.size(1), nh = heads_, d = width_ / heads_;
  // q for the query tokens only, k and v for every token: 1/3 + 2/3 of the full in_proj GEMM's
  // rows, i.e. [N, W] and [N*L, 2W].
  torch::Tensor q = at::addmm(in_proj_bias.narrow(0, 0, width_), hq, in_proj_weight.narrow(0, 0, width_).t());
  torch::Tensor kv = at::addmm(in_proj_bias.narrow(0, width_, 2 * width_), h.reshape({n * l, width_}),
                               in_proj_weight.narrow(0, width_, 2 * width_).t());
  auto heads = kv.view({n, l, 2, nh, d}).permute({2, 0, 3, 1, 4});  // 2 x [N, H, L, D]
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  torch::Tensor scores = at::matmul(q.view({n, nh, 1, d}), heads[0].transpose(-2, -1)).mul_(scale);  // [N, H, 1, L]
  if (causal && pos.defined()) {
    torch::Tensor after = at::arange(l, pos.options()).view({1, 1, 1, l}) > pos.view({n, 1, 1, 1});
    scores = scores.masked_fill(after, -std::numeric_limits<double>::infinity());
  }
  torch::Tensor out = at::matmul(at::softmax(scores, -1), heads[1]);  // [N, H, 1, D]
  return out.reshape({n, width_});
}

torch::Tensor MultiheadAttentionImpl::forward(const torch::Tensor& x, bool causal) {
  return out_proj->forward(attend(x, causal));
}

}  // namespace clip
}  // namespace xt
