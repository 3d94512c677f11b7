#include "clip/clip_config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/errors.h"

namespace xt {
namespace clip {

namespace {

void Require(bool cond, const std::string& msg) {
  if (!cond) throw XtError(kInvalid, "CLIP config: " + msg);
}

struct IntField {
  const char* name;
  int64_t ClipConfig::*ptr;
};

const IntField kIntFields[] = {
    {"embed_dim", &ClipConfig::embed_dim},
    {"image_resolution", &ClipConfig::image_resolution},
    {"vision_layers", &ClipConfig::vision_layers},
    {"vision_width", &ClipConfig::vision_width},
    {"vision_heads", &ClipConfig::vision_heads},
    {"vision_patch_size", &ClipConfig::vision_patch_size},
    {"context_length", &ClipConfig::context_length},
    {"vocab_size", &ClipConfig::vocab_size},
    {"text_width", &ClipConfig::text_width},
    {"text_heads", &ClipConfig::text_heads},
    {"text_layers", &ClipConfig::text_layers},
};

std::string Normalize(std::string s) {
  for (auto& c : s)
    if (c == '/') c = '-';
  return s;
}

}  // namespace

void ClipConfig::Validate() const {
  for (const auto& f : kIntFields)
    Require(this->*f.ptr >= 1 && this->*f.ptr <= (1 << 24),
            std::string(f.name) + " must be an integer from 1 to 16777216, got " + std::to_string(this->*f.ptr));
  Require(vision_width % vision_heads == 0, "vision_width (" + std::to_string(vision_width) +
                                                ") must be divisible by vision_heads (" +
                                                std::to_string(vision_heads) + ")");
  Require(text_width % text_heads == 0, "text_width (" + std::to_string(text_width) +
                                            ") must be divisible by text_heads (" + std::to_string(text_heads) + ")");
  Require(image_resolution % vision_patch_size == 0,
          "image_resolution (" + std::to_string(image_resolution) + ") must be a multiple of vision_patch_size (" +
              std::to_string(vision_patch_size) + ")");
  Require(layer_norm_eps > 0 && layer_norm_eps < 1, "layer_norm_eps must be in (0, 1)");
}

json::Value ClipConfig::ToJson() const {
  json::Value o = json::Value::MakeObject();
  for (const auto& f : kIntFields) o.set(f.name, json::Value::Int(this->*f.ptr));
  o.set("quick_gelu", json::Value::Bool(quick_gelu));
  o.set("layer_norm_eps", json::Value::Number(layer_norm_eps));
  return o;
}

ClipConfig ClipConfig::FromJson(const json::Value& v, const std::string& where) {
  if (!v.is_object()) throw XtError(kInvalid, where + ": CLIP config is not a JSON object");
  ClipConfig c;
  for (const auto& f : kIntFields) {
    const json::Value* x = v.get(f.name);
    if (!x) continue;
    if (!x->is_int()) throw XtError(kInvalid, where + ": config field '" + f.name + "' must be an integer");
    c.*f.ptr = x->as_int();
  }
  if (const json::Value* x = v.get("quick_gelu")) {
    if (!x->is_bool()) throw XtError(kInvalid, where + ": config field 'quick_gelu' must be a boolean");
    c.quick_gelu = x->as_bool();
  }
  if (const json::Value* x = v.get("layer_norm_eps")) {
    if (!x->is_number()) throw XtError(kInvalid, where + ": config field 'layer_norm_eps' must be a number");
    c.layer_norm_eps = x->as_double();
  }
  return c;
}

bool ClipConfig::operator==(const ClipConfig& o) const {
  for (const auto& f : kIntFields)
    if (this->*f.ptr != o.*f.ptr) return false;
  return quick_gelu == o.quick_gelu && layer_norm_eps == o.layer_norm_eps;
}

std::vector<std::string> PresetNames() { return {"ViT-B-32", "ViT-B-16", "ViT-L-14", "tiny", "small"}; }

ClipConfig PresetConfig(const std::string& raw) {
  std::string name = Normalize(raw);
  ClipConfig c;  // defaults are ViT-B/32
  if (name == "ViT-B-32") return c;
  if (name == "ViT-B-16") {
    c.vision_patch_size = 16;
    return c;
  }
  if (name == "ViT-L-14") {
    c.embed_dim = 768;
    c.vision_layers = 24;
    c.vision_width = 1024;
    c.vision_heads = 16;
    c.vision_patch_size = 14;
    c.text_width = 768;
    c.text_heads = 12;
    return c;
  }
  if (name == "tiny") {  // the shape of ../shared/fixtures/clip-tiny: a few MB, for tests
    c.embed_dim = 64;
    c.image_resolution = 64;
    c.vision_layers = 2;
    c.vision_width = 128;
    c.vision_heads = 2;
    c.vision_patch_size = 16;
    c.text_width = 128;
    c.text_heads = 2;
    c.text_layers = 2;
    return c;
  }
  if (name == "small") {  // CPU demos: ~30M parameters, 128 px
    c.embed_dim = 256;
    c.image_resolution = 128;
    c.vision_layers = 6;
    c.vision_width = 384;
    c.vision_heads = 6;
    c.vision_patch_size = 16;
    c.text_width = 256;
    c.text_heads = 4;
    c.text_layers = 6;
    return c;
  }
  std::string names;
  for (const auto& n : PresetNames()) names += (names.empty() ? "" : ", ") + n;
  throw XtError(kInvalid, "unknown CLIP preset '" + raw + "' (known: " + names + ")");
}

ClipConfig InferConfig(const std::map<std::string, std::vector<int64_t>>& shapes, const std::string& source) {
  auto need = [&](const std::string& key, size_t dims) -> const std::vector<int64_t>& {
    auto it = shapes.find(key);
    if (it == shapes.end()) {
      if (key == "visual.proj" && shapes.count("visual.layer1.0.conv1.weight"))
        throw XtError(kIo, source + ": a ResNet CLIP checkpoint; only ViT CLIP models are supported");
      throw XtError(kIo, source + ": not a CLIP ViT state dict: tensor '" + key + "' is missing");
    }
    if (it->second.size() != dims)
      throw XtError(kShape, source + ": tensor '" + key + "' has " + std::to_string(it->second.size()) +
                                " dimensions, expected " + std::to_string(dims));
    return it->second;
  };
  auto count_layers = [&](const std::string& prefix) {
    int64_t n = 0;
    for (const auto& kv : shapes) {
      if (kv.first.compare(0, prefix.size(), prefix) != 0) continue;
      size_t dot = kv.first.find('.', prefix.size());
      std::string idx = kv.first.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
      if (idx.empty() || idx.size() > 6 || idx.find_first_not_of("0123456789") != std::string::npos) continue;
      n = std::max<int64_t>(n, std::stoll(idx) + 1);
    }
    return n;
  };
  ClipConfig c;
  need("visual.proj", 2);
  const auto& conv = need("visual.conv1.weight", 4);
  c.vision_width = conv[0];
  c.vision_patch_size = conv[3];
  c.vision_layers = count_layers("visual.transformer.resblocks.");
  const auto& vpos = need("visual.positional_embedding", 2);
  int64_t grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(vpos[0] - 1))));
  c.image_resolution = c.vision_patch_size * grid;
  c.embed_dim = need("text_projection", 2)[1];
  c.context_length = need("positional_embedding", 2)[0];
  c.vocab_size = need("token_embedding.weight", 2)[0];
  c.text_width = need("ln_final.weight", 1)[0];
  c.text_layers = count_layers("transformer.resblocks.");
  c.vision_heads = std::max<int64_t>(1, c.vision_width / 64);
  c.text_heads = std::max<int64_t>(1, c.text_width / 64);
  if (c.vision_layers == 0 || c.text_layers == 0)
    throw XtError(kIo, source + ": not a CLIP ViT state dict: no transformer blocks found");
  try {
    c.Validate();
  } catch (const XtError& e) {
    throw XtError(kIo, source + ": inferred an invalid configuration: " + e.what());
  }
  return c;
}

}  // namespace clip
}  // namespace xt
