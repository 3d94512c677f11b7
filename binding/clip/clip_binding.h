// The native side of the JS ClipModel object, for other native modules (e.g. a training step)
// that receive a model from JS: unwrap it, then use it under its lock.
//
//   auto st = xt::clip::UnwrapClipModel(info[0]);          // XT_INVALID if not a ClipModel
//   RunAsync<...>(env, "...", [st]() {
//     return xt::clip::WithModel(st, [&](xt::clip::ClipModel& m) { ... });   // XT_DISPOSED if disposed
//   }, ...);
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clip/clip_config.h"
#include "clip/clip_model.h"
#include "core/errors.h"
#include "image/pixels.h"

namespace xt {
namespace clip {

struct ModelState {
  std::mutex mu;  // held for every use of `model`
  ClipModel model{nullptr};
  ClipConfig cfg;
  at::Device device = at::Device(at::kCPU);
  at::ScalarType dtype = at::kFloat;
  std::string format;         // "random" or the detected weight format
  std::string storage_dtype;  // of the source weights
  std::string source;         // path loaded from ("" for random init)
  std::vector<std::string> param_names;
  int64_t num_params = 0;
  int64_t bytes = 0;
  double logit_scale = 0;  // exp(logit_scale) capped at 100, when created/loaded
  PixelNorm pixel_norm;    // normalisation of 8-bit grey input (CLIP's unless given at create/load)
  std::atomic<bool> disposed{false};

  // Frees the weights; the caller holds mu.
  void Release();
};
using StatePtr = std::shared_ptr<ModelState>;

// Run f(model) under the model's lock; release the weights afterwards if dispose() came meanwhile.
// Throws XT_DISPOSED when the model was disposed before the call got the lock.
template <typename F>
auto WithModel(const StatePtr& st, F&& f) -> decltype(f(st->model)) {
  std::lock_guard<std::mutex> lock(st->mu);
  struct ReleaseIfDisposed {
    ModelState* s;
    ~ReleaseIfDisposed() {
      if (s->disposed.load()) s->Release();
    }
  } guard{st.get()};
  if (!st->model || st->disposed.load()) throw XtError(kDisposed, "ClipModel: used after dispose()");
  return f(st->model);
}

// The state behind a JS ClipModelNative object (main thread only); XT_INVALID for anything else.
StatePtr UnwrapClipModel(const Napi::Value& v);

}  // namespace clip
}  // namespace xt
