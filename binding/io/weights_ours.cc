// Our checkpoints (OpenAI names in safetensors, the configuration in __metadata__) and SaveClip,
// which writes a model in any of the three layouts: ours, OpenAI (the same tensors, no
// configuration) and Hugging Face (a folder: HF names from weights_hf.cc + config.json).
#include "core/errors.h"
#include "io/weights_internal.h"

namespace xt {
namespace io {
namespace detail {

const char* const kXrayKey = "xray_torch";
const char* const kXrayVersion = "clip-v1";

bool IsOurs(const std::map<std::string, std::string>& metadata) { return metadata.count(kXrayKey) > 0; }

StWriteItem Item(const std::string& name, const at::Tensor& t, at::ScalarType dtype) {
  StWriteItem it;
  it.name = name;
  it.dtype = dtype;
  it.shape = t.sizes().vec();
  it.produce = [t, dtype]() { return t.detach().to(at::kCPU).to(dtype); };
  return it;
}

}  // namespace detail

using namespace detail;

Layout LayoutFromName(const std::string& name) {
  if (name == "xray-torch" || name == "xray" || name.empty()) return Layout::Xray;
  if (name == "openai" || name == "open_clip") return Layout::OpenAI;
  if (name == "hf" || name == "huggingface") return Layout::HF;
  throw XtError(kInvalid, "layout must be 'xray-torch', 'openai' or 'hf', got '" + name + "'");
}

std::string SaveClip(clip::ClipModel& model, const std::string& path, Layout layout,
                     std::optional<at::ScalarType> dtype) {
  XT_CHECK(!path.empty(), kInvalid, "save: the path is empty");
  auto sd = model->state_dict();
  at::ScalarType model_dtype = at::kFloat;
  for (const auto& kv : sd)
    if (kv.first != "logit_scale") {
      model_dtype = kv.second.scalar_type();
      break;
    }
  at::ScalarType target = dtype.value_or(model_dtype);
  auto dtype_of = [target](const std::string& name) { return name == "logit_scale" ? at::kFloat : target; };
  std::map<std::string, std::string> meta = {{"format", "pt"}};

  std::string file;
  if (layout == Layout::HF) {
    XT_CHECK(!EndsWith(path, ".safetensors"), kInvalid,
             "save: the Hugging Face layout is a folder (config.json + model.safetensors), not '" + path + "'");
    MakeDirs(path);
    file = Join(path, "model.safetensors");
    WriteSafeTensors(file, HfItems(sd, dtype_of), meta);
    WriteFileAtomic(Join(path, "config.json"), HfConfigJson(model->config(), target).Dump() + "\n");
    return file;
  }
  if (EndsWith(path, ".safetensors")) {
    auto slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) MakeDirs(path.substr(0, slash));
    file = path;
  } else {
    MakeDirs(path);
    file = Join(path, "model.safetensors");
  }
  if (layout == Layout::Xray) {
    meta[kXrayKey] = kXrayVersion;
    meta["config"] = model->config().ToJsonString();
  }
  std::vector<StWriteItem> items;
  items.reserve(sd.size());
  for (const auto& kv : sd) items.push_back(Item(kv.first, kv.second, dtype_of(kv.first)));
  WriteSafeTensors(file, items, meta);
  return file;
}

}  // namespace io
}  // namespace xt
