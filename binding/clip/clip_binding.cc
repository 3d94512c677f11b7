// The JS-facing CLIP model: a wrapped native object (Napi::ObjectWrap) created by
// clipCreate / clipLoad. Every heavy call runs through RunAsync on a worker thread; a per-model
// mutex serialises calls on one model (concurrent calls are safe), and dispose() frees the
// weights (at once, or as soon as a running call finishes). Use after dispose -> XT_DISPOSED.
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#ifdef XT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "clip/attention.h"
#include "clip/clip_binding.h"
#include "clip/clip_config.h"
#include "clip/clip_model.h"
#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"
#include "core/tensor_io.h"
#include "io/weights.h"

namespace xt {
namespace clip {

void ModelState::Release() {
  if (!model) return;
  model = nullptr;
#if defined(__GLIBC__)
  ::malloc_trim(0);  // hand freed weight memory back to the OS now
#endif
#ifdef XT_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();  // and device memory to the driver
#endif
}

namespace {

at::Device ParseDevice(const std::string& s) {
  if (s.empty() || s == "cpu") return at::Device(at::kCPU);
  if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available())
      throw XtError(kCuda, "device '" + s + "' requested but CUDA is not available in this build/machine");
    at::Device d = s == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(s);
    if (d.index() >= static_cast<int>(torch::cuda::device_count()))
      throw XtError(kCuda, "device '" + s + "' does not exist (" + std::to_string(torch::cuda::device_count()) +
                               " CUDA device(s))");
    return d;
  }
  throw XtError(kInvalid, "device must be 'cpu', 'cuda' or 'cuda:N', got '" + s + "'");
}

std::string DeviceName(const at::Device& d) {
  if (d.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(d.has_index() ? d.index() : 0);
}

Napi::Object ConfigToJs(Napi::Env env, const ClipConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("embedDim", static_cast<double>(c.embed_dim));
  o.Set("imageResolution", static_cast<double>(c.image_resolution));
  o.Set("visionLayers", static_cast<double>(c.vision_layers));
  o.Set("visionWidth", static_cast<double>(c.vision_width));
  o.Set("visionHeads", static_cast<double>(c.vision_heads));
  o.Set("visionPatchSize", static_cast<double>(c.vision_patch_size));
  o.Set("contextLength", static_cast<double>(c.context_length));
  o.Set("vocabSize", static_cast<double>(c.vocab_size));
  o.Set("textWidth", static_cast<double>(c.text_width));
  o.Set("textHeads", static_cast<double>(c.text_heads));
  o.Set("textLayers", static_cast<double>(c.text_layers));
  o.Set("quickGelu", c.quick_gelu);
  o.Set("layerNormEps", c.layer_norm_eps);
  return o;
}

Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw XtError(kInvalid, std::string(what) + ": options must be an object");
  return info[i].As<Napi::Object>();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw XtError(kInvalid, std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// Encode in slices so a large batch never needs all activations at once.
template <typename F>
torch::Tensor Chunked(const torch::Tensor& input, int64_t chunk, F&& f) {
  const int64_t n = input.size(0);
  if (n <= chunk) return f(input);
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < n; s += chunk) parts.push_back(f(input.slice(0, s, std::min(n, s + chunk))));
  return torch::cat(parts, 0);
}

void CheckComputeDtype(const ModelState& st) {
#if TORCH_VERSION_MAJOR < 2
  if (st.device.is_cpu() && st.dtype == at::kHalf)
    throw XtError(kInvalid, "float16 inference on the CPU is not supported by LibTorch " TORCH_VERSION
                            "; load the model with dtype 'float32' or 'bfloat16' (float16 is fine for save/convert)");
#endif
}

// ---------------------------------------------------------------------------------------------
// The wrapped class
// ---------------------------------------------------------------------------------------------
class ClipModelWrap : public Napi::ObjectWrap<ClipModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ClipModelNative",
                       {
                           InstanceAccessor<&ClipModelWrap::Config>("config"),
                           InstanceAccessor<&ClipModelWrap::Device>("device"),
                           InstanceAccessor<&ClipModelWrap::Dtype>("dtype"),
                           InstanceAccessor<&ClipModelWrap::Format>("format"),
                           InstanceAccessor<&ClipModelWrap::StorageDtype>("storageDtype"),
                           InstanceAccessor<&ClipModelWrap::Source>("source"),
                           InstanceAccessor<&ClipModelWrap::NumParameters>("numParameters"),
                           InstanceAccessor<&ClipModelWrap::Disposed>("disposed"),
                           InstanceAccessor<&ClipModelWrap::LogitScale>("logitScale"),
                           InstanceMethod<&ClipModelWrap::ParameterNames>("parameterNames"),
                           InstanceMethod<&ClipModelWrap::GetParameter>("getParameter"),
                           InstanceMethod<&ClipModelWrap::EncodeImages>("encodeImages"),
                           InstanceMethod<&ClipModelWrap::EncodeTokens>("encodeTokens"),
                           InstanceMethod<&ClipModelWrap::Logits>("logits"),
                           InstanceMethod<&ClipModelWrap::Save>("save"),
                           InstanceMethod<&ClipModelWrap::Dispose>("dispose"),
                       });
  }

  explicit ClipModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ClipModelWrap>(info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      Napi::Error e = MakeError(info.Env(), {kInvalid, "ClipModel cannot be constructed directly: use "
                                                       "loadModel(source) or ClipModel.create(preset)"});
      throw e;
    }
    state_ = *info[0].As<Napi::External<StatePtr>>().Data();
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), state_->bytes);
    accounted_ = state_->bytes;
  }

  const StatePtr& state() const { return state_; }

  // Garbage collection without dispose(): drop this handle only. A call still in flight keeps
  // its own reference and finishes normally; the weights go with the last reference.
  ~ClipModelWrap() override {
    if (accounted_) {
      int64_t ignored = 0;
      napi_adjust_external_memory(Env(), -accounted_, &ignored);
    }
  }

 private:
  void CheckAlive() const {
    if (state_->disposed.load()) throw XtError(kDisposed, "ClipModel: used after dispose()");
  }

  Napi::Value Config(const Napi::CallbackInfo& info) { return ConfigToJs(info.Env(), state_->cfg); }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), DeviceName(state_->device)); }
  Napi::Value Dtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), io::DtypeName(state_->dtype));
  }
  Napi::Value Format(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), state_->format); }
  Napi::Value StorageDtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), state_->storage_dtype);
  }
  Napi::Value Source(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), state_->source); }
  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(state_->num_params));
  }
  // The current exp(logit_scale) when the model is free (training changes it), else the last value read.
  Napi::Value LogitScale(const Napi::CallbackInfo& info) {
    std::unique_lock<std::mutex> lock(state_->mu, std::try_to_lock);
    if (lock.owns_lock() && state_->model && !state_->disposed.load()) {
      try {
        torch::NoGradGuard ng;
        state_->logit_scale = state_->model->logit_scale_exp().to(at::kCPU, at::kDouble).item<double>();
      } catch (...) {
      }
    }
    return Napi::Number::New(info.Env(), state_->logit_scale);
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->disposed.load()); }

  Napi::Value ParameterNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      CheckAlive();
      Napi::Array a = Napi::Array::New(env, state_->param_names.size());
      for (size_t i = 0; i < state_->param_names.size(); ++i) a.Set(i, state_->param_names[i]);
      return a;
    });
  }

  Napi::Value GetParameter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      CheckAlive();
      std::string name = StringArg(info, 0, "getParameter(name): name");
      StatePtr st = state_;
      return RunAsync<torch::Tensor>(
          env, "xt.clip.getParameter",
          [st, name]() {
            return WithModel(st, [&](ClipModel& m) {
              torch::NoGradGuard ng;
              return m->parameter(name).detach().to(at::kCPU, at::kFloat).clone();
            });
          },
          [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
    });
  }

  // encodeImages(pixels, shape): 8-bit grey Uint8Array [n, R, R] (normalised natively with the model's
  // mean/std) or normalised Float32Array [n, 3, R, R] -> [n, embedDim] (float32).
  Napi::Value EncodeImages(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      CheckAlive();
      XT_CHECK(info.Length() >= 2, kInvalid, "encodeImages(pixels, shape): 2 arguments expected");
      PixelInput pixels = PixelsArg(info[0], info[1], "encodeImages", state_->cfg.image_resolution);
      CheckComputeDtype(*state_);
      StatePtr st = state_;
      return RunAsync<torch::Tensor>(
          env, "xt.clip.encodeImages",
          [st, pixels]() {
            return WithModel(st, [&](ClipModel& m) {
              c10::InferenceMode im;
              return Chunked(pixels.data, 256, [&](const torch::Tensor& x) {
                auto px = ModelPixels({x, pixels.grey}, st->pixel_norm, st->device, st->dtype);
                return m->encode_image(px).to(at::kCPU, at::kFloat);
              });
            });
          },
          [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
    });
  }

  static torch::Tensor IdsArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
    XT_CHECK(info[i].IsTypedArray(), kInvalid, std::string(what) + ": ids must be an Int32Array or BigInt64Array");
    auto t = info[i].As<Napi::TypedArray>().TypedArrayType();
    XT_CHECK(t == napi_int32_array || t == napi_bigint64_array, kInvalid,
             std::string(what) + ": ids must be an Int32Array or BigInt64Array");
    return TensorFromTypedArray(info[i], ShapeArg(info[i + 1], std::string(what) + ": shape"), std::string(what) + ": ids");
  }

  Napi::Value EncodeTokens(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      CheckAlive();
      XT_CHECK(info.Length() >= 2, kInvalid, "encodeTokens(ids, shape): 2 arguments expected");
      auto ids = IdsArg(info, 0, "encodeTokens");
      XT_CHECK(ids.dim() == 2 && ids.size(1) >= 1 && ids.size(1) <= state_->cfg.context_length, kShape,
               "encodeTokens: shape must be [n, L] with 1 <= L <= " + std::to_string(state_->cfg.context_length) +
                   ", got " + c10::str(ids.sizes()));
      CheckComputeDtype(*state_);
      StatePtr st = state_;
      return RunAsync<torch::Tensor>(
          env, "xt.clip.encodeTokens",
          [st, ids]() {
            return WithModel(st, [&](ClipModel& m) {
              c10::InferenceMode im;
              return Chunked(ids, 1024, [&](const torch::Tensor& x) {
                return m->encode_text(x).to(at::kCPU, at::kFloat);  // it copies what it uses to the device
              });
            });
          },
          [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
    });
  }

  // logits(pixels, pixelShape, ids, idShape) -> logits_per_image [n_images, n_texts] (float32); pixels as in encodeImages.
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      CheckAlive();
      XT_CHECK(info.Length() >= 4, kInvalid, "logits(pixels, pixelShape, ids, idShape): 4 arguments expected");
      PixelInput pixels = PixelsArg(info[0], info[1], "logits", state_->cfg.image_resolution);
      auto ids = IdsArg(info, 2, "logits");
      CheckComputeDtype(*state_);
      StatePtr st = state_;
      return RunAsync<torch::Tensor>(
          env, "xt.clip.logits",
          [st, pixels, ids]() {
            return WithModel(st, [&](ClipModel& m) {
              c10::InferenceMode im;
              auto img = m->encode_image(ModelPixels(pixels, st->pixel_norm, st->device, st->dtype)).to(at::kFloat);
              auto txt = m->encode_text(ids).to(at::kFloat);
              return m->logits(img, txt).to(at::kCPU, at::kFloat);
            });
          },
          [](Napi::Env env, torch::Tensor& t) -> Napi::Value { return TensorResult(env, t); });
    });
  }

  // save(path, {layout?: 'xray-torch'|'openai'|'hf', dtype?}) -> Promise<weight file written>
  Napi::Value Save(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      CheckAlive();
      std::string path = StringArg(info, 0, "save(path): path");
      Napi::Object opts = OptionsArg(info, 1, "save");
      io::Layout layout = io::LayoutFromName(OptString(opts, "layout", "xray-torch"));
      std::string dt = OptString(opts, "dtype", "");
      std::optional<at::ScalarType> dtype;
      if (!dt.empty()) dtype = io::ParseDtype(dt);
      StatePtr st = state_;
      return RunAsync<std::string>(
          env, "xt.clip.save",
          [st, path, layout, dtype]() {
            return WithModel(st, [&](ClipModel& m) {
              torch::NoGradGuard ng;
              return io::SaveClip(m, path, layout, dtype);
            });
          },
          [](Napi::Env env, std::string& file) -> Napi::Value { return Napi::String::New(env, file); });
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    bool was = state_->disposed.exchange(true);
    if (!was) {
      {
        std::unique_lock<std::mutex> lock(state_->mu, std::try_to_lock);
        if (lock.owns_lock()) state_->Release();  // else the running call releases it when done
      }
      if (accounted_) {
        Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -accounted_);
        accounted_ = 0;
      }
    }
    return info.Env().Undefined();
  }

  StatePtr state_;
  int64_t accounted_ = 0;
};

