// OpenAI and open_clip weight containers, read with their names as stored: OpenAI's TorchScript
// archives (ViT-B-32.pt), torch.save zip checkpoints (open_clip's, CheXzero-style state dicts; read by
// io/pickle.h without Python), and safetensors files. Wrapper prefixes and non-weight entries are
// recognised here; ReadWeights (weights_load.cc) applies them.
#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

#include <cstring>
#include <fstream>

#include "core/errors.h"
#include "io/pickle.h"
#include "io/weights_internal.h"

namespace xt {
namespace io {
namespace detail {

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

namespace {
bool IsStateDict(const pkl::NodePtr& n) {
  if (!n || n->kind != pkl::Node::Kind::Dict || n->dict.empty()) return false;
  size_t tensors = 0;
  for (const auto& kv : n->dict) {
    if (!kv.first->is_str()) return false;
    if (kv.second->kind == pkl::Node::Kind::Tensor) ++tensors;
  }
  return tensors * 2 > n->dict.size();
}
}  // namespace

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

bool IgnoredKey(const std::string& k) {
  return k == "input_resolution" || k == "context_length" || k == "vocab_size" || k == "attn_mask" ||
         EndsWith(k, ".attn_mask") || EndsWith(k, "position_ids");
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

}  // namespace detail
}  // namespace io
}  // namespace xt
