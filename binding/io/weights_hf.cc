// Hugging Face CLIPModel names <-> OpenAI names. ONE table (below) serves both directions:
// reading (FromHf: HF tensors become OpenAI-named entries, q/k/v merged into in_proj, projections
// transposed) and writing (HfItems: a model's state dict becomes HF-named tensors, in_proj split).
// Plus sharded checkpoints (model.safetensors.index.json).
#include <algorithm>
#include <cstring>

#include "core/errors.h"
#include "io/weights_internal.h"

namespace xt {
namespace io {
namespace detail {

namespace {

// ---- the table ------------------------------------------------------------------------------
// Whole-model tensors, matched exactly. `transpose`: HF stores a Linear [embed, width] where OpenAI
// stores the matrix [width, embed]. `read_only`: another spelling HF has used, accepted when
// reading; the row without it is what is written.
struct HfExact {
  const char* openai;
  const char* hf;
  bool transpose;
  bool read_only;
};
const HfExact kExact[] = {
    {"logit_scale", "logit_scale", false, false},
    {"token_embedding.weight", "text_model.embeddings.token_embedding.weight", false, false},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight", false, false},
    {"ln_final.weight", "text_model.final_layer_norm.weight", false, false},
    {"ln_final.bias", "text_model.final_layer_norm.bias", false, false},
    {"visual.class_embedding", "vision_model.embeddings.class_embedding", false, false},
    {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight", false, false},
    {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight", false, false},
    {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight", false, false},  // sic: HF's spelling
    {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias", false, false},
    {"visual.ln_pre.weight", "vision_model.pre_layernorm.weight", false, true},
    {"visual.ln_pre.bias", "vision_model.pre_layernorm.bias", false, true},
    {"visual.ln_post.weight", "vision_model.post_layernorm.weight", false, false},
    {"visual.ln_post.bias", "vision_model.post_layernorm.bias", false, false},
    {"text_projection", "text_projection.weight", true, false},
    {"visual.proj", "visual_projection.weight", true, false},
};

struct Prefix {
  const char* openai;
  const char* hf;
};
// The two towers' layer lists: <tower prefix><layer index>.<layer tensor>
const Prefix kTowers[] = {
    {"transformer.resblocks.", "text_model.encoder.layers."},
    {"visual.transformer.resblocks.", "vision_model.encoder.layers."},
};
// Tensors of one layer, matched by prefix (the rest, e.g. "weight", is kept).
const Prefix kLayer[] = {
    {"attn.out_proj.", "self_attn.out_proj."}, {"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."},
    {"mlp.c_fc.", "mlp.fc1."},                 {"mlp.c_proj.", "mlp.fc2."},
};
// OpenAI's fused attention input projection <-> HF's three (q, k, v: part 0, 1, 2).
const char* const kInProj = "attn.in_proj_";
const char* const kQkv[3] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};

// "<digits>.<rest>" after `start`: the layer index and the rest; false when it is not that.
bool SplitLayer(const std::string& k, size_t start, std::string* idx, std::string* rest) {
  size_t dot = k.find('.', start);
  if (dot == std::string::npos) return false;
  *idx = k.substr(start, dot - start);
  if (idx->empty() || idx->find_first_not_of("0123456789") != std::string::npos) return false;
  *rest = k.substr(dot + 1);
  return true;
}

}  // namespace

bool HfToOpenAI(const std::string& k, HfTarget* t) {
  for (const auto& m : kExact)
    if (k == m.hf) {
      t->name = m.openai;
      t->transpose = m.transpose;
      return true;
    }
  for (const auto& tower : kTowers) {
    if (!StartsWith(k, tower.hf)) continue;
    std::string idx, rest;
    if (!SplitLayer(k, std::strlen(tower.hf), &idx, &rest)) return false;
    t->name = std::string(tower.openai) + idx + ".";
    for (const auto& m : kLayer)
      if (StartsWith(rest, m.hf)) {
        t->name += m.openai + rest.substr(std::strlen(m.hf));
        return true;
      }
    for (int i = 0; i < 3; ++i)
      if (StartsWith(rest, kQkv[i])) {
        std::string leaf = rest.substr(std::strlen(kQkv[i]));
        if (leaf != "weight" && leaf != "bias") return false;
        t->name += kInProj + leaf;
        t->part = i;
        return true;
      }
    return false;
  }
  return false;
}

std::vector<HfTarget> OpenAIToHf(const std::string& k) {
  for (const auto& m : kExact)
    if (!m.read_only && k == m.openai) return {HfTarget{m.hf, -1, m.transpose}};
  for (const auto& tower : kTowers) {
    if (!StartsWith(k, tower.openai)) continue;
    std::string idx, rest;
    if (!SplitLayer(k, std::strlen(tower.openai), &idx, &rest)) break;
    const std::string layer = std::string(tower.hf) + idx + ".";
    for (const auto& m : kLayer)
      if (StartsWith(rest, m.openai)) return {HfTarget{layer + m.hf + rest.substr(std::strlen(m.openai)), -1, false}};
    if (StartsWith(rest, kInProj)) {
      std::string leaf = rest.substr(std::strlen(kInProj));
      if (leaf != "weight" && leaf != "bias") break;
      std::vector<HfTarget> out;
      for (int i = 0; i < 3; ++i) out.push_back(HfTarget{layer + kQkv[i] + leaf, i, false});
      return out;
    }
    break;
  }
  throw XtError(kInternal, "no Hugging Face name for '" + k + "'");
}

bool LooksHf(const std::map<std::string, WeightEntry>& tensors) {
  for (const auto& kv : tensors)
    if (StartsWith(kv.first, "text_model.") || StartsWith(kv.first, "vision_model.")) return true;
  return false;
}

void FromHf(std::map<std::string, WeightEntry>& in, WeightSet& ws) {
  struct Qkv {
    const WeightEntry* parts[3] = {nullptr, nullptr, nullptr};
    std::string names[3];
  };
  std::map<std::string, Qkv> merges;
  for (auto& kv : in) {
    HfTarget t;
    if (!HfToOpenAI(kv.first, &t)) {
      ws.tensors[kv.first] = kv.second;  // reported as unexpected
      continue;
    }
    if (t.part >= 0) {
      merges[t.name].parts[t.part] = &kv.second;
      merges[t.name].names[t.part] = kv.first;
      continue;
    }
    if (ws.tensors.count(t.name)) throw XtError(kIo, ws.source + ": two tensors map to '" + t.name + "'");
    WeightEntry e = kv.second;
    if (t.transpose) {
      std::reverse(e.shape.begin(), e.shape.end());
      auto src = kv.second.load;
      e.load = [src]() { return src().t(); };
    }
    ws.tensors[t.name] = std::move(e);
  }
  for (auto& m : merges) {
    Qkv& q = m.second;
    if (!q.parts[0] || !q.parts[1] || !q.parts[2]) {
      for (int i = 0; i < 3; ++i)
        if (q.parts[i]) ws.tensors[q.names[i]] = *q.parts[i];  // incomplete: unexpected, target missing
      continue;
    }
    WeightEntry e;
    e.dtype = q.parts[0]->dtype;
    e.shape = q.parts[0]->shape;
    bool consistent = !e.shape.empty();
    for (int i = 1; i < 3 && consistent; ++i) {
      const auto& s = q.parts[i]->shape;
      consistent = s.size() == e.shape.size() && std::equal(s.begin() + 1, s.end(), e.shape.begin() + 1);
    }
    if (consistent) {
      e.shape[0] = q.parts[0]->shape[0] + q.parts[1]->shape[0] + q.parts[2]->shape[0];
    } else {
      e.shape = {-1};  // reported as mis-shaped
    }
    auto lq = q.parts[0]->load, lk = q.parts[1]->load, lv = q.parts[2]->load;
    auto dt = e.dtype;
    e.load = [lq, lk, lv, dt]() { return at::cat({lq().to(dt), lk().to(dt), lv().to(dt)}, 0); };
    ws.tensors[m.first] = std::move(e);
  }
}

std::vector<StWriteItem> HfItems(const std::vector<std::pair<std::string, at::Tensor>>& sd,
                                 const std::function<at::ScalarType(const std::string&)>& dtype_of) {
  std::vector<StWriteItem> items;
  for (const auto& kv : sd) {
    const at::ScalarType dt = dtype_of(kv.first);
    for (const HfTarget& t : OpenAIToHf(kv.first)) {
      at::Tensor x = kv.second;
      if (t.part >= 0) x = x.chunk(3, 0)[t.part];
      if (t.transpose) x = x.t();
      items.push_back(Item(t.name, x, dt));
    }
  }
  return items;
}

RawSet ReadShardedRaw(const std::string& index_path) {
  json::Value idx = ReadJson(index_path);
  const json::Value* wm = idx.get("weight_map");
  if (!wm || !wm->is_object()) throw XtError(kIo, index_path + ": no \"weight_map\" object");
  std::string dir = ".";
  auto slash = index_path.find_last_of('/');
  if (slash != std::string::npos) dir = index_path.substr(0, slash);
  std::map<std::string, std::set<std::string>> by_shard;
  for (const auto& kv : wm->as_object()) {
    if (!kv.second.is_string()) throw XtError(kIo, index_path + ": weight_map['" + kv.first + "'] is not a file name");
    const std::string& shard = kv.second.as_string();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "..")
      throw XtError(kIo, index_path + ": weight_map['" + kv.first + "'] names an invalid shard '" + shard + "'");
    by_shard[shard].insert(kv.first);
  }
  if (by_shard.empty()) throw XtError(kIo, index_path + ": weight_map is empty");
  RawSet raw;
  raw.container = "safetensors";
  for (const auto& s : by_shard) {
    std::string p = Join(dir, s.first);
    auto f = SafeTensorsFile::Open(p);
    for (const auto& name : s.second)
      if (!f->find(name))
        throw XtError(kIo, p + ": tensor '" + name + "' listed in " + index_path + " is not in this shard");
    if (raw.metadata.empty()) raw.metadata = f->metadata();
    AddSafeTensors(raw, f, &s.second);
  }
  return raw;
}

}  // namespace detail
}  // namespace io
}  // namespace xt