// One constructor per environment (main thread and each worker_thread that loads the addon).
std::mutex g_ctor_mu;
std::map<napi_env, std::shared_ptr<Napi::FunctionReference>> g_ctors;

Napi::Object NewModelObject(Napi::Env env, StatePtr st) {
  std::shared_ptr<Napi::FunctionReference> ctor;
  {
    std::lock_guard<std::mutex> lock(g_ctor_mu);
    auto it = g_ctors.find(env);
    if (it == g_ctors.end()) throw XtError(kInternal, "ClipModel class not initialised in this environment");
    ctor = it->second;
  }
  auto* holder = new StatePtr(std::move(st));
  auto ext = Napi::External<StatePtr>::New(env, holder, [](Napi::Env, StatePtr* p) { delete p; });
  return ctor->New({ext});
}

StatePtr MakeState(ClipModel model, const std::string& format, const std::string& storage, const std::string& source,
                   const at::Device& device, at::ScalarType dtype) {
  auto st = std::make_shared<ModelState>();
  st->cfg = model->config();
  st->device = device;
  st->dtype = dtype;
  st->format = format;
  st->storage_dtype = storage;
  st->source = source;
  for (const auto& kv : model->named_parameters(true)) {
    st->param_names.push_back(kv.key());
    st->num_params += kv.value().numel();
    st->bytes += kv.value().numel() * static_cast<int64_t>(kv.value().element_size());
  }
  {
    torch::NoGradGuard ng;
    st->logit_scale = model->logit_scale_exp().to(at::kCPU, at::kDouble).item<double>();
  }
  st->model = std::move(model);
  return st;
}

