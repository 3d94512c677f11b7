// CLIP weight formats: detection, reading into OpenAI names, loading into a ClipModel, writing.
//
// Read (auto-detected from a file or a directory):
//   openai      OpenAI state-dict names in safetensors (a file, or a folder with model.safetensors)
//   torchscript OpenAI's released TorchScript archives (ViT-B-32.pt): torch::jit::load, then the
//               named parameters and buffers
//   hf          Hugging Face CLIPModel folders: config.json + model.safetensors, or a sharded
//               model.safetensors.index.json (or pytorch_model.bin); q/k/v_proj are merged into
//               in_proj, the projections transposed, `pre_layrnorm` (sic) mapped to ln_pre
//   open_clip   open_clip checkpoints: OpenAI names, possibly under "state_dict" and/or with a
//               "module." prefix, as a torch.save zip (read by io/pickle.h) or safetensors
//   xray-torch  our checkpoints: OpenAI names in safetensors + the config in __metadata__
// Storage dtypes fp32/fp16/bf16 (any the readers know); loading converts to the requested dtype.
// Missing, unexpected and mis-shaped tensors give one error listing them.
//
// Write: our layout (safetensors + config metadata), OpenAI layout (safetensors with OpenAI
// names), Hugging Face layout (folder with config.json + model.safetensors).
//
// Implemented per format in weights_*.cc (weights_internal.h lists which file does what).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clip/clip_config.h"
#include "clip/clip_model.h"

namespace xt {
namespace io {

struct WeightEntry {
  std::vector<int64_t> shape;
  at::ScalarType dtype = at::kFloat;
  // Produces the tensor (CPU, storage dtype; possibly a view of a mapped file, or a lazily
  // merged / transposed view for Hugging Face layouts). Call once, copy, drop it.
  std::function<at::Tensor()> load;
};

struct WeightSet {
  std::string source;  // the path given
  std::string format;  // openai | torchscript | hf | open_clip | xray-torch
  std::map<std::string, WeightEntry> tensors;  // OpenAI names
  std::optional<clip::ClipConfig> config;     // when the source states it (our metadata, HF config.json)
  std::vector<std::string> ignored;           // non-weight entries dropped (position_ids, attn_mask, ...)
  at::ScalarType storage_dtype = at::kFloat;  // the dtype holding most elements
};

// Detect the format of `path` and index its tensors (nothing large is read yet).
WeightSet ReadWeights(const std::string& path);

struct LoadedClip {
  clip::ClipModel model{nullptr};
  std::string format;
  at::ScalarType storage_dtype = at::kFloat;
};

// Build a model from a weight set: check names and shapes, copy each tensor in (converting to
// `dtype`), move to `device`.
clip::ClipModel BuildClip(const WeightSet& ws, at::ScalarType dtype, const at::Device& device);

// ReadWeights + BuildClip; the sources are released before returning.
LoadedClip LoadClip(const std::string& path, at::ScalarType dtype, const at::Device& device);

enum class Layout { Xray, OpenAI, HF };
Layout LayoutFromName(const std::string& name);  // "xray-torch" | "openai" | "hf"; XT_INVALID otherwise

// Write `model` at `path` in `layout`, storing floating tensors as `dtype` (nullopt: the model's
// dtype); logit_scale is always stored as float32 (as OpenAI ships it). For Xray and OpenAI a
// path ending in ".safetensors" is one file, anything else a folder holding model.safetensors;
// HF is always a folder (config.json + model.safetensors). Returns the weight file written.
std::string SaveClip(clip::ClipModel& model, const std::string& path, Layout layout,
                     std::optional<at::ScalarType> dtype);

// "float32" | "float16" | "bfloat16" (also fp32/fp16/bf16/half/float); XT_INVALID otherwise.
at::ScalarType ParseDtype(const std::string& name);
std::string DtypeName(at::ScalarType t);

}  // namespace io
}  // namespace xt
