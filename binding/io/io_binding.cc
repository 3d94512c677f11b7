// JS access to the weight readers: readSafetensors (validating reader, any tensor file) and
// inspectWeights (format detection + configuration, without building a model).
#include <napi.h>
#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "clip/clip_config.h"
#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "io/safetensors.h"
#include "io/weights.h"

namespace xt {
namespace io {
namespace {

struct StRead {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<StTensorInfo, at::Tensor>> tensors;
};

Napi::Value ReadSafetensorsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1 && info[0].IsString(), kInvalid, "readSafetensors(path): path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    return RunAsync<StRead>(
        env, "xt.readSafetensors",
        [path]() {
          auto f = SafeTensorsFile::Open(path);
          StRead r;
          r.metadata = f->metadata();
          for (const auto& t : f->tensors()) {
            at::Tensor x = f->Get(t);
            // Half types become float32 for JS; others keep their width. Copied off the mapping.
            if (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16) x = x.to(at::kFloat);
            else if (x.scalar_type() == at::kShort || x.scalar_type() == at::kChar) x = x.to(at::kInt);
            else if (x.scalar_type() == at::kBool) x = x.to(at::kByte);
            else x = x.clone();
            r.tensors.emplace_back(t, x);
          }
          return r;
        },
        [](Napi::Env env, StRead& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          Napi::Object meta = Napi::Object::New(env);
          for (const auto& kv : r.metadata) meta.Set(kv.first, kv.second);
          Napi::Object tensors = Napi::Object::New(env);
          for (auto& p : r.tensors) {
            Napi::Object t = Napi::Object::New(env);
            t.Set("dtype", p.first.dtype_name);
            t.Set("shape", ShapeToJs(env, p.first.shape));
            if (p.second.scalar_type() == at::kByte) {
              auto c = p.second.contiguous();
              auto buf = Napi::Uint8Array::New(env, static_cast<size_t>(c.numel()));
              if (c.numel()) std::memcpy(buf.Data(), c.data_ptr(), static_cast<size_t>(c.numel()));
              t.Set("data", buf);
            } else {
              t.Set("data", TypedArrayFromTensor(env, p.second));
            }
            tensors.Set(p.first.name, t);
          }
          out.Set("metadata", meta);
          out.Set("tensors", tensors);
          return out;
        });
  });
}

struct Inspect {
  std::string format;
  std::string storage;
  clip::ClipConfig config;
  size_t count = 0;
  std::vector<std::string> ignored;
};

Napi::Value InspectWeightsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 1 && info[0].IsString(), kInvalid, "inspectWeights(path): path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    return RunAsync<Inspect>(
        env, "xt.inspectWeights",
        [path]() {
          WeightSet ws = ReadWeights(path);
          Inspect r;
          r.format = ws.format;
          r.storage = DtypeName(ws.storage_dtype);
          std::map<std::string, std::vector<int64_t>> shapes;
          for (const auto& kv : ws.tensors) shapes[kv.first] = kv.second.shape;
          r.config = ws.config ? *ws.config : clip::InferConfig(shapes, path);
          r.count = ws.tensors.size();
          r.ignored = ws.ignored;
          return r;
        },
        [](Napi::Env env, Inspect& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("format", r.format);
          o.Set("storageDtype", r.storage);
          o.Set("tensorCount", static_cast<double>(r.count));
          Napi::Object c = Napi::Object::New(env);
          const auto& k = r.config;
          c.Set("embedDim", static_cast<double>(k.embed_dim));
          c.Set("imageResolution", static_cast<double>(k.image_resolution));
          c.Set("visionLayers", static_cast<double>(k.vision_layers));
          c.Set("visionWidth", static_cast<double>(k.vision_width));
          c.Set("visionHeads", static_cast<double>(k.vision_heads));
          c.Set("visionPatchSize", static_cast<double>(k.vision_patch_size));
          c.Set("contextLength", static_cast<double>(k.context_length));
          c.Set("vocabSize", static_cast<double>(k.vocab_size));
          c.Set("textWidth", static_cast<double>(k.text_width));
          c.Set("textHeads", static_cast<double>(k.text_heads));
          c.Set("textLayers", static_cast<double>(k.text_layers));
          c.Set("quickGelu", k.quick_gelu);
          c.Set("layerNormEps", k.layer_norm_eps);
          o.Set("config", c);
          Napi::Array ign = Napi::Array::New(env, r.ignored.size());
          for (size_t i = 0; i < r.ignored.size(); ++i) ign.Set(i, r.ignored[i]);
          o.Set("ignored", ign);
          return o;
        });
  });
}

void InitIo(Napi::Env env, Napi::Object exports) {
  exports.Set("readSafetensors", Napi::Function::New(env, ReadSafetensorsJs, "readSafetensors"));
  exports.Set("inspectWeights", Napi::Function::New(env, InspectWeightsJs, "inspectWeights"));
}

}  // namespace
}  // namespace io
}  // namespace xt

XT_REGISTER_MODULE(io, xt::io::InitIo);