Napi::Value ModelResult(Napi::Env env, StatePtr& st) { return NewModelObject(env, st); }

// clipCreate(preset, {seed?, imageSize?, vocabSize?, contextLength?, device?, dtype?, mean?, std?}) -> Promise<ClipModelNative>
// (mean/std: the normalisation of 8-bit grey input, 3 numbers each; CLIP's by default)
Napi::Value ClipCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::string preset = StringArg(info, 0, "ClipModel.create(preset): preset");
    Napi::Object opts = OptionsArg(info, 1, "ClipModel.create");
    ClipConfig cfg = PresetConfig(preset);
    double image_size = OptNumber(opts, "imageSize", static_cast<double>(cfg.image_resolution));
    XT_CHECK(image_size >= 1 && image_size <= 16384 && image_size == static_cast<int64_t>(image_size), kInvalid,
             "ClipModel.create: imageSize must be a positive integer");
    cfg.image_resolution = static_cast<int64_t>(image_size);
    // Models trained from scratch carry their own (smaller) tokenizer and a shorter context.
    double vocab = OptNumber(opts, "vocabSize", static_cast<double>(cfg.vocab_size));
    double context = OptNumber(opts, "contextLength", static_cast<double>(cfg.context_length));
    XT_CHECK(vocab >= 3 && vocab <= 1e7 && vocab == static_cast<int64_t>(vocab), kInvalid,
             "ClipModel.create: vocabSize must be an integer >= 3");
    XT_CHECK(context >= 2 && context <= 65536 && context == static_cast<int64_t>(context), kInvalid,
             "ClipModel.create: contextLength must be an integer >= 2");
    cfg.vocab_size = static_cast<int64_t>(vocab);
    cfg.context_length = static_cast<int64_t>(context);
    cfg.Validate();
    double seed_d = OptNumber(opts, "seed", -1);
    uint64_t seed;
    if (seed_d < 0) {
      std::random_device rd;
      seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    } else {
      XT_CHECK(seed_d == static_cast<double>(static_cast<uint64_t>(seed_d)) && seed_d <= 9007199254740991.0, kInvalid,
               "ClipModel.create: seed must be a non-negative integer");
      seed = static_cast<uint64_t>(seed_d);
    }
    at::Device device = ParseDevice(OptString(opts, "device", "cpu"));
    at::ScalarType dtype = io::ParseDtype(OptString(opts, "dtype", "float32"));
    PixelNorm norm = PixelNormArg(opts, "ClipModel.create");
    return RunAsync<StatePtr>(
        env, "xt.clip.create",
        [cfg, seed, device, dtype, norm]() {
          ClipModel m(cfg);
          m->reset_parameters(seed);
          if (dtype != at::kFloat) m->to(dtype);
          if (!device.is_cpu()) m->to(device);
          StatePtr st = MakeState(std::move(m), "random", "float32", "", device, dtype);
          st->pixel_norm = norm;
          return st;
        },
        ModelResult);
  });
}

