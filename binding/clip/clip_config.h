// CLIP ViT configuration: named presets, inference from an OpenAI-named state dict (the way
// OpenAI's build_model does it), JSON round trip for our checkpoints, and validation.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/json.h"

namespace xt {
namespace clip {

struct ClipConfig {
  int64_t embed_dim = 512;
  // vision tower
  int64_t image_resolution = 224;
  int64_t vision_layers = 12;
  int64_t vision_width = 768;
  int64_t vision_heads = 12;
  int64_t vision_patch_size = 32;
  // text tower
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t text_width = 512;
  int64_t text_heads = 8;
  int64_t text_layers = 12;
  // QuickGELU (x * sigmoid(1.702 x), OpenAI) or exact GELU (some open_clip / Hugging Face models).
  bool quick_gelu = true;
  double layer_norm_eps = 1e-5;

  int64_t grid() const { return image_resolution / vision_patch_size; }
  int64_t num_patches() const { return grid() * grid(); }

  // Throws XtError(XT_INVALID) naming the first inconsistent field.
  void Validate() const;

  json::Value ToJson() const;
  std::string ToJsonString() const { return ToJson().Dump(); }
  // Missing fields keep their defaults; wrong types throw XT_INVALID naming `where`.
  static ClipConfig FromJson(const json::Value& v, const std::string& where);

  bool operator==(const ClipConfig& o) const;
  bool operator!=(const ClipConfig& o) const { return !(*this == o); }
};

// "ViT-B-32", "ViT-B-16", "ViT-L-14", "tiny", "small" ("ViT-B/32" spellings accepted too).
// Throws XT_INVALID listing the known names.
ClipConfig PresetConfig(const std::string& name);
std::vector<std::string> PresetNames();

// OpenAI's build_model: widths from tensor shapes, layers from key names, heads = width / 64,
// image resolution = patch size x sqrt(positional rows - 1). Throws XT_IO naming `source` when
// the state dict is not a CLIP ViT.
ClipConfig InferConfig(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& source);

}  // namespace clip
}  // namespace xt
