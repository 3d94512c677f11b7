// A weight set's CLIP configuration: stated by our checkpoints (__metadata__ "config"), by a Hugging
// Face config.json (read, checked against the tensors, and written beside HF weights), or else
// inferred from the tensor shapes (clip::InferConfig); plus the storage dtype a set holds most of.
#include <algorithm>

#include "core/errors.h"
#include "io/weights_internal.h"

namespace xt {
namespace io {
namespace detail {

std::map<std::string, std::vector<int64_t>> Shapes(const WeightSet& ws) {
  std::map<std::string, std::vector<int64_t>> s;
  for (const auto& kv : ws.tensors) s[kv.first] = kv.second.shape;
  return s;
}

at::ScalarType MajorityDtype(const std::map<std::string, WeightEntry>& tensors) {
  std::map<at::ScalarType, int64_t> count;
  for (const auto& kv : tensors) {
    int64_t n = 1;
    for (auto d : kv.second.shape) n *= std::max<int64_t>(d, 0);
    count[kv.second.dtype] += n;
  }
  at::ScalarType best = at::kFloat;
  int64_t most = -1;
  for (const auto& kv : count)
    if (kv.second > most) {
      best = kv.first;
      most = kv.second;
    }
  return best;
}

clip::ClipConfig OurConfig(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto c = metadata.find("config");
  if (c == metadata.end()) throw XtError(kIo, path + ": xray-torch checkpoint without a 'config' entry in __metadata__");
  try {
    clip::ClipConfig cfg = clip::ClipConfig::FromJson(json::Value::Parse(c->second), path);
    cfg.Validate();
    return cfg;
  } catch (const json::ParseError& e) {
    throw XtError(kIo, path + ": invalid config JSON in __metadata__: " + e.what());
  } catch (const XtError& e) {
    throw XtError(kIo, std::string(e.what()));
  }
}

clip::ClipConfig HfConfig(const json::Value& cfg, const std::string& where, clip::ClipConfig base) {
  const json::Value* tc = cfg.get("text_config");
  const json::Value* vc = cfg.get("vision_config");
  auto get_int = [&](const json::Value* o, const char* key, int64_t dflt) -> int64_t {
    const json::Value* v = o ? o->get(key) : nullptr;
    if (!v) return dflt;
    if (!v->is_int()) throw XtError(kIo, where + ": '" + key + "' must be an integer");
    return v->as_int();
  };
  auto get_str = [&](const json::Value* o, const char* key, const std::string& dflt) -> std::string {
    const json::Value* v = o ? o->get(key) : nullptr;
    return v && v->is_string() ? v->as_string() : dflt;
  };
  // transformers' CLIPTextConfig / CLIPVisionConfig defaults apply to fields a config omits.
  base.text_heads = get_int(tc, "num_attention_heads", 8);
  base.vision_heads = get_int(vc, "num_attention_heads", 12);
  std::string act = get_str(tc, "hidden_act", "quick_gelu");
  std::string vact = get_str(vc, "hidden_act", "quick_gelu");
  if (act != vact) throw XtError(kIo, where + ": text and vision hidden_act differ (" + act + " / " + vact + ")");
  if (act == "quick_gelu") {
    base.quick_gelu = true;
  } else if (act == "gelu") {
    base.quick_gelu = false;
  } else {
    throw XtError(kIo, where + ": unsupported hidden_act '" + act + "' (quick_gelu or gelu)");
  }
  if (const json::Value* e = tc ? tc->get("layer_norm_eps") : nullptr)
    if (e->is_number()) base.layer_norm_eps = e->as_double();
  std::vector<std::string> diffs;
  auto check = [&](const char* what, int64_t stated, int64_t actual) {
    if (stated >= 0 && stated != actual)
      diffs.push_back(std::string(what) + " " + std::to_string(stated) + " vs " + std::to_string(actual));
  };
  check("text hidden_size", get_int(tc, "hidden_size", -1), base.text_width);
  check("text num_hidden_layers", get_int(tc, "num_hidden_layers", -1), base.text_layers);
  check("vocab_size", get_int(tc, "vocab_size", -1), base.vocab_size);
  check("max_position_embeddings", get_int(tc, "max_position_embeddings", -1), base.context_length);
  check("vision hidden_size", get_int(vc, "hidden_size", -1), base.vision_width);
  check("vision num_hidden_layers", get_int(vc, "num_hidden_layers", -1), base.vision_layers);
  check("image_size", get_int(vc, "image_size", -1), base.image_resolution);
  check("patch_size", get_int(vc, "patch_size", -1), base.vision_patch_size);
  check("projection_dim", get_int(&cfg, "projection_dim", -1), base.embed_dim);
  check("text intermediate_size", get_int(tc, "intermediate_size", -1), 4 * base.text_width);
  check("vision intermediate_size", get_int(vc, "intermediate_size", -1), 4 * base.vision_width);
  if (!diffs.empty()) {
    std::string msg;
    for (const auto& d : diffs) msg += (msg.empty() ? "" : "; ") + d;
    throw XtError(kIo, where + ": config.json disagrees with the weights (config vs tensors): " + msg);
  }
  return base;
}

json::Value HfConfigJson(const clip::ClipConfig& c, at::ScalarType dtype) {
  using json::Value;
  const char* act = c.quick_gelu ? "quick_gelu" : "gelu";
  Value text = Value::MakeObject();
  text.set("model_type", Value::Str("clip_text_model"));
  text.set("vocab_size", Value::Int(c.vocab_size));
  text.set("hidden_size", Value::Int(c.text_width));
  text.set("intermediate_size", Value::Int(4 * c.text_width));
  text.set("num_hidden_layers", Value::Int(c.text_layers));
  text.set("num_attention_heads", Value::Int(c.text_heads));
  text.set("max_position_embeddings", Value::Int(c.context_length));
  text.set("hidden_act", Value::Str(act));
  text.set("layer_norm_eps", Value::Number(c.layer_norm_eps));
  // CLIP's convention: <|startoftext|>, <|endoftext|> are the last two ids (49406, 49407 for OpenAI's
  // vocabulary), and text is pooled at the end token (the highest id).
  text.set("bos_token_id", Value::Int(c.vocab_size - 2));
  text.set("eos_token_id", Value::Int(c.vocab_size - 1));
  text.set("pad_token_id", Value::Int(1));
  text.set("projection_dim", Value::Int(c.embed_dim));
  Value vision = Value::MakeObject();
  vision.set("model_type", Value::Str("clip_vision_model"));
  vision.set("hidden_size", Value::Int(c.vision_width));
  vision.set("intermediate_size", Value::Int(4 * c.vision_width));
  vision.set("num_hidden_layers", Value::Int(c.vision_layers));
  vision.set("num_attention_heads", Value::Int(c.vision_heads));
  vision.set("image_size", Value::Int(c.image_resolution));
  vision.set("patch_size", Value::Int(c.vision_patch_size));
  vision.set("num_channels", Value::Int(3));
  vision.set("hidden_act", Value::Str(act));
  vision.set("layer_norm_eps", Value::Number(c.layer_norm_eps));
  vision.set("projection_dim", Value::Int(c.embed_dim));
  Value root = Value::MakeObject();
  Value arch = Value::MakeArray();
  arch.push(Value::Str("CLIPModel"));
  root.set("architectures", arch);
  root.set("model_type", Value::Str("clip"));
  root.set("projection_dim", Value::Int(c.embed_dim));
  root.set("logit_scale_init_value", Value::Number(2.6592));
  root.set("torch_dtype", Value::Str(DtypeName(dtype)));
  root.set("text_config", text);
  root.set("vision_config", vision);
  return root;
}

}  // namespace detail
}  // namespace io
}  // namespace xt