// clipLoad(source, {device?, dtype?, mean?, std?}) -> Promise<ClipModelNative>
Napi::Value ClipLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    std::string source = StringArg(info, 0, "loadModel(source): source");
    Napi::Object opts = OptionsArg(info, 1, "loadModel");
    at::Device device = ParseDevice(OptString(opts, "device", "cpu"));
    at::ScalarType dtype = io::ParseDtype(OptString(opts, "dtype", "float32"));
    PixelNorm norm = PixelNormArg(opts, "loadModel");
    return RunAsync<StatePtr>(
        env, "xt.clip.load",
        [source, device, dtype, norm]() {
          io::LoadedClip l = io::LoadClip(source, dtype, device);
          StatePtr st = MakeState(std::move(l.model), l.format, io::DtypeName(l.storage_dtype), source, device, dtype);
          st->pixel_norm = norm;
          return st;
        },
        ModelResult);
  });
}

Napi::Value ClipPresets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto names = PresetNames();
  Napi::Array a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(i, names[i]);
  return a;
}

Napi::Value ClipPresetConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    return ConfigToJs(env, PresetConfig(StringArg(info, 0, "clipPresetConfig(name): name")));
  });
}

Napi::Value ClipInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("fusedAttention", UsesFusedAttention());
  return o;
}

