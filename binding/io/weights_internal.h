// Internal to the weight readers and writers (binding/io/weights_*.cc); the public API is weights.h.
//
//   weights_files.cc   paths, folders, JSON files, dtype names
//   weights_openai.cc  OpenAI / open_clip containers: TorchScript archives, torch.save pickles, safetensors
//   weights_hf.cc      Hugging Face: the one name table (read and write), q/k/v merge and split, shards
//   weights_config.cc  configuration: our metadata, HF config.json (read and write), inference from shapes
//   weights_ours.cc    our checkpoints: reading the metadata, SaveClip in every layout
//   weights_load.cc    ReadWeights (detect a file or folder's format), BuildClip, LoadClip
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "clip/clip_config.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "io/weights.h"

namespace xt {
namespace io {
namespace detail {

// ---- files (weights_files.cc) ----
bool IsDir(const std::string& p);
bool IsFile(const std::string& p);
std::string Join(const std::string& dir, const std::string& name);
bool EndsWith(const std::string& s, const std::string& suffix);
bool StartsWith(const std::string& s, const std::string& prefix);
json::Value ReadJson(const std::string& path);  // XT_IO naming the file
void MakeDirs(const std::string& path);
std::string ShapeStr(const std::vector<int64_t>& s);

// ---- raw tensor sets: names as stored ----
struct RawSet {
  std::map<std::string, WeightEntry> tensors;
  std::map<std::string, std::string> metadata;  // safetensors __metadata__ (first file)
  std::string container;                        // safetensors | torchscript | pickle
  bool nested = false;                          // pickle: state dict found under a key
};

WeightEntry EntryFromTensor(const at::Tensor& t);
// Index a safetensors file's tensors (all, or those in `only`) into `raw`; XT_IO on a duplicate.
void AddSafeTensors(RawSet& raw, const std::shared_ptr<SafeTensorsFile>& f, const std::set<std::string>* only);

// ---- OpenAI / open_clip containers (weights_openai.cc) ----
RawSet ReadSafeRaw(const std::string& path);
RawSet ReadTorchScriptRaw(const std::string& path);
RawSet ReadPickleRaw(const std::string& path);
// Any single weight file: safetensors, TorchScript archive or torch.save zip (XT_IO otherwise).
RawSet ReadFileRaw(const std::string& path);
// Non-weight entries OpenAI and open_clip files carry (input_resolution, attn_mask, position_ids, ...).
bool IgnoredKey(const std::string& k);
// Drops "module." / "_orig_mod." prefixes (DDP, torch.compile); sets *stripped when it did.
std::string StripWrappers(std::string k, bool* stripped);

// ---- Hugging Face (weights_hf.cc) ----
// One Hugging Face tensor <-> (part of) one OpenAI tensor.
struct HfTarget {
  std::string name;        // the other side's name
  int part = -1;           // 0/1/2: the q/k/v third of attn.in_proj_{weight,bias}
  bool transpose = false;  // HF Linear [embed, width] vs OpenAI matrix [width, embed]
};
// HF name -> OpenAI name; false for a name the table does not know.
bool HfToOpenAI(const std::string& hf, HfTarget* t);
// OpenAI name -> its HF tensor(s) (three for in_proj: q, k, v in order); XT_INTERNAL when unknown.
std::vector<HfTarget> OpenAIToHf(const std::string& openai);
bool LooksHf(const std::map<std::string, WeightEntry>& tensors);
// HF-named tensors -> OpenAI-named entries in ws.tensors (q/k/v merged, projections transposed;
// names the table does not know are kept as they are, to be reported as unexpected).
void FromHf(std::map<std::string, WeightEntry>& in, WeightSet& ws);
// A model's state dict -> HF-named write items (the inverse of FromHf).
std::vector<StWriteItem> HfItems(const std::vector<std::pair<std::string, at::Tensor>>& sd,
                                 const std::function<at::ScalarType(const std::string&)>& dtype_of);
// model.safetensors.index.json: {"weight_map": {tensor: shard file}}.
RawSet ReadShardedRaw(const std::string& index_path);

// ---- configuration (weights_config.cc) ----
std::map<std::string, std::vector<int64_t>> Shapes(const WeightSet& ws);
at::ScalarType MajorityDtype(const std::map<std::string, WeightEntry>& tensors);
// HF config.json: heads, activation and eps (shapes cannot tell them), checked against `base`.
clip::ClipConfig HfConfig(const json::Value& cfg, const std::string& where, clip::ClipConfig base);
json::Value HfConfigJson(const clip::ClipConfig& c, at::ScalarType dtype);
// Our checkpoints: the config stored in __metadata__ (XT_IO when missing or invalid).
clip::ClipConfig OurConfig(const std::map<std::string, std::string>& metadata, const std::string& path);

// ---- our checkpoints (weights_ours.cc) ----
extern const char* const kXrayKey;      // __metadata__ key marking our checkpoints
extern const char* const kXrayVersion;  // its value
bool IsOurs(const std::map<std::string, std::string>& metadata);
StWriteItem Item(const std::string& name, const at::Tensor& t, at::ScalarType dtype);

}  // namespace detail
}  // namespace io
}  // namespace xt
