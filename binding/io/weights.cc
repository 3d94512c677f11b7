#include "io/weights.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "io/json.h"
#include "io/pickle.h"
#include "io/safetensors.h"

namespace xt {
namespace io {

namespace {

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------
bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw XtError(kIo, path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json::Value ReadJson(const std::string& path) {
  std::string text = ReadText(path);
  try {
    return json::Value::Parse(text);
  } catch (const json::ParseError& e) {
    throw XtError(kIo, path + ": invalid JSON: " + e.what());
  }
}

void MakeDirs(const std::string& path) {
  if (path.empty() || IsDir(path)) return;
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) MakeDirs(path.substr(0, slash));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw XtError(kIo, path + ": cannot create folder: " + std::strerror(errno));
}

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// ---------------------------------------------------------------------------------------------
// Raw readers: names as stored
// ---------------------------------------------------------------------------------------------
struct RawSet {
  std::map<std::string, WeightEntry> tensors;
  std::map<std::string, std::string> metadata;  // safetensors __metadata__ (first file)
  std::string container;                        // safetensors | torchscript | pickle
  bool nested = false;                          // pickle: state dict found under a key
};

WeightEntry EntryFromTensor(const at::Tensor& t) {
  WeightEntry e;
  e.shape = t.sizes().vec();
  e.dtype = t.scalar_type();
  e.load = [t]() { return t; };
  return e;
}

void AddSafeTensors(RawSet& raw, const std::shared_ptr<SafeTensorsFile>& f, const std::set<std::string>* only) {
  for (const auto& info : f->tensors()) {
    if (only && !only->count(info.name)) continue;
    if (raw.tensors.count(info.name))
      throw XtError(kIo, f->path() + ": tensor '" + info.name + "' appears in more than one shard");
    WeightEntry e;
    e.shape = info.shape;
    e.dtype = info.dtype;
    std::string name = info.name;
    e.load = [f, name]() { return f->Get(name); };
    raw.tensors[info.name] = std::move(e);
  }
}

RawSet ReadSafeRaw(const std::string& path) {
  RawSet raw;
  raw.container = "safetensors";
  auto f = SafeTensorsFile::Open(path);
  raw.metadata = f->metadata();
  AddSafeTensors(raw, f, nullptr);
  return raw;
}

// Hugging Face sharded checkpoint: {"metadata": {...}, "weight_map": {tensor: shard file}}.
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

RawSet ReadTorchScriptRaw(const std::string& path) {
  torch::jit::Module m;
  try {
    m = torch::jit::load(path, at::Device(at::kCPU));
  } catch (const c10::Error& e) {
    throw XtError(kIo, path + ": cannot load the TorchScript archive: " +
                           std::string(e.what_without_backtrace()).substr(0, 300));
  }
  RawSet raw;
  raw.container = "torchscript";
  for (const auto& p : m.named_parameters(/*recurse=*/true)) raw.tensors[p.name] = EntryFromTensor(p.value.detach());
  for (const auto& b : m.named_buffers(/*recurse=*/true))
    if (!raw.tensors.count(b.name)) raw.tensors[b.name] = EntryFromTensor(b.value.detach());
  return raw;
}

bool IsStateDict(const pkl::NodePtr& n) {
  if (!n || n->kind != pkl::Node::Kind::Dict || n->dict.empty()) return false;
  size_t tensors = 0;
  for (const auto& kv : n->dict) {
    if (!kv.first->is_str()) return false;
    if (kv.second->kind == pkl::Node::Kind::Tensor) ++tensors;
  }
  return tensors * 2 > n->dict.size();
}

RawSet ReadPickleRaw(const std::string& path) {
  pkl::NodePtr root = pkl::LoadTorchSave(path);
  RawSet raw;
  raw.container = "pickle";
  pkl::NodePtr sd;
  if (IsStateDict(root)) {
    sd = root;
  } else if (root->kind == pkl::Node::Kind::Dict) {
    for (const char* key : {"state_dict", "model", "module", "model_state_dict", "ema_state_dict", "net"}) {
      auto c = root->get(key);
      if (IsStateDict(c)) {
        sd = c;
        raw.nested = true;
        break;
      }
    }
  }
  if (!sd) {
    std::string keys;
    if (root->kind == pkl::Node::Kind::Dict)
      for (const auto& kv : root->dict)
        if (kv.first->is_str()) keys += (keys.empty() ? "" : ", ") + kv.first->s;
    throw XtError(kIo, path + ": no state dict of tensors found in this torch.save file" +
                           (keys.empty() ? std::string() : " (top-level keys: " + keys + ")"));
  }
  for (const auto& kv : sd->dict)
    if (kv.second->kind == pkl::Node::Kind::Tensor) raw.tensors[kv.first->s] = EntryFromTensor(kv.second->tensor);
  return raw;
}

RawSet ReadFileRaw(const std::string& path) {
  if (!IsFile(path)) throw XtError(kIo, path + ": no such file or folder");
  if (EndsWith(path, ".safetensors") || LooksLikeSafeTensors(path)) return ReadSafeRaw(path);
  if (pkl::IsZipFile(path)) {
    bool torchscript = false;
    try {
      caffe2::serialize::PyTorchStreamReader reader(path);
      torchscript = reader.hasRecord("constants.pkl") || reader.hasRecord("code/__torch__.py");
    } catch (const c10::Error& e) {
      throw XtError(kIo, path + ": unreadable zip archive: " + std::string(e.what_without_backtrace()).substr(0, 200));
    }
    return torchscript ? ReadTorchScriptRaw(path) : ReadPickleRaw(path);
  }
  std::ifstream f(path, std::ios::binary);
  int c = f.get();
  if (c == 0x80)
    throw XtError(kIo, path + ": a legacy (PyTorch < 1.6, non-zip) torch.save file; re-save it with a newer "
                              "PyTorch or convert it to safetensors");
  throw XtError(kIo, path + ": unrecognised weight format (expected safetensors, a TorchScript archive or a "
                            "torch.save zip checkpoint)");
}

// ---------------------------------------------------------------------------------------------
// Names: strip wrappers, map Hugging Face names to OpenAI names
// ---------------------------------------------------------------------------------------------
bool IgnoredKey(const std::string& k) {
  return k == "input_resolution" || k == "context_length" || k == "vocab_size" || k == "attn_mask" ||
         EndsWith(k, ".attn_mask") || EndsWith(k, "position_ids");
}

struct HfTarget {
  std::string name;  // OpenAI name
  int part = -1;     // 0/1/2: q/k/v slice of in_proj
  bool transpose = false;
};

bool MapHfLayer(const std::string& rest, HfTarget* t) {
  static const std::pair<const char*, const char*> kSimple[] = {
      {"self_attn.out_proj.", "attn.out_proj."}, {"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."},
      {"mlp.fc1.", "mlp.c_fc."},                 {"mlp.fc2.", "mlp.c_proj."},
  };
  for (const auto& m : kSimple)
    if (StartsWith(rest, m.first)) {
      t->name += m.second + rest.substr(std::strlen(m.first));
      return true;
    }
  const char* parts[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
  for (int i = 0; i < 3; ++i)
    if (StartsWith(rest, parts[i])) {
      std::string leaf = rest.substr(std::strlen(parts[i]));
      if (leaf != "weight" && leaf != "bias") return false;
      t->name += "attn.in_proj_" + leaf;
      t->part = i;
      return true;
    }
  return false;
}

bool MapHf(const std::string& k, HfTarget* t) {
  static const std::pair<const char*, const char*> kExact[] = {
      {"logit_scale", "logit_scale"},
      {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
      {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
      {"text_model.final_layer_norm.weight", "ln_final.weight"},
      {"text_model.final_layer_norm.bias", "ln_final.bias"},
      {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
      {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
      {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
      {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"},  // sic: HF's spelling
      {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
      {"vision_model.pre_layernorm.weight", "visual.ln_pre.weight"},
      {"vision_model.pre_layernorm.bias", "visual.ln_pre.bias"},
      {"vision_model.post_layernorm.weight", "visual.ln_post.weight"},
      {"vision_model.post_layernorm.bias", "visual.ln_post.bias"},
  };
  for (const auto& m : kExact)
    if (k == m.first) {
      t->name = m.second;
      return true;
    }
  if (k == "text_projection.weight" || k == "visual_projection.weight") {
    t->name = k == "text_projection.weight" ? "text_projection" : "visual.proj";
    t->transpose = true;  // HF Linear [embed, width] vs OpenAI matrix [width, embed]
    return true;
  }
  for (const auto& tower : {std::make_pair("text_model.encoder.layers.", "transformer.resblocks."),
                            std::make_pair("vision_model.encoder.layers.", "visual.transformer.resblocks.")}) {
    if (!StartsWith(k, tower.first)) continue;
    size_t start = std::strlen(tower.first);
    size_t dot = k.find('.', start);
    if (dot == std::string::npos) return false;
    std::string idx = k.substr(start, dot - start);
    if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) return false;
    t->name = std::string(tower.second) + idx + ".";
    return MapHfLayer(k.substr(dot + 1), t);
  }
  return false;
}

bool LooksHf(const std::map<std::string, WeightEntry>& tensors) {
  for (const auto& kv : tensors)
    if (StartsWith(kv.first, "text_model.") || StartsWith(kv.first, "vision_model.")) return true;
  return false;
}

std::string StripWrappers(std::string k, bool* stripped) {
  for (bool again = true; again;) {
    again = false;
    for (const char* p : {"module.", "_orig_mod."})
      if (StartsWith(k, p)) {
        k = k.substr(std::strlen(p));
        again = *stripped = true;
      }
  }
  return k;
}

void FromHf(std::map<std::string, WeightEntry>& in, WeightSet& ws) {
  struct Qkv {
    const WeightEntry* parts[3] = {nullptr, nullptr, nullptr};
    std::string names[3];
  };
  std::map<std::string, Qkv> merges;
  for (auto& kv : in) {
    HfTarget t;
    if (!MapHf(kv.first, &t)) {
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

// Hugging Face config.json -> the facts shapes cannot tell (heads, activation, eps), checked
// against the shapes for the rest.
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

const char* kXrayKey = "xray_torch";
const char* kXrayVersion = "clip-v1";

}  // namespace

// ---------------------------------------------------------------------------------------------
// ReadWeights
// ---------------------------------------------------------------------------------------------
WeightSet ReadWeights(const std::string& path) {
  WeightSet ws;
  ws.source = path;
  RawSet raw;
  std::string hf_config_path;
  bool open_clip_file = false;
  if (IsDir(path)) {
    const std::string candidates[] = {"model.safetensors.index.json", "model.safetensors", "open_clip_model.safetensors",
                                      "open_clip_pytorch_model.bin", "pytorch_model.bin"};
    std::string found;
    for (const auto& c : candidates)
      if (IsFile(Join(path, c))) {
        found = c;
        break;
      }
    if (found.empty()) {
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
      found = files[0];
    }
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

  auto meta = raw.metadata.find(kXrayKey);
  if (meta != raw.metadata.end()) {
    ws.format = "xray-torch";
    auto c = raw.metadata.find("config");
    if (c == raw.metadata.end()) throw XtError(kIo, path + ": xray-torch checkpoint without a 'config' entry in __metadata__");
    try {
      ws.config = clip::ClipConfig::FromJson(json::Value::Parse(c->second), path);
      ws.config->Validate();
    } catch (const json::ParseError& e) {
      throw XtError(kIo, path + ": invalid config JSON in __metadata__: " + e.what());
    } catch (const XtError& e) {
      throw XtError(kIo, std::string(e.what()));
    }
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

// ---------------------------------------------------------------------------------------------
// BuildClip / LoadClip
// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------
Layout LayoutFromName(const std::string& name) {
  if (name == "xray-torch" || name == "xray" || name.empty()) return Layout::Xray;
  if (name == "openai" || name == "open_clip") return Layout::OpenAI;
  if (name == "hf" || name == "huggingface") return Layout::HF;
  throw XtError(kInvalid, "layout must be 'xray-torch', 'openai' or 'hf', got '" + name + "'");
}

at::ScalarType ParseDtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return at::kFloat;
  if (name == "float16" || name == "fp16" || name == "half") return at::kHalf;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  throw XtError(kInvalid, "dtype must be 'float32', 'float16' or 'bfloat16', got '" + name + "'");
}

std::string DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kDouble: return "float64";
    default: return c10::toString(t);
  }
}

namespace {

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

StWriteItem Item(const std::string& name, const at::Tensor& t, at::ScalarType dtype) {
  StWriteItem it;
  it.name = name;
  it.dtype = dtype;
  it.shape = t.sizes().vec();
  it.produce = [t, dtype]() { return t.detach().to(at::kCPU).to(dtype); };
  return it;
}

// OpenAI name -> Hugging Face name (or q/k/v triple for in_proj).
std::vector<StWriteItem> HfItems(const std::vector<std::pair<std::string, at::Tensor>>& sd,
                                 const std::function<at::ScalarType(const std::string&)>& dtype_of) {
  std::vector<StWriteItem> items;
  for (const auto& kv : sd) {
    const std::string& k = kv.first;
    const at::Tensor& t = kv.second;
    at::ScalarType dt = dtype_of(k);
    auto simple = [&](const std::string& hf) { items.push_back(Item(hf, t, dt)); };
    if (k == "logit_scale") { simple("logit_scale"); continue; }
    if (k == "token_embedding.weight") { simple("text_model.embeddings.token_embedding.weight"); continue; }
    if (k == "positional_embedding") { simple("text_model.embeddings.position_embedding.weight"); continue; }
    if (k == "ln_final.weight") { simple("text_model.final_layer_norm.weight"); continue; }
    if (k == "ln_final.bias") { simple("text_model.final_layer_norm.bias"); continue; }
    if (k == "visual.class_embedding") { simple("vision_model.embeddings.class_embedding"); continue; }
    if (k == "visual.conv1.weight") { simple("vision_model.embeddings.patch_embedding.weight"); continue; }
    if (k == "visual.positional_embedding") { simple("vision_model.embeddings.position_embedding.weight"); continue; }
    if (k == "visual.ln_pre.weight") { simple("vision_model.pre_layrnorm.weight"); continue; }
    if (k == "visual.ln_pre.bias") { simple("vision_model.pre_layrnorm.bias"); continue; }
    if (k == "visual.ln_post.weight") { simple("vision_model.post_layernorm.weight"); continue; }
    if (k == "visual.ln_post.bias") { simple("vision_model.post_layernorm.bias"); continue; }
    if (k == "text_projection" || k == "visual.proj") {
      items.push_back(Item(k == "text_projection" ? "text_projection.weight" : "visual_projection.weight", t.t(), dt));
      continue;
    }
    std::string prefix, hf_prefix;
    if (StartsWith(k, "transformer.resblocks.")) {
      prefix = "transformer.resblocks.";
      hf_prefix = "text_model.encoder.layers.";
    } else if (StartsWith(k, "visual.transformer.resblocks.")) {
      prefix = "visual.transformer.resblocks.";
      hf_prefix = "vision_model.encoder.layers.";
    } else {
      throw XtError(kInternal, "no Hugging Face name for '" + k + "'");
    }
    size_t dot = k.find('.', prefix.size());
    std::string layer = hf_prefix + k.substr(prefix.size(), dot - prefix.size()) + ".";
    std::string rest = k.substr(dot + 1);
    if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
      std::string leaf = rest == "attn.in_proj_weight" ? "weight" : "bias";
      auto chunks = t.chunk(3, 0);
      const char* names[] = {"q_proj", "k_proj", "v_proj"};
      for (int i = 0; i < 3; ++i) items.push_back(Item(layer + "self_attn." + names[i] + "." + leaf, chunks[i], dt));
      continue;
    }
    static const std::pair<const char*, const char*> kLayer[] = {
        {"attn.out_proj.", "self_attn.out_proj."}, {"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."},
        {"mlp.c_fc.", "mlp.fc1."},                 {"mlp.c_proj.", "mlp.fc2."},
    };
    bool done = false;
    for (const auto& m : kLayer)
      if (StartsWith(rest, m.first)) {
        simple(layer + m.second + rest.substr(std::strlen(m.first)));
        done = true;
        break;
      }
    if (!done) throw XtError(kInternal, "no Hugging Face name for '" + k + "'");
  }
  return items;
}

}  // namespace

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