void InitClip(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = ClipModelWrap::Define(env);
  {
    std::lock_guard<std::mutex> lock(g_ctor_mu);
    g_ctors[env] = std::make_shared<Napi::FunctionReference>(Napi::Persistent(cls));
  }
  napi_env raw = env;
  env.AddCleanupHook([raw]() {
    std::lock_guard<std::mutex> lock(g_ctor_mu);
    g_ctors.erase(raw);
  });
  exports.Set("clipCreate", Napi::Function::New(env, ClipCreate, "clipCreate"));
  exports.Set("clipLoad", Napi::Function::New(env, ClipLoad, "clipLoad"));
  exports.Set("clipPresets", Napi::Function::New(env, ClipPresets, "clipPresets"));
  exports.Set("clipPresetConfig", Napi::Function::New(env, ClipPresetConfig, "clipPresetConfig"));
  exports.Set("clipInfo", Napi::Function::New(env, ClipInfo, "clipInfo"));
}

}  // namespace

StatePtr UnwrapClipModel(const Napi::Value& v) {
  Napi::Env env = v.Env();
  std::shared_ptr<Napi::FunctionReference> ctor;
  {
    std::lock_guard<std::mutex> lock(g_ctor_mu);
    auto it = g_ctors.find(env);
    if (it != g_ctors.end()) ctor = it->second;
  }
  if (!ctor || !v.IsObject() || !v.As<Napi::Object>().InstanceOf(ctor->Value()))
    throw XtError(kInvalid, "expected a ClipModel (from loadModel or ClipModel.create)");
  ClipModelWrap* w = ClipModelWrap::Unwrap(v.As<Napi::Object>());
  if (!w || !w->state()) throw XtError(kInvalid, "expected a ClipModel (from loadModel or ClipModel.create)");
  if (w->state()->disposed.load()) throw XtError(kDisposed, "ClipModel: used after dispose()");
  return w->state();
}

}  // namespace clip
}  // namespace xt

XT_REGISTER_MODULE(clip, xt::clip::InitClip);
