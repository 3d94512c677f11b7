// JS access to the weight files: readSafetensors / writeSafetensors (the package's one safetensors
// reader and writer, io/safetensors.h, which the weight loader and model saving use too;
// lib/io/safetensors.ts types them) and inspectWeights (format detection + configuration, without
// building a model).
#include <napi.h>
#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <set>
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

struct StWrite {
  std::string path;
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // as given (JS element types)
  std::vector<at::ScalarType> dtypes;                      // as they are to be stored
  std::map<std::string, std::string> metadata;
};

// Stored dtypes a JS array converts to: numbers to floating types, integers to integer types
// (narrower ones only when every value fits).
void CheckFits(const std::string& where, const at::Tensor& t, at::ScalarType to, const std::string& name) {
  const bool from_float = at::isFloatingType(t.scalar_type());
  const bool to_float = at::isFloatingType(to);
  XT_CHECK(from_float == to_float, kInvalid,
           where + ": " + (from_float ? "a floating-point array cannot be stored as " : "an integer array cannot be stored as ") +
               name + (from_float ? " (F64, F32, F16 or BF16)" : " (I64, I32, I16, I8, U8 or BOOL)"));
  if (from_float || t.numel() == 0 || to == at::kLong) return;
  double lo = 0, hi = 1;
  if (to == at::kInt) lo = -2147483648.0, hi = 2147483647.0;
  if (to == at::kShort) lo = -32768, hi = 32767;
  if (to == at::kChar) lo = -128, hi = 127;
  if (to == at::kByte) lo = 0, hi = 255;
  const double mn = t.min().item<double>(), mx = t.max().item<double>();
  XT_CHECK(mn >= lo && mx <= hi, kInvalid,
           where + ": values in [" + std::to_string(static_cast<int64_t>(mn)) + ", " +
               std::to_string(static_cast<int64_t>(mx)) + "] do not fit " + name);
}

// writeSafetensors(path, [{name, dtype, shape, data}], metadata?) -> Promise<void>: atomic (temp file,
// fsync, rename). F16/BF16 are rounded from the numbers given (to nearest even).
Napi::Value WriteSafetensorsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    XT_CHECK(info.Length() >= 2 && info[0].IsString() && info[1].IsArray(), kInvalid,
             "writeSafetensors(path, tensors, metadata?): a path and an array of {name, dtype, shape, data}");
    StWrite w;
    w.path = info[0].As<Napi::String>().Utf8Value();
    Napi::Array arr = info[1].As<Napi::Array>();
    std::set<std::string> seen;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      XT_CHECK(v.IsObject(), kInvalid, w.path + ": tensors[" + std::to_string(i) + "] must be {name, dtype, shape, data}");
      Napi::Object o = v.As<Napi::Object>();
      XT_CHECK(o.Get("name").IsString(), kInvalid, w.path + ": tensors[" + std::to_string(i) + "].name must be a string");
      std::string name = o.Get("name").As<Napi::String>().Utf8Value();
      const std::string where = w.path + ": tensor '" + name + "'";
      XT_CHECK(!name.empty() && name != "__metadata__", kInvalid, where + ": the name is empty or reserved");
      XT_CHECK(seen.insert(name).second, kInvalid, where + ": given twice");
      std::string dt = OptString(o, "dtype", "");
      bool ok = false;
      at::ScalarType st = DtypeFromSafeTensorsName(dt, &ok);
      XT_CHECK(ok, kInvalid, where + ": unsupported dtype '" + dt + "' (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
      at::Tensor t = TensorFromTypedArray(o.Get("data"), ShapeArg(o.Get("shape"), where + ": shape"), where);
      CheckFits(where, t, st, dt);
      w.tensors.emplace_back(name, t);
      w.dtypes.push_back(st);
    }
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
      XT_CHECK(info[2].IsObject(), kInvalid, w.path + ": metadata must be an object of strings");
      Napi::Object m = info[2].As<Napi::Object>();
      Napi::Array keys = m.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        std::string k = keys.Get(i).ToString().Utf8Value();
        XT_CHECK(m.Get(k).IsString(), kInvalid, w.path + ": metadata '" + k + "' must be a string");
        w.metadata[k] = m.Get(k).As<Napi::String>().Utf8Value();
      }
    }
    return RunAsync<bool>(
        env, "xt.writeSafetensors",
        [w]() {
          std::vector<std::pair<std::string, at::Tensor>> out;
          out.reserve(w.tensors.size());
          for (size_t i = 0; i < w.tensors.size(); ++i)
            out.emplace_back(w.tensors[i].first, w.tensors[i].second.to(w.dtypes[i]));
          WriteSafeTensors(w.path, out, w.metadata);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
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
  exports.Set("writeSafetensors", Napi::Function::New(env, WriteSafetensorsJs, "writeSafetensors"));
  exports.Set("inspectWeights", Napi::Function::New(env, InspectWeightsJs, "inspectWeights"));
}

}  // namespace
}  // namespace io
}  // namespace xt

XT_REGISTER_MODULE(io, xt::io::InitIo);
