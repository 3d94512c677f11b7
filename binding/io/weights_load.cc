// ReadWeights: find the weights in a file or folder, read them with the container's reader
// (weights_openai.cc, weights_hf.cc), bring every name to OpenAI's, and say which format it is and
// what configuration it states (weights_config.cc). BuildClip / LoadClip: a ClipModel from that.
#include <dirent.h>

#include <torch/torch.h>

#include <algorithm>

#include "core/errors.h"
#include "io/weights_internal.h"

namespace xt {
namespace io {

using namespace detail;

namespace {

// The weight file inside a model folder (XT_IO when there is none, or several candidates).
std::string FindInFolder(const std::string& path) {
  const std::string candidates[] = {"model.safetensors.index.json", "model.safetensors", "open_clip_model.safetensors",
                                    "open_clip_pytorch_model.bin", "pytorch_model.bin"};
  for (const auto& c : candidates)
    if (IsFile(Join(path, c))) return c;
  // A folder with exactly one weight-like file is fine too.
  std::vector<std::string> files;
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (EndsWith(n, ".safetensors") || EndsWith(n, ".pt") || EndsWith(n, ".pth") || EndsWith(n, ".bin"))
        files.push_back(n);
    }
    ::closedir(d);
  }
  if (files.size() != 1)
    throw XtError(kIo, path + ": no CLIP weights found in this folder (looked for model.safetensors, "
                              "model.safetensors.index.json, open_clip_model.safetensors, "
                              "open_clip_pytorch_model.bin, pytorch_model.bin" +
                           std::string(files.empty() ? "" : ", or a single weight file") + ")");
  return files[0];
}

}  // namespace

WeightSet ReadWeights(const std::string& path) {
  WeightSet ws;
  ws.source = path;
  RawSet raw;
  std::string hf_config_path;
  bool open_clip_file = false;
  if (IsDir(path)) {
    const std::string found = FindInFolder(path);
    std::string file = Join(path, found);
    raw = found == "model.safetensors.index.json" ? ReadShardedRaw(file) : ReadFileRaw(file);
    open_clip_file = StartsWith(found, "open_clip");
    if (IsFile(Join(path, "config.json"))) hf_config_path = Join(path, "config.json");
  } else {
    raw = ReadFileRaw(path);
  }

  // Canonical (OpenAI) names.
  bool stripped = false;
  std::map<std::string, WeightEntry> named;
  for (auto& kv : raw.tensors) {
    std::string k = StripWrappers(kv.first, &stripped);
    if (IgnoredKey(k)) {
      ws.ignored.push_back(kv.first);
      continue;
    }
    if (named.count(k)) throw XtError(kIo, path + ": tensor '" + k + "' appears twice");
    named[k] = std::move(kv.second);
  }
  raw.tensors.clear();
  const bool hf = LooksHf(named);
  if (hf)
    FromHf(named, ws);
  else
    ws.tensors = std::move(named);
  ws.storage_dtype = MajorityDtype(ws.tensors);

  if (IsOurs(raw.metadata)) {
    ws.format = "xray-torch";
    ws.config = OurConfig(raw.metadata, path);
  } else if (hf) {
    ws.format = "hf";
    clip::ClipConfig base = clip::InferConfig(Shapes(ws), path);
    if (!hf_config_path.empty()) {
      ws.config = HfConfig(ReadJson(hf_config_path), hf_config_path, base);
    } else {
      ws.config = base;
    }
  } else if (raw.container == "torchscript") {
    ws.format = "torchscript";
  } else if (raw.nested || stripped || open_clip_file || raw.container == "pickle") {
    ws.format = "open_clip";
  } else {
    ws.format = "openai";
  }
  return ws;
}

clip::ClipModel BuildClip(const WeightSet& ws, at::ScalarType dtype, const at::Device& device) {
  clip::ClipConfig cfg = ws.config ? *ws.config : clip::InferConfig(Shapes(ws), ws.source);
  clip::ClipModel model(cfg);
  auto params = model->named_parameters(/*recurse=*/true);
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& p : params) {
    auto it = ws.tensors.find(p.key());
    if (it == ws.tensors.end()) {
      missing.push_back(p.key());
    } else if (it->second.shape != p.value().sizes().vec()) {
      misshaped.push_back(p.key() + " (checkpoint " + ShapeStr(it->second.shape) + ", model " +
                          ShapeStr(p.value().sizes().vec()) + ")");
    }
  }
  for (const auto& kv : ws.tensors)
    if (!params.contains(kv.first)) unexpected.push_back(kv.first);
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      size_t shown = std::min<size_t>(v.size(), 25);
      for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + v[i];
      if (v.size() > shown) s += ", ... and " + std::to_string(v.size() - shown) + " more";
      return s;
    };
    std::string msg = ws.source + ": the " + ws.format + " checkpoint does not match a CLIP model of its configuration";
    if (!missing.empty()) msg += "; missing tensors (" + std::to_string(missing.size()) + "): " + list(missing);
    if (!unexpected.empty()) msg += "; unexpected tensors (" + std::to_string(unexpected.size()) + "): " + list(unexpected);
    if (!misshaped.empty()) msg += "; wrong shapes (" + std::to_string(misshaped.size()) + "): " + list(misshaped);
    throw XtError(missing.empty() && unexpected.empty() ? kShape : kIo, msg);
  }
  torch::NoGradGuard ng;
  if (dtype != at::kFloat) model->to(dtype);  // convert the fresh model first: one copy, not two
  for (auto& p : params) {
    at::Tensor src = ws.tensors.at(p.key()).load();
    p.value().copy_(src);  // converts the storage dtype
  }
  if (device != at::Device(at::kCPU)) model->to(device);
  return model;
}

LoadedClip LoadClip(const std::string& path, at::ScalarType dtype, const at::Device& device) {
  LoadedClip out;
  {
    WeightSet ws = ReadWeights(path);
    out.format = ws.format;
    out.storage_dtype = ws.storage_dtype;
    out.model = BuildClip(ws, dtype, device);
  }  // mappings and source tensors released here
  return out;
}

}  // namespace io
}  // namespace xt
