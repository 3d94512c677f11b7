// Test and benchmark hooks: native entry points that only tests and benchmarks call. They are
// compiled into xray_torch_testing.node only (CMake -DXT_TESTING=ON; `npm run build:addon` in a
// checkout), never into the production xray_torch.node, and appear under `exports.testing`.
// test/helpers/native-testing.ts declares and loads them.
#pragma once
#include <napi.h>

namespace xt {
namespace testing {

// exports.testing (created by the first hooks file that registers).
inline Napi::Object Hooks(Napi::Env env, Napi::Object exports) {
  if (!exports.Has("testing")) exports.Set("testing", Napi::Object::New(env));
  return exports.Get("testing").As<Napi::Object>();
}

}  // namespace testing
}  // namespace xt
