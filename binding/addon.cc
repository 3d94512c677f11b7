// Module entry: applies thread settings, then lets every registered binding file add its exports.
#include <napi.h>
#include <ATen/Parallel.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "core/async.h"
#include "core/errors.h"
#include "core/registry.h"

namespace xt {

std::vector<ModuleEntry>& ModuleRegistry() {
  static std::vector<ModuleEntry> entries;
  return entries;
}

namespace {

int DefaultThreads() {
  const char* env = std::getenv("XRAY_TORCH_THREADS");
  if (env && *env) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  try {
    SetIntraOpThreads(DefaultThreads());
    // Inter-op threads can be set once per process, before any inter-op work.
    static bool interop_set = false;
    if (!interop_set) {
      interop_set = true;
      try {
        at::set_num_interop_threads(IntraOpThreads());
      } catch (...) {
      }
    }
  } catch (...) {
    MakeError(env, CurrentError()).ThrowAsJavaScriptException();
    return exports;
  }
  Napi::Array modules = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& m : ModuleRegistry()) {
    m.init(env, exports);
    modules.Set(i++, Napi::String::New(env, m.name));
  }
  exports.Set("modules", modules);
  return exports;
}

}  // namespace
}  // namespace xt

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return xt::Init(env, exports); }

NODE_API_MODULE(xray_torch, InitAddon)
