// CLIP's text transformer (the text half of OpenAI's CLIP class): token embedding plus
// positional embedding, the causal transformer, ln_final, pooling at the end-of-text token
// (the argmax of the ids, as OpenAI does), and `text_projection`.
// Parameter names: token_embedding.weight, positional_embedding, transformer.resblocks.*,
// ln_final.*, text_projection (ClipModel adopts them at its top level, as OpenAI names them).
#pragma once
#include <torch/torch.h>

#include "clip/clip_config.h"
#include "clip/transformer.h"

namespace xt {
namespace clip {

class TextTransformerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerImpl(const ClipConfig& cfg);
  // ids: [N, L] integer token ids, L <= context_length (positions beyond L cannot influence
  // the pooled token under the causal mask, so shorter rows give the same embeddings).
  // Returns [N, embed_dim], projected.
  torch::Tensor forward(const torch::Tensor& ids);

  int64_t context_length, vocab_size, width, output_dim;
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding;
  Transformer transformer{nullptr};
  torch::nn::LayerNorm ln_final{nullptr};
  torch::Tensor text_projection;
};
TORCH_MODULE(TextTransformer);

}  // namespace clip
}  // namespace xt
